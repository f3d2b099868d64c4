"""How many CPU threads an edit uses, and how they wait: the thread policy (docs/performance.md).

A desktop is never idle. OpenMP's default is to spin-wait at every barrier, so when another program
holds a core each barrier waits for a descheduled thread, thousands of times per edit. Two rules:

1. **Passive waiting.** :func:`prepare_process` asks the OpenMP runtime to sleep instead of spinning
   (``OMP_WAIT_POLICY=PASSIVE``; the Intel runtime's ``KMP_BLOCKTIME=0``). It must run before torch is
   imported, because the runtime reads these once when it loads: every entry point (the CLI, the app,
   the frozen bundle, the benchmarks) calls it first. This module never imports torch at import time.
2. **Threads from the work and the free cores.** :func:`choose_threads` is a pure function of the
   model's size, the cores this process may use and how busy other programs keep them. A model too
   small to split (the embedded one: each op is microseconds of work) gets one thread; a large one
   gets the cores nobody else is using, at least one.

Overrides, first match wins: ``--threads N`` on the command line, the environment variable
``ARPG_STUDIO_THREADS``, the app's Preferences > Threads, then the policy ("auto").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

ENV_VAR = "ARPG_STUDIO_THREADS"
# Below this many parameters one thread is as fast as two on an idle machine and much faster on a busy
# one (measured: docs/performance.md, "Thread policy"); the embedded model has 8.1 M, ARPG-L 320 M.
SMALL_MODEL_PARAMETERS = 50_000_000
# A core counts as free when other programs use less than this share of it.
FREE_MARGIN = 0.3
_SAMPLE_SECONDS = 0.15


def prepare_process() -> None:
    """Make OpenMP wait passively; call before ``import torch`` (a value already set is kept)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # libgomp (torch's Linux wheels), LLVM's libomp
    os.environ.setdefault("KMP_BLOCKTIME", "0")  # Intel's libiomp (some macOS/Windows builds)


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    source: str  # "cli", "env", "setting" or "auto"
    reason: str  # for a person and the --json record

    def record(self) -> dict:
        return {"threads": self.threads, "threads_source": self.source, "threads_reason": self.reason}


def choose_threads(parameters: int, allowed: int, others_busy: float) -> tuple[int, str]:
    """The policy, a pure function: threads for a model of ``parameters`` on ``allowed`` cores of which
    other programs keep ``others_busy`` (in cores, 0..allowed) busy. Returns (threads, reason)."""
    allowed = max(1, int(allowed))
    if parameters < SMALL_MODEL_PARAMETERS:
        return 1, "small model: one thread is fastest"
    free = int(allowed - max(0.0, others_busy) + FREE_MARGIN)
    n = max(1, min(allowed, free))
    return n, f"{n} of {allowed} cores free (others busy: {others_busy:.1f} cores)"


def parse_threads(value: str | int | None) -> int | None:
    """A thread count from the command line, the environment or a setting: None for auto ('', 'auto', 0)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "auto", "0"):
        return None
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"threads must be a whole number >= 1 or 'auto', got {value!r}") from None
    if n < 1:
        raise ValueError(f"threads must be a whole number >= 1 or 'auto', got {value!r}")
    return n


def resolve(
    parameters: int,
    cli: str | int | None = None,
    setting: str | int | None = None,
    env: dict | None = None,
    measure=None,
) -> ThreadChoice:
    """The thread count to use: --threads, then $ARPG_STUDIO_THREADS, then the app's setting, then the policy.

    ``measure`` returns (allowed cores, others' busy cores); it is only called when the policy decides."""
    env = os.environ if env is None else env
    for source, value, what in (
        ("cli", cli, "--threads"),
        ("env", env.get(ENV_VAR), ENV_VAR),
        ("setting", setting, ""),
    ):
        try:
            n = parse_threads(value)
        except ValueError as e:
            if source == "setting":  # a bad stored value falls back to auto rather than blocking every edit
                continue
            raise ValueError(f"{what}: {e}") from None
        if n is not None:
            return ThreadChoice(n, source, f"set by {what or 'Preferences'}")
    if parameters < SMALL_MODEL_PARAMETERS:  # the load cannot change the answer: skip measuring it
        allowed, busy = allowed_cores(), 0.0
    else:
        allowed, busy = (measure or measure_load)()
    n, reason = choose_threads(parameters, allowed, busy)
    return ThreadChoice(n, "auto", reason)


def apply(choice: ThreadChoice) -> int:
    """Set torch's intra-op threads in the calling thread (OpenMP and MKL keep the count per thread)."""
    import torch

    if torch.get_num_threads() != choice.threads:
        torch.set_num_threads(choice.threads)
    return choice.threads


# --- measuring the machine --------------------------------------------------------------------------


def allowed_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def measure_load(seconds: float = _SAMPLE_SECONDS) -> tuple[int, float]:
    """(cores this process may use, cores kept busy by other programs), sampled over ``seconds``.

    Linux: busy time of the allowed CPUs in /proc/stat, less this process's own CPU time. Elsewhere the
    1-minute load average (which includes this process) or, without one, an idle machine."""
    allowed = allowed_cores()
    first = _proc_sample()
    if first is None:
        try:
            return allowed, min(float(allowed), os.getloadavg()[0])
        except (AttributeError, OSError):
            return allowed, 0.0
    time.sleep(seconds)
    second = _proc_sample()
    if second is None:
        return allowed, 0.0
    return allowed, others_busy(first, second)


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds since boot: busy and total over the allowed CPUs, and this process's own."""

    busy: float
    total: float
    own: float
    cpus: int


def others_busy(first: CpuSample, second: CpuSample) -> float:
    """Cores that other programs kept busy between two samples. Pure, for tests."""
    total = second.total - first.total
    if total <= 0:
        return 0.0
    others = max(0.0, (second.busy - first.busy) - (second.own - first.own))
    return min(1.0, others / total) * second.cpus


def _proc_sample() -> CpuSample | None:
    """Now, from /proc/stat (the allowed CPUs) and /proc/self/stat (this process); None off Linux."""
    try:
        allowed = os.sched_getaffinity(0)
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        with open("/proc/self/stat") as f:
            own_fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError):
        return None
    busy = total = 0.0
    cpus = 0
    for line in lines:
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in allowed:
            continue
        v = [float(x) for x in values[:8]]  # user nice system idle iowait irq softirq steal (guest is in user)
        idle = v[3] + v[4]
        busy += sum(v) - idle
        total += sum(v)
        cpus += 1
    own = float(own_fields[11]) + float(own_fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return CpuSample(busy / tick, total / tick, own / tick, cpus)
