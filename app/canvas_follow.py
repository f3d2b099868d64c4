"""How the canvas's view follows the document: a newly opened photo is fitted; while fitted, the view fits again
whenever the window or the canvas changes size (the variant strip appearing, an Extend applied) until the user
zooms or pans; results are brought into view (scrolled to, zooming out only when they do not fit). A mixin of
CanvasView."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QTransform

MIN_ZOOM, MAX_ZOOM = 0.02, 64.0
FIT_MARGIN = 24  # screen px around fitted content


class ViewFollowing:
    """Fit, reveal and zoom of CanvasView (``self`` is the QGraphicsView)."""

    _auto_fit = True
    _reveal: QRectF | None = None

    def fit(self) -> None:
        """Fit the content in the window; the view keeps fitting it (window resized, strip shown) until the
        user zooms or pans."""
        self._auto_fit, self._reveal = True, None
        rect = self.content_rect()
        if rect.isNull() or rect.isEmpty():
            return
        self._fit_rect(rect)

    def _fit_rect(self, rect: QRectF) -> None:
        view = self.viewport().rect()
        if view.width() <= 2 * FIT_MARGIN or view.height() <= 2 * FIT_MARGIN:
            return
        k = min((view.width() - 2 * FIT_MARGIN) / rect.width(), (view.height() - 2 * FIT_MARGIN) / rect.height())
        k = max(MIN_ZOOM, min(MAX_ZOOM, k))
        self.setTransform(QTransform.fromScale(k, k))
        self.centerOn(rect.center())
        self._zoom_done()

    @property
    def auto_fit(self) -> bool:
        return self._auto_fit

    def visible_rect(self) -> QRectF:
        """The part of the scene the viewport shows, in document pixels."""
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def reveal(self, rect: QRectF) -> None:
        """Bring ``rect`` (document px) into view: refit when fitted, else scroll to it, zooming out only when
        it does not fit at the current zoom. Kept while the viewport changes size, until the user navigates."""
        if rect.isNull() or rect.isEmpty():
            return
        if self._auto_fit:
            self.fit()
            return
        self._reveal = QRectF(rect)
        self._apply_reveal()

    def _apply_reveal(self) -> None:
        rect = self._reveal
        if rect is None or self.visible_rect().contains(rect):
            return
        view, z = self.viewport().rect(), self.zoom
        if rect.width() * z <= view.width() - 2 * FIT_MARGIN and rect.height() * z <= view.height() - 2 * FIT_MARGIN:
            self.centerOn(rect.center())
            self._zoom_done()
        else:
            self._fit_rect(rect)

    def _navigated(self) -> None:
        """The user zoomed or panned: the view stays where they put it."""
        self._auto_fit, self._reveal = False, None

    def actual_size(self) -> None:
        self._navigated()
        center = self.mapToScene(self.viewport().rect().center())
        self.resetTransform()
        self.centerOn(center)
        self._zoom_done()

    def zoom_by(self, factor: float) -> None:
        self._navigated()
        factor = max(MIN_ZOOM / self.zoom, min(MAX_ZOOM / self.zoom, factor))
        self.scale(factor, factor)
        self._zoom_done()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()
        elif self._reveal is not None:
            self._apply_reveal()

    def _document_loaded(self) -> None:
        """A photo was opened: fit it, whatever the zoom of the one before."""
        self._reveal = None
        self._auto_fit = True
        self.fit()

    def _keep_view(self, old_size, old_origin) -> None:
        """After a size change (Extend, Expand, their undo): fit again when the view was fitted, else keep the
        original content where it was on screen."""
        ox, oy, ow, _ = old_origin
        nx, ny, nw, _ = self.state.origin
        if self._auto_fit or old_size == (0, 0) or ow <= 0 or nw <= 0 or not self.state.has_image:
            self.fit()
            return
        k = nw / ow
        center = self.mapToScene(self.viewport().rect().center())
        self.scale(1 / k, 1 / k)
        self.centerOn(QPointF((center.x() - ox) * k + nx, (center.y() - oy) * k + ny))
        self._zoom_done()

    def _variants_changed(self) -> None:
        self._mask_forced = False
        self._refresh_layers()
        if not self.state.has_image and self.state.variants:
            self.fit()
        elif self.state.variants:
            self.reveal(self.result_rect())

    def result_rect(self) -> QRectF:
        """Where the shown result changes the document: the mask's bounding box for a Fill, else the result."""
        s, v = self.state, self._shown_variant()
        if v is None:
            return QRectF()
        if v.mode == "inpaint" and s.mask is not None and s.mask.any():
            rows, cols = s.mask.any(axis=1).nonzero()[0], s.mask.any(axis=0).nonzero()[0]
            return QRectF(cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1)
        h, w = v.image.shape[:2]
        return QRectF(v.x, v.y, w * v.scale, h * v.scale)

    def _zoom_done(self) -> None:
        self.zoom_changed.emit(self.zoom)
        self.viewport().update()
