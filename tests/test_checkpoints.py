"""Loading weights: formats, wrappers, clear errors, and refusal of pickled code."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
import torch
from tiny import TINY_ARPG, tiny_arpg, tiny_vq

from arpg_core.files.checkpoints import (
    CheckpointError,
    convert,
    load_arpg,
    load_vq,
    read_checkpoint,
)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("wrapper", [None, "model", "module", "state_dict"])
def test_official_pt_wrappers_load(tmp_path, wrapper):
    model = tiny_arpg()
    sd = model.state_dict()
    obj = sd if wrapper is None else {wrapper: sd, "steps": 3}
    path = tmp_path / "arpg.pt"
    torch.save(obj, path)
    loaded, _ = load_arpg(path, n_head=TINY_ARPG.n_head)
    assert _same(loaded, model)


def test_prefixes_and_freqs_cis_are_ignored(tmp_path):
    model = tiny_arpg()
    sd = {f"module._orig_mod.{k}": v for k, v in model.state_dict().items()}
    sd["freqs_cis"] = torch.zeros(3)
    path = tmp_path / "a.pt"
    torch.save({"model": sd}, path)
    loaded, _ = load_arpg(path, n_head=TINY_ARPG.n_head)
    assert _same(loaded, model)


def test_args_namespace_is_allowed(tmp_path):
    import argparse

    model = tiny_arpg()
    path = tmp_path / "a.pt"
    torch.save({"model": model.state_dict(), "args": argparse.Namespace(lr=1e-4)}, path)
    loaded, _ = load_arpg(path, n_head=TINY_ARPG.n_head)
    assert _same(loaded, model)


def test_convert_records_config_and_loads_without_flags(tmp_path):
    model = tiny_arpg()
    src, dst = tmp_path / "a.pt", tmp_path / "a.safetensors"
    torch.save({"state_dict": model.state_dict()}, src)
    meta = convert(src, dst, n_head=TINY_ARPG.n_head, class_names=["a", "b", "c", "d", "e"])
    assert meta["config"]["n_head"] == TINY_ARPG.n_head
    loaded, metadata = load_arpg(dst)  # no n_head needed: it is in the metadata
    assert _same(loaded, model)
    assert metadata["class_names"] == ["a", "b", "c", "d", "e"]
    with pytest.raises(CheckpointError, match="exists"):
        convert(src, dst)


def test_convert_vq_roundtrip(tmp_path):
    vq = tiny_vq()
    src, dst = tmp_path / "vq.pt", tmp_path / "vq.safetensors"
    torch.save({"model": vq.state_dict()}, src)
    convert(src, dst)
    loaded, meta = load_vq(dst)
    assert _same(loaded, vq)
    assert meta["kind"] == "vq"


def test_default_heads_come_from_head_dim_64(tmp_path):
    from arpg_core.nn.config import ARPGConfig

    cfg = ARPGConfig(dim=128, n_layer=2, n_head=2, vocab_size=16, num_classes=3, block_size=16, multiple_of=32)
    model = tiny_arpg(cfg=cfg)
    path = tmp_path / "a.pt"
    torch.save(model.state_dict(), path)
    loaded, _ = load_arpg(path)
    assert loaded.cfg.n_head == 2 and loaded.cfg.head_dim == 64


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "a.pt"
    torch.save({"model": tiny_arpg().state_dict()}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        read_checkpoint(path)


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    path = tmp_path / "a.safetensors"
    convert_src = tmp_path / "a.pt"
    torch.save(tiny_arpg().state_dict(), convert_src)
    convert(convert_src, path, n_head=4)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="safetensors"):
        read_checkpoint(path)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        read_checkpoint(tmp_path / "nope.pt")


def test_wrong_model_type_is_named(tmp_path):
    path = tmp_path / "vq.pt"
    torch.save({"model": tiny_vq().state_dict()}, path)
    with pytest.raises(CheckpointError, match="this is a VQ tokenizer, not an ARPG model"):
        load_arpg(path)
    path2 = tmp_path / "arpg.pt"
    torch.save(tiny_arpg().state_dict(), path2)
    with pytest.raises(CheckpointError, match="this is an ARPG model, not a VQ tokenizer"):
        load_vq(path2)
    path3 = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(2)}, path3)
    with pytest.raises(CheckpointError, match="neither an ARPG model nor a VQ tokenizer"):
        load_arpg(path3)


def test_missing_and_misshaped_keys_are_listed(tmp_path):
    sd = tiny_arpg().state_dict()
    del sd["layers.cross_dec.0.ffn.w1.weight"]
    sd["layers.to_v.weight"] = torch.zeros(3, 3)
    sd["extra.weight"] = torch.zeros(1)
    path = tmp_path / "a.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as err:
        load_arpg(path, n_head=4)
    msg = str(err.value)
    assert "missing: layers.cross_dec.0.ffn.w1.weight" in msg
    assert "unexpected: extra.weight" in msg
    assert "layers.to_v.weight (3, 3) (expected (64, 64))" in msg


class _Payload:
    """Unpickling this would create a marker file: the side effect the loader must never allow."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        code = f"open({str(self.marker)!r}, 'w').write('pwned')"
        return (exec, (code,))


def test_malicious_pickle_is_refused_without_side_effect(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt"
    state = tiny_arpg().state_dict()
    torch.save({"model": state, "hook": _Payload(marker)}, path)
    # The payload really does run under a plain unpickler (so the test can fail) ...
    probe = tmp_path / "probe.pkl"
    probe.write_bytes(pickle.dumps(_Payload(tmp_path / "PROBE")))
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.load(open({str(probe)!r}, 'rb'))"], check=True)
    assert (tmp_path / "PROBE").exists()
    # ... but our loader refuses it and nothing happens.
    with pytest.raises(CheckpointError, match="refused"):
        load_arpg(path, n_head=4)
    assert not marker.exists()


def test_legacy_non_zip_pickle_is_refused_too(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil_legacy.pt"
    torch.save({"hook": _Payload(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(path)
    assert not marker.exists()


def test_a_non_checkpoint_file(tmp_path):
    path = tmp_path / "photo.pt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)
