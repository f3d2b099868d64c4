"""The canvas: image, mask overlay, results, token grid and outpaint handles in one QGraphicsView.

Navigation: wheel zooms around the cursor, Space+drag or middle-drag pans, Alt+wheel sizes the brush.
The canvas reads the state and writes user edits back through its methods; it never runs the model.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from .canvas_follow import ViewFollowing
from .canvas_items import HANDLE_PX, CheckerItem, FrameItem, GridItem, ImageLayer, SplitItem
from .convert import mask_to_overlay, rgb_to_qimage
from .state import AppState, Variant

MASK_COLOR = QColor(255, 40, 110)  # a pink-red that stands out on most photos
ZOOM_STEP = 1.25
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


class CanvasView(ViewFollowing, QGraphicsView):
    file_dropped = Signal(str)
    image_dropped = Signal(QImage)
    zoom_changed = Signal(float)
    cursor_moved = Signal(int, int)

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setScene(QGraphicsScene(self))
        self.scene().setSceneRect(-100_000, -100_000, 200_000, 200_000)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(43, 43, 46))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.checker = CheckerItem(-1)
        self.image_layer = ImageLayer(0)
        self.variant_layer = ImageLayer(1)
        self.before_layer = ImageLayer(2)
        self.mask_layer = ImageLayer(3)
        self.grid = GridItem(4)
        self.split_item = SplitItem(5)
        self.frame = FrameItem(6)
        self.band = QGraphicsRectItem()
        self.band.setZValue(7)
        pen = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.band.setPen(pen)
        self.lasso = QGraphicsPathItem()
        self.lasso.setZValue(7)
        self.lasso.setPen(pen)
        self._lasso_points: list[tuple[float, float]] = []
        self.rings = [QGraphicsEllipseItem(), QGraphicsEllipseItem()]
        for i, ring in enumerate(self.rings):
            p = QPen(QColor(0, 0, 0, 200) if i == 0 else QColor(255, 255, 255), 3 if i == 0 else 1)
            p.setCosmetic(True)
            ring.setPen(p)
            ring.setZValue(8 + i)
        for item in (
            self.checker,
            self.image_layer,
            self.variant_layer,
            self.before_layer,
            self.mask_layer,
            self.grid,
            self.split_item,
            self.frame,
            self.band,
            self.lasso,
            *self.rings,
        ):
            self.scene().addItem(item)
        self.band.hide()
        self.lasso.hide()
        # the view follows the content while it is fitted (Ctrl+0, a newly opened photo) until the user zooms
        # or pans; results are brought into view (after the variant strip has taken its height, too)
        self._auto_fit = True
        self._reveal: QRectF | None = None
        self.overlay = QImage()
        self._mask_forced = False  # the user painted while results were shown: show the mask again
        self._doc_size = (0, 0)
        self._origin = state.origin
        self._space = False
        self._drag: str | None = None  # pan, stroke, rect, split, extend:<side>
        self._last = QPointF()
        self._press = QPointF()
        self._variant_key = None
        self._before_key = None

        state.document_changed.connect(self._document_changed)
        state.document_loaded.connect(self._document_loaded)
        state.mask_changed.connect(self._mask_changed)
        state.mode_changed.connect(self._refresh_overlays)
        state.mode_changed.connect(self._update_cursor)
        state.extend_changed.connect(self._refresh_overlays)
        state.plan_changed.connect(self._refresh_overlays)
        state.view_changed.connect(self._refresh_layers)
        state.preview_changed.connect(self._refresh_layers)
        state.variants_changed.connect(self._variants_changed)
        state.current_variant_changed.connect(self._refresh_layers)
        state.tool_changed.connect(self._update_cursor)
        state.running_changed.connect(self._update_cursor)
        self._document_changed()

    # --- public ------------------------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def content_rect(self) -> QRectF:
        s = self.state
        rect = QRectF(0, 0, *s.size) if s.has_image else QRectF()
        if s.mode == "outpaint" and s.has_image:
            rect = rect.united(self.frame.rect)
        v = self._shown_variant()
        if v is not None:
            h, w = v.image.shape[:2]
            rect = (
                rect.united(QRectF(v.x, v.y, w * v.scale, h * v.scale))
                if not rect.isNull()
                else QRectF(v.x, v.y, w * v.scale, h * v.scale)
            )
        return rect

    def set_space(self, held: bool) -> None:
        self._space = held
        self._update_cursor()

    # --- state -> scene ----------------------------------------------------------------------------

    def _document_changed(self) -> None:
        s = self.state
        if s.has_image:
            self.image_layer.set_image(rgb_to_qimage(s.rgb, s.alpha))
            self.overlay = mask_to_overlay(s.mask, MASK_COLOR)
        else:
            self.image_layer.set_image(None)
            self.overlay = QImage()
        self.mask_layer.set_image(self.overlay)
        old_size, old_origin = self._doc_size, self._origin
        self._doc_size, self._origin = s.size, s.origin
        self._refresh_overlays()
        self._refresh_layers()
        if s.size != old_size:
            QTimer.singleShot(0, lambda: self._keep_view(old_size, old_origin))

    def _mask_changed(self, rect: QRect) -> None:
        s = self.state
        if s.mask is None:
            return
        if self.overlay.isNull() or (self.overlay.width(), self.overlay.height()) != s.size:
            self.overlay = mask_to_overlay(s.mask, MASK_COLOR)
            self.mask_layer.set_image(self.overlay)
            return
        rect = rect.intersected(QRect(0, 0, *s.size))
        if rect.isEmpty():
            return
        patch = s.mask[rect.y() : rect.y() + rect.height(), rect.x() : rect.x() + rect.width()]
        p = QPainter(self.overlay)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        p.drawImage(rect.topLeft(), mask_to_overlay(patch, MASK_COLOR))
        p.end()
        self.mask_layer.update(QRectF(rect))

    def _refresh_overlays(self, *_args) -> None:
        s = self.state
        W, H = s.size
        l, t, r, b = s.extend
        outpaint = s.mode == "outpaint" and s.has_image
        self.frame.setVisible(outpaint)
        if outpaint:
            self.frame.set_rect(QRectF(-l, -t, W + l + r, H + t + b))
        self.checker.set_rect(self.frame.rect if outpaint else QRectF(0, 0, W, H))
        self.checker.setVisible(s.has_image)
        self.grid.set_windows(s.windows)
        self.grid.setVisible(s.show_grid)
        self._refresh_layers()

    def _shown_variant(self) -> Variant | None:
        s = self.state
        return s.preview if s.preview is not None else s.current_variant()

    def _refresh_layers(self, *_args) -> None:
        s = self.state
        v = self._shown_variant()
        key = None if v is None else id(v.image)
        if key != self._variant_key:
            self._variant_key = key
            self.variant_layer.set_image(None if v is None else rgb_to_qimage(v.image))
        if v is not None:
            self.variant_layer.setPos(v.x, v.y)
            self.variant_layer.setScale(v.scale)
            if not s.has_image and s.preview is not None and self.zoom == 1.0:
                QTimer.singleShot(0, self.fit)
        # the "before" side of compare: the document under a result, else the image as first opened
        before_key, pos, scale = None, QPointF(), 1.0
        if v is not None and s.has_image:
            before_key = ("document", id(self.image_layer.image))
        elif s.has_image and s.baseline is not None and s.baseline is not s.rgb and s.origin[2] > 0:
            before_key = ("baseline", id(s.baseline))
            pos, scale = QPointF(s.origin[0], s.origin[1]), s.origin[2] / s.baseline.shape[1]
        if before_key != self._before_key:
            self._before_key = before_key
            if before_key is None:
                self.before_layer.set_image(None)
            elif before_key[0] == "document":
                self.before_layer.set_image(self.image_layer.image)
            else:
                self.before_layer.set_image(rgb_to_qimage(s.baseline))
        before = before_key
        self.variant_layer.setVisible(v is not None and not s.show_original)
        self.before_layer.setPos(pos)
        self.before_layer.setScale(scale)
        comparing = before is not None and (s.show_original or s.split is not None)
        self.before_layer.setVisible(comparing and not (s.show_original and v is not None))
        split_on = before is not None and s.split is not None and not s.show_original
        rect = self.content_rect()
        if split_on and not rect.isEmpty():
            x = rect.left() + s.split * rect.width()
            self.before_layer.set_clip((x - pos.x()) / scale)
            self.split_item.set_line(x, rect.top(), rect.bottom())
        else:
            self.before_layer.set_clip(None)
        self.split_item.setVisible(split_on)
        show_mask = s.mode == "inpaint" and not s.show_original and (v is None or self._mask_forced)
        self.mask_layer.setVisible(show_mask and s.has_image)
        self.mask_layer.setOpacity(s.mask_opacity)
        self.grid.setVisible(s.show_grid)
        self.viewport().update()

    # --- cursor ------------------------------------------------------------------------------------

    def _painting(self) -> bool:
        s = self.state
        return s.has_image and s.mode == "inpaint" and not self._space

    def _update_cursor(self, *_args) -> None:
        if self._space or self._drag == "pan":
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor if self._drag else Qt.CursorShape.OpenHandCursor)
        elif self._painting():
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()
        brush = self._painting() and self.state.tool == "brush" and self._drag != "pan"
        for ring in self.rings:
            ring.setVisible(brush and self.underMouse())
        self._place_ring(self.mapToScene(self.viewport().mapFromGlobal(QCursor.pos())))

    def _place_ring(self, scene_pos: QPointF) -> None:
        d = self.state.brush_size
        for ring in self.rings:
            ring.setRect(QRectF(scene_pos.x() - d / 2, scene_pos.y() - d / 2, d, d))

    def leaveEvent(self, event) -> None:
        for ring in self.rings:
            ring.hide()
        super().leaveEvent(event)

    def enterEvent(self, event) -> None:
        self._update_cursor()
        super().enterEvent(event)

    # --- mouse -------------------------------------------------------------------------------------

    def _hit_handle(self, view_pos: QPointF) -> str | None:
        if not self.frame.isVisible():
            return None
        for side, p in self.frame.handles().items():
            vp = self.mapFromScene(p)
            if abs(vp.x() - view_pos.x()) <= HANDLE_PX * 2 and abs(vp.y() - view_pos.y()) <= HANDLE_PX * 3:
                return side
        r = self.frame.rect
        near = HANDLE_PX
        tl, br = self.mapFromScene(r.topLeft()), self.mapFromScene(r.bottomRight())
        if tl.y() <= view_pos.y() <= br.y():
            if abs(view_pos.x() - tl.x()) <= near:
                return "left"
            if abs(view_pos.x() - br.x()) <= near:
                return "right"
        if tl.x() <= view_pos.x() <= br.x():
            if abs(view_pos.y() - tl.y()) <= near:
                return "top"
            if abs(view_pos.y() - br.y()) <= near:
                return "bottom"
        return None

    def _near_split(self, view_pos: QPointF) -> bool:
        if not self.split_item.isVisible():
            return False
        return abs(self.mapFromScene(QPointF(self.split_item.x, 0)).x() - view_pos.x()) <= 8

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        scene = self.mapToScene(pos.toPoint())
        self._last, self._press = scene, scene
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._drag = "pan"
            self._pan_from = pos
            self._navigated()
            self._update_cursor()
            return
        if button != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        side = self._hit_handle(pos) if self.state.mode == "outpaint" else None
        if self._near_split(pos):
            self._drag = "split"
        elif side:
            self._drag = f"extend:{side}"
            self.frame.active_side = side
            self.frame.update()
        elif self._painting() and self.state.tool == "rect":
            self._drag = "rect"
            self.band.setRect(QRectF(scene, scene))
            self.band.show()
        elif self._painting() and self.state.tool == "lasso":
            self._drag = "lasso"
            self._lasso_points = [(scene.x(), scene.y())]
            self.lasso.setPath(QPainterPath(scene))
            self.lasso.show()
        elif self._painting():
            self._drag = "stroke"
            if self._shown_variant() is not None:
                self._mask_forced = True
                self._refresh_layers()
            self.state.begin_stroke()
            self.state.stroke_to(scene.x(), scene.y(), scene.x(), scene.y())
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        scene = self.mapToScene(pos.toPoint())
        self.cursor_moved.emit(int(scene.x() // 1), int(scene.y() // 1))
        self._place_ring(scene)
        if self._drag == "pan":
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
        elif self._drag == "stroke":
            self.state.stroke_to(self._last.x(), self._last.y(), scene.x(), scene.y())
        elif self._drag == "rect":
            self.band.setRect(QRectF(self._press, scene).normalized())
        elif self._drag == "lasso":
            self._lasso_points.append((scene.x(), scene.y()))
            path = self.lasso.path()
            path.lineTo(scene)
            self.lasso.setPath(path)
        elif self._drag == "split":
            rect = self.content_rect()
            if rect.width() > 0:
                self.state.set_view(split=min(1.0, max(0.0, (scene.x() - rect.left()) / rect.width())))
        elif self._drag and self._drag.startswith("extend:"):
            self._drag_extend(self._drag.split(":")[1], scene)
        elif self.state.mode == "outpaint":
            side = self._hit_handle(pos)
            shape = {
                "left": Qt.CursorShape.SizeHorCursor,
                "right": Qt.CursorShape.SizeHorCursor,
                "top": Qt.CursorShape.SizeVerCursor,
                "bottom": Qt.CursorShape.SizeVerCursor,
            }.get(side or "")
            if shape is not None:
                self.viewport().setCursor(shape)
            else:
                self._update_cursor()
        self._last = scene
        super().mouseMoveEvent(event)

    def _drag_extend(self, side: str, scene: QPointF) -> None:
        W, H = self.state.size
        l, t, r, b = self.state.extend
        if side == "left":
            l = max(0, round(-scene.x()))
        elif side == "right":
            r = max(0, round(scene.x() - W))
        elif side == "top":
            t = max(0, round(-scene.y()))
        else:
            b = max(0, round(scene.y() - H))
        self.state.set_extend((l, t, r, b))

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        if drag == "stroke":
            self.state.end_stroke()
        elif drag == "rect":
            self.band.hide()
            rect = QRectF(self._press, self.mapToScene(event.position().toPoint())).normalized()
            self.state.fill_rect(rect.toAlignedRect())
        elif drag == "lasso":
            self.lasso.hide()
            end = self.mapToScene(event.position().toPoint())
            points, self._lasso_points = [*self._lasso_points, (end.x(), end.y())], []
            self.state.fill_polygon(points)
        elif drag and drag.startswith("extend:"):
            self.frame.active_side = None
            self.frame.update()
        self._update_cursor()
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            size = self.state.brush_size
            self.state.set_brush_size(round(size * (1.15**steps)) if abs(steps) > 0 else size)
            self._place_ring(self._last)
            return
        if steps:
            self.zoom_by(ZOOM_STEP**steps)

    # --- drop and empty state ----------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasImage() or any(Path(u.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES for u in mime.urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if files:
            self.file_dropped.emit(files[0])
        elif mime.hasImage():
            self.image_dropped.emit(QImage(mime.imageData()))
        else:
            event.ignore()
            return
        event.acceptProposedAction()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.state.has_image or self._shown_variant() is not None:
            return
        painter.save()
        painter.resetTransform()
        area = self.viewport().rect()
        box = QRect(0, 0, min(460, area.width() - 40), 190)
        box.moveCenter(area.center())
        pen = QPen(QColor(120, 120, 128), 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(box, 14, 14)
        font = painter.font()
        font.setPointSize(17)
        painter.setFont(font)
        painter.setPen(QColor(220, 220, 225))
        painter.drawText(box.adjusted(0, 30, 0, -90), Qt.AlignmentFlag.AlignCenter, "Drop an image here")
        font.setPointSize(10)
        painter.setFont(font)
        painter.setPen(QColor(160, 160, 168))
        hint = "or open one with Ctrl+O, paste with Ctrl+V,\nor pick Generate to start from a class"
        painter.drawText(box.adjusted(10, 95, -10, -20), Qt.AlignmentFlag.AlignCenter, hint)
        painter.restore()
