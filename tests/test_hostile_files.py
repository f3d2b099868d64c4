"""Hostile model files (issue 13, items 1, 5, 6 and 10): claimed sizes checked against the header before
anything is built, configs validated, NaN weights refused, wrong files named, the cache verified when listed.

Most rows run the command line in-process and check the promise of every failure (tests/hostile.py): a non-zero
exit, exactly one line on stderr, no traceback, and nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hostile import ROOT, cli, leftovers, refused, save_models
from safetensors.torch import save_file
from tiny import TINY_ARPG, TINY_ENTRIES, TINY_VQ, files_under, pt_bytes, tiny_arpg, tiny_vq

from arpg_core.cli.main import main
from arpg_core.files.atomic import sweep_stale
from arpg_core.files.checkpoints import CheckpointError, build_arpg, build_vq, read_checkpoint, save_safetensors
from arpg_core.files.shapes import arpg_shapes, vq_shapes
from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS, ARPGConfig
from arpg_core.nn.model import ARPG
from arpg_core.nn.tokenizer import VQModel
from arpg_core.weights.catalog import REGISTRY
from arpg_core.weights.registry import load_engine


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_models(tmp_path_factory.mktemp("models"))


# --- 1. model files that claim a huge model ------------------------------------------------------------------

BOMB_CODE = r"""
import json, sys, resource
from arpg_core.cli.main import main
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) // 1024
    return 0
import torch, arpg_core.weights.registry, arpg_core.weights.cache  # warm imports
import arpg_core.cli.edit_cli, arpg_core.cli.train_cli
base, out = peak(), []
for args in json.loads(sys.argv[1]):
    out.append(main(args))
print(json.dumps({"codes": out, "grew_mb": peak() - base}))
"""


def _bomb(path: Path, kind: str, config: dict) -> Path:
    names = ["layers.to_k.weight", "embeddings.weight"] if kind == "arpg" else ["quantize.embedding.weight"]
    names += ["decoder.conv_out.weight"] if kind == "vq" else []
    meta = {"format": "arpg-studio/1", "kind": json.dumps(kind), "config": json.dumps(config)}
    save_file({n: torch.zeros(1) for n in names}, str(path), metadata=meta)
    return path


BOMBS = [
    ("arpg", dict(dim=8192, n_layer=48, n_head=64, vocab_size=1024, num_classes=5, block_size=256)),  # the issue's
    ("arpg", dict(dim=16384, n_layer=48, n_head=64, vocab_size=1024, num_classes=5, block_size=256)),
    ("arpg", dict(dim=4096, n_layer=1024, n_head=32, vocab_size=1 << 24, num_classes=1 << 20, block_size=4096)),
    ("vq", dict(codebook_size=1 << 24, codebook_dim=4096, ch=4096, ch_mult=[1, 2, 2, 4], z_channels=4096)),
]


def test_memory_bombs_are_refused_before_anything_is_built(tmp_path, monkeypatch):
    """The 344-byte file of the issue (and bigger claims) against every command that reads a model: refused by
    the shapes in the header, with the process's address space growing by less than 200 MB."""
    files = [_bomb(tmp_path / f"bomb{i}.safetensors", kind, cfg) for i, (kind, cfg) in enumerate(BOMBS)]
    runs = []
    for f in files:
        runs.append(["generate", "-o", str(tmp_path / "g.png"), "--model", str(f), "--tokenizer", str(f)])
        runs.append(["convert", str(f), str(tmp_path / "c.safetensors")])
        runs.append(["weights", "import", str(f), "--name", "bomb"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARPG_STUDIO_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", BOMB_CODE, json.dumps(runs)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert result["codes"] == [1] * len(runs) and len(errors) == len(runs), proc.stderr
    assert all("do not match the model its metadata describes" in e for e in errors), errors
    assert result["grew_mb"] < 200, result
    assert leftovers(tmp_path, {f.name for f in files}) == []


@pytest.mark.parametrize("cfg", [TINY_ARPG, *ARPG_PRESETS.values(), replace(TINY_ARPG, n_layer=2, num_classes=0)])
def test_arpg_shapes_are_the_models_own(cfg):
    with torch.device("meta"):
        model = ARPG(cfg)
    assert arpg_shapes(cfg) == {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    "cfg",
    [
        TINY_VQ,
        *VQ_PRESETS.values(),
        replace(TINY_VQ, ch_mult=(1, 2, 4), show_usage=False),
        replace(TINY_VQ, colour_path=True),
    ],
)
def test_vq_shapes_are_the_models_own(cfg):
    with torch.device("meta"):
        model = VQModel(cfg)
    assert vq_shapes(cfg) == {k: tuple(v.shape) for k, v in model.state_dict().items()}


# --- 5. configs are validated, weights must be finite --------------------------------------------------------

HOSTILE_CONFIGS = [
    ("arpg", "a string", "the config must be a JSON object of fields, got str"),
    ("arpg", None, "the config must be a JSON object of fields, got NoneType"),
    ("arpg", [1, 2], "the config must be a JSON object of fields, got list"),
    ("arpg", {"n_head": 0}, "n_head must be between 1 and 16, got 0"),
    ("arpg", {"dim": "256"}, "dim must be a whole number between 4 and 65536, got '256'"),
    ("arpg", {"num_classes": 1e9}, "num_classes must be a whole number between 0 and 1048576, got 1000000000.0"),
    ("arpg", {"block_size": 0}, "block_size must be between 4 and 4096, got 0"),
    ("arpg", {"block_size": 1}, "block_size must be between 4 and 4096, got 1"),
    ("arpg", {"block_size": 10**12}, "block_size must be between 4 and 4096"),
    ("arpg", {"norm_eps": -1}, "norm_eps must be above 0 and at most 1, got -1"),
    ("arpg", {"rope_base": float("nan")}, "rope_base must be a finite number"),
    ("arpg", {"n_layer": 3}, "n_layer must be even"),
    ("vq", {"num_groups": 0}, "num_groups must be between 1 and 32, got 0"),
    ("vq", {"ch_mult": []}, "ch_mult must be a list of 1 to 8 whole numbers, got []"),
    ("vq", {"codebook_size": 1e10}, "codebook_size must be a whole number between 2 and 16777216"),
    ("vq", {"l2_norm": "yes"}, "l2_norm must be true or false"),
]


def _with_config(path: Path, kind: str, config) -> Path:
    model = tiny_arpg() if kind == "arpg" else tiny_vq()
    if isinstance(config, dict):
        config = {**model.cfg.to_dict(), **config}
    save_safetensors(path, model.state_dict(), {"kind": kind, "config": config})
    return path


@pytest.mark.parametrize(("kind", "config", "message"), HOSTILE_CONFIGS)
def test_configs_are_validated_by_every_reader(tmp_path, monkeypatch, capsys, kind, config, message):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "cache"))
    path = _with_config(tmp_path / f"{kind}.safetensors", kind, config)
    with pytest.raises(CheckpointError, match="the config in the file's metadata is not usable"):
        ckpt = read_checkpoint(path)
        build_arpg(ckpt) if kind == "arpg" else build_vq(ckpt)
    refused(capsys, ["convert", path, tmp_path / "out.safetensors"], message)
    refused(capsys, ["weights", "import", path, "--name", "mine"], message)
    assert not (tmp_path / "out.safetensors").exists() and files_under(tmp_path / "cache") == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("kind", ["arpg", "vq"])
def test_non_finite_weights_are_refused(tmp_path, monkeypatch, capsys, kind, value):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "cache"))
    model = tiny_arpg() if kind == "arpg" else tiny_vq()
    sd = model.state_dict()
    key = "head.weight" if kind == "arpg" else "decoder.conv_out.weight"
    sd[key].view(-1)[3] = value
    torch.save({"model": sd}, tmp_path / "bad.pt")
    message = f"{key} holds NaN or infinite values"
    refused(capsys, ["weights", "import", tmp_path / "bad.pt", "--name", "bad"], message)
    refused(capsys, ["convert", tmp_path / "bad.pt", tmp_path / "bad.safetensors", "--heads", 4], message)
    assert files_under(tmp_path / "cache") == [] and not (tmp_path / "bad.safetensors").exists()


# --- 6. wrong files are named, and a model's metadata cannot point anywhere ----------------------------------

WRONG_FILES = [
    ("passwd.pt", b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n", "a text file"),
    ("hello.pt", b"hello", "a text file, not weights (it begins 'hello')"),
    ("login.pt", b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>", "an HTML page"),
    ("ARPG-L.safetensors", b"<html><body>Log in</body></html>", "an HTML page"),
    ("vq_ds16_c2i.pt", b"Entry not found", "the hub's error answer ('Entry not found')"),
    ("arpg_300m.pt", b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n", "a Git LFS pointer"),
    ("err.pt", b'{"detail": "Access denied"}', "an error message from a server ('Access denied')"),
    ("photo.pt", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "a PNG image"),
    ("archive.pt", b"\x1f\x8b\x08\x00" + b"\0" * 64, "a gzip archive"),
    ("legacy.pt", None, "an old-format (pre-2020, non-zip) PyTorch file"),
]


@pytest.mark.parametrize(("name", "data", "message"), WRONG_FILES)
def test_wrong_files_are_named(tmp_path, monkeypatch, capsys, name, data, message):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "cache"))
    path = tmp_path / name
    if data is None:
        torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"not a weights file|refused"):
        read_checkpoint(path)
    refused(capsys, ["weights", "import", path], message)
    refused(capsys, ["convert", path, tmp_path / "o.safetensors"], message)
    refused(capsys, ["generate", "-o", tmp_path / "g.png", "--model", path], message)
    assert files_under(tmp_path / "cache") == [] and leftovers(tmp_path, {name}) == []


@pytest.mark.parametrize(
    ("recorded", "ok"),
    [("/etc/passwd", False), ("../vq.safetensors", False), ("sub/vq.safetensors", False), ("vq.safetensors", True)],
)
def test_tokenizer_named_in_metadata(tmp_path, monkeypatch, recorded, ok):
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(tmp_path / "cache"))
    (tmp_path / "m").mkdir()
    save_safetensors(tmp_path / "vq.safetensors", tiny_vq().state_dict(), {"kind": "vq", "config": TINY_VQ.to_dict()})
    save_safetensors(tmp_path / "m" / "vq.safetensors", tiny_vq().state_dict(), {"kind": "vq"})
    meta = {"kind": "arpg", "config": TINY_ARPG.to_dict(), "tokenizer": recorded}
    save_safetensors(tmp_path / "m" / "a.safetensors", tiny_arpg().state_dict(), meta)
    if ok:
        assert load_engine(str(tmp_path / "m" / "a.safetensors")).vq.cfg.codebook_size == 64
    else:
        with pytest.raises(CheckpointError, match="neither a known model nor a file beside it; pass --tokenizer"):
            load_engine(str(tmp_path / "m" / "a.safetensors"))


# --- 10. the cache is verified when listed; temporaries of dead runs are cleaned up --------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stale(folder: Path, name: str, pid: int, age: float) -> Path:
    path = folder / f".{name}.{pid}.0123abcd.tmp"
    path.write_bytes(b"half")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_weights_list_marks_broken_files_and_sweeps(tmp_path, monkeypatch, capsys):
    for name, entry in TINY_ENTRIES.items():
        monkeypatch.setitem(REGISTRY, name, entry)
    cache = tmp_path / "cache"
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(cache))
    cache.mkdir()
    save_safetensors(cache / "TINY-ARPG.safetensors", tiny_arpg().state_dict(), {"kind": "arpg"})
    data = (cache / "TINY-ARPG.safetensors").read_bytes()
    (cache / "TINY-ARPG.safetensors").write_bytes(data[: len(data) // 2])  # an interrupted copy
    (cache / "TINY-VQ.safetensors").write_bytes(pt_bytes({"model": tiny_vq().state_dict()}))  # a renamed pickle
    meta = {"kind": "arpg", "config": replace(TINY_ARPG, dim=128, n_head=2).to_dict()}
    save_safetensors(cache / "mine.safetensors", tiny_arpg().state_dict(), meta)  # config off its shapes
    dead = _stale(cache, "TINY-VQ.safetensors", _dead_pid(), age=120)
    alive = _stale(cache, "TINY-VQ.safetensors", os.getpid(), age=120)
    ancient = _stale(cache, "other.safetensors", os.getpid(), age=7200)
    assert main(["weights", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "broken" in rows["TINY-ARPG"] and "the file is truncated" in rows["TINY-ARPG"]
    assert "broken" in rows["TINY-VQ"] and "PyTorch pickle (zip)" in rows["TINY-VQ"]
    assert "broken" in rows["mine"] and "do not match the model its metadata describes" in rows["mine"]
    assert not dead.exists() and alive.exists() and not ancient.exists()
    with pytest.raises(CheckpointError, match="truncated"):
        load_engine("TINY-ARPG")


def test_an_edit_sweeps_its_output_folder(tmp_path, models):
    dead = _stale(tmp_path, "g.png", _dead_pid(), age=120)
    fresh = _stale(tmp_path, "g.png", _dead_pid(), age=0)  # maybe another machine's: not yet
    other = tmp_path / ".notes.txt.tmp"
    other.write_bytes(b"not ours")
    proc = cli("generate", "-o", tmp_path / "g.png", "--steps", 1, *models, capture_output=True, timeout=120)
    assert proc.returncode == 0
    assert not dead.exists() and fresh.exists() and other.exists()
    assert sweep_stale(tmp_path, now=time.time() + 3600) == [fresh]


def test_config_validation_does_not_reject_the_official_presets():
    for cfg in ARPG_PRESETS.values():
        assert ARPGConfig.from_dict(cfg.to_dict()) == cfg
