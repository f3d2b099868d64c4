"""Small dialogs: Preferences, Export, Keyboard shortcuts, Flatten (saving transparency as JPEG or BMP)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from arpg_core.choices import DEVICES

from .settings import Settings

# the core's devices and precisions (arpg_core.choices), as the dialog names them; bf16 is left to "auto",
# which picks it where this machine measured it faster
PRECISION_TEXT = {
    "auto": "auto (bf16 where measured faster here, else fp32)",
    "fp32": "fp32",
    "int8": "int8: fast mode (CPU)",
}
EXPORT_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WebP": ".webp"}


def _file_row(edit: QLineEdit, caption: str, pattern: str) -> QWidget:
    row = QWidget()
    h = QHBoxLayout(row)
    h.setContentsMargins(0, 0, 0, 0)
    h.addWidget(edit, 1)
    browse = QPushButton("Browse…")

    def pick() -> None:
        path, _ = QFileDialog.getOpenFileName(row, caption, edit.text(), pattern)
        if path:
            edit.setText(path)

    browse.clicked.connect(pick)
    h.addWidget(browse)
    return row


class PreferencesDialog(QDialog):
    """Model files, device and precision; the autosave interval. OK stores the autosave interval and returns
    the model choice; the caller loads it and keeps it only when it loads (the model in use stays otherwise)."""

    models_requested = Signal()

    def __init__(self, settings: Settings, engine_text: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        form = QFormLayout(self)
        self.model = QLineEdit()
        self.model.setPlaceholderText("embedded")
        self.model.setToolTip("A model name from Models… ('embedded' for the bundled one), or a path to an ARPG file")
        model_row = _file_row(self.model, "ARPG checkpoint", "Checkpoints (*.safetensors *.pt *.pth)")
        self.models_button = QPushButton("Models…")
        self.models_button.setToolTip("Download, import, remove and switch models")
        self.models_button.clicked.connect(self.models_requested)
        model_row.layout().addWidget(self.models_button)
        form.addRow("Model", model_row)
        self.tokenizer = QLineEdit()
        self.tokenizer.setPlaceholderText("the model's own")
        form.addRow("Tokenizer", _file_row(self.tokenizer, "VQ tokenizer", "Checkpoints (*.safetensors *.pt *.pth)"))
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        form.addRow("Device", self.device)
        self.precision = QComboBox()
        for key, text in PRECISION_TEXT.items():
            self.precision.addItem(text, key)
        self.precision.setToolTip("int8 quantizes the model's linear layers: faster and smaller on a CPU")
        form.addRow("Precision", self.precision)
        self.threads = QSpinBox()
        self.threads.setRange(0, max(os.cpu_count() or 1, 1))
        self.threads.setSpecialValueText("auto")  # 0
        stored = settings.threads()
        self.threads.setValue(int(stored) if stored.isdigit() else 0)
        self.threads.setToolTip(
            "CPU threads for an edit. auto: one for small models, else the cores other programs leave free "
            "(ARPG_STUDIO_THREADS, when set, takes precedence)"
        )
        form.addRow("Threads", self.threads)
        self.autosave = QSpinBox()
        self.autosave.setRange(10, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(settings.autosave_seconds())
        form.addRow("Autosave every", self.autosave)
        self.current = QLabel(engine_text)
        self.current.setWordWrap(True)
        form.addRow("Loaded now", self.current)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.sync_model()

    def sync_model(self, engine_text: str | None = None) -> None:
        """Show the stored model choice (again, after Models… switched it)."""
        s = self.settings
        self._initial = s.model_choice()
        self.model.setText(s.model_path())
        self.tokenizer.setText(s.tokenizer_path())
        self.device.setCurrentText(s.device() if s.device() in DEVICES else "auto")
        index = self.precision.findData(s.precision())
        self.precision.setCurrentIndex(max(0, index))
        if engine_text is not None:
            self.current.setText(engine_text)

    def choice(self) -> dict:
        return {
            "model": self.model.text().strip() or "embedded",
            "tokenizer": self.tokenizer.text().strip(),
            "device": self.device.currentText(),
            "precision": self.precision.currentData(),
        }

    def store(self) -> dict | None:
        """Save the autosave interval and threads; returns the model choice when it differs from the stored one."""
        self.settings.set_autosave_seconds(self.autosave.value())
        self.settings.set_threads(self.threads.value() or "auto")
        choice = self.choice()
        return choice if choice != self._initial else None


class ExportDialog(QDialog):
    """Format, quality and file name of an export."""

    def __init__(self, suggested: Path, quality: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems(list(EXPORT_FORMATS))
        form.addRow("Format", self.format)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(quality)
        self.quality.setToolTip("JPEG and WebP quality (PNG is lossless)")
        form.addRow("Quality", self.quality)
        self.path = QLineEdit(str(suggested.with_suffix(".png")))
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.path, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        h.addWidget(browse)
        form.addRow("File", row)
        self.format.currentTextChanged.connect(self._format_changed)
        self._format_changed(self.format.currentText())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _format_changed(self, name: str) -> None:
        self.quality.setEnabled(name != "PNG")
        text = self.path.text()
        if text:
            self.path.setText(str(Path(text).with_suffix(EXPORT_FORMATS[name])))

    def _browse(self) -> None:
        ext = EXPORT_FORMATS[self.format.currentText()]
        path, _ = QFileDialog.getSaveFileName(
            self, "Export as", self.path.text(), f"{self.format.currentText()} (*{ext})"
        )
        if path:
            self.path.setText(str(Path(path).with_suffix(ext)))

    def choice(self) -> tuple[Path, int]:
        return Path(self.path.text()), self.quality.value()


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(520, 620)
        v = QVBoxLayout(self)
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for i, (action, keys) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(action))
            table.setItem(i, 1, QTableWidgetItem(keys))
        v.addWidget(table)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        v.addWidget(close)


class FlattenDialog(QDialog):
    """JPEG and BMP store no transparency: say so, and flatten onto white, black or a chosen colour."""

    def __init__(self, path: Path, alpha: np.ndarray, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Flatten the transparency?")
        v = QVBoxLayout(self)
        share = float((alpha < 255).mean()) * 100
        text = QLabel(
            f"{path.suffix.lstrip('.').upper()} files cannot store transparency, and {share:.0f}% of this image is "
            f"transparent or partly so. {path.name} will have it flattened onto a colour; the document keeps its "
            "transparency (save as PNG, WebP or TIFF to keep it in the file)."
        )
        text.setWordWrap(True)
        v.addWidget(text)
        self._custom = QColor(128, 128, 128)
        self.group = QButtonGroup(self)
        row = QHBoxLayout()
        self.white, self.black = QRadioButton("White"), QRadioButton("Black")
        self.custom = QRadioButton("Colour…")
        self.white.setChecked(True)
        for b in (self.white, self.black, self.custom):
            self.group.addButton(b)
            row.addWidget(b)
        self.pick = QPushButton("Choose…")
        self.pick.clicked.connect(self._choose)
        row.addWidget(self.pick)
        row.addStretch(1)
        v.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Flatten and save")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)

    def _choose(self) -> None:
        color = QColorDialog.getColor(self._custom, self, "Flatten onto")
        if color.isValid():
            self._custom = color
            self.custom.setChecked(True)

    def set_custom(self, color: QColor) -> None:
        self._custom = QColor(color)
        self.custom.setChecked(True)

    def color(self) -> tuple[int, int, int]:
        if self.black.isChecked():
            return (0, 0, 0)
        if self.custom.isChecked():
            return (self._custom.red(), self._custom.green(), self._custom.blue())
        return (255, 255, 255)
