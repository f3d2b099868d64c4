"""The main window's toolbars and status bar (built once, on the window; the window wires them in ``_connect``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QToolBar

from .widgets import LinkLabel


def build_toolbars(self) -> None:
    """The main toolbar (file, undo, mask tools and their sizes) and the view toolbar, on ``self`` (the window)."""
    a = self.actions_
    tb = QToolBar("Main")
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    self.addToolBar(tb)
    for name in ("open", "save", None, "undo", "redo", None):
        tb.addAction(a[name]) if name else tb.addSeparator()
    self.mask_tools = []
    for name in ("brush", "eraser", "rect", "lasso"):
        tb.addAction(a[name])
        self.mask_tools.append(a[name])
    self.size_box = QSpinBox()
    self.size_box.setRange(1, 1000)
    self.size_box.setSuffix(" px")
    self.size_box.setToolTip("Brush size in image pixels ([ and ], Shift for larger steps, Alt+wheel)")
    self.size_box.setKeyboardTracking(False)
    self.size_box.setFixedWidth(84)
    self.size_box.setValue(self.state.brush_size)
    self.size_box.valueChanged.connect(self.state.set_brush_size)
    self.mask_tools.append(tb.addWidget(self.size_box))
    self.hardness_box = QSpinBox()
    self.hardness_box.setRange(0, 100)
    self.hardness_box.setPrefix("Hard ")
    self.hardness_box.setSuffix(" %")
    self.hardness_box.setToolTip(
        "Brush hardness: 100% paints a hard edge; lower fades the edit in towards the edge of the stroke"
    )
    self.hardness_box.setKeyboardTracking(False)
    self.hardness_box.setFixedWidth(96)
    self.hardness_box.setValue(round(self.state.hardness * 100))
    self.hardness_box.valueChanged.connect(lambda v: self.state.set_hardness(v / 100))
    self.mask_tools.append(tb.addWidget(self.hardness_box))
    self.mask_tools.append(tb.addSeparator())
    for name in ("invert", "grow", "shrink", "clear"):
        tb.addAction(a[name])
        self.mask_tools.append(a[name])
    self.grow_box = QSpinBox()
    self.grow_box.setRange(1, 256)
    self.grow_box.setValue(8)
    self.grow_box.setSuffix(" px")
    self.grow_box.setFixedWidth(70)
    self.grow_box.setToolTip("How far Grow and Shrink move the mask edge")
    self.mask_tools.append(tb.addWidget(self.grow_box))
    self.mask_tools.append(tb.addSeparator())
    for name, short in (("invert", "Invert"), ("grow", "Grow"), ("shrink", "Shrink"), ("clear", "Clear")):
        a[name].setIconText(short)
    a["import_mask"].setIconText("Import mask")
    a["export_mask"].setIconText("Export mask")
    a["grid"].setIconText("Grid")
    a["split"].setIconText("Split")
    for name in ("import_mask", "export_mask"):
        tb.addAction(a[name])
        self.mask_tools.append(a[name])
    self.opacity = QSlider(Qt.Orientation.Horizontal)
    self.opacity.setRange(5, 100)
    self.opacity.setFixedWidth(70)
    self.opacity.setValue(round(self.state.mask_opacity * 100))
    self.opacity.setToolTip("Mask overlay opacity")
    self.opacity.valueChanged.connect(lambda v: self.state.set_view(mask_opacity=v / 100))
    self.mask_tools.append(tb.addWidget(QLabel(" Overlay ")))
    self.mask_tools.append(tb.addWidget(self.opacity))
    view = QToolBar("View")
    view.setObjectName("viewToolbar")
    view.setMovable(False)
    view.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    self.addToolBar(Qt.ToolBarArea.BottomToolBarArea, view)
    for name in ("grid", "split", None, "fit", "actual", "zoom_out", "zoom_in"):
        view.addAction(a[name]) if name else view.addSeparator()
    a["zoom_in"].setIconText("+")
    a["zoom_out"].setIconText("−")


def build_statusbar(self) -> None:
    """The status bar's permanent fields: cursor, size, zoom and the model (a link to the Models dialog)."""
    sb = self.statusBar()
    self.model_label = LinkLabel("Model: loading…", "Models: download, import and switch (Ctrl+Shift+M)")
    self.model_label.clicked.connect(lambda: self.open_models())
    self.size_label = QLabel()
    self.zoom_label = QLabel()
    self.pos_label = QLabel()
    for w in (self.pos_label, self.size_label, self.zoom_label, self.model_label):
        sb.addPermanentWidget(w)
