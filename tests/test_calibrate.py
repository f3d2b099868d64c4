"""Estimates from this machine: the fit, when to measure again, the stored measurement, and the ETA."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from tiny import TINY_ARPG

from arpg_core.nn.config import ARPG_PRESETS, ARPGConfig
from arpg_core.nn.model import ARPG
from arpg_core.progress import eta_after
from arpg_core.weights import calibrate
from arpg_core.weights.calibrate import Speed, fit, multiplied_parameters, needs_measuring
from arpg_core.weights.estimates import estimate

HERE = {"cpu": "cpu X", "torch": "2.13.0", "cores": 2}
SPEED = Speed((0.5, 2e-8), (0.25, 4e-9), {}, {**HERE, "others_busy": 0.0}, 0.0)


@pytest.mark.parametrize("cfg", [*ARPG_PRESETS.values(), TINY_ARPG, calibrate.PROBES["wide"]])
def test_multiplied_parameters_are_all_but_the_embedding_table(cfg):
    with torch.device("meta"):
        model = ARPG(cfg)
    total = sum(p.numel() for p in model.parameters())
    assert multiplied_parameters(cfg) == total - model.embeddings.weight.numel()


def test_the_line_through_two_probes():
    probes = {"small": {"parameters": 10, "fp32": 2.0, "int8": 1.0}, "wide": {"parameters": 110, "fp32": 12.0}}
    probes["wide"]["int8"] = 1.0
    assert fit(probes, "fp32") == pytest.approx((1.0, 0.1))
    assert fit(probes, "int8") == pytest.approx((1.0, 0.0))
    s = Speed(fit(probes, "fp32"), fit(probes, "int8"), probes, HERE, 0.0)
    assert s.seconds_per_image(1010) == pytest.approx(102.0) and s.seconds_per_image(1010, "int8") == 1.0


DAY = 24 * 3600.0


@pytest.mark.parametrize(
    ("stored", "now", "expected"),
    [
        (None, 0, True),
        ({"version": 0, "machine": HERE, "measured_at": 0}, 1, True),
        ({"version": calibrate.VERSION, "machine": HERE, "measured_at": 0}, 1, False),
        ({"version": calibrate.VERSION, "machine": {**HERE, "cpu": "other"}, "measured_at": 0}, 1, True),  # another CPU
        ({"version": calibrate.VERSION, "machine": {**HERE, "torch": "2.4"}, "measured_at": 0}, 1, True),
        ({"version": calibrate.VERSION, "machine": {**HERE, "cores": 8}, "measured_at": 0}, 1, True),
        ({"version": calibrate.VERSION, "machine": HERE, "measured_at": 0}, 31 * DAY, True),  # old
        (
            {"version": calibrate.VERSION, "machine": {**HERE, "others_busy": 1.5}, "measured_at": 0},
            600,
            False,
        ),  # busy, recent
        (
            {"version": calibrate.VERSION, "machine": {**HERE, "others_busy": 1.5}, "measured_at": 0},
            2 * 3600,
            True,
        ),  # busy, retry
        (
            {"version": calibrate.VERSION, "machine": HERE, "measured_at": 100},
            0,
            True,
        ),  # from the future: the clock moved
    ],
)
def test_when_to_measure_again(stored, now, expected):
    assert needs_measuring(stored, HERE, now) is expected


def test_speed_is_measured_once_and_stored(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(calibrate, "machine", lambda: dict(HERE))
    monkeypatch.setattr(
        calibrate, "run_probes", lambda: calls.append(1) or dataclasses.replace(SPEED, measured_at=1e12)
    )
    monkeypatch.setattr(calibrate.time, "time", lambda: 1e12 + 5)
    monkeypatch.setattr(calibrate, "_memo", {})
    assert calibrate.speed(tmp_path, measure=False) is None and not calls
    first = calibrate.speed(tmp_path)
    stored = json.loads((tmp_path / calibrate.CALIBRATION_FILE).read_text())
    assert calls == [1] and stored["fp32"] == [0.5, 2e-8] and stored["version"] == calibrate.VERSION
    monkeypatch.setattr(calibrate, "_memo", {})  # a new process: read from the file, not measured again
    again = calibrate.speed(tmp_path)
    assert calls == [1] and again.fp32 == first.fp32 and again.machine == first.machine


def test_probes_run_the_real_sampler(monkeypatch):
    small = ARPGConfig(dim=32, n_layer=2, n_head=2, vocab_size=32, num_classes=2, block_size=64, multiple_of=32)
    wide = ARPGConfig(dim=64, n_layer=2, n_head=4, vocab_size=64, num_classes=2, block_size=64, multiple_of=32)
    monkeypatch.setattr(calibrate, "PROBES", {"small": small, "wide": wide})
    before = torch.get_num_threads()
    s = calibrate.run_probes()
    assert torch.get_num_threads() == before
    for probe in s.probes.values():
        assert probe["fp32"] > 0 and probe["int8"] > 0
    assert s.machine["threads"] == {"small": 1, "wide": 1} and s.machine["cpu_s"] >= 0
    assert s.fp32 == fit(s.probes, "fp32") and s.int8 == fit(s.probes, "int8")  # (noisy times: no ordering)


def test_estimates_scale_this_machines_speed():
    large, xxl = estimate("ARPG-L", speed=SPEED), estimate("ARPG-XXL", speed=SPEED)
    n = multiplied_parameters(ARPG_PRESETS["ARPG-L"])
    assert large["seconds_per_image"] == round(0.5 + 2e-8 * n, 1)
    assert large["seconds_per_image_int8"] == round(0.25 + 4e-9 * n, 1)  # 1.46 s: 0.1 s steps from 1 s
    assert xxl["seconds_per_image"] > 3 * large["seconds_per_image"]
    assert large["measured"]["cpu"] == "cpu X"
    assert estimate("VQ-16", speed=SPEED)["seconds_per_image"] is None


def test_eta_follows_a_slowdown():
    """20 steps of 0.1 s, then another program starts and steps take 1 s: within a few steps the ETA is
    the new speed's, where the average since the start would still promise a third of it."""
    ends = [0.1 * (i + 1) for i in range(20)] + [2.0 + 1.0 * (i + 1) for i in range(20)]
    total = 60
    eta = eta_after(ends, total)
    assert eta[19] == pytest.approx(40 * 0.1)  # steady: remaining steps times the step time
    after5 = eta[24]  # 5 steps into the slowdown, 35 steps left at 1 s
    assert 0.8 * 35 <= after5 <= 35
    assert ends[24] / 25 * 35 < 0.5 * 35  # what the frozen average would say
    assert eta[-1] == pytest.approx(20 * 1.0, rel=0.01)
    # and back: the machine is quiet again
    quick = eta_after([*ends, *(ends[-1] + 0.1 * (i + 1) for i in range(10))], total + 20)  # 30 steps left
    assert quick[-1] < 30 * 0.2  # 10 quick steps later the step time is back near 0.1 s, from 1 s


def test_auto_precision_follows_this_machines_measurement(monkeypatch):
    from arpg_core.edit.pipeline import resolve_precision

    cpu = torch.device("cpu")
    big = 300_000_000
    faster = dataclasses.replace(SPEED, bf16=(0.5, 1e-8))  # bf16 half fp32's time per parameter
    slower = dataclasses.replace(SPEED, bf16=(0.5, 3e-8))
    assert faster.faster_precision(big) == "bf16" and slower.faster_precision(big) == "fp32"
    assert SPEED.faster_precision(big) == "fp32"  # not measured: no bf16 units
    asked = []
    monkeypatch.setattr(calibrate, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(calibrate, "speed", lambda **kw: asked.append(1) or faster)
    assert resolve_precision(cpu, "auto", big) == "bf16"
    assert resolve_precision(cpu, "auto", 6_000_000) == "fp32" and len(asked) == 1  # small: not even asked
    assert resolve_precision(cpu, "fp32", big) == "fp32"  # an explicit choice stands
    monkeypatch.setattr(calibrate, "speed", lambda **kw: slower)
    assert resolve_precision(cpu, "auto", big) == "fp32"
    monkeypatch.setattr(calibrate, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(calibrate, "speed", lambda **kw: pytest.fail("no bf16 units: nothing to measure"))
    assert resolve_precision(cpu, "auto", big) == "fp32"
