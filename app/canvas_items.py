"""Scene items of the canvas. All coordinates are document pixels; decorations keep a constant screen size."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

HANDLE_PX = 9  # side of an extend handle on screen
MIN_GRID_PX = 5  # token grid lines closer than this on screen are not drawn


def _scale(painter: QPainter) -> float:
    return max(1e-6, painter.worldTransform().m11())


class ImageLayer(QGraphicsItem):
    """A QImage drawn at (x, y) and a scale; only the exposed part is drawn, nearest-neighbour above 100%."""

    def __init__(self, z: float):
        super().__init__()
        self.image = QImage()
        self.clip_left: float | None = None  # draw only x >= clip_left (item coordinates)
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def set_image(self, image: QImage | None) -> None:
        self.prepareGeometryChange()
        self.image = image if image is not None else QImage()
        self.update()

    def set_clip(self, x: float | None) -> None:
        self.clip_left = x
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self.image.isNull():
            return
        scale = _scale(painter)  # the world transform already includes the item's own scale
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
        area = option.exposedRect.intersected(self.boundingRect())
        if self.clip_left is not None:
            area.setLeft(max(area.left(), self.clip_left))
        rect = area.toAlignedRect().intersected(self.boundingRect().toAlignedRect())
        if rect.isEmpty():
            return
        painter.drawImage(QRectF(rect), self.image, QRectF(rect))


class CheckerItem(QGraphicsItem):
    """A checkerboard (transparent or not-yet-generated area) with squares of constant screen size."""

    def __init__(self, z: float):
        super().__init__()
        self.rect = QRectF()
        self.setZValue(z)
        tile = QPixmap(16, 16)
        tile.fill(QColor(204, 204, 204))
        p = QPainter(tile)
        p.fillRect(0, 0, 8, 8, QColor(160, 160, 160))
        p.fillRect(8, 8, 8, 8, QColor(160, 160, 160))
        p.end()
        self.tile = tile

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.rect = QRectF(rect)
        self.update()

    def boundingRect(self) -> QRectF:
        return self.rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        brush = QBrush(self.tile)
        inverse, _ok = painter.worldTransform().inverted()
        brush.setTransform(inverse)
        painter.fillRect(self.rect, brush)


class GridItem(QGraphicsItem):
    """The model's token grid inside each window that will run, and the windows' outlines, numbered."""

    def __init__(self, z: float):
        super().__init__()
        self.windows: list[tuple[float, float, float, float, float]] = []
        self.setZValue(z)

    def set_windows(self, windows) -> None:
        self.prepareGeometryChange()
        self.windows = list(windows)
        self.update()

    def boundingRect(self) -> QRectF:
        if not self.windows:
            return QRectF()
        x0 = min(w[0] for w in self.windows)
        y0 = min(w[1] for w in self.windows)
        x1 = max(w[2] for w in self.windows)
        y1 = max(w[3] for w in self.windows)
        return QRectF(x0, y0, x1 - x0, y1 - y0).adjusted(-40, -40, 40, 40)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = _scale(painter)
        line = QPen(QColor(80, 220, 255, 90), 0)
        line.setCosmetic(True)
        frame = QPen(QColor(80, 220, 255, 230), 2)
        frame.setCosmetic(True)
        for i, (x0, y0, x1, y1, step) in enumerate(self.windows):
            if step * scale >= MIN_GRID_PX:
                painter.setPen(line)
                x = x0 + step
                while x < x1 - 1e-6:
                    painter.drawLine(QPointF(x, y0), QPointF(x, y1))
                    x += step
                y = y0 + step
                while y < y1 - 1e-6:
                    painter.drawLine(QPointF(x0, y), QPointF(x1, y))
                    y += step
            painter.setPen(frame)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            _label(painter, QPointF(x0, y0), str(i + 1), QColor(80, 220, 255))


class FrameItem(QGraphicsItem):
    """Outpaint: the extended canvas's outline, a handle on each side, and the new size."""

    def __init__(self, z: float):
        super().__init__()
        self.rect = QRectF()
        self.active_side: str | None = None
        self.setZValue(z)

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.rect = QRectF(rect)
        self.update()

    def handles(self) -> dict[str, QPointF]:
        r = self.rect
        return {
            "left": QPointF(r.left(), r.center().y()),
            "top": QPointF(r.center().x(), r.top()),
            "right": QPointF(r.right(), r.center().y()),
            "bottom": QPointF(r.center().x(), r.bottom()),
        }

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-2000, -2000, 2000, 2000) if not self.rect.isNull() else QRectF()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scale = _scale(painter)
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.rect)
        half = HANDLE_PX / 2 / scale
        for side, p in self.handles().items():
            hot = side == self.active_side
            painter.setPen(QPen(QColor(20, 20, 20), 0))
            painter.setBrush(QColor(255, 190, 40) if hot else QColor(255, 255, 255))
            long = 3 * half
            if side in ("left", "right"):
                painter.drawRect(QRectF(p.x() - half, p.y() - long, 2 * half, 2 * long))
            else:
                painter.drawRect(QRectF(p.x() - long, p.y() - half, 2 * long, 2 * half))
        size = f"{round(self.rect.width())} × {round(self.rect.height())}"
        _label(painter, QPointF(self.rect.left(), self.rect.bottom()), size, QColor(255, 255, 255), below=True)


class SplitItem(QGraphicsItem):
    """The compare split: a vertical line with Result / Original labels."""

    def __init__(self, z: float):
        super().__init__()
        self.x = 0.0
        self.top, self.bottom = 0.0, 0.0
        self.setZValue(z)

    def set_line(self, x: float, top: float, bottom: float) -> None:
        self.prepareGeometryChange()
        self.x, self.top, self.bottom = x, top, bottom
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self.x - 200, self.top - 10, 400, self.bottom - self.top + 20)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(QColor(255, 255, 255), 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLine(QPointF(self.x, self.top), QPointF(self.x, self.bottom))
        scale = _scale(painter)
        r = 7 / scale
        painter.setBrush(QColor(255, 255, 255))
        mid = (self.top + self.bottom) / 2
        painter.drawEllipse(QPointF(self.x, mid), r, r)
        _label(painter, QPointF(self.x - 70 / scale, self.top), "Result", QColor(255, 255, 255))
        _label(painter, QPointF(self.x + 8 / scale, self.top), "Original", QColor(255, 255, 255))


def _label(painter: QPainter, at: QPointF, text: str, color: QColor, below: bool = False) -> None:
    """Text of constant screen size with a dark backing, anchored at a scene point."""
    painter.save()
    device = painter.worldTransform().map(at)
    painter.resetTransform()
    font = QFont()
    font.setPointSize(9)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    w, h = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
    box = QRectF(device.x() + 2, device.y() + (4 if below else 2), w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 160))
    painter.drawRoundedRect(box, 3, 3)
    painter.setPen(color)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
