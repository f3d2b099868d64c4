"""What the Models dialog shows, and the jobs behind it: the list, downloads, imports, removals and Use.

:class:`ModelsController` is not a widget. It starts the worker jobs (the listing reads safetensors headers;
downloads, imports and removals touch the cache), turns what the core returns into rows, a status line and a
progress figure, and says so through its signals; ``app.models_dialog`` observes it. The dialog does not import
this module (it is handed the controller), so no widget's imports lead to torch. The rows' words are
``app.model_rows``; the core's errors reach the dialog as words built from their fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from arpg_core.weights.weights_errors import WeightsError  # no torch

from .jobs import CallJob, DownloadJob
from .model_rows import KINDS, ModelRow, error_text, estimate_text, sentence, size_text

log = logging.getLogger("arpg_studio.models")


def catalog(measure: bool = True) -> tuple[list[ModelRow], str]:
    """Every catalog entry, then installed models of names of their own; and the cache folder. Worker thread.

    Times per image come from this machine's speed measurement; without ``measure`` only a stored one is used
    (the list then shows at once, and the controller measures in a second job: see ``ModelsController._listed``)."""
    from arpg_core.weights import cache as weights
    from arpg_core.weights.catalog import REGISTRY, ModelEntry
    from arpg_core.weights.estimates import estimate
    from arpg_core.weights.model_files import cache_dir

    found = {m.name: m for m in weights.installed()}
    rows = []
    for name in [*REGISTRY, *(n for n in found if n not in REGISTRY)]:
        entry, m = REGISTRY.get(name), found.get(name)
        problem = (m.problem or "") if m else ""  # broken: truncated, not safetensors, config off its shapes
        kind = m.kind if m and not problem else (entry.kind if entry else "?")
        params = (m.parameters if m else None) or (entry.parameters if entry else None)
        tokenizer = (m.tokenizer if m else None) or (entry.tokenizer if entry else None)
        native = entry.native_px if entry and entry.kind == "arpg" else None
        if native is None and kind == "arpg" and m is not None:
            native = weights.native_px(m, found.get(tokenizer) if tokenizer else None)
        est = None
        if kind == "arpg" and params:
            own = ModelEntry(name, "arpg", None, "", None, params, tokenizer, native or 0, "metadata")
            est = estimate(entry or own, measure=measure)
            if not est["tokenizer_memory_bytes"] and tokenizer in found and found[tokenizer].parameters:
                est = {**est, "tokenizer_memory_bytes": 4 * found[tokenizer].parameters}
        summary = m.summary if m and not problem else (f"{KINDS.get(kind, kind)}, not installed" if entry else "")
        rows.append(
            ModelRow(
                name=name,
                kind=kind,
                installed=m is not None,
                builtin=bool(m and m.builtin) or (entry is not None and entry.repo is None),
                downloadable=entry is not None and entry.repo is not None,
                size_bytes=m.size_bytes if m else None,
                download_bytes=entry.approx_download_bytes if entry and entry.repo else None,
                parameters=params,
                native_px=native,
                tokenizer=tokenizer,
                summary=summary,
                estimate=est,
                filename=entry.filename if entry else (m.path.name if m else ""),
                url=entry.url if entry else None,
                repo=entry.repo if entry else None,
                problem=problem,
            )
        )
    return rows, str(cache_dir())


def import_model(path: str, name: str | None = None):
    """Worker thread: install a local file into the cache (see ``arpg_core.weights.cache.import_file``)."""
    from arpg_core.weights import cache as weights

    return weights.import_file(path, name)


def remove_model(name: str) -> Path:
    """Worker thread: delete an installed model from the cache."""
    from arpg_core.weights import cache as weights

    return weights.remove(name)


def measure_speed():
    """Worker thread: time this machine once (arpg_core.weights.calibrate, about a second when idle)."""
    from arpg_core.weights.calibrate import speed

    return speed()


class ModelsController(QObject):
    """The Models dialog's state and jobs. ``controller`` is the app's (it loads engines); ``use_model(name)``
    starts a switch (the main window's, which stores the choice once it has loaded)."""

    listed = Signal()  # rows and cache are new
    status_changed = Signal(str)
    progress_changed = Signal()  # progress_visible / progress_value (None: busy, no figure) / cancel_*
    row_changed = Signal(str)  # one row's status (a download's percentage)
    busy_changed = Signal()  # an operation started or ended: the buttons follow
    failed = Signal(str, str, str)  # title, text for a person, details
    name_wanted = Signal(str, str)  # an import of no known model: path, what the file is
    fetch_selects = Signal(str)  # the row a one-click fetch works on

    def __init__(self, controller, use_model: Callable[[str], bool], parent=None):
        super().__init__(parent)
        self.controller, self.state, self._use = controller, controller.state, use_model
        self.rows: list[ModelRow] = []
        self.cache = ""
        self.status = ""
        self.progress_visible = False
        self.progress_value: int | None = 0  # 0..1000, None while there is no figure (hashing, converting)
        self.cancel_visible = self.cancel_enabled = False
        self.select_after = ""  # a row to select once the list is read again
        self._list_job: CallJob | None = None
        self._relist = False
        self._speed_job: CallJob | None = None  # measures this machine's speed once, off the list's way
        self._op = None  # the running download, import or removal
        self._retired: list = []  # jobs whose threads are winding down
        self._switching = ""  # the model a Use started loading
        self._ask_name: tuple[str, str] | None = None  # an import to ask a name for, once its job has ended
        self._percent: int | None = None  # of the file being downloaded
        self._fetch = ""  # download this model (and Use it) once the list has been read (the welcome's button)
        controller.switched.connect(self._switched)
        controller.load_failed.connect(self._switch_failed)

    # --- what the dialog reads -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._op is not None or self._list_job is not None

    @property
    def operating(self) -> bool:
        """A download, import or removal is running (the buttons that start one are off)."""
        return self._op is not None

    def row(self, name: str | None) -> ModelRow | None:
        return next((r for r in self.rows if r.name == name), None) if name else None

    def active_name(self) -> str:
        info = self.state.engine_info
        return info.name if info else ""

    def status_text(self, r: ModelRow) -> str:
        if r.name == self.active_name():
            return "in use"
        job = self._op
        if isinstance(job, DownloadJob) and r.name in job.names and not r.installed and not job.cancelled_flag:
            if r.name != job.current:
                return "waiting"
            return f"downloading {self._percent}%" if self._percent is not None else "downloading"
        if r.name == self.controller.loading_what and self.controller.loading:
            return "loading…"
        if r.problem:
            return "broken"
        if r.installed:
            return "built in" if r.builtin else "installed"
        return "not installed" if r.downloadable or not r.builtin else "missing"

    def in_use(self, r: ModelRow) -> bool:
        """The model in use, or the tokenizer it pairs with."""
        active = self.active_name()
        active_row = self.row(active)
        return r.name == active or (active_row is not None and active_row.tokenizer == r.name)

    def can_download(self, r: ModelRow | None) -> bool:
        return bool(r and r.downloadable and not r.installed) and self._op is None

    def can_remove(self, r: ModelRow | None) -> bool:
        return bool(r and r.installed and not r.builtin) and self._op is None and not self.in_use(r)

    def can_use(self, r: ModelRow | None) -> bool:
        ok = bool(r and r.installed and r.kind != "vq" and r.name != self.active_name())
        return ok and not self.controller.loading

    def details(self, r: ModelRow) -> str:
        lines = []
        if r.problem:
            lines.append(f"{r.name}: the file cannot be read ({r.problem}). Remove it, or import it again.")
        elif r.estimate:
            lines.append(estimate_text(r) + ".")
        else:
            lines.append(f"{r.name}: {r.summary}." if r.summary else r.name)
        more = []
        if r.installed and r.summary and r.estimate:
            more.append(r.summary)
        if r.kind == "arpg" and r.tokenizer:
            tok = self.row(r.tokenizer)
            state = "" if tok is None else (" (installed)" if tok.installed else " (not installed)")
            more.append(f"pairs with the tokenizer {r.tokenizer}{state}")
        if r.downloadable and not r.installed:
            more.append(f"download about {size_text(r.download_bytes)} from {r.repo} ({r.filename})")
        if r.builtin and not r.installed:
            more.append("part of the app, but its file is missing from assets/")
        if more:
            lines.append(sentence("; ".join(more)) + ".")
        return "\n".join(lines)

    def _set_status(self, text: str) -> None:
        self.status = text
        self.status_changed.emit(text)

    def _set_progress(self, visible: bool, value: int | None = 0, cancel: bool = False) -> None:
        self.progress_visible, self.progress_value = visible, value
        self.cancel_visible = self.cancel_enabled = cancel
        self.progress_changed.emit()

    # --- the list ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the installed models again (in a worker)."""
        if self._list_job is not None:
            self._relist = True
            return
        if not self.rows:
            self._set_status("Reading the model cache…")
        job = CallJob(catalog, False)
        job.finished.connect(self._listed)
        job.failed.connect(lambda msg, details: self._report("Cannot list the models", msg, details))
        job.done.connect(self._list_done)
        self._list_job = job
        self.busy_changed.emit()
        job.start()

    def _listed(self, result) -> None:
        rows, cache = result
        if self.status == "Reading the model cache…":
            self._set_status("")
        self.rows, self.cache = rows, cache
        if self._speed_job is None and any(r.estimate and r.estimate["seconds_per_image"] is None for r in rows):
            job = CallJob(measure_speed)
            job.finished.connect(lambda _speed: self.refresh())
            job.failed.connect(lambda msg, details: log.warning("speed measurement failed: %s\n%s", msg, details))
            self._speed_job = job
            job.start()
        self.listed.emit()
        self._continue_fetch()

    def _list_done(self) -> None:
        self._retire(self._list_job)
        self._list_job = None
        self.busy_changed.emit()
        if self._relist:
            self._relist = False
            self.refresh()

    # --- use -----------------------------------------------------------------------------------------

    def use(self, name: str) -> bool:
        """Load an installed model in a worker; the model in use stays until it has loaded."""
        r = self.row(name)
        if r is None or not r.installed or r.kind == "vq":
            return False
        if not self._use(r.name):
            return False
        self._switching = r.name
        estimate = estimate_text(r)
        self._set_status(f"Loading {r.name}… ({estimate.split(': ', 1)[1]})" if estimate else f"Loading {r.name}…")
        self.busy_changed.emit()
        return True

    def _switched(self, choice: dict) -> None:
        name = self.active_name()
        self._set_status(f"Now using {name}." if name else "")
        self._switching = ""
        self.busy_changed.emit()

    def _switch_failed(self, message: str) -> None:
        if self._switching:
            first = message.strip().splitlines()[0] if message.strip() else "it failed"
            active = self.active_name()
            still = f" Still using {active}." if active else ""
            self._set_status(f"{self._switching} could not be loaded: {first}{still}")
        self._switching = ""
        self.busy_changed.emit()

    # --- download ------------------------------------------------------------------------------------

    def fetch(self, name: str) -> None:
        """Download ``name`` with its tokenizer and switch to it once installed (one click in the welcome)."""
        self._fetch = name
        self.refresh()

    def _continue_fetch(self) -> None:
        r = self.row(self._fetch)
        if r is None or self._op is not None:
            return
        self.fetch_selects.emit(r.name)
        if r.installed:
            self._fetch = ""
            if r.name != self.active_name():
                self.use(r.name)
        elif not self.download(r.name):
            self._fetch = ""

    def download(self, name: str) -> bool:
        r = self.row(name)
        if not self.can_download(r):
            return False
        names = [r.name]
        tok = self.row(r.tokenizer) if r.kind == "arpg" else None
        if tok is not None and not tok.installed and tok.downloadable:
            names.insert(0, tok.name)  # an image model is of no use without its tokenizer
        job = DownloadJob(names)
        job.progress.connect(self._download_progress)
        job.stage.connect(self._download_stage)
        job.installed.connect(lambda m: (setattr(self, "select_after", r.name), self.refresh()))
        job.finished.connect(lambda models: self._set_status(f"Installed {' and '.join(m.name for m in models)}."))
        job.cancelled.connect(self._download_cancelled)
        job.failed.connect(self._download_failed)
        job.done.connect(self._op_done)
        self._op = job
        self._percent = 0
        self._set_progress(True, 0, cancel=True)
        self._set_status(f"Downloading {' and '.join(names)}…")
        self.busy_changed.emit()
        job.start()
        return True

    def cancel_download(self) -> None:
        if isinstance(self._op, DownloadJob):
            self._op.cancel()
            self.cancel_enabled = False
            self.progress_changed.emit()
            self._set_status("Cancelling…")

    def _download_progress(self, name: str, done: float, total: float) -> None:
        if self.sender() is not self._op or self._op.cancelled_flag:
            return
        if total > 0:
            self._percent = min(100, int(100 * done / total))
            self._set_status(f"Downloading {name}: {size_text(done)} of {size_text(total)}")
            self.progress_value = min(1000, round(1000 * done / total))
        else:
            self._percent = None
            self._set_status(f"Downloading {name}: {size_text(done)}")
            self.progress_value = None
        self.progress_changed.emit()
        self.row_changed.emit(name)

    def _download_stage(self, name: str, stage: str) -> None:
        if self.sender() is not self._op or self._op.cancelled_flag:
            return
        if stage == "downloading":
            self._percent = 0
        else:
            self.progress_value = None  # hashing and converting report no progress
            self.progress_changed.emit()
            self._set_status(f"{stage.capitalize()} {name}…")
            self._percent = None
        self.row_changed.emit(name)

    def _download_cancelled(self) -> None:
        self._fetch = ""
        job = self.sender()
        kept = job.names[: job.names.index(job.current)] if isinstance(job, DownloadJob) and job.current else []
        note = f" {' and '.join(kept)} had been installed before." if kept else ""
        self._set_status(f"Download cancelled; nothing half-written was kept.{note}")

    def _download_failed(self, message: str, details: str) -> None:
        self._fetch = ""
        job = self.sender()
        r = self.row(getattr(job, "current", ""))
        self._report(f"Cannot download {r.name if r else 'the model'}", message, details)

    # --- import and remove ---------------------------------------------------------------------------

    def import_path(self, path: str | Path, name: str | None = None) -> bool:
        """Install a local file (offline) in a worker; a file of no known model asks for a name of its own."""
        if self._op is not None:
            return False
        job = CallJob(import_model, str(path), name)
        job.finished.connect(self._imported)
        job.failed.connect(lambda msg, details, p=str(path): self._import_failed(p, msg, details))
        job.done.connect(self._op_done)
        self._op = job
        self._set_progress(True, None)
        self._set_status(f"Importing {Path(path).name}…")
        self.busy_changed.emit()
        job.start()
        return True

    def _imported(self, model) -> None:
        self._set_status(f"Imported {model.name}: {model.summary}.")
        self.select_after = model.name
        self.refresh()

    def _import_failed(self, path: str, message: str, details: str) -> None:
        error = getattr(self.sender(), "exception", None)
        if isinstance(error, WeightsError) and error.kind == "no_match":
            self._set_status("")
            self._ask_name = (path, error.detail)  # asked once the job has ended
            return
        self._report(f"Cannot import {Path(path).name}", message, details)

    def remove(self, name: str) -> bool:
        r = self.row(name)
        if not self.can_remove(r):
            return False
        job = CallJob(remove_model, r.name)
        job.finished.connect(lambda _path, n=r.name: (self._set_status(f"Removed {n}."), self.refresh()))
        job.failed.connect(lambda msg, details, n=r.name: self._report(f"Cannot remove {n}", msg, details))
        job.done.connect(self._op_done)
        self._op = job
        self.busy_changed.emit()
        job.start()
        return True

    def _report(self, title: str, message: str, details: str) -> None:
        text = error_text(getattr(self.sender(), "exception", None), message)
        self._set_status(text.splitlines()[0])
        self.failed.emit(title, text, details)

    # --- jobs ----------------------------------------------------------------------------------------

    def _op_done(self) -> None:
        job = self.sender()
        self._retire(job)
        if job is not self._op:
            return
        self._op = None
        self._set_progress(False, 0)
        self.busy_changed.emit()
        self.refresh()
        if self._ask_name is not None:
            path, what = self._ask_name
            self._ask_name = None
            self.name_wanted.emit(path, what)

    def _retire(self, job) -> None:
        if job is not None:
            self._retired.append(job)
        self._retired = [j for j in self._retired if j.thread.isRunning()]

    def shutdown(self, ms: int = 5000) -> None:
        """Cancel a download and wait for the worker threads (on quit)."""
        for job in [self._op, self._list_job, self._speed_job, *self._retired]:
            if job is not None:
                job.cancel()
                job.wait(ms)
