"""Persistent preferences (QSettings) and the user data folder (QStandardPaths)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

ORG = "ARPG Studio"
APP = "ARPG Studio"
MAX_RECENT = 10


def data_dir() -> Path:
    """The per-user data folder (logs, autosave); created on first use."""
    path = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    if not path.name:
        path = Path.home() / ".arpg-studio"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Settings:
    """Typed access to the keys the app stores; everything goes through here."""

    def __init__(self) -> None:
        self.q = QSettings(ORG, APP)

    def _get(self, key: str, default, kind=None):
        value = self.q.value(key, default)
        if kind is None or value is None:
            return value
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    # window
    def geometry(self) -> QByteArray | None:
        return self._get("window/geometry", None)

    def window_state(self) -> QByteArray | None:
        return self._get("window/state", None)

    def set_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    # files
    def last_dir(self) -> str:
        return self._get("files/last_dir", str(Path.home()), str)

    def set_last_dir(self, path: str | Path) -> None:
        p = Path(path)
        self.q.setValue("files/last_dir", str(p if p.is_dir() else p.parent))

    def recent_files(self) -> list[str]:
        value = self._get("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != path]
        self.q.setValue("files/recent", [path, *recent][:MAX_RECENT])

    def clear_recent(self) -> None:
        self.q.setValue("files/recent", [])

    # editing
    def brush_size(self) -> int:
        return self._get("brush/size", 40, int)

    def set_brush_size(self, size: int) -> None:
        self.q.setValue("brush/size", int(size))

    def brush_hardness(self) -> float:
        return min(1.0, max(0.0, self._get("brush/hardness", 1.0, float)))

    def set_brush_hardness(self, hardness: float) -> None:
        self.q.setValue("brush/hardness", float(hardness))

    def mask_opacity(self) -> float:
        return self._get("view/mask_opacity", 0.55, float)

    def set_mask_opacity(self, value: float) -> None:
        self.q.setValue("view/mask_opacity", float(value))

    def params(self) -> dict:
        try:
            value = json.loads(self._get("params/json", "{}", str))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_params(self, params: dict) -> None:
        self.q.setValue("params/json", json.dumps(params))

    def export_quality(self) -> int:
        return self._get("export/quality", 92, int)

    def set_export_quality(self, quality: int) -> None:
        self.q.setValue("export/quality", int(quality))

    # model
    def model_path(self) -> str:
        return self._get("model/path", "embedded", str)

    def tokenizer_path(self) -> str:
        return self._get("model/tokenizer", "", str)

    def device(self) -> str:
        return self._get("model/device", "auto", str)

    def precision(self) -> str:
        """auto, fp32, bf16 or int8 (the CPU fast mode)."""
        return self._get("model/precision", "auto", str)

    def threads(self) -> str:
        """CPU threads for edits: 'auto' (the core's thread policy) or a count; $ARPG_STUDIO_THREADS overrides it."""
        return self._get("model/threads", "auto", str)

    def set_threads(self, value: str | int) -> None:
        self.q.setValue("model/threads", str(value))

    def model_choice(self) -> dict:
        """The keywords the engine loader takes: model, tokenizer, device, precision."""
        return {
            "model": self.model_path(),
            "tokenizer": self.tokenizer_path(),
            "device": self.device(),
            "precision": self.precision(),
        }

    def set_model(self, path: str, tokenizer: str, device: str, precision: str | None = None) -> None:
        self.q.setValue("model/path", path or "embedded")
        self.q.setValue("model/tokenizer", tokenizer)
        self.q.setValue("model/device", device)
        if precision is not None:
            self.q.setValue("model/precision", precision)

    def autosave_seconds(self) -> int:
        return self._get("files/autosave_seconds", 60, int)

    def set_autosave_seconds(self, seconds: int) -> None:
        self.q.setValue("files/autosave_seconds", int(seconds))

    # first start
    def welcome_seen(self) -> bool:
        return self._get("welcome/seen", False, bool)

    def set_welcome_seen(self, seen: bool = True) -> None:
        self.q.setValue("welcome/seen", bool(seen))

    def sync(self) -> None:
        self.q.sync()
