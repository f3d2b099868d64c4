"""The Models dialog: the registry's models and anything imported, with what is installed; Download (with progress
and Cancel), Import file… (offline), Remove, and Use (switch the model in use without a restart).

Everything that touches the weights runs in a worker job: the listing (it reads safetensors headers), downloads,
imports and removals; switching goes through the controller's LoadJob, which swaps the engine only once the new
one has loaded. This module imports nothing from arpg_core at module level (torch stays off the UI thread's
import path); the functions the jobs run import it when they run.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .errors import show_error
from .jobs import CallJob, DownloadJob

COLUMNS = ("Model", "Kind", "Status", "On disk", "Parameters", "Native")
IMPORT_FILTER = "Model files (*.safetensors *.pt *.pth *.bin);;All files (*)"
KINDS = {"arpg": "image model", "vq": "tokenizer"}


log = logging.getLogger("arpg_studio.models")


@dataclass(frozen=True)
class ModelRow:
    """One line of the table, gathered in a worker thread (see :func:`catalog`)."""

    name: str
    kind: str  # "arpg", "vq" or "?" (unreadable)
    installed: bool
    builtin: bool  # part of the app (assets/): cannot be removed
    downloadable: bool  # an official model on the hub
    size_bytes: int | None  # on disk, when installed
    download_bytes: int | None  # approximate, for a downloadable model
    parameters: int | None
    native_px: int | None
    tokenizer: str | None  # the tokenizer an image model pairs with
    summary: str  # the config in brief, or why the file cannot be read
    estimate: dict | None  # registry.estimate(): memory and rough time per image (image models only)
    filename: str = ""  # the official file name (what to import offline)
    url: str | None = None  # where a browser can fetch it
    repo: str | None = None
    problem: str = ""  # the file is installed but unreadable: why


def catalog(measure: bool = True) -> tuple[list[ModelRow], str]:
    """Every registry entry, then installed models of names of their own; and the cache folder. Worker thread.

    Times per image come from this machine's speed measurement; without ``measure`` only a stored one is used
    (the list then shows at once, and the dialog measures in a second job: see ``ModelsDialog._listed``)."""
    from arpg_core import weights
    from arpg_core.catalog import REGISTRY, ModelEntry
    from arpg_core.config import VQ_PRESETS
    from arpg_core.estimates import estimate

    found = {m.name: m for m in weights.installed()}
    rows = []
    for name in [*REGISTRY, *(n for n in found if n not in REGISTRY)]:
        entry, m = REGISTRY.get(name), found.get(name)
        problem = (m.problem or "") if m else ""  # broken: truncated, not safetensors, config off its shapes
        kind = m.kind if m and not problem else (entry.kind if entry else "?")
        params = (m.parameters if m else None) or (entry.parameters if entry else None)
        tokenizer = (m.tokenizer if m else None) or (entry.tokenizer if entry else None)
        native = entry.native_px if entry and entry.kind == "arpg" else None
        if native is None and kind == "arpg" and m and m.config.get("block_size"):
            tok = found.get(tokenizer) if tokenizer else None
            if tok is not None and tok.config.get("ch_mult"):
                patch = 2 ** (len(tok.config["ch_mult"]) - 1)
            else:
                patch = VQ_PRESETS[tokenizer].downsample if tokenizer in VQ_PRESETS else None
            native = math.isqrt(int(m.config["block_size"])) * patch if patch else None
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
    return rows, str(weights.cache_dir())


def import_model(path: str, name: str | None = None):
    """Worker thread: install a local file into the cache (see ``arpg_core.weights.import_file``)."""
    from arpg_core import weights

    return weights.import_file(path, name)


def remove_model(name: str) -> Path:
    """Worker thread: delete an installed model from the cache."""
    from arpg_core import weights

    return weights.remove(name)


# --- words for a person ----------------------------------------------------------------------------


def size_text(n: int | float | None) -> str:
    if n is None:
        return "—"
    return QLocale().formattedDataSize(int(n), 2 if n >= 1e9 else 1, QLocale.DataSizeFormat.DataSizeSIFormat)


def count_text(n: int | None) -> str:
    if not n:
        return "—"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return str(n)


def seconds_text(s: float) -> str:
    if s < 0.1:
        return "under 0.1 s"
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def estimate_text(row: ModelRow) -> str:
    """'ARPG-XXL: about 5.21 GB of memory in fp32 (+288 MB for VQ-16), about 35 s per 64-step image on this
    computer (7.1 s in int8)', the time measured here (arpg_core.calibrate)"""
    e = row.estimate
    if not e:
        return ""
    text = f"{row.name}: about {size_text(e['memory_bytes'])} of memory in fp32"
    if e.get("tokenizer_memory_bytes"):
        text += f" (+{size_text(e['tokenizer_memory_bytes'])} for {e['tokenizer']})"
    if e.get("seconds_per_image") is not None:
        text += f", about {seconds_text(e['seconds_per_image'])} per {e['steps']}-step image on this computer"
        if e.get("seconds_per_image_int8") is not None:
            text += f" ({seconds_text(e['seconds_per_image_int8'])} in int8)"
    else:
        text += "; measuring this computer's speed for the time per image…"
    return text


def _short_path(path: str) -> str:
    """~/… for a folder in the home folder (not on Windows, where ~ means nothing to most people)."""
    home = Path.home()
    p = Path(path)
    if os.name != "nt" and p.is_relative_to(home):
        return str(Path("~") / p.relative_to(home))
    return path


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def readable_error(error: BaseException | None, message: str, row: ModelRow | None) -> str:
    """A weights error for a person using the app: no command lines, and offline says how to import instead."""
    from arpg_core import weights  # already imported: the error came from there

    text = str(error) if error is not None else message
    if isinstance(error, weights.OfflineError) and text.startswith("offline:"):
        what = text.removeprefix("offline:").split("; get ")[0].strip()
        out = f"{_sentence(what)}."
        if row is not None and row.url:
            out += (
                f"\n\nTo install {row.name} without a connection: on a computer that is online, download "
                f"{row.filename} from {row.url}, copy it to this computer and choose Import file… here."
            )
        return out
    if isinstance(error, weights.OfflineError):
        return f"{_sentence(text)}\n\nCheck the connection (and HF_ENDPOINT or a proxy, if you use one)."
    text = re.sub(r";? ?(or )?pass --force", "", text)
    text = re.sub(r"run `arpg-studio weights download ([^`]+)`", r"download \1 in Models…", text)
    text = re.sub(r"run `arpg-studio weights import ([^`]+)`", r"choose Import file… in Models…", text)
    text = text.replace("arpg-studio weights list shows what is", "Models… shows what is")
    return _sentence(text)


# --- the dialog ------------------------------------------------------------------------------------


class ModelsDialog(QDialog):
    """Closing only hides it: a download goes on, and its progress is there when the dialog is opened again."""

    def __init__(self, controller, use_model: Callable[[str], bool], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 500)
        self.controller, self.state, self._use = controller, controller.state, use_model
        self.rows: list[ModelRow] = []
        self.cache = ""
        self._list_job: CallJob | None = None
        self._relist = False
        self._speed_job: CallJob | None = None  # measures this machine's speed once, off the list's way
        self._op = None  # the running download, import or removal
        self._retired: list = []  # jobs whose threads are winding down
        self._select_after = ""  # a row to select once the list is read again
        self._switching = ""  # the model a Use started loading
        self._ask_name: tuple[str, str] | None = None  # an import to ask a name for, once its job has ended
        self._percent: int | None = None  # of the file being downloaded
        self._fetch = ""  # download this model (and Use it) once the list has been read (the welcome's button)

        v = QVBoxLayout(self)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda *_: self.use_button.isEnabled() and self.use())
        v.addWidget(self.table, 1)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMinimumHeight(52)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        v.addWidget(self.details)

        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.setVisible(False)
        row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing half-written is kept")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        row.addWidget(self.cancel_button)
        v.addLayout(row)
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        v.addWidget(self.status)

        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.download)
        self.import_button = QPushButton("Import file…")
        self.import_button.setToolTip("Install a .safetensors or .pt file you have (works offline)")
        self.import_button.clicked.connect(self.import_dialog)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        self.use_button = QPushButton("Use")
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self.use)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        for b in (self.download_button, self.import_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)
        v.addLayout(buttons)
        self.cache_label = QLabel()
        self.cache_label.setObjectName("hint")
        self.cache_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.cache_label)

        self.state.engine_changed.connect(self._engine_changed)
        controller.switched.connect(self._switched)
        controller.load_failed.connect(self._switch_failed)
        self._sync_buttons()

    # --- the list ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the installed models again (in a worker)."""
        if self._list_job is not None:
            self._relist = True
            return
        if not self.rows:
            self.status.setText("Reading the model cache…")
        job = CallJob(catalog, False)
        job.finished.connect(self._listed)
        job.failed.connect(lambda msg, details: self._report("Cannot list the models", msg, details))
        job.done.connect(self._list_done)
        self._list_job = job
        job.start()

    def _listed(self, result) -> None:
        rows, cache = result
        if self.status.text() == "Reading the model cache…":
            self.status.setText("")
        keep = self._select_after or (self.selected().name if self.selected() else "")
        self._select_after = ""
        self.rows, self.cache = rows, cache
        self.cache_label.setText(f"Models are kept in {_short_path(cache)}")
        if self._speed_job is None and any(r.estimate and r.estimate["seconds_per_image"] is None for r in rows):
            self._measure_speed()
        self._fill()
        names = [r.name for r in rows]
        if keep in names:
            self.table.selectRow(names.index(keep))
        elif rows and self.table.currentRow() < 0:
            active = self._active_name()
            self.table.selectRow(names.index(active) if active in names else 0)
        self._selection_changed()
        self._continue_fetch()

    def _measure_speed(self) -> None:
        """Time this machine once (arpg_core.calibrate, about a second when idle), then list again with it."""
        from arpg_core.calibrate import speed

        job = CallJob(speed)
        job.finished.connect(lambda _speed: self.refresh())
        job.failed.connect(lambda msg, details: log.warning("speed measurement failed: %s\n%s", msg, details))
        self._speed_job = job
        job.start()

    def _list_done(self) -> None:
        self._retire(self._list_job)
        self._list_job = None
        if self._relist:
            self._relist = False
            self.refresh()

    def _fill(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        active = self._active_name()
        bold = QFont(self.table.font())
        bold.setBold(True)
        for i, r in enumerate(self.rows):
            cells = (
                r.name,
                KINDS.get(r.kind, "?"),
                self._status_text(r, active),
                size_text(r.size_bytes) if r.installed else "—",
                count_text(r.parameters),
                f"{r.native_px} px" if r.native_px else "—",
            )
            tip = r.problem or r.summary
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if col >= 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if r.name == active:
                    item.setFont(bold)
                self.table.setItem(i, col, item)

    def _status_text(self, r: ModelRow, active: str) -> str:
        if r.name == active:
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

    def _active_name(self) -> str:
        info = self.state.engine_info
        return info.name if info else ""

    def row(self, name: str | None) -> ModelRow | None:
        return next((r for r in self.rows if r.name == name), None) if name else None

    def selected(self) -> ModelRow | None:
        i = self.table.currentRow()
        return self.rows[i] if 0 <= i < len(self.rows) and self.table.selectedItems() else None

    def select(self, name: str) -> bool:
        for i, r in enumerate(self.rows):
            if r.name == name:
                self.table.selectRow(i)
                return True
        return False

    def _selection_changed(self) -> None:
        r = self.selected()
        self.details.setText(self._details(r) if r else "")
        self._sync_buttons()

    def _details(self, r: ModelRow) -> str:
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
            lines.append(_sentence("; ".join(more)) + ".")
        return "\n".join(lines)

    def _sync_buttons(self, *_args) -> None:
        r, busy, active = self.selected(), self._op is not None, self._active_name()
        active_row = self.row(active)
        in_use = r is not None and (r.name == active or (active_row is not None and active_row.tokenizer == r.name))
        self.download_button.setEnabled(bool(r and r.downloadable and not r.installed) and not busy)
        self.import_button.setEnabled(not busy)
        self.remove_button.setEnabled(bool(r and r.installed and not r.builtin) and not busy and not in_use)
        self.remove_button.setToolTip(
            "In use: switch to another model first" if in_use else "Delete the model from the cache"
        )
        can_use = bool(r and r.installed and r.kind != "vq" and r.name != active) and not self.controller.loading
        self.use_button.setEnabled(can_use)
        self.use_button.setToolTip(estimate_text(r) if r and r.estimate else "Load this model and switch to it")

    def _engine_changed(self) -> None:
        self._fill()
        self._sync_buttons()

    # --- use ---------------------------------------------------------------------------------------

    def use(self) -> bool:
        """Load the selected model in a worker; the model in use stays until it has loaded."""
        r = self.selected()
        if r is None or not r.installed or r.kind == "vq":
            return False
        if not self._use(r.name):
            return False
        self._switching = r.name
        estimate = estimate_text(r)
        self.status.setText(f"Loading {r.name}… ({estimate.split(': ', 1)[1]})" if estimate else f"Loading {r.name}…")
        self._fill()
        self._sync_buttons()
        return True

    def _switched(self, choice: dict) -> None:
        name = self._active_name()
        self.status.setText(f"Now using {name}." if name else "")
        self._switching = ""
        self._fill()
        self._sync_buttons()

    def _switch_failed(self, message: str) -> None:
        if self._switching:
            first = message.strip().splitlines()[0] if message.strip() else "it failed"
            active = self._active_name()
            still = f" Still using {active}." if active else ""
            self.status.setText(f"{self._switching} could not be loaded: {first}{still}")
        self._switching = ""
        self._sync_buttons()

    # --- download ----------------------------------------------------------------------------------

    def fetch(self, name: str) -> None:
        """Download ``name`` with its tokenizer and switch to it once installed (one click in the welcome)."""
        self._fetch = name
        self.refresh()

    def _continue_fetch(self) -> None:
        r = self.row(self._fetch)
        if r is None or self._op is not None:
            return
        self.select(r.name)
        if r.installed:
            self._fetch = ""
            if r.name != self._active_name():
                self.use()
        elif not self.download():
            self._fetch = ""

    def download(self) -> bool:
        r = self.selected()
        if r is None or not r.downloadable or r.installed or self._op is not None:
            return False
        names = [r.name]
        tok = self.row(r.tokenizer) if r.kind == "arpg" else None
        if tok is not None and not tok.installed and tok.downloadable:
            names.insert(0, tok.name)  # an image model is of no use without its tokenizer
        job = DownloadJob(names)
        job.progress.connect(self._download_progress)
        job.stage.connect(self._download_stage)
        job.installed.connect(lambda m: (setattr(self, "_select_after", r.name), self.refresh()))
        job.finished.connect(self._downloaded)
        job.cancelled.connect(self._download_cancelled)
        job.failed.connect(self._download_failed)
        job.done.connect(self._op_done)
        self._op = job
        self._percent = 0
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Downloading {' and '.join(names)}…")
        self._fill()
        self._sync_buttons()
        job.start()
        return True

    def cancel_download(self) -> None:
        if isinstance(self._op, DownloadJob):
            self._op.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def _download_progress(self, name: str, done: float, total: float) -> None:
        if self.sender() is not self._op or self._op.cancelled_flag:
            return
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, round(1000 * done / total)))
            self.status.setText(f"Downloading {name}: {size_text(done)} of {size_text(total)}")
            self._percent = min(100, int(100 * done / total))
        else:
            self.progress.setRange(0, 0)
            self.status.setText(f"Downloading {name}: {size_text(done)}")
            self._percent = None
        self._update_status_cell(name)

    def _update_status_cell(self, name: str) -> None:
        r = self.row(name)
        item = self.table.item(self.rows.index(r), 2) if r is not None else None
        if item is not None:
            item.setText(self._status_text(r, self._active_name()))

    def _download_stage(self, name: str, stage: str) -> None:
        if self.sender() is not self._op or self._op.cancelled_flag:
            return
        if stage == "downloading":
            self._percent = 0
        else:
            self.progress.setRange(0, 0)  # hashing and converting report no progress
            self.status.setText(f"{stage.capitalize()} {name}…")
            self._percent = None
        self._update_status_cell(name)

    def _downloaded(self, models: list) -> None:
        self.status.setText(f"Installed {' and '.join(m.name for m in models)}.")

    def _download_cancelled(self) -> None:
        self._fetch = ""
        job = self.sender()
        kept = job.names[: job.names.index(job.current)] if isinstance(job, DownloadJob) and job.current else []
        note = f" {' and '.join(kept)} had been installed before." if kept else ""
        self.status.setText(f"Download cancelled; nothing half-written was kept.{note}")

    def _download_failed(self, message: str, details: str) -> None:
        self._fetch = ""
        job = self.sender()
        r = self.row(getattr(job, "current", ""))
        text = readable_error(getattr(job, "exception", None), message, r)
        self.status.setText(text.splitlines()[0])
        show_error(self, f"Cannot download {r.name if r else 'the model'}", text, details)

    # --- import and remove -------------------------------------------------------------------------

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", str(Path.home()), IMPORT_FILTER)
        if path:
            self.import_path(path)

    def import_path(self, path: str | Path, name: str | None = None) -> bool:
        """Install a local file (offline) in a worker; a file of no known model asks for a name of its own."""
        if self._op is not None:
            return False
        job = CallJob(import_model, str(path), name)
        job.finished.connect(self._imported)
        job.failed.connect(lambda msg, details, p=str(path), n=name: self._import_failed(p, n, msg, details))
        job.done.connect(self._op_done)
        self._op = job
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setText(f"Importing {Path(path).name}…")
        self._sync_buttons()
        job.start()
        return True

    def _imported(self, model) -> None:
        self.status.setText(f"Imported {model.name}: {model.summary}.")
        self._select_after = model.name
        self.refresh()

    def _import_failed(self, path: str, name: str | None, message: str, details: str) -> None:
        error = getattr(self.sender(), "exception", None)
        if name is None and "matches no known model" in message:
            self.status.setText("")
            self._ask_name = (path, message.split(", which matches")[0])  # asked once the job has ended
            return
        text = readable_error(error, message, None)
        self.status.setText(text.splitlines()[0])
        show_error(self, f"Cannot import {Path(path).name}", text, details)

    def remove(self, confirm: bool = True) -> bool:
        r = self.selected()
        if r is None or not self.remove_button.isEnabled():
            return False
        if confirm:
            answer = QMessageBox.question(
                self, "Remove the model?", f"Delete {r.name} ({size_text(r.size_bytes)}) from {self.cache}?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        job = CallJob(remove_model, r.name)
        job.finished.connect(lambda _path, n=r.name: (self.status.setText(f"Removed {n}."), self.refresh()))
        job.failed.connect(lambda msg, details, n=r.name: self._report(f"Cannot remove {n}", msg, details))
        job.done.connect(self._op_done)
        self._op = job
        self._sync_buttons()
        job.start()
        return True

    def _report(self, title: str, message: str, details: str) -> None:
        text = readable_error(getattr(self.sender(), "exception", None), message, None)
        self.status.setText(text.splitlines()[0])
        show_error(self, title, text, details)

    # --- jobs --------------------------------------------------------------------------------------

    def _op_done(self) -> None:
        job = self.sender()
        self._retire(job)
        if job is not self._op:
            return
        self._op = None
        self.progress.setVisible(False)
        self.progress.setRange(0, 1000)
        self.cancel_button.setVisible(False)
        self._sync_buttons()
        self.refresh()
        if self._ask_name is not None:
            path, what = self._ask_name
            self._ask_name = None
            self.ask_import_name(path, what)

    def ask_import_name(self, path: str, what: str) -> None:
        """A file of no known model: ask for a name to install it under."""
        stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", Path(path).stem).strip("-._") or "my-model"
        new, ok = QInputDialog.getText(
            self,
            "Import under a name of its own",
            f"{_sentence(what)}, which matches no known model.\nImport it as:",
            text=stem,
        )
        if ok and new.strip():
            self.import_path(path, new.strip())

    def _retire(self, job) -> None:
        if job is not None:
            self._retired.append(job)
        self._retired = [j for j in self._retired if j.thread.isRunning()]

    @property
    def busy(self) -> bool:
        return self._op is not None or self._list_job is not None

    def shutdown(self, ms: int = 5000) -> None:
        """Cancel a download and wait for the worker threads (on quit)."""
        for job in [self._op, self._list_job, self._speed_job, *self._retired]:
            if job is not None:
                job.cancel()
                job.wait(ms)
