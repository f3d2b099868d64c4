"""Worker jobs: the only code that calls the engine. Each job runs in its own QThread and reports by signals.

An EditJob iterates ``engine.run(request)``; between two decoding steps it checks its cancel flag, so
Cancel takes effect within one step. It never touches the document: results travel in signals and the
controller decides what to do with them. A LoadJob builds an engine; a DownloadJob fetches weights into the
model cache; a CallJob runs any other slow call (listing, importing, removing weights).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

log = logging.getLogger("arpg_studio.jobs")


class _ThreadJob(QObject):
    """A QObject moved to a thread of its own; subclasses implement work()."""

    failed = Signal(str, str)  # message, details
    done = Signal()  # always last, after finished/failed/cancelled

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self.exception: BaseException | None = None  # what work() raised, set before ``failed`` is emitted
        self.thread = QThread()
        self.thread.setObjectName(type(self).__name__)
        self.moveToThread(self.thread)
        self.thread.started.connect(self._run)
        self.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled_flag(self) -> bool:
        return self._cancel.is_set()

    def wait(self, ms: int = 10_000) -> bool:
        return self.thread.wait(ms)

    @Slot()
    def _run(self) -> None:
        try:
            self.work()
        except Exception as e:  # reported to the UI; the thread ends normally
            log.exception("%s failed", type(self).__name__)
            self.exception = e
            self.failed.emit(str(e) or type(e).__name__, traceback.format_exc())
        finally:
            self.done.emit()

    def work(self) -> None:
        raise NotImplementedError


class EditJob(_ThreadJob):
    progress = Signal(int, int, float, float)  # step, total, eta s, elapsed s
    preview = Signal(object)  # (H, W, 3) uint8: variant 0's canvas so far
    finished = Signal(object)  # EditResult
    cancelled = Signal()

    def __init__(self, engine, plan) -> None:
        """``plan``: a checked plan from ``engine.plan`` (or a request, checked when the job runs)."""
        super().__init__()
        self.engine, self.plan = engine, plan
        self.request = getattr(plan, "request", plan)
        self.started_at = 0.0

    def work(self) -> None:
        self.started_at = time.perf_counter()
        gen = self.engine.run(self.plan)
        try:
            while True:
                if self._cancel.is_set():
                    self.cancelled.emit()
                    return
                try:
                    p = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                self.progress.emit(p.step, p.total, float(p.eta), float(p.elapsed))
                if p.preview is not None:
                    self.preview.emit(np.array(p.preview, copy=True))
        finally:
            gen.close()
        if self._cancel.is_set():
            self.cancelled.emit()
            return
        self.finished.emit(result)


class LoadJob(_ThreadJob):
    """Loads an engine with ``loader(**kwargs)`` off the UI thread."""

    finished = Signal(object)

    def __init__(self, loader, **kwargs) -> None:
        super().__init__()
        self.loader, self.kwargs = loader, kwargs

    def work(self) -> None:
        engine = self.loader(**self.kwargs)
        self.finished.emit(engine)


class CallJob(_ThreadJob):
    """Runs ``fn(*args, **kwargs)`` off the UI thread and reports its return value."""

    finished = Signal(object)

    def __init__(self, fn, *args, **kwargs) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def work(self) -> None:
        self.finished.emit(self.fn(*self.args, **self.kwargs))


class DownloadJob(_ThreadJob):
    """Downloads models into the cache one after another (a model's tokenizer first, when it is missing).

    Cancel stops at the next progress report; ``arpg_core.weights.cache`` then removes what was partly written.
    A model finished before the cancel stays installed.
    """

    progress = Signal(str, float, float)  # name, bytes done, bytes in all (floats: files pass 2 GiB)
    stage = Signal(str, str)  # name, "downloading" / "verifying" / "converting"
    installed = Signal(object)  # an InstalledModel, as each one completes
    finished = Signal(list)  # every InstalledModel
    cancelled = Signal()

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = list(names)
        self.current = ""

    def work(self) -> None:
        from arpg_core.weights import cache as weights

        done = []
        for name in self.names:
            self.current = name
            try:
                model = weights.download(
                    name,
                    lambda d, t, n=name: self.progress.emit(n, float(d), float(t)),
                    self._cancel,
                    on_stage=lambda stage, n=name: self.stage.emit(n, stage),
                )
            except weights.Cancelled:
                self.cancelled.emit()
                return
            except Exception:
                if self._cancel.is_set():
                    self.cancelled.emit()
                    return
                raise
            done.append(model)
            self.installed.emit(model)
        self.finished.emit(done)
