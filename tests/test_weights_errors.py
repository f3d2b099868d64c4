"""The weights errors carry fields a program reads (kind, name, path, filename, url, detail); ``str()`` stays the
command line's one line: the message plus the command line's advice. And the native size of an imported model
comes from the core (its grid times its tokenizer's downsampling), not from the app."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from tiny import TINY_ARPG, TINY_ENTRIES, TINY_VQ, tiny_arpg, tiny_vq

from arpg_core.weights import cache as weights
from arpg_core.weights.catalog import REGISTRY
from arpg_core.weights.weights_errors import (
    KINDS,
    OfflineError,
    WeightsError,
    already_installed,
    not_installed,
    offline,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    for name, entry in TINY_ENTRIES.items():
        monkeypatch.setitem(REGISTRY, name, entry)
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_str_is_the_message_and_the_command_lines_advice():
    entry = REGISTRY["ARPG-L"]
    e = offline(entry, "HF_HUB_OFFLINE is set")
    assert isinstance(e, OfflineError) and e.kind == "offline"
    assert str(e) == (
        "offline: cannot download ARPG-L (HF_HUB_OFFLINE is set); get arpg_300m.pt from "
        "https://huggingface.co/hp-l33/ARPG/resolve/main/arpg_300m.pt on a connected machine, copy it here and run "
        "`arpg-studio weights import arpg_300m.pt`"
    )
    assert (e.name, e.filename, e.url, e.detail) == ("ARPG-L", "arpg_300m.pt", entry.url, "HF_HUB_OFFLINE is set")
    assert "arpg-studio" not in e.message and str(e) == e.message + e.cli_hint

    e = already_installed("VQ-16", "/c/VQ-16.safetensors")
    assert str(e) == "VQ-16 is already installed (/c/VQ-16.safetensors); remove it first, or pass --force"
    assert (e.kind, e.name, e.path, e.message) == (
        "exists",
        "VQ-16",
        "/c/VQ-16.safetensors",
        "VQ-16 is already installed (/c/VQ-16.safetensors); remove it first",
    )
    e = not_installed("ARPG-XL")
    assert str(e) == (
        "ARPG-XL is not installed; run `arpg-studio weights download ARPG-XL`, or offline copy arpg_700m.pt here "
        "and run `arpg-studio weights import arpg_700m.pt`"
    )
    assert (e.kind, e.name, e.filename, e.message) == (
        "not_installed",
        "ARPG-XL",
        "arpg_700m.pt",
        "ARPG-XL is not installed",
    )
    assert str(not_installed("mine")) == "mine is not installed (arpg-studio weights list shows what is)"
    with pytest.raises(AssertionError):
        WeightsError("x", kind="no such kind")
    assert "offline" in KINDS and "no_match" in KINDS


def test_the_cache_raises_errors_with_their_fields(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as e:
        weights.download("TINY-VQ")
    assert (e.value.kind, e.value.name, e.value.filename) == ("offline", "TINY-VQ", "tiny_vq.pt")
    with pytest.raises(WeightsError) as e:
        weights.download("embedded")
    assert (e.value.kind, e.value.name) == ("not_downloadable", "embedded")

    with pytest.raises(WeightsError) as e:
        weights.import_file(tmp_path / "missing.pt")
    assert (e.value.kind, e.value.path) == ("no_file", str(tmp_path / "missing.pt"))
    with pytest.raises(WeightsError) as e:
        weights.import_file(__file__, name="bad name")
    assert (e.value.kind, e.value.name) == ("bad_name", "bad name")

    other = tmp_path / "other.pt"
    torch.save({"model": tiny_arpg(cfg=replace(TINY_ARPG, n_layer=2)).state_dict()}, other)
    with pytest.raises(WeightsError) as e:
        weights.import_file(other)
    assert e.value.kind == "no_match" and e.value.path == str(other)
    assert e.value.detail.startswith("other.pt is an ARPG model of ") and e.value.detail.endswith(" parameters")
    assert str(e.value).endswith("; pass --name NAME to import it under a name of its own")
    assert "--name" not in e.value.message

    vq = tmp_path / "vq.pt"
    torch.save({"model": tiny_vq().state_dict()}, vq)
    weights.import_file(vq)
    with pytest.raises(WeightsError) as e:
        weights.import_file(vq)
    assert (e.value.kind, e.value.name) == ("exists", "TINY-VQ") and str(e.value).endswith(", or pass --force")
    with pytest.raises(WeightsError) as e:
        weights.import_file(vq, name="TINY-ARPG", force=True)
    assert (e.value.kind, e.value.name) == ("mismatch", "TINY-ARPG") and "is a VQ tokenizer" in e.value.detail
    for name, kind in (("embedded", "builtin"), ("nothing-here", "not_installed")):
        with pytest.raises(WeightsError) as e:
            weights.remove(name)
        assert (e.value.kind, e.value.name) == (kind, name)


def test_native_px_is_the_grid_times_the_tokenizers_downsampling(cache, tmp_path):
    vq, arpg = tmp_path / "vq.pt", tmp_path / "arpg.pt"
    torch.save({"model": tiny_vq().state_dict()}, vq)
    torch.save({"model": tiny_arpg(cfg=replace(TINY_ARPG, n_layer=2)).state_dict()}, arpg)
    tok = weights.import_file(vq)
    mine = replace(weights.import_file(arpg, name="mine"), tokenizer="TINY-VQ")
    side = math.isqrt(mine.config["block_size"])  # a .pt without a config: the 16x16 grid is inferred
    assert weights.native_px(mine, tok) == side * 2 ** (len(TINY_VQ.ch_mult) - 1) == 32
    assert weights.native_px(replace(mine, tokenizer="VQ-16")) == side * 16  # the preset of that name
    assert weights.native_px(replace(mine, tokenizer="unknown")) is None
    assert weights.native_px(tok, tok) is None  # a tokenizer has no native size of its own
