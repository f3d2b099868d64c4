"""Helpers of the hostile-input tests (issue 13): tiny models on disk, and the promise every refusal keeps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tiny import tiny_arpg, tiny_vq

from arpg_core.cli.main import main
from arpg_core.files.checkpoints import save_safetensors

ROOT = Path(__file__).resolve().parent.parent
NO_MODEL = "/nonexistent/never-loaded.safetensors"  # a run that fails on this never reached the model


def save_models(d: Path) -> list[str]:
    """The tiny models as files with their configs; returns the --model/--tokenizer arguments."""
    arpg, vq = tiny_arpg(), tiny_vq()
    meta = {"kind": "arpg", "config": arpg.cfg.to_dict(), "class_names": ["cat", "dog", "house", "tree", "cup"]}
    save_safetensors(d / "arpg.safetensors", arpg.state_dict(), meta)
    save_safetensors(d / "vq.safetensors", vq.state_dict(), {"kind": "vq", "config": vq.cfg.to_dict()})
    return ["--model", str(d / "arpg.safetensors"), "--tokenizer", str(d / "vq.safetensors")]


def save_photo(d: Path) -> tuple[str, str]:
    """A 48x40 photo and a mask for it; returns their paths."""
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(img).save(d / "photo.png")
    mask = np.zeros((40, 48), np.uint8)
    mask[8:20, 8:20] = 255
    Image.fromarray(mask).save(d / "mask.png")
    return str(d / "photo.png"), str(d / "mask.png")


PROGRESS = re.compile(r"^(reading |\w+ \[[#-]*\] )")  # a command's status lines and progress bar before it fails


def refused(capsys, args, message, code=1) -> str:
    """Run the CLI in-process; it must fail with one error line on stderr containing ``message``, preceded at
    most by its own status lines."""
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert rc == code, (args, err)
    *before, last = err.strip().splitlines() or [""]
    assert all(PROGRESS.match(line) for line in before) and "Traceback" not in err, err
    assert "error: " in last and message in last, (args, last)
    return last


def cli(*args, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "arpg_core.cli.main", *map(str, args)], env=env, **kw)


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)
