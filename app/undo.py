"""Undo commands. Each is pushed after its edit is already visible, so redo() must be idempotent: it
writes the "after" values, which the first call finds already in place."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QRect
from PySide6.QtGui import QUndoCommand


class Document(Protocol):
    """What the commands act on (app.state.AppState): named here, so that undo never imports state."""

    mask: np.ndarray
    mask_changed: Any  # a Signal(QRect)

    def restore(self, snapshot: Any) -> None: ...


class MaskPatchCommand(QUndoCommand):
    """A change to one rectangle of the mask (a stroke, a rectangle fill); stores only that patch."""

    def __init__(self, state: Document, rect: QRect, before: np.ndarray, after: np.ndarray, text: str):
        super().__init__(text)
        self.state, self.rect, self.before, self.after = state, QRect(rect), before, after

    def _write(self, patch: np.ndarray) -> None:
        r = self.rect
        self.state.mask[r.y() : r.y() + r.height(), r.x() : r.x() + r.width()] = patch
        self.state.mask_changed.emit(QRect(r))

    def redo(self) -> None:
        self._write(self.after)

    def undo(self) -> None:
        self._write(self.before)


class SnapshotCommand(QUndoCommand):
    """A change of the whole document: image, alpha, mask and size (applied results, mask operations)."""

    def __init__(self, state: Document, before: Any, after: Any, text: str):
        super().__init__(text)
        self.state, self.before, self.after = state, before, after

    def redo(self) -> None:
        self.state.restore(self.after)

    def undo(self) -> None:
        self.state.restore(self.before)
