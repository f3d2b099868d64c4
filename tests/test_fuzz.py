"""The hypothesis fuzz test of the image, mask and checkpoint loaders (tests/fuzz_loaders.py), bounded for CI.

It runs in a process of its own, so that the peak-memory figures it checks are its own and not the test
session's: every input loads or is refused in one line, with no traceback, no stray output on stdout or stderr,
and no allocation over a few hundred MB. A fixed number of examples with a fixed seed keeps it to ~15 s on two
cores; ARPG_FUZZ_EXAMPLES and ARPG_FUZZ_RANDOM=1 run it longer and with new cases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_loaders_survive_fuzzing():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    env.setdefault("ARPG_FUZZ_EXAMPLES", "300")
    proc = subprocess.run(
        [sys.executable, str(TESTS / "fuzz_loaders.py")], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["fuzz_image", "fuzz_mask", "fuzz_checkpoint"], lines
    assert lines[-1].startswith("peak memory growth:") and len(lines) == 4, lines  # nothing else was printed
    assert proc.stderr == "", proc.stderr[-4000:]  # no warning, no log line, no traceback
