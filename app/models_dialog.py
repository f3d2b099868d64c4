"""The Models dialog: the catalog's models and anything imported, with what is installed; Download (with progress
and Cancel), Import file… (offline), Remove, and Use (switch the model in use without a restart).

A widget only: the :class:`app.models_controller.ModelsController` it is given starts the jobs (the listing,
downloads, imports, removals; switching goes through the app controller's LoadJob) and holds the rows, the status
and the progress; this dialog shows them and passes the buttons on. It does not import the controller's module,
whose jobs import the core: nothing this module imports leads to torch (an import contract in pyproject.toml
checks it).
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt
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
from .model_rows import KINDS, ModelRow, count_text, estimate_text, sentence, short_path, size_text

COLUMNS = ("Model", "Kind", "Status", "On disk", "Parameters", "Native")
IMPORT_FILTER = "Model files (*.safetensors *.pt *.pth *.bin);;All files (*)"


class ModelsDialog(QDialog):
    """Closing only hides it: a download goes on, and its progress is there when the dialog is opened again."""

    def __init__(self, models, parent=None):
        """``models`` is the :class:`app.models_controller.ModelsController` this dialog shows."""
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(820, 500)
        self.state = models.state
        self.models = m = models
        models.setParent(self)

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

        self.state.engine_changed.connect(self._refill)
        m.listed.connect(self._listed)
        m.status_changed.connect(self.status.setText)
        m.progress_changed.connect(self._progress)
        m.row_changed.connect(self._update_status_cell)
        m.busy_changed.connect(self._refill)
        m.failed.connect(lambda title, text, details: show_error(self, title, text, details))
        m.name_wanted.connect(self.ask_import_name)
        m.fetch_selects.connect(self.select)
        self._sync_buttons()

    # --- what the controller holds -----------------------------------------------------------------

    @property
    def rows(self) -> list[ModelRow]:
        return self.models.rows

    @property
    def cache(self) -> str:
        return self.models.cache

    @property
    def busy(self) -> bool:
        return self.models.busy

    def row(self, name: str | None) -> ModelRow | None:
        return self.models.row(name)

    def refresh(self) -> None:
        """Read the installed models again (in a worker)."""
        self.models.refresh()

    def fetch(self, name: str) -> None:
        """Download ``name`` with its tokenizer and switch to it once installed (one click in the welcome)."""
        self.models.fetch(name)

    def shutdown(self, ms: int = 5000) -> None:
        """Cancel a download and wait for the worker threads (on quit)."""
        self.models.shutdown(ms)

    # --- the table ---------------------------------------------------------------------------------

    def _listed(self) -> None:
        m = self.models
        keep = m.select_after or (self.selected().name if self.selected() else "")
        m.select_after = ""
        self.cache_label.setText(f"Models are kept in {short_path(m.cache)}")
        self._fill()
        names = [r.name for r in self.rows]
        if keep in names:
            self.table.selectRow(names.index(keep))
        elif self.rows and self.table.currentRow() < 0:
            active = m.active_name()
            self.table.selectRow(names.index(active) if active in names else 0)
        self._selection_changed()

    def _fill(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        active = self.models.active_name()
        bold = QFont(self.table.font())
        bold.setBold(True)
        for i, r in enumerate(self.rows):
            cells = (
                r.name,
                KINDS.get(r.kind, "?"),
                self.models.status_text(r),
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

    def _refill(self, *_args) -> None:
        self._fill()
        self._sync_buttons()

    def _update_status_cell(self, name: str) -> None:
        r = self.row(name)
        item = self.table.item(self.rows.index(r), 2) if r is not None else None
        if item is not None:
            item.setText(self.models.status_text(r))

    def _progress(self) -> None:
        m = self.models
        if m.progress_value is None:
            self.progress.setRange(0, 0)  # no figure: hashing, converting, importing
        else:
            self.progress.setRange(0, 1000)
            if m.progress_visible:
                self.progress.setValue(m.progress_value)
        self.progress.setVisible(m.progress_visible)
        self.cancel_button.setVisible(m.cancel_visible)
        self.cancel_button.setEnabled(m.cancel_enabled)

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
        self.details.setText(self.models.details(r) if r else "")
        self._sync_buttons()

    def _sync_buttons(self, *_args) -> None:
        m, r = self.models, self.selected()
        self.download_button.setEnabled(m.can_download(r))
        self.import_button.setEnabled(not m.operating)
        self.remove_button.setEnabled(m.can_remove(r))
        in_use = r is not None and m.in_use(r)
        self.remove_button.setToolTip(
            "In use: switch to another model first" if in_use else "Delete the model from the cache"
        )
        self.use_button.setEnabled(m.can_use(r))
        self.use_button.setToolTip(estimate_text(r) if r and r.estimate else "Load this model and switch to it")

    # --- the buttons -------------------------------------------------------------------------------

    def use(self) -> bool:
        """Load the selected model in a worker; the model in use stays until it has loaded."""
        r = self.selected()
        return r is not None and self.models.use(r.name)

    def download(self) -> bool:
        r = self.selected()
        return r is not None and self.models.download(r.name)

    def cancel_download(self) -> None:
        self.models.cancel_download()

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", str(Path.home()), IMPORT_FILTER)
        if path:
            self.import_path(path)

    def import_path(self, path: str | Path, name: str | None = None) -> bool:
        """Install a local file (offline) in a worker; a file of no known model asks for a name of its own."""
        return self.models.import_path(path, name)

    def ask_import_name(self, path: str, what: str) -> None:
        """A file of no known model: ask for a name to install it under."""
        stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", Path(path).stem).strip("-._") or "my-model"
        new, ok = QInputDialog.getText(
            self,
            "Import under a name of its own",
            f"{sentence(what)}, which matches no known model.\nImport it as:",
            text=stem,
        )
        if ok and new.strip():
            self.import_path(path, new.strip())

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
        return self.models.remove(r.name)
