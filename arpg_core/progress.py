"""A one-line progress bar on stderr: done/total, rate, ETA and free-form fields (loss, lr, ...)."""

from __future__ import annotations

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
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
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
        self.stream.write(line.strip() + end)
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
