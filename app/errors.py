"""Logging to a file, readable error dialogs, and an excepthook that turns surprises into dialogs."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from .settings import data_dir

log = logging.getLogger("arpg_studio")
_log_path: Path | None = None


def setup_logging() -> Path:
    """Log to <user data>/logs/arpg-studio.log (rotated); returns the path."""
    global _log_path
    if _log_path is not None:
        return _log_path
    folder = data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    _log_path = folder / "arpg-studio.log"
    handler = logging.handlers.RotatingFileHandler(_log_path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return _log_path


def log_path() -> Path | None:
    return _log_path


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """A window-modal dialog with the message, a Details section and the log file's path; never blocks."""
    log.error("%s: %s\n%s", title, message, details)
    box = QMessageBox(parent)
    if parent is None:
        from .style import style_sheet

        box.setStyleSheet(style_sheet())
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message[:1].upper() + message[1:])
    where = log_path()
    box.setInformativeText(f"The log file is {where}" if where else "")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def install_excepthook() -> None:
    """Unexpected exceptions in slots and callbacks become an error dialog instead of ending the app."""

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        log.critical("unhandled exception\n%s", details)
        app = QApplication.instance()
        if app is None:
            sys.__excepthook__(kind, value, tb)
            return
        show_error(QApplication.activeWindow(), "Unexpected error", f"Something went wrong: {value}", details)

    sys.excepthook = hook
