"""The session's observable state: document, mask, mode, parameters, planned windows, run state, variants.

Widgets read it and subscribe to its signals; user edits come back through its methods; jobs publish
into it. No widgets and no torch here: only numpy, cv2 for mask drawing, and QtCore/QtGui objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QUndoStack

from arpg_core.choices import MODES
from arpg_core.edit.placement import EditResult
from arpg_core.edit.requests import SAMPLING_FIELDS, SamplingParams, default
from arpg_core.weights.defaults import model_default

from .softmask import ON, stamp
from .undo import MaskPatchCommand, SnapshotCommand

MODE_VERBS = {"inpaint": "Fill", "outpaint": "Extend", "expand": "Expand", "generate": "Generate"}
MODE_TITLES = {"inpaint": "Inpaint", "outpaint": "Outpaint", "expand": "Expand 2x", "generate": "Generate"}
MIN_BRUSH, MAX_BRUSH = 1, 1000
APP_VARIANTS = 3  # the app offers three results to choose from (a request's own default is one)


@dataclass(frozen=True)
class Params:
    """The panel's settings. ``sampling`` and the request fields are the core's, with the core's defaults
    (arpg_core.edit.requests); the controller builds the mode's request from them by name. The last three are the
    app's own choices. A new app starts on the embedded model, so its sampling starts from that model's own
    defaults (``ModelEntry.defaults``); after that the settings are the user's and are kept."""

    sampling: SamplingParams = field(default_factory=lambda: model_default("sampling", model=default("model")))
    label: int | None = default("label")
    seed: int = default("seed")
    variants: int = APP_VARIANTS
    feather: int = default("feather")
    seam_first: bool = default("seam_first")
    colour_match: float = default("colour_match", "inpaint")  # Fill and Extend; 0 = the raw decode
    detail: float = default("detail", "inpaint")  # Fill and Extend: the surroundings' fine grain; 0 = off
    # Fill and Extend: variants sampled, the best kept; the model's own (a new app starts on the embedded model)
    candidates: int = field(default_factory=lambda: model_default("candidates", model=default("model")))
    random_seed: bool = True
    keep_source: bool = True  # Expand 2x: coarse content from the Lanczos upscale, detail from the model
    clear_mask_after_apply: bool = False  # Fill: start the next edit from an empty mask (as IOPaint does)

    def changed(self, **changes) -> Params:
        """A copy with ``changes``; ``SamplingParams`` fields (``num_steps``, ``cfg_scale``, ...) change the sampling.
        Raises ValueError for a value the core refuses."""
        tuned = {k: changes.pop(k) for k in list(changes) if k in SAMPLING_FIELDS}
        if tuned:
            changes["sampling"] = replace(changes.get("sampling", self.sampling), **tuned)
        return replace(self, **changes)

    def request_values(self) -> dict:
        """The fields a request takes, by name (each mode's request keeps those it has)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _APP_ONLY}

    @classmethod
    def of_request(cls, request) -> dict:
        """The settings a request ran with, as ``changed`` takes them."""
        out = {f.name: getattr(request, f.name) for f in fields(cls) if hasattr(request, f.name)}
        if hasattr(request, "expand_lock"):
            out["keep_source"] = request.expand_lock > 0
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        return {**d.pop("sampling"), **d}

    @classmethod
    def from_dict(cls, data: dict) -> Params:
        """Known keys of the right type whose value the core accepts are taken; anything else keeps its default."""
        data = dict(data)
        if "steps" in data and "num_steps" not in data:  # stored before the sampling was nested
            data["num_steps"] = data.pop("steps")
        p = cls()
        for name, value in data.items():
            current = getattr(p.sampling, name, getattr(p, name, None)) if name in _KNOWN else None
            if current is None and name != "label":
                continue
            if name == "label":
                value = value if isinstance(value, int) and not isinstance(value, bool) else None
            elif isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = type(current)(value)
            elif not (isinstance(current, str) and isinstance(value, str)):
                continue
            try:
                p = p.changed(**{name: value})
            except (ValueError, TypeError):
                continue  # a value the core refuses (an old or hand-edited setting): the default stays
        return p


_APP_ONLY = ("random_seed", "keep_source", "clear_mask_after_apply")
_KNOWN = SAMPLING_FIELDS | {f.name for f in fields(Params)} - {"sampling"}


@dataclass(frozen=True)
class Snapshot:
    """The document at one moment, for undo: arrays are never modified in place once snapshotted."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    mask: np.ndarray
    origin: tuple[float, float, float, float]  # where the image as opened sits now (x, y, w, h)


@dataclass
class Variant:
    """A result (or the live preview) placed in document coordinates: top-left (x, y) and scale."""

    image: np.ndarray
    title: str
    mode: str
    seed: int | None = None
    x: float = 0.0
    y: float = 0.0
    scale: float = 1.0
    meta: dict = field(default_factory=dict)
    result: EditResult | None = None  # the run it came from, which knows where it lands (None: a preview)
    index: int = 0  # which of the run's variants it is


@dataclass(frozen=True)
class EngineInfo:
    name: str
    device: str
    class_names: tuple[str, ...]
    native: int
    patch: int
    precision: str = ""


class AppState(QObject):
    document_changed = Signal()  # image replaced (its size may differ); the mask too
    document_loaded = Signal()  # a new document was opened (or closed): the view starts over
    mask_changed = Signal(QRect)  # region of the mask that changed
    mode_changed = Signal(str)
    params_changed = Signal()
    extend_changed = Signal()
    tool_changed = Signal()  # tool, eraser, brush size
    view_changed = Signal()  # mask opacity, grid, compare, split
    plan_changed = Signal()  # planned windows, reason the run is blocked
    engine_changed = Signal()
    running_changed = Signal(bool)
    progress_changed = Signal(int, int, float)  # step, total, eta seconds
    preview_changed = Signal()
    variants_changed = Signal()
    current_variant_changed = Signal(int)
    message = Signal(str)  # a line for the status bar
    view_shift = Signal(float, float)  # the canvas origin moved by this much (outpaint applied)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.rgb: np.ndarray | None = None
        self.alpha: np.ndarray | None = None
        self.icc: bytes | None = None
        self.exif: bytes | None = None
        self.source_path: Path | None = None  # the file opened; never overwritten without asking
        self.save_path: Path | None = None  # where Save writes, once chosen
        self.saved_rgb: np.ndarray | None = None  # the pixels last opened or saved (identity check)
        self.baseline: np.ndarray | None = None  # the image as opened, for compare
        self.mask: np.ndarray | None = None  # (H, W) uint8 coverage: 0 keep, 255 regenerate, between: soft edge
        self.origin = (0.0, 0.0, 0.0, 0.0)
        self.mode = "inpaint"
        self.params = Params()
        self.extend = (0, 0, 0, 0)
        self.tool = "brush"  # brush, rect, lasso
        self.erase = False
        self.brush_size = 40
        self.hardness = 1.0  # of the brush: 1 hard edge, 0 soft from the centre out
        self.mask_opacity = 0.55
        self.show_grid = False
        self.show_original = False
        self.split: float | None = None  # 0..1 of the width, None = no split view
        self.windows: list[tuple[float, float, float, float, float]] = []  # x0, y0, x1, y1, px per token
        self.block_reason = "Open an image first"
        self.engine_info: EngineInfo | None = None
        self.running = False
        self.progress = (0, 0, 0.0)
        self.preview: Variant | None = None
        self.variants: list[Variant] = []
        self.current = -1
        self._stroke_before: np.ndarray | None = None
        self._stroke_rect: QRect | None = None

    # --- document ----------------------------------------------------------------------------------

    @property
    def has_image(self) -> bool:
        return self.rgb is not None

    @property
    def size(self) -> tuple[int, int]:
        return (0, 0) if self.rgb is None else (self.rgb.shape[1], self.rgb.shape[0])

    @property
    def modified(self) -> bool:
        return self.rgb is not None and self.rgb is not self.saved_rgb

    def load_document(self, rgb, alpha=None, icc=None, exif=None, path: Path | None = None, saved: bool = True) -> None:
        """Replace the document; ``saved`` False marks pixels that exist in no file yet (paste, recovery)."""
        self.rgb = np.ascontiguousarray(rgb)
        self.alpha, self.icc, self.exif = alpha, icc, exif
        self.source_path, self.save_path = path, None
        self.baseline = self.rgb
        self.saved_rgb = self.rgb if saved else None
        self.mask = np.zeros(self.rgb.shape[:2], np.uint8)
        self.origin = (0.0, 0.0, float(self.size[0]), float(self.size[1]))
        self._fresh_document()

    def _fresh_document(self) -> None:
        """What opening and closing share: no extension, no history, no variants, and the news of it."""
        self.extend = (0, 0, 0, 0)
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.clear_variants()
        self.document_changed.emit()
        self.extend_changed.emit()
        self.document_loaded.emit()

    def close_document(self) -> None:
        """Back to the empty window (File > Close)."""
        self.rgb = self.alpha = self.icc = self.exif = None
        self.source_path = self.save_path = None
        self.saved_rgb = self.baseline = self.mask = None
        self.origin = (0.0, 0.0, 0.0, 0.0)
        self._fresh_document()

    def snapshot(self) -> Snapshot:
        return Snapshot(self.rgb, self.alpha, self.mask.copy(), self.origin)

    def restore(self, snap: Snapshot) -> None:
        same_image = snap.rgb is self.rgb and snap.alpha is self.alpha
        self.rgb, self.alpha, self.origin = snap.rgb, snap.alpha, snap.origin
        if same_image and self.mask is not None and self.mask.shape == snap.mask.shape:
            self.mask[...] = snap.mask
            self.mask_changed.emit(QRect(0, 0, *self.size))
        else:
            self.mask = snap.mask.copy()
            self.document_changed.emit()

    def push_document(self, after: Snapshot, text: str) -> SnapshotCommand:
        command = SnapshotCommand(self, self.snapshot(), after, text)
        self.undo_stack.push(command)
        return command

    def mark_saved(self, path: Path) -> None:
        self.save_path = Path(path)
        self.saved_rgb = self.rgb
        self.undo_stack.setClean()
        self.document_changed.emit()

    # --- mask --------------------------------------------------------------------------------------

    def begin_stroke(self) -> None:
        if self.mask is None:
            return
        self._stroke_before = self.mask.copy()
        self._stroke_rect = None

    def stroke_to(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Paint (or erase) a round-capped segment of the current brush size, in image pixels."""
        if self.mask is None or self._stroke_before is None:
            return
        d = self.brush_size
        r = d / 2 + 2
        rect = QRect(
            int(min(x0, x1) - r), int(min(y0, y1) - r), int(abs(x1 - x0) + 2 * r) + 1, int(abs(y1 - y0) + 2 * r) + 1
        )
        rect = rect.intersected(QRect(0, 0, *self.size))
        if rect.isEmpty():
            return
        if self.hardness < 1.0 and d > 2:
            patch = self.mask[rect.y() : rect.y() + rect.height(), rect.x() : rect.x() + rect.width()]
            stamp(patch, rect.x(), rect.y(), x0, y0, x1, y1, d, self.hardness, self.erase)
        else:
            value = 0 if self.erase else ON
            canvas = self.mask
            p0, p1 = (round(x0 * 16), round(y0 * 16)), (round(x1 * 16), round(y1 * 16))
            if d <= 2:
                cv2.line(canvas, p0, p1, value, max(1, d), cv2.LINE_8, 4)
            else:
                cv2.line(canvas, p0, p1, value, d, cv2.LINE_8, 4)
                cv2.circle(canvas, p0, d * 8, value, -1, cv2.LINE_8, 4)
                cv2.circle(canvas, p1, d * 8, value, -1, cv2.LINE_8, 4)
        self._stroke_rect = rect if self._stroke_rect is None else self._stroke_rect.united(rect)
        self.mask_changed.emit(rect)

    def end_stroke(self) -> None:
        before, rect = self._stroke_before, self._stroke_rect
        self._stroke_before = self._stroke_rect = None
        if before is None or rect is None:
            return
        ys, xs = slice(rect.y(), rect.y() + rect.height()), slice(rect.x(), rect.x() + rect.width())
        if np.array_equal(before[ys, xs], self.mask[ys, xs]):
            return
        text = "Erase stroke" if self.erase else "Brush stroke"
        self.undo_stack.push(MaskPatchCommand(self, rect, before[ys, xs].copy(), self.mask[ys, xs].copy(), text))

    def fill_rect(self, rect: QRect) -> None:
        if self.mask is None:
            return
        rect = rect.normalized().intersected(QRect(0, 0, *self.size))
        if rect.isEmpty():
            return
        ys, xs = slice(rect.y(), rect.y() + rect.height()), slice(rect.x(), rect.x() + rect.width())
        before = self.mask[ys, xs].copy()
        after = np.full_like(before, 0 if self.erase else ON)
        if np.array_equal(before, after):
            return
        self.mask[ys, xs] = after
        self.mask_changed.emit(rect)
        self.undo_stack.push(MaskPatchCommand(self, rect, before, after, "Rectangle"))

    def fill_polygon(self, points: list[tuple[float, float]]) -> None:
        """Lasso: fill (or erase) the closed outline through ``points`` (image pixels)."""
        if self.mask is None or len(points) < 3:
            return
        pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)
        x0, y0 = (pts.min(axis=0) // 16) - 1
        x1, y1 = (pts.max(axis=0) // 16) + 2
        rect = QRect(int(x0), int(y0), int(x1 - x0), int(y1 - y0)).intersected(QRect(0, 0, *self.size))
        if rect.isEmpty():
            return
        ys, xs = slice(rect.y(), rect.y() + rect.height()), slice(rect.x(), rect.x() + rect.width())
        before = self.mask[ys, xs].copy()
        shape = np.zeros(before.shape, np.uint8)
        cv2.fillPoly(shape, [pts - np.array([rect.x() * 16, rect.y() * 16], np.int32)], 1, cv2.LINE_8, 4)
        after = before.copy()
        after[shape > 0] = 0 if self.erase else ON
        if np.array_equal(before, after):
            return
        self.mask[ys, xs] = after
        self.mask_changed.emit(rect)
        self.undo_stack.push(MaskPatchCommand(self, rect, before, after, "Lasso"))

    def set_mask(self, mask: np.ndarray, text: str) -> None:
        """A whole new mask, undoable: uint8 coverage, or bool (True = regenerate)."""
        mask = np.where(mask, ON, 0).astype(np.uint8) if mask.dtype == bool else np.ascontiguousarray(mask, np.uint8)
        if self.mask is None or np.array_equal(mask, self.mask):
            return
        self.push_document(replace(self.snapshot(), mask=mask), text)

    def invert_mask(self) -> None:
        if self.mask is not None:
            self.set_mask(ON - self.mask, "Invert mask")

    def clear_mask(self) -> None:
        if self.mask is not None:
            self.set_mask(np.zeros_like(self.mask), "Clear mask")

    def grow_mask(self, px: int) -> None:
        if self.mask is None or px == 0 or not self.mask.any():
            return
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(px) + 1, 2 * abs(px) + 1))
        op = cv2.dilate if px > 0 else cv2.erode
        grown = op(self.mask, kernel)  # on the coverage: a soft edge stays soft
        self.set_mask(grown, f"Grow mask {px} px" if px > 0 else f"Shrink mask {-px} px")

    # --- mode, parameters, tools, view -----------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode != self.mode:
            self.mode = mode
            self.mode_changed.emit(mode)

    def set_params(self, **changes) -> None:
        new = self.params.changed(**changes)
        if new != self.params:
            self.params = new
            self.params_changed.emit()

    def set_extend(self, extend: tuple[int, int, int, int]) -> None:
        extend = tuple(max(0, min(8192, int(v))) for v in extend)
        if extend != self.extend:
            self.extend = extend
            self.extend_changed.emit()

    def set_tool(self, tool: str) -> None:
        if tool != self.tool:
            self.tool = tool
            self.tool_changed.emit()

    def set_erase(self, erase: bool) -> None:
        if erase != self.erase:
            self.erase = erase
            self.tool_changed.emit()

    def set_brush_size(self, size: int) -> None:
        size = max(MIN_BRUSH, min(MAX_BRUSH, int(size)))
        if size != self.brush_size:
            self.brush_size = size
            self.tool_changed.emit()

    def set_hardness(self, hardness: float) -> None:
        hardness = max(0.0, min(1.0, float(hardness)))
        if hardness != self.hardness:
            self.hardness = hardness
            self.tool_changed.emit()

    def set_view(self, **changes) -> None:
        for key, value in changes.items():
            if not hasattr(self, key):
                raise AttributeError(key)
            setattr(self, key, value)
        self.view_changed.emit()

    # --- planning, running, results ----------------------------------------------------------------

    def set_engine_info(self, info: EngineInfo | None) -> None:
        """A new model: a chosen class keeps its name when the new model has it, else the choice is cleared; a
        sampling setting (or the candidates) still at the old model's own default moves to the new model's (one the
        user set stays)."""
        before, self.engine_info = self.engine_info, info
        if info is not None:
            was, p = before.name if before else default("model"), self.params
            follow = {}
            for f in (*SAMPLING_FIELDS, "candidates"):
                old, new = model_default(f, model=was), model_default(f, model=info.name)
                if getattr(p.sampling if f in SAMPLING_FIELDS else p, f) == old != new:
                    follow[f] = new
            if follow:
                self.set_params(**follow)
        label = self.params.label
        if info and label is not None:
            old_names = before.class_names if before else ()
            if before and old_names != info.class_names and label < len(old_names):
                name = old_names[label]
                self.set_params(label=info.class_names.index(name) if name in info.class_names else None)
            elif label >= len(info.class_names):
                self.set_params(label=None)
        self.engine_changed.emit()

    def set_plan(self, windows: list, reason: str) -> None:
        self.windows, self.block_reason = windows, reason
        self.plan_changed.emit()

    def set_running(self, running: bool) -> None:
        self.running = running
        if not running:
            self.progress = (0, 0, 0.0)
            self.set_preview(None)
        self.running_changed.emit(running)

    def set_progress(self, step: int, total: int, eta: float) -> None:
        self.progress = (step, total, eta)
        self.progress_changed.emit(step, total, eta)

    def set_preview(self, preview: Variant | None) -> None:
        if preview is None and self.preview is None:
            return
        self.preview = preview
        self.preview_changed.emit()

    def set_variants(self, variants: list[Variant]) -> None:
        self.variants = list(variants)
        self.current = 0 if variants else -1
        self.variants_changed.emit()
        self.current_variant_changed.emit(self.current)

    def add_variant(self, variant: Variant) -> None:
        self.variants.append(variant)
        self.variants_changed.emit()
        self.set_current(len(self.variants) - 1)

    def clear_variants(self) -> None:
        if self.variants or self.current != -1:
            self.set_variants([])

    def set_current(self, index: int) -> None:
        if not self.variants:
            return
        index = max(0, min(len(self.variants) - 1, index))
        if index != self.current:
            self.current = index
            self.current_variant_changed.emit(index)

    def discard_current(self) -> None:
        if not self.variants:
            return
        i = self.current
        del self.variants[i]
        self.current = min(i, len(self.variants) - 1)
        self.variants_changed.emit()
        self.current_variant_changed.emit(self.current)

    def current_variant(self) -> Variant | None:
        return self.variants[self.current] if 0 <= self.current < len(self.variants) else None
