"""The history of applied edits: what each one was (mode, seed, class, steps, CFG…), a click puts its settings
back (mode, parameters, mask or extension), "Again" runs it again exactly (the same request, seed included).

An entry keeps the whole run's request and which of its variants was applied: the variants of a run are
sampled together, and the numbers of a batch can differ in the last bits from one variant run alone, so the
same pixels come from the same run (its first seed and its number of variants), not from the variant's seed.

The entries keep the core's own request (``arpg_core.edit.requests``) without its pixels; this module only
reads its fields, the controller replays it. Undone edits stay listed, greyed, so they can be run again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .state import MODE_VERBS


@dataclass
class HistoryEntry:
    mode: str
    request: object | None  # the EditRequest of the run (without pixels); None: the Lanczos baseline
    mask: np.ndarray | None  # the mask as painted when it ran (Fill)
    size: tuple[int, int]  # the document it was applied to (W, H)
    class_name: str  # the class as the model in use named it
    model: str
    command: object | None = None  # the undo command that applied it
    undone: bool = False
    index: int = 0  # the variant of the run that was applied (its place in the run's result, best first)
    seed: int | None = None  # that variant's own seed

    @property
    def title(self) -> str:
        if self.request is None:
            return "Expand 2x (Lanczos)"
        return MODE_VERBS[self.mode]

    def summary(self) -> str:
        """'Fill · seed 1234 · class tabby cat · 32 steps · CFG 3'"""
        r = self.request
        if r is None:
            return f"{self.title} · {self.size[0]} × {self.size[1]}"
        parts = [
            self.title,
            f"seed {self.seed}",
            f"class {self.class_name}",
            f"{r.sampling.num_steps} steps",
            f"CFG {r.sampling.cfg_scale:g}",
        ]
        return " · ".join(parts)

    def details(self) -> str:
        r = self.request
        if r is None:
            return f"Lanczos 2x of the {self.size[0]} × {self.size[1]} image (no model)."
        sp = r.sampling
        lines = [
            f"{self.title} on {self.size[0]} × {self.size[1]} with {self.model}",
            f"seed {self.seed} (variant {self.index + 1} of {r.variants}{_ranked(r)} from seed {r.seed}), "
            f"class {self.class_name}, "
            f"{sp.num_steps} steps ({sp.schedule}), "
            f"CFG {sp.cfg_scale:g} ({sp.cfg_schedule}), temperature {sp.temperature:g}",
            f"top-k {sp.top_k or 'all'}, top-p {sp.top_p:g}"
            + (f", {sp.prefill} context" if self.mode != "generate" else ""),
        ]
        if self.mode == "inpaint":
            lines.append(f"edge feather {r.feather} px" + (", next to known pixels first" if r.seam_first else ""))
        elif self.mode == "outpaint":
            l, t, rr, b = r.extend
            lines.append(f"extended left {l}, top {t}, right {rr}, bottom {b} px")
        elif self.mode == "expand":
            lines.append("keeps the source's colours and shapes" if r.expand_lock > 0 else "the model's own 2x")
        if self.mode in ("inpaint", "outpaint"):
            matched = (
                f"colours matched to the surroundings ({r.colour_match:g} px)" if r.colour_match else "raw colours"
            )
            lines.append(matched + (f", fine grain restored (x{r.detail:g})" if r.detail else ", no grain restored"))
        return "\n".join(lines)


def _ranked(r) -> str:
    """', the best of 6 by fit' when the run kept the best of more candidates than variants."""
    return f", the best of {r.samples} by fit" if r.samples > r.variants else ""


class EditHistory(QObject):
    """The applied edits of the open document, oldest first."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.entries: list[HistoryEntry] = []

    def add(self, entry: HistoryEntry) -> None:
        self.entries.append(entry)
        self.changed.emit()

    def clear(self) -> None:
        if self.entries:
            self.entries.clear()
            self.changed.emit()

    def sync_undo(self, stack) -> None:
        """Mark the edits whose apply step is undone (or was dropped from the undo stack)."""
        live = {id(stack.command(i)) for i in range(stack.index())}
        changed = False
        for e in self.entries:
            undone = e.command is not None and id(e.command) not in live
            if undone != e.undone:
                e.undone, changed = undone, True
        if changed:
            self.changed.emit()


class HistoryPanel(QWidget):
    """The list of applied edits; a click re-selects one, Again runs it again."""

    reselect_requested = Signal(object)  # a HistoryEntry
    again_requested = Signal(object)

    def __init__(self, history: EditHistory, parent=None):
        super().__init__(parent)
        self.history = history
        v = QVBoxLayout(self)
        v.setContentsMargins(8, 8, 8, 8)
        self.list = QListWidget()
        self.list.setToolTip("Applied edits; click one to put its settings back, Again runs it again")
        self.list.itemClicked.connect(self._clicked)
        self.list.currentRowChanged.connect(self._show_details)
        v.addWidget(self.list, 1)
        self.details = QLabel()
        self.details.setObjectName("hint")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.details)
        row = QHBoxLayout()
        row.addStretch(1)
        self.again = QPushButton("Again")
        self.again.setToolTip("Run the selected edit again on the image as it is now: same settings, same seed")
        self.again.clicked.connect(self._again)
        row.addWidget(self.again)
        v.addLayout(row)
        self.empty = QLabel("Applied edits are listed here.")
        self.empty.setObjectName("hint")
        v.insertWidget(0, self.empty)
        history.changed.connect(self._rebuild)
        self._rebuild()

    def _rebuild(self) -> None:
        row = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for i, e in enumerate(self.history.entries):
            item = QListWidgetItem(f"{i + 1}. {e.summary()}" + ("  (undone)" if e.undone else ""))
            item.setToolTip(e.details())
            if e.undone:
                item.setForeground(QColor(130, 130, 136))
            self.list.addItem(item)
        n = self.list.count()
        if n:
            self.list.setCurrentRow(row if 0 <= row < n else n - 1)
        self.list.blockSignals(False)
        self.empty.setVisible(n == 0)
        self.list.setVisible(n > 0)
        self._show_details(self.list.currentRow())

    def selected(self) -> HistoryEntry | None:
        i = self.list.currentRow()
        return self.history.entries[i] if 0 <= i < len(self.history.entries) else None

    def _show_details(self, _row: int) -> None:
        e = self.selected()
        self.details.setText(e.details() if e else "")
        self.details.setVisible(e is not None)
        self.again.setEnabled(e is not None)

    def _clicked(self, item: QListWidgetItem) -> None:
        e = self.selected()
        if e is not None:
            self.reselect_requested.emit(e)

    def _again(self) -> None:
        e = self.selected()
        if e is not None:
            self.again_requested.emit(e)
