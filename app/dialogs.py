"""Small dialogs: Preferences, Export, Keyboard shortcuts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
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
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .settings import Settings

DEVICES = ("auto", "cpu", "cuda", "mps")
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
    """Model files and device; the autosave interval. OK stores them; the caller reloads the model."""

    def __init__(self, settings: Settings, engine_text: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        form = QFormLayout(self)
        self.model = QLineEdit(settings.model_path())
        self.model.setPlaceholderText("embedded")
        self.model.setToolTip("'embedded' for the bundled model, or a path to an ARPG checkpoint")
        form.addRow("Model", _file_row(self.model, "ARPG checkpoint", "Checkpoints (*.safetensors *.pt *.pth)"))
        self.tokenizer = QLineEdit(settings.tokenizer_path())
        self.tokenizer.setPlaceholderText("the model's own (embedded)")
        form.addRow("Tokenizer", _file_row(self.tokenizer, "VQ tokenizer", "Checkpoints (*.safetensors *.pt *.pth)"))
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device() if settings.device() in DEVICES else "auto")
        form.addRow("Device", self.device)
        self.autosave = QSpinBox()
        self.autosave.setRange(10, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(settings.autosave_seconds())
        form.addRow("Autosave every", self.autosave)
        current = QLabel(engine_text)
        current.setWordWrap(True)
        form.addRow("Loaded now", current)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def store(self) -> bool:
        """Save the choices; True when the model needs reloading."""
        before = (self.settings.model_path(), self.settings.tokenizer_path(), self.settings.device())
        self.settings.set_model(
            self.model.text().strip() or "embedded", self.tokenizer.text().strip(), self.device.currentText()
        )
        self.settings.set_autosave_seconds(self.autosave.value())
        return before != (self.settings.model_path(), self.settings.tokenizer_path(), self.settings.device())


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
