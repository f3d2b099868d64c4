"""The thread policy: its decisions as a pure function, the override order, and the CLI honouring --threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from test_cli import cli, models, save  # noqa: F401  (models is a fixture)

from arpg_core import threads
from arpg_core.threads import CpuSample, choose_threads, others_busy, parse_threads, resolve

L, EMBEDDED = 319_845_376, 8_133_120


@pytest.mark.parametrize(
    ("parameters", "allowed", "busy", "expected"),
    [
        (EMBEDDED, 2, 0.0, 1),  # small model: one thread even on an idle machine
        (EMBEDDED, 16, 0.0, 1),
        (EMBEDDED, 2, 2.0, 1),
        (L, 2, 0.0, 2),  # large model, idle: every core
        (L, 2, 0.2, 2),  # a browser idling does not cost a core
        (L, 2, 0.8, 1),  # a busy loop holds one core
        (L, 2, 2.0, 1),  # a 2-thread job holds both: one thread, never zero
        (L, 2, 5.0, 1),
        (L, 8, 2.0, 6),
        (L, 8, 2.6, 5),
        (L, 1, 0.0, 1),
        (L, 0, 0.0, 1),  # a bogus count still gives one thread
    ],
)
def test_policy_table(parameters, allowed, busy, expected):
    n, reason = choose_threads(parameters, allowed, busy)
    assert n == expected and reason


def test_others_busy_subtracts_this_process():
    # 2 CPUs for 1 s: 1.5 s busy of which 0.5 s were ours -> others kept 1 core busy
    a, b = CpuSample(10.0, 100.0, 3.0, 2), CpuSample(11.5, 102.0, 3.5, 2)
    assert others_busy(a, b) == pytest.approx(1.0)
    assert others_busy(a, CpuSample(10.2, 102.0, 3.5, 2)) == 0.0  # our own time is never negative load
    assert others_busy(a, a) == 0.0


def test_measure_load_on_this_machine():
    allowed, busy = threads.measure_load(0.05)
    assert allowed >= 1 and 0.0 <= busy <= allowed


@pytest.mark.parametrize(
    ("cli_value", "env_value", "setting", "expected"),
    [
        (None, None, None, (2, "auto")),
        ("3", "5", "7", (3, "cli")),  # --threads wins
        (None, "5", "7", (5, "env")),  # then the environment
        ("auto", "5", "7", (5, "env")),  # 'auto' on the command line defers to the others
        (None, None, "7", (7, "setting")),  # then Preferences
        (None, "", 7, (7, "setting")),
        (None, "auto", "auto", (2, "auto")),
        (None, None, "junk", (2, "auto")),  # a bad stored setting falls back to auto
    ],
)
def test_override_order(cli_value, env_value, setting, expected):
    env = {} if env_value is None else {threads.ENV_VAR: env_value}
    choice = resolve(L, cli=cli_value, setting=setting, env=env, measure=lambda: (2, 0.0))
    assert (choice.threads, choice.source) == expected


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_bad_counts_are_named(bad):
    with pytest.raises(ValueError, match="threads"):
        parse_threads(bad)
    with pytest.raises(ValueError, match="--threads"):
        resolve(L, cli=bad, env={})
    with pytest.raises(ValueError, match=threads.ENV_VAR):
        resolve(L, env={threads.ENV_VAR: bad})


def test_the_engine_sets_and_reports_its_threads():
    from tiny import tiny_arpg, tiny_vq

    from arpg_core.edit.pipeline import Engine
    from arpg_core.edit.requests import build_request

    before = torch.get_num_threads()
    try:
        engine = Engine(tiny_arpg(), tiny_vq(), threads={"cli": 2})
        result = engine.edit(build_request("generate", num_steps=2))
        assert result.record()["threads"] == 2 and result.record()["threads_source"] == "cli"
        assert torch.get_num_threads() == 2
        engine.thread_overrides = {}
        assert engine.edit(build_request("generate", num_steps=2)).extra["threads"] == 1  # tiny: policy says 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("entry", ["app.__main__", "arpg_core.cli.main"])
def test_entry_points_set_a_passive_wait_policy_before_torch(entry):
    code = f"import os, {entry}; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # a user's own choice is kept
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "ACTIVE"
    code = "import sys, arpg_core.threads; print('torch' in sys.modules)"  # so it can run before torch loads
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_cli_honours_threads(tmp_path, models):  # noqa: F811
    import numpy as np

    img = save(tmp_path / "in.png", np.full((16, 16, 3), 100, np.uint8))
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    save(tmp_path / "m.png", mask)
    base = ["inpaint", img, "--mask", tmp_path / "m.png", "--steps", "2", "--seed", "1", "--json", *models]
    record = json.loads(cli(*base, "-o", tmp_path / "a.png", "--threads", "2", check=0).stdout)
    assert (record["threads"], record["threads_source"]) == (2, "cli")
    bad = cli(*base, "-o", tmp_path / "b.png", "--threads", "zero", check=1)
    assert "--threads" in bad.stderr and not (tmp_path / "b.png").exists()
