"""The strip of variants under the canvas: a thumbnail per result, the current one selected."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .convert import thumbnail
from .state import AppState


class VariantStrip(QWidget):
    """Thumbnails of the results; arrows flip, Enter applies, Delete discards."""

    apply_requested = Signal()

    THUMB = 96

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(self.THUMB, self.THUMB))
        self.list.setFixedHeight(self.THUMB + 40)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemDoubleClicked.connect(lambda _item: self.apply_requested.emit())
        layout.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        self.apply = QPushButton("Apply")
        self.apply.setToolTip("Apply this variant to the document (Enter)")
        self.apply.setObjectName("primary")
        self.apply.clicked.connect(self.apply_requested)
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("Drop this variant (Delete)")
        self.discard.clicked.connect(state.discard_current)
        self.discard_all = QPushButton("Discard all")
        self.discard_all.clicked.connect(state.clear_variants)
        for b in (self.apply, self.discard, self.discard_all):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        state.variants_changed.connect(self._rebuild)
        state.current_variant_changed.connect(self._current_changed)
        self._rebuild()

    def _rebuild(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        if self.state.variants:  # icons as tall as the strip, up to twice as wide for wide pictures
            h, w = self.state.variants[0].image.shape[:2]
            aspect = w / max(h, 1)
            width = min(2 * self.THUMB, round(self.THUMB * aspect))
            self.list.setIconSize(QSize(width, min(self.THUMB, round(width / aspect))))
        for v in self.state.variants:
            pix = QPixmap.fromImage(thumbnail(v.image, self.THUMB * 4))
            pix.setDevicePixelRatio(2.0)
            item = QListWidgetItem(true_colour_icon(pix), v.title)
            item.setToolTip(f"{v.title}\n{v.image.shape[1]} × {v.image.shape[0]}")
            self.list.addItem(item)
        self.list.setCurrentRow(self.state.current)
        self.list.blockSignals(False)
        self.setVisible(bool(self.state.variants))

    def _current_changed(self, index: int) -> None:
        if self.list.currentRow() != index:
            self.list.blockSignals(True)
            self.list.setCurrentRow(index)
            self.list.blockSignals(False)

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.state.set_current(row)


def true_colour_icon(pix: QPixmap) -> QIcon:
    """An icon that shows ``pix`` as it is in every state. A plain QIcon tints the selected item's picture
    with the highlight colour, so the chosen variant would look bluer than it is; the list marks the
    selection with its background instead."""
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pix, mode)
    return icon
