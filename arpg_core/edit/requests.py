"""What an edit asks for: one typed request per mode, each nesting the ``SamplingParams`` of its decode.

This is the one place for every default of an edit. The command line's option defaults, the app's panel and
the history's "put these settings back" all read them from here (and the lists of choices from
``arpg_core.choices``); nobody copies a field. ``build_request(mode, **values)`` turns one flat set of
settings, as a front end holds them, into the request of a mode: it keeps the fields that mode has.

The defaults are what users got before the requests were typed: 32 steps at CFG 3 for every edit, and the
official task's 64 steps for ``generate``. Nothing here imports torch (the app's widgets use it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

import numpy as np

from arpg_core.choices import MODES, ROPES, SIDES
from arpg_core.sampling import SamplingParams
from arpg_core.validate import (
    MAX_COLOUR_MATCH,
    MAX_DETAIL,
    MAX_DILATE,
    MAX_EXTEND,
    MAX_FEATHER,
    MAX_LOCK,
    MAX_PIXELS,
    MAX_VARIANTS,
    check_int,
    check_real,
    check_temperature,
)

GENERATE_STEPS = 64  # generate runs the official task's schedule: 64 steps


SAMPLING_FIELDS = frozenset(f.name for f in fields(SamplingParams))


@dataclass(frozen=True, eq=False, kw_only=True)
class EditRequest:
    """Everything that determines an edit: replaying the same request gives the same pixels."""

    mode: ClassVar[str] = ""
    sampling: SamplingParams = SamplingParams()
    label: int | None = None  # class id; None = no class (the null class)
    seed: int = 0
    variants: int = 1
    seam_first: bool = False  # decode tokens next to known content first (the command line offers it to
    # inpaint and outpaint, where there is known content; the app to every mode)
    model: str = "embedded"
    preview: bool = False  # yield decoded partial images (costs one tokenizer decode per preview)
    preview_interval: float = 0.5  # s between previews

    @property
    def samples(self) -> int:
        """How many variants may be decoded; a fill in one window decodes ``candidates`` and keeps the best
        ``variants`` (``ModePlan.samples`` decides)."""
        return self.variants

    def seeds(self) -> list[int]:
        """The seed of every variant decoded, in the order they are sampled (a ranked result reorders them)."""
        return [(self.seed + i) % 2**63 for i in range(self.samples)]

    def replace(self, **changes) -> EditRequest:
        """A copy with ``changes``; ``SamplingParams`` fields (``num_steps``, ...) change the sampling."""
        tuned = {k: changes.pop(k) for k in list(changes) if k in SAMPLING_FIELDS}
        if tuned:
            changes["sampling"] = replace(changes.get("sampling", self.sampling), **tuned)
        return replace(self, **changes)

    def validate(self) -> None:
        """Check the request's numbers, image and mask before a model is at hand; ``Engine.check`` adds the
        model's own bounds. Raises ValueError (``OptionError`` for a number out of range)."""
        self.check_options()
        self.check_inputs()

    def check_options(self) -> None:
        """The numbers on their own, before any input is read (the sampling ones are checked when built)."""
        if not isinstance(self.sampling, SamplingParams):
            raise ValueError("sampling must be SamplingParams")
        check_temperature(self.sampling.temperature)
        check_int("variants", self.variants, 1, MAX_VARIANTS)
        check_int("seed", self.seed, -(2**63), 2**63 - 1)

    def check_inputs(self) -> None:
        """The request against its image and mask, before the model is loaded."""

    def record(self) -> dict:
        """The request without its pixels, for JSON: the sampling fields flat, as the command line names them."""
        out = {"mode": self.mode}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "sampling":
                s = asdict(value)
                out["steps"] = s.pop("num_steps")
                out.update(s)
            elif isinstance(value, np.ndarray):
                if f.name == "image":
                    out["image_size"] = [int(value.shape[1]), int(value.shape[0])]
            elif value is not None or f.name == "label":
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, eq=False, kw_only=True)
class _SourceRequest(EditRequest):
    """A request that edits an image."""

    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB

    def check_inputs(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError("the image must be an (H, W, 3) uint8 RGB array")
        H, W = img.shape[:2]
        if H < 1 or W < 1:
            raise ValueError("the image is empty")
        if H * W > MAX_PIXELS:
            raise ValueError(f"the image is too large: {W}x{H} exceeds {MAX_PIXELS // 1_000_000} megapixels")


@dataclass(frozen=True, eq=False, kw_only=True)
class _FillRequest(_SourceRequest):
    """A request that generates pixels next to known ones (inpaint, outpaint)."""

    # px: shift each decode by the tokenizer's colour error on the known pixels around it, spread under a
    # Gaussian of this size (``edits.match_known_colour``; 0 = off). 8 was the best of 4-32 px on training
    # crops (docs/colour-match.md).
    colour_match: float = 8.0
    # Add the fine grain the tokenizer lost on the known pixels, taken from the known patch whose decode looks most
    # alike, times this (``edit.detail``; 0 = off): a texture ratio of 0.48 -> 0.71 on the embedded model's
    # fills, colour unchanged (docs/detail.md).
    detail: float = 1.0
    # Variants to sample: when more than ``variants``, the ``variants`` whose colours best fit their surroundings
    # are kept, best first (``arpg_core.edit.ranking``); otherwise the variants as sampled. Only a fill in one
    # window samples them; a larger edit decodes the variants alone. A model may set its own (the embedded one
    # samples 6: its fills' colour error drops by a quarter, docs/ranking.md).
    candidates: int = 1

    @property
    def samples(self) -> int:
        return max(self.variants, self.candidates)

    def check_options(self) -> None:
        super().check_options()
        check_real("colour_match", self.colour_match, 0.0, MAX_COLOUR_MATCH, " px (0 = off)")
        check_real("detail", self.detail, 0.0, MAX_DETAIL, " (0 = off)")
        check_int("candidates", self.candidates, 1, MAX_VARIANTS)


@dataclass(frozen=True, eq=False, kw_only=True)
class InpaintRequest(_FillRequest):
    """Regenerate the masked pixels; every other pixel stays bit-identical."""

    mode: ClassVar[str] = "inpaint"
    mask: np.ndarray | None = None  # (H, W) bool, True = regenerate
    feather: int = 8  # px of blending outside the mask
    dilate: int = 0  # grow the token mask by this many tokens

    def check_options(self) -> None:
        super().check_options()
        check_int("feather", self.feather, 0, MAX_FEATHER, " px")
        check_int("dilate", self.dilate, 0, MAX_DILATE, " tokens")

    def check_inputs(self) -> None:
        super().check_inputs()
        H, W = self.image.shape[:2]
        if self.mask is None:
            raise ValueError("inpainting needs a mask")
        if self.mask.shape != (H, W):
            raise ValueError(
                f"the mask is {self.mask.shape[1]}x{self.mask.shape[0]} but the image is {W}x{H}; they must match"
            )
        if not self.mask.any():
            raise ValueError("the mask is empty: paint the area to regenerate")
        check_int("feather", self.feather, 0, max(H, W, 64), f" px for this {W}x{H} image")


@dataclass(frozen=True, eq=False, kw_only=True)
class OutpaintRequest(_FillRequest):
    """Extend the canvas by ``extend`` px per side; the original pixels never change."""

    mode: ClassVar[str] = "outpaint"
    extend: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, right, bottom in px

    def check_options(self) -> None:
        super().check_options()
        if len(self.extend) != 4:
            raise ValueError(f"extend must give 4 sides (left, top, right, bottom), got {list(self.extend)}")
        for side, e in zip(SIDES, self.extend):
            check_int(f"extend_{side}", e, 0, MAX_EXTEND, " px", label=f"the {side} extension")
        if sum(self.extend) == 0:
            raise ValueError("nothing to extend: give at least one side a positive number of pixels")

    def check_inputs(self) -> None:
        super().check_inputs()
        H, W = self.image.shape[:2]
        l, t, r, b = self.extend
        if (H + t + b) * (W + l + r) > MAX_PIXELS:
            raise ValueError(
                f"the extended canvas would be {W + l + r}x{H + t + b}, over {MAX_PIXELS // 1_000_000} megapixels"
            )


@dataclass(frozen=True, eq=False, kw_only=True)
class ExpandRequest(_SourceRequest):
    """2x resolution: the source tokens at the even positions of a grid twice as large."""

    mode: ClassVar[str] = "expand"
    expand_rope: str = "pi"  # one of choices.ROPES
    expand_lock: float = 1.0  # below a Gaussian of this many px keep the Lanczos 2x (0 = off)

    def check_options(self) -> None:
        super().check_options()
        check_real("expand_lock", self.expand_lock, 0.0, MAX_LOCK, " px")
        if self.expand_rope not in ROPES:
            raise ValueError(f"expand_rope must be one of {', '.join(ROPES)}, got {self.expand_rope!r}")

    def check_inputs(self) -> None:
        super().check_inputs()
        H, W = self.image.shape[:2]
        if 4 * H * W > MAX_PIXELS:
            raise ValueError(
                f"the image is too large to expand 2x: {2 * W}x{2 * H} exceeds {MAX_PIXELS // 1_000_000} megapixels"
            )


@dataclass(frozen=True, eq=False, kw_only=True)
class GenerateRequest(EditRequest):
    """A class from nothing (the official task: 64 steps)."""

    mode: ClassVar[str] = "generate"
    sampling: SamplingParams = SamplingParams(num_steps=GENERATE_STEPS)


REQUEST_TYPES: dict[str, type[EditRequest]] = {
    cls.mode: cls for cls in (InpaintRequest, OutpaintRequest, ExpandRequest, GenerateRequest)
}  # in the order of choices.MODES (tests/test_requests.py)


def request_type(mode: str) -> type[EditRequest]:
    if mode not in REQUEST_TYPES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return REQUEST_TYPES[mode]


def field_names(mode: str) -> set[str]:
    return {f.name for f in fields(request_type(mode))}


def build_request(mode: str, **values) -> EditRequest:
    """The request of ``mode`` from a front end's flat settings: the fields that mode has are taken, the rest (the
    other modes' settings) are left out; ``SamplingParams`` fields (``num_steps``, ``cfg_scale``, ...) go into
    the mode's default sampling, or into ``sampling`` when one is given."""
    names = field_names(mode)
    sampling = values.get("sampling") or default("sampling", mode)
    tuned = {k: v for k, v in values.items() if k in SAMPLING_FIELDS}
    if tuned:
        sampling = replace(sampling, **tuned)
    kept = {k: v for k, v in values.items() if k in names and k != "sampling"}
    return request_type(mode)(sampling=sampling, **kept)


def default(name: str, mode: str | None = None):
    """The default of a request field (or of a ``SamplingParams`` field), for a front end's options and widgets:
    the given mode's, else the first request type's that has the field. A model's own sampling defaults go over
    these: ``arpg_core.weights.defaults.model_default``."""
    if name in SAMPLING_FIELDS:
        return getattr(default("sampling", mode), name)  # the mode's sampling: generate's steps are its own
    types = (request_type(mode),) if mode else tuple(REQUEST_TYPES.values())
    for cls in types:
        for f in fields(cls):
            if f.name == name:
                return f.default
    raise KeyError(name)
