"""The int8 weight cache: the same logits as quantizing afresh, and never trusted when stale or broken."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch
from safetensors.torch import save_file
from tiny import TINY_ARPG, tiny_arpg

from arpg_core.nn.loading import quantize_int8_
from arpg_core.nn.quant import quantize_int8
from arpg_core.weights import int8_cache


@pytest.fixture
def source(tmp_path):
    """A weights file on disk: the cache keys on it (the model itself is built by the test)."""
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_arpg().state_dict().items()}, str(path))
    return path


def _logits(model):
    g = torch.Generator().manual_seed(3)
    tokens, labels, orders = torch.randint(0, 64, (2, 64), generator=g), torch.tensor([1, 5]), torch.randperm(64)[None]
    with torch.no_grad():
        return model(tokens, labels, orders.expand(2, -1))


def _fresh():
    return _logits(quantize_int8_(tiny_arpg()))


def test_the_cached_path_gives_the_logits_of_a_fresh_quantization(source, tmp_path):
    folder = tmp_path / "int8"
    assert int8_cache.quantize_cached(tiny_arpg(), source, folder) == "built"
    assert int8_cache.cache_path(source, folder).is_file()
    model = tiny_arpg()
    assert int8_cache.quantize_cached(model, source, folder) == "hit"
    assert not any(type(m) is torch.nn.Linear for m in model.modules())
    assert torch.equal(_logits(model), _fresh())


def test_a_stale_cache_is_rebuilt(source, tmp_path):
    folder = tmp_path / "int8"
    int8_cache.quantize_cached(tiny_arpg(), source, folder)
    # new weights in the same file (another size and mtime): the old cache must not be used
    other = tiny_arpg(seed=1)
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(source), metadata={"v": "2"})
    model = tiny_arpg(seed=1)
    assert int8_cache.quantize_cached(model, source, folder) == "rebuilt"
    assert torch.equal(_logits(model), _logits(quantize_int8_(tiny_arpg(seed=1))))
    assert int8_cache.quantize_cached(tiny_arpg(seed=1), source, folder) == "hit"
    # same size, only the modification time differs
    os.utime(source, ns=(1, 1))
    assert int8_cache.quantize_cached(tiny_arpg(seed=1), source, folder) == "rebuilt"


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_broken_cache_is_rebuilt_never_trusted(source, tmp_path, damage):
    folder = tmp_path / "int8"
    int8_cache.quantize_cached(tiny_arpg(), source, folder)
    path = int8_cache.cache_path(source, folder)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-10] ^= 0x55  # a weight byte: only the checksum can tell
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a safetensors file at all")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    model = tiny_arpg()
    assert int8_cache.quantize_cached(model, source, folder) == "rebuilt"
    assert torch.equal(_logits(model), _fresh())
    assert int8_cache.quantize_cached(tiny_arpg(), source, folder) == "hit"


def test_a_cache_of_another_shape_is_rebuilt(source, tmp_path):
    folder = tmp_path / "int8"
    int8_cache.quantize_cached(tiny_arpg(), source, folder)
    wider = dataclasses.replace(TINY_ARPG, dim=128)
    # the file is unchanged, the model is not (another n_head for the same file, say): shapes are checked
    model = tiny_arpg(cfg=wider)
    assert int8_cache.quantize_cached(model, source, folder) == "rebuilt"


def test_the_cache_is_off_unless_switched_on(source, tmp_path, monkeypatch):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "models"))
    monkeypatch.delenv(int8_cache.CACHE_ENV, raising=False)
    assert not int8_cache.enabled()
    quantize_int8(tiny_arpg(), source)
    assert not (tmp_path / "models" / "int8").exists()
    monkeypatch.setenv(int8_cache.CACHE_ENV, "1")
    model = quantize_int8(tiny_arpg(), source)
    assert int8_cache.cache_path(source, tmp_path / "models" / "int8").is_file()
    assert torch.equal(_logits(model), _fresh())
