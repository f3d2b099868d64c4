"""Loading without extra copies: safetensors read into the model's own parameters, int8 quantized in place."""

from __future__ import annotations

import copy
import json
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny import tiny_arpg, tiny_vq

from arpg_core.files.checkpoints import CheckpointError, build_arpg, build_vq, read_checkpoint, save_safetensors
from arpg_core.nn.loading import quantize_int8_, read_safetensors


def test_read_safetensors_matches_the_library(tmp_path):
    tensors = {
        "f32": torch.randn(3, 5),
        "bf16": torch.randn(4).to(torch.bfloat16),
        "i64": torch.arange(6).view(2, 3),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "flag": torch.tensor([True, False]),
    }
    save_file(tensors, tmp_path / "t.safetensors", metadata={"a": "1"})
    ours, meta = read_safetensors(tmp_path / "t.safetensors")
    theirs = load_file(tmp_path / "t.safetensors")
    assert meta == {"a": "1"} and set(ours) == set(theirs)
    for k, v in theirs.items():
        assert ours[k].dtype == v.dtype and torch.equal(ours[k], v)


def _rewrite_header(src, dst, change):
    data = src.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    change(header)
    new = json.dumps(header).encode()
    dst.write_bytes(len(new).to_bytes(8, "little") + new + data[8 + n :])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h["w"].update(shape=[1000, 1000]), "bytes for shape"),
        (lambda h: h["w"].update(data_offsets=[0, 10**9]), "bytes for shape"),
        (lambda h: h["w"].update(dtype="F8_E9"), "unsupported dtype"),
        (lambda h: h["w"].update(shape=[-3, -4]), "bytes for shape"),
    ],
)
def test_a_header_that_lies_is_refused_before_allocating(tmp_path, change, message):
    save_file({"w": torch.randn(3, 4)}, tmp_path / "ok.safetensors")
    _rewrite_header(tmp_path / "ok.safetensors", tmp_path / "bad.safetensors", change)
    with pytest.raises(ValueError, match=message):
        read_safetensors(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_checkpoint(tmp_path / "bad.safetensors")


def test_truncated_file_is_refused(tmp_path):
    save_file({"w": torch.randn(64, 64)}, tmp_path / "ok.safetensors")
    data = (tmp_path / "ok.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="past the end"):
        read_safetensors(tmp_path / "cut.safetensors")


def test_the_model_owns_the_files_tensors(tmp_path):
    """One copy: every parameter is the tensor read from the file (same memory), and the model computes."""
    src = tiny_arpg()
    save_safetensors(tmp_path / "a.safetensors", src.state_dict(), {"kind": "arpg", "config": src.cfg.to_dict()})
    ckpt = read_checkpoint(tmp_path / "a.safetensors")
    model = build_arpg(ckpt)
    for name, p in model.named_parameters():
        assert p.data_ptr() == ckpt.state_dict[name].data_ptr(), name
    assert torch.equal(model.rope, src.rope) and not any(t.is_meta for t in model.state_dict().values())
    tokens, labels, orders = (
        torch.randint(0, 64, (2, 64)),
        torch.tensor([65, 66]),
        torch.stack([torch.randperm(64)] * 2),
    )
    with torch.no_grad():
        assert torch.equal(model(tokens, labels, orders), src(tokens, labels, orders))

    vq = tiny_vq()
    save_safetensors(tmp_path / "v.safetensors", vq.state_dict(), {"kind": "vq", "config": vq.cfg.to_dict()})
    built = build_vq(read_checkpoint(tmp_path / "v.safetensors"))
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.equal(built.encode(x), vq.encode(x))


def test_int8_in_place_equals_the_library_copy():
    model = tiny_arpg()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        reference = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    same = quantize_int8_(model)
    assert same is model
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    tokens, labels, orders = torch.randint(0, 64, (1, 64)), torch.tensor([65]), torch.randperm(64)[None]
    with torch.no_grad():
        assert torch.equal(model(tokens, labels, orders), reference(tokens, labels, orders))
