"""A one-line progress bar on stderr: done/total, rate, ETA and free-form fields (loss, lr, ...).

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
