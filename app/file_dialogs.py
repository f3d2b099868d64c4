"""File dialogs: the platform's own where it has one, Qt's (styled to read well on the dark theme) elsewhere.

Qt shows the native dialog on Windows and macOS, and on Linux through the GTK theme (GNOME and its relatives)
or the XDG desktop portal. ``prefer_native`` asks Qt for the portal, before the application starts, on a Linux
desktop that would otherwise get Qt's own dialog (KDE without Plasma's Qt integration, others) when a portal
service is installed; without a reachable portal Qt falls back to its own dialog by itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

GTK_DESKTOPS = ("gnome", "unity", "x-cinnamon", "mate", "xfce", "lxde", "budgie", "pantheon")
PORTAL_SERVICE = "org.freedesktop.portal.Desktop.service"
PORTAL_DIRS = ("/usr/share/dbus-1/services", "/usr/local/share/dbus-1/services")


def native_theme(env: dict, platform: str = sys.platform, service_dirs=PORTAL_DIRS) -> str | None:
    """The platform theme to ask Qt for so that file dialogs are native, or None to leave Qt's choice."""
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORMTHEME") or not env.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    desktops = [d.lower() for d in env.get("XDG_CURRENT_DESKTOP", "").split(":") if d]
    if not desktops or any(d in GTK_DESKTOPS for d in desktops):
        return None  # no desktop (Xvfb, a bare X session); or Qt's GTK theme gives GTK's dialogs already
    if any((Path(d) / PORTAL_SERVICE).is_file() for d in service_dirs):
        return "xdgdesktopportal"
    return None


def prefer_native() -> None:
    """Call before the QApplication exists."""
    theme = native_theme(dict(os.environ))
    if theme:
        os.environ["QT_QPA_PLATFORMTHEME"] = theme


def open_file(parent: QWidget, caption: str, directory: str, filters: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, caption, directory, filters)
    return path


def save_file(parent: QWidget, caption: str, suggested: str, filters: str, selected: str) -> tuple[str, str]:
    """(path, the filter the user ended on); the dialog starts on ``selected``."""
    return QFileDialog.getSaveFileName(parent, caption, suggested, filters, selected)
