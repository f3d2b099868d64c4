"""Where a result lands: every edit's result carries its ``Placement``, and one pure ``apply`` puts a variant
into the document it was made from. The app and the command line both call ``apply``; neither asks the mode.

A placement says how large each variant is, where the source image's top-left pixel lands in it (an
outpaint's left and top extension), at what scale (2 for an expansion) and whether the edit consumed the
document's mask (inpaint). From that alone follow the result's alpha (the source's, scaled and placed, opaque
in the new area), the document's mask after the edit (scaled and placed, empty in the new area) and where a
variant shows over the document before it is applied. A placement with no source is a new image (generate).
No torch here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

# The expanded alpha is resized bilinearly (the CLI used Lanczos, the app bilinear). On a hard-edged disc matte
# (scripts/alpha_resize_ringing.py) Lanczos rings: it changed 1,692 pixels more than 2 px away from the edge and made
# 1,560 opaque pixels partly transparent; bilinear changed none away from the edge (628 at it). An alpha matte has
# no texture for Lanczos' sharpness to keep, and a halo of transparency is visible.
ALPHA_RESIZE = cv2.INTER_LINEAR


class NoLongerFits(ValueError):
    """The document changed size since the edit ran: its result cannot be applied to it."""

    def __init__(self, message: str = "This result no longer fits the image"):
        super().__init__(message)


@dataclass(frozen=True)
class Placement:
    size: tuple[int, int]  # (W, H) of each variant
    source: tuple[int, int] | None  # (W, H) of the image the edit ran on; None: a new image (generate)
    offset: tuple[int, int] = (0, 0)  # where the source's top-left pixel lands in a variant
    scale: int = 1  # variant pixels per source pixel
    masked: bool = False  # the edit consumed the document's mask (inpaint)

    def fits(self, size: tuple[int, int] | None) -> bool:
        """Whether a document of ``size`` (W, H) is the one this result applies to."""
        return self.source is None or tuple(size or ()) == tuple(self.source)

    @property
    def extends(self) -> bool:
        """The variant is the source on a larger canvas, at its own scale (an outpaint)."""
        return self.source is not None and self.scale == 1 and tuple(self.size) != tuple(self.source)

    def view(self) -> tuple[float, float, float]:
        """Where a variant shows over the source: its top-left (x, y) in source pixels and its scale there."""
        return -self.offset[0] / self.scale, -self.offset[1] / self.scale, 1.0 / self.scale

    def rect(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """A rectangle in source pixels, in the variant's pixels (a new image: nothing of the source is in it)."""
        if self.source is None:
            return (0.0, 0.0, 0.0, 0.0)
        s, (ox, oy) = self.scale, self.offset
        return (x * s + ox, y * s + oy, w * s, h * s)

    def place(self, layer: np.ndarray | None, fill: int, *, smooth: bool) -> np.ndarray | None:
        """A per-pixel layer of the source (alpha, mask) at the variant's size: scaled (bilinearly when
        ``smooth``, else each pixel repeated), then padded with ``fill`` where the variant is new."""
        if layer is None or self.source is None:
            return None
        s = self.scale
        layer = np.array(layer, copy=True)  # never the caller's array: a document may change its mask in place
        if s != 1:
            W, H = self.source
            if smooth:
                layer = cv2.resize(layer, (W * s, H * s), interpolation=ALPHA_RESIZE)
            else:
                layer = np.repeat(np.repeat(layer, s, axis=0), s, axis=1)
        (l, t), (w, h) = self.offset, self.size
        r, b = w - layer.shape[1] - l, h - layer.shape[0] - t
        if (l, t, r, b) != (0, 0, 0, 0):
            layer = np.pad(layer, ((t, b), (l, r)), constant_values=fill)
        return layer

    def record(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class EditResult:
    """A run's variants, where they land, and how the run went (its seeds, decoding orders and timings)."""

    images: list[np.ndarray]
    placement: Placement
    seeds: list[int] = field(default_factory=list)
    orders: list[list[list[int]]] = field(default_factory=list)  # per variant, per window: grid positions
    windows: list = field(default_factory=list)  # the windows that ran (arpg_core.edit.edits.Window)
    timings: dict[str, float] = field(default_factory=dict)  # this run's own
    request: object | None = None  # the EditRequest; None: no model ran (the Lanczos baseline)
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        h, w = self.images[0].shape[:2]
        return {
            "request": None if self.request is None else self.request.record(),
            "size": [w, h],
            "seeds": self.seeds,
            "windows": [asdict(x) for x in self.windows],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            **self.extra,
        }


@dataclass(frozen=True)
class Document:
    """An image with its alpha (or None) and its mask (any dtype: 0 = keep; or None)."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    mask: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return (self.rgb.shape[1], self.rgb.shape[0])


def apply(document: Document | None, result: EditResult, variant: int = 0) -> Document:
    """The document with variant ``variant`` of ``result`` applied; the inputs are not modified.

    The variant's pixels become the document's; its alpha and mask are placed as the result says (the mask
    is kept as it was, even where the edit consumed it: a front end may clear it). Raises ``NoLongerFits``
    when the document is not the size the edit ran on.
    """
    p = result.placement
    image = result.images[variant]
    if image.shape[:2] != (p.size[1], p.size[0]):
        raise ValueError(f"variant {variant} is {image.shape[1]}x{image.shape[0]}, its placement says {p.size}")
    if p.source is None:  # a new image: nothing of the document stays
        dtype = bool if document is None or document.mask is None else document.mask.dtype
        return Document(image, None, np.zeros(image.shape[:2], dtype))
    if document is None or not p.fits(document.size):
        raise NoLongerFits()
    alpha = p.place(document.alpha, 255, smooth=True)
    mask = p.place(document.mask, 0, smooth=False)
    return Document(image, alpha, mask)
