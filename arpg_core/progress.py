"""A one-line progress bar on stderr: done/total, rate, ETA and free-form fields (loss, lr, ...); and
:class:`RecentRate`, the ETA of an edit from its recent steps.

The bar is cosmetic: when its stream breaks (a full disk, a closed pipe, ``2>/dev/full``) it goes quiet and the
work goes on; it never raises.
"""

from __future__ import annotations

import os
import sys
import time


def format_seconds(s: float) -> str:
    s = max(0, round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressBar:
    def __init__(self, total: int, label: str = "", unit: str = "step", stream=None, start: int = 0, width: int = 24):
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.stream = stream or sys.stderr
        self.done = self.start = start
        self.t0 = time.perf_counter()
        self.broken = False  # the stream failed once: no more writes
        try:
            self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        except (OSError, ValueError):
            self.tty = False
        self._last_print = 0.0

    def update(self, done: int, **fields) -> None:
        self.done = done
        now = time.perf_counter()
        if self.tty or done >= self.total or now - self._last_print > 10:
            self._last_print = now
            self._print(fields)

    def _print(self, fields: dict) -> None:
        elapsed = time.perf_counter() - self.t0
        rate = (self.done - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(self.width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (self.width - filled)
        extra = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        line = (
            f"{self.label} [{bar}] {self.done}/{self.total} {self.unit if self.unit.isupper() else self.unit + 's'} "
            f"{rate:.3g} {self.unit}/s ETA {format_seconds(eta)} {extra}"
        )
        end = "\r" if self.tty and self.done < self.total else "\n"
        self._write(line.strip() + end)

    def close(self) -> None:
        if self.tty:
            self._write("\n")

    def _write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # ValueError: a closed stream
            self.broken = True
            silence(self.stream)


def say(text: str, stream=None) -> bool:
    """Print a cosmetic line (to stderr by default); a broken stream is ignored. Returns whether it was written."""
    stream = stream or sys.stderr
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError):
        silence(stream)
        return False
    return True


def silence(stream) -> None:
    """Point a broken stream's file descriptor at the null device, so that what it still buffers, and the
    interpreter's final flush at exit, go nowhere instead of failing again."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


class RecentRate:
    """Seconds per step from the recent steps: an exponential moving average whose weight halves every
    ``half_life`` steps. An ETA from it follows a slowdown (another program starts) within a few steps, where
    the average since the start stays frozen near the old speed."""

    def __init__(self, start: float, half_life: float = 2.0):
        self.alpha = 1.0 - 0.5 ** (1.0 / half_life)
        self.last = start
        self.per_step: float | None = None

    def step(self, now: float, steps: int = 1) -> None:
        dt = max(0.0, now - self.last) / max(1, steps)
        self.last = now
        self.per_step = dt if self.per_step is None else self.per_step + self.alpha * (dt - self.per_step)

    def eta(self, remaining: int) -> float:
        return 0.0 if self.per_step is None else max(0, remaining) * self.per_step


def eta_after(step_ends: list[float], total: int, start: float = 0.0, half_life: float = 2.0) -> list[float]:
    """The ETA shown after each step that ended at ``step_ends`` (pure, for tests and plots)."""
    rate = RecentRate(start, half_life)
    out = []
    for i, t in enumerate(step_ends):
        rate.step(t)
        out.append(rate.eta(total - i - 1))
    return out
