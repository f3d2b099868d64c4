"""Speed estimates from this machine: a short timed run of two small ARPG models, cached, scaled by size.

The Models dialog and ``weights list`` say how long one 64-step image takes. A fixed figure from the
project's machine says nothing about a user's: so the first estimate times two probes here, with random
weights and the same code an edit runs (``sampler.decode``, batch 1 with guidance, the thread policy):

- **small**: the embedded model's shape (5.9 M multiplied parameters), where per-step overheads dominate;
- **wide**: ARPG-L's width (dim 1024, heads 16, the 16384-token head) with one self and one cross block
  (42 M multiplied parameters), where reading the weights dominates, as in the official models.

Time per image is a straight line through the two: ``a + b * P`` for P multiplied parameters (the
embedding table is only indexed, so it is left out), in fp32 and in int8. The result is kept in the
model cache (``.speed.json``) with the CPU, torch version, threads and the other programs' load while it
ran, and measured again when any of those no longer fits (see :func:`needs_measuring`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from arpg_core.nn.config import ARPG_PRESETS, ARPGConfig

CALIBRATION_FILE = ".speed.json"
VERSION = 2
STEPS_PER_IMAGE = 64  # what an estimate is for: the official 64-step image
_PROBE_STEPS = 16  # decoding steps timed per probe (256 tokens in 16 steps), after a warm-up
_MAX_AGE_S = 30 * 24 * 3600
_BUSY_MAX_AGE_S = 3600  # a measurement taken while other programs were busy is retried after an hour
_BUSY = 0.5  # cores other programs kept busy above which a measurement counts as taken under load

PROBES = {
    "small": ARPGConfig(dim=256, n_layer=8, n_head=4, vocab_size=1024, num_classes=5, multiple_of=64),
    "wide": ARPGConfig(dim=1024, n_layer=2, n_head=16, vocab_size=16384, num_classes=1000),
}


@dataclass(frozen=True)
class Speed:
    """Seconds per 64-step image as a + b * (multiplied parameters), per precision, on this machine."""

    fp32: tuple[float, float]  # (a seconds, b seconds per parameter)
    int8: tuple[float, float]
    probes: dict  # probe name -> {"parameters": P, "fp32": s, "int8": s[, "bf16": s]} per image, as measured
    machine: dict  # cpu, torch, threads and the others' load while it ran
    measured_at: float
    bf16: tuple[float, float] | None = None  # measured only on CPUs with bf16 units (elsewhere ~30x slower)

    def seconds_per_image(self, parameters: int, precision: str = "fp32") -> float:
        a, b = {"int8": self.int8, "bf16": self.bf16 or self.fp32}.get(precision, self.fp32)
        return max(a + b * parameters, 0.0) if parameters else a

    def faster_precision(self, parameters: int) -> str:
        """'bf16' where bf16 was measured to take under 80 % of fp32's time for this size, else 'fp32'."""
        if self.bf16 is None:
            return "fp32"
        return (
            "bf16" if self.seconds_per_image(parameters, "bf16") < 0.8 * self.seconds_per_image(parameters) else "fp32"
        )

    def to_dict(self) -> dict:
        return {"version": VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> Speed:
        bf16 = tuple(d["bf16"]) if d.get("bf16") else None
        return cls(
            tuple(d["fp32"]), tuple(d["int8"]), dict(d["probes"]), dict(d["machine"]), float(d["measured_at"]), bf16
        )


def multiplied_parameters(cfg: ARPGConfig) -> int:
    """Parameters an ARPG step multiplies by: all of them but the embedding table (only indexed)."""
    d, h, half = cfg.dim, cfg.ffn_hidden_dim, cfg.n_layer // 2
    block_ffn = 3 * d * h + 2 * d  # w1 w2 w3 and two norms
    self_blocks = half * (4 * d * d + block_ffn)
    cross_blocks = half * (2 * d * d + block_ffn)
    return self_blocks + cross_blocks + 2 * d * d + d + d * cfg.vocab_size + d  # shared K/V, norms, head


def parameters_of(name: str, total: int, config: dict | None = None) -> int:
    """Multiplied parameters of a model known by name (a preset), its stored config, or its total count."""
    if name in ARPG_PRESETS:
        return multiplied_parameters(ARPG_PRESETS[name])
    if config:
        try:
            return multiplied_parameters(ARPGConfig.from_dict(config))
        except (TypeError, ValueError):
            pass
    return total


def fit(probes: dict, precision: str) -> tuple[float, float]:
    """The line through the two probes' (parameters, seconds per image). Pure, for tests."""
    (p0, t0), (p1, t1) = sorted((v["parameters"], v[precision]) for v in probes.values())
    b = max(0.0, (t1 - t0) / (p1 - p0)) if p1 != p0 else t1 / max(p1, 1)
    return t0 - b * p0, b


def machine() -> dict:
    return {"cpu": _cpu_name(), "torch": torch_version(), "cores": _allowed_cores()}


def torch_version() -> str:
    """torch's version, read from its installed metadata: reading a stored measurement imports no torch (listing
    models must not). torch.__version__ only where the metadata is missing (a torch run from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        import torch

        return torch.__version__


def needs_measuring(stored: dict | None, here: dict, now: float) -> bool:
    """Whether a stored measurement no longer stands for this machine. Pure, for tests."""
    if not stored or stored.get("version") != VERSION:
        return True
    m = stored.get("machine", {})
    if any(m.get(k) != here[k] for k in ("cpu", "torch", "cores")):
        return True
    age = now - float(stored.get("measured_at", 0))
    if age > _MAX_AGE_S or age < 0:
        return True
    return m.get("others_busy", 0.0) > _BUSY and age > _BUSY_MAX_AGE_S


_memo: dict[str, Speed] = {}  # "speed": this process's measurement, whichever folder it was stored in


def speed(folder: Path | None = None, measure: bool = True) -> Speed | None:
    """This machine's speed: the stored measurement, or a new one (about a second on an idle 2-core CPU)
    when none fits. None when ``measure`` is False and nothing is stored."""
    if folder is None:
        from arpg_core.weights.model_files import cache_dir

        folder = cache_dir()
    path = Path(folder) / CALIBRATION_FILE
    here = machine()
    now = time.time()
    key = "speed"
    if key in _memo and not needs_measuring(_memo[key].to_dict(), here, now):
        return _memo[key]
    stored = None
    with contextlib.suppress(OSError, ValueError):
        stored = json.loads(path.read_text(encoding="utf-8"))
    if not needs_measuring(stored, here, now):
        try:
            _memo[key] = Speed.from_dict(stored)
            return _memo[key]
        except (KeyError, TypeError, ValueError):
            pass
    if not measure:
        return None
    result = run_probes()
    _memo[key] = result
    try:
        from arpg_core.files.atomic import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            Path(tmp).write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    except OSError:
        pass  # a read-only cache: measure again next time
    return result


def run_probes() -> Speed:
    """Time both probes in fp32 and int8 with the thread policy, and fit the lines."""
    import torch

    from arpg_core import threads

    before = torch.get_num_threads()
    allowed, busy_before = threads.measure_load(0.1)
    probes, used = {}, {}
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    try:
        for name, cfg in PROBES.items():
            params = multiplied_parameters(cfg)
            choice = threads.resolve(params, measure=lambda: (allowed, busy_before))
            threads.apply(choice)
            used[name] = choice.threads
            probes[name] = {"parameters": params, **_time_probe(cfg, with_bf16=cpu_has_bf16())}
    finally:
        torch.set_num_threads(before)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    _, busy_after = threads.measure_load(0.1)
    info = {
        **machine(),
        "threads": used,
        "others_busy": round(max(busy_before, busy_after), 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
    }
    bf16 = fit(probes, "bf16") if all("bf16" in v for v in probes.values()) else None
    return Speed(fit(probes, "fp32"), fit(probes, "int8"), probes, info, time.time(), bf16)


def _time_probe(cfg: ARPGConfig, with_bf16: bool = False) -> dict:
    """Seconds per 64-step image of a random model of ``cfg``, fp32 and int8 (and bf16), from 16 timed steps."""
    import torch

    from arpg_core.nn.model import ARPG, rope_table
    from arpg_core.nn.quant import quantize_int8
    from arpg_core.nn.sampler import SamplingParams, decode

    gen = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        model = ARPG(cfg)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02, generator=gen)
    model.rope = rope_table(cfg.head_dim, cfg.rope_base, cfg.grid_size, cfg.grid_size)  # to_empty left it unset
    model.eval()
    out = {}
    for precision in ("fp32", "bf16", "int8") if with_bf16 else ("fp32", "int8"):
        m = model if precision == "fp32" else quantize_int8(model) if precision == "int8" else _bf16_copy(model)
        params = SamplingParams(num_steps=_PROBE_STEPS, cfg_scale=4.0)
        order = torch.randperm(cfg.block_size, generator=gen)
        steps = decode(m, [1], [torch.Generator().manual_seed(1)], params, orders=order)
        next(steps)  # warm-up: the first step pays one-off costs (allocations, kernel selection)
        t = time.perf_counter()
        n = sum(1 for _ in steps)
        out[precision] = (time.perf_counter() - t) / n * STEPS_PER_IMAGE
        del m
    return out


def _bf16_copy(model):
    import copy

    import torch

    return copy.deepcopy(model).to(torch.bfloat16)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic (AVX-512 BF16 or AMX); without it bf16 runs ~30x slower than fp32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _allowed_cores() -> int:
    from arpg_core.threads import allowed_cores

    return allowed_cores()


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or os.name
