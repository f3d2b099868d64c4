"""Decode only what gets pasted: the VQ decoder run on a crop of the token grid.

The LlamaGen decoder (``arpg_core.nn.tokenizer.Decoder``) is global in two places only: the attention blocks
of its coarsest level (``conv_blocks[0]`` and the mid blocks), and GroupNorm, whose statistics are taken
over the whole map at every level. Everything else is 3x3 and 1x1 convolutions and nearest upsampling, so
a pixel depends on a bounded neighbourhood of the features below it.

``decode_region`` runs the global part (conv_in, the mid blocks and the first ``split`` levels) on the
whole grid, crops its output to the pasted box plus a margin, and runs the finer levels on the crop only.
Two things differ from the full decode there:

- **the margin**: with a margin of at least ``exact_margin`` tokens every output pixel of the box sees
  exactly the inputs it sees in the full decode; a smaller margin replaces the far neighbours by the
  convolutions' zero padding, an error that fades with the distance;
- **GroupNorm's statistics**: they are taken over the crop instead of the whole map (``PixelNorm``
  tokenizers have none, so for them a full margin is exact). They can instead come from the sums of a full
  pass over a grid that differs only inside the box (``reference_sums``), with the box's part replaced by
  the crop's own: exact for the same grid, close for a grid changed inside the box. The crop's own
  statistics alone are far off (a mean error of 5 to 53 8-bit units), and exact ones need a full pass, so
  the engine decodes what it pastes in full and uses the region decode for previews (``PasteDecoder``).

Both errors are measured, in 8-bit pixel units, by ``benchmarks/bench_region_decode.py`` and recorded in
docs/performance.md; ``tests/test_local_decode.py`` holds the bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from arpg_core.nn.tokenizer import AttnBlock, ResBlock, VQModel

# The engine's choice (one place): levels decoded on the whole grid, the margin around the pasted box in
# tokens, and the largest share of the window's area the crop may cover before a full decode is cheaper.
SPLIT_LEVEL = 2
MARGIN_TOKENS = 2
MAX_AREA_FRACTION = 0.6


@dataclass(frozen=True)
class Box:
    """A pixel rectangle of the decoded window, [y0, y1) x [x0, x1)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def area(self) -> int:
        return max(0, self.y1 - self.y0) * max(0, self.x1 - self.x0)


def exact_margin(vq: VQModel, split: int = SPLIT_LEVEL) -> int:
    """Tokens of margin past which the crop's pixels see every input the full decode's see (the receptive
    field of the levels run on the crop, measured from the split)."""
    dec = vq.decoder
    m = 1  # conv_out
    for level in reversed(list(dec.conv_blocks)[split:]):
        if hasattr(level, "upsample"):
            m = math.ceil((m + 1) / 2)  # its 3x3 conv at the fine resolution, then the nearest x2
        m += 2 * len(level.res)  # two 3x3 convs per ResBlock
    return math.ceil(m / 2**split)


def box_of(alpha: np.ndarray) -> Box | None:
    """The bounding box of the pixels with a weight above zero; None when there are none."""
    ys, xs = np.nonzero(alpha > 0)
    if ys.size == 0:
        return None
    return Box(int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)


def crop_box(vq: VQModel, grid_hw: tuple[int, int], box: Box, margin: int, split: int = SPLIT_LEVEL) -> Box:
    """The pixel rectangle the crop decodes for ``box``: whole features at the split, plus the margin."""
    f = vq.cfg.downsample // 2**split  # pixels per feature at the split
    h, w = grid_hw[0] * 2**split, grid_hw[1] * 2**split
    m = margin * 2**split
    fy0, fx0 = max(0, box.y0 // f - m), max(0, box.x0 // f - m)
    fy1, fx1 = min(h, -(-box.y1 // f) + m), min(w, -(-box.x1 // f) + m)
    return Box(fy0 * f, fy1 * f, fx0 * f, fx1 * f)


def decode_region(
    vq: VQModel,
    codes: Tensor,
    box: Box,
    *,
    margin: int = MARGIN_TOKENS,
    split: int = SPLIT_LEVEL,
    reference: list[NormSums] | None = None,
) -> Tensor:
    """Codes (B, h, w) -> the pixels of ``box`` (B, 3, box height, box width), as ``vq.decode`` would give
    them up to the errors described above.

    ``reference``: GroupNorm sums of a full pass (``reference_sums``) over a grid that differs from
    ``codes`` inside ``box`` only (or not at all). Each norm's statistics are then the reference's, with the
    reference's sums over the box replaced by the crop's own. None: the crop's own statistics alone."""
    dec = vq.decoder
    if not 1 <= split < len(dec.conv_blocks):
        raise ValueError(f"split must be 1 to {len(dec.conv_blocks) - 1}, got {split}")
    z_q = vq.codes_to_latent(codes)
    h = dec.conv_in(vq.post_quant_conv(z_q))
    for block in dec.mid:
        h = block(h)
    for level in list(dec.conv_blocks)[:split]:
        h = _run_level(level, h, None)
    crop = crop_box(vq, codes.shape[1:], box, margin, split)
    f = vq.cfg.downsample // 2**split
    h = h[:, :, crop.y0 // f : crop.y1 // f, crop.x0 // f : crop.x1 // f]
    inner = Box(box.y0 - crop.y0, box.y1 - crop.y0, box.x0 - crop.x0, box.x1 - crop.x0)
    norm = _Norm(reference, inner, crop.y1 - crop.y0)
    for level in list(dec.conv_blocks)[split:]:
        h = _run_level(level, h, norm)
    img = dec.conv_out(F.silu(norm(dec.norm_out, h)))[:, :, inner.y0 : inner.y1, inner.x0 : inner.x1]
    if vq.cfg.colour_path:  # cheap (3 channels): taken from the whole grid, then cut to the box
        img = img + vq.colour_term(z_q)[:, :, box.y0 : box.y1, box.x0 : box.x1]
    return img


@dataclass(frozen=True)
class NormSums:
    """One GroupNorm's input summed per (row, group) over the whole map and over the box: float64."""

    total: Tensor  # (B, groups)
    total_sq: Tensor
    box: Tensor
    box_sq: Tensor
    count: int  # elements per group over the whole map


def reference_sums(vq: VQModel, codes: Tensor, box: Box, split: int = SPLIT_LEVEL) -> tuple[Tensor, list[NormSums]]:
    """A full decode of ``codes`` (B, 3, H, W), and the sums its GroupNorms past ``split`` saw, over the whole
    map and over ``box`` (for ``decode_region``'s ``reference``)."""
    out: list[NormSums] = []
    dec = vq.decoder
    H = codes.shape[1] * vq.cfg.downsample
    fine = [m for level in list(dec.conv_blocks)[split:] for m in level.modules()] + [dec.norm_out]

    def hook(module, args, _out):
        x = args[0]
        s, sq = _sums(module, x)
        b, bsq = _sums(module, _box_slice(x, box, H))
        out.append(NormSums(s, sq, b, bsq, x[0].numel() // module.num_groups))

    hooks = [m.register_forward_hook(hook) for m in fine if isinstance(m, nn.GroupNorm)]
    try:
        img = vq.decode(codes)
    finally:
        for h in hooks:
            h.remove()
    return img, out


# --- the decoder's fine levels, with GroupNorm's statistics chosen here ------------------------------------


def _sums(module: nn.GroupNorm, x: Tensor) -> tuple[Tensor, Tensor]:
    flat = x.reshape(x.shape[0], module.num_groups, -1).double()
    return flat.sum(-1), flat.pow(2).sum(-1)


def _box_slice(x: Tensor, box: Box, px_high: int) -> Tensor:
    """The features of ``x`` (a map ``px_high`` pixels high) under the pixel box ``box``."""
    f = px_high // x.shape[2]  # pixels per feature
    return x[:, :, box.y0 // f : -(-box.y1 // f), box.x0 // f : -(-box.x1 // f)]


class _Norm:
    """Applies a norm module; a GroupNorm from the reference's sums with the box's replaced by the crop's own
    (in call order), or from the crop's own statistics alone."""

    def __init__(self, reference: list[NormSums] | None, inner: Box, crop_px_high: int):
        self.reference = None if reference is None else iter(reference)
        self.inner = inner
        self.crop_px_high = crop_px_high

    def __call__(self, module: nn.Module, x: Tensor) -> Tensor:
        if not isinstance(module, nn.GroupNorm) or self.reference is None:
            return module(x)
        ref = next(self.reference)
        b, bsq = _sums(module, _box_slice(x, self.inner, self.crop_px_high))
        mean = (ref.total - ref.box + b) / ref.count
        var = ((ref.total_sq - ref.box_sq + bsq) / ref.count - mean.pow(2)).clamp(min=0)
        B, g = x.shape[0], module.num_groups
        scale = torch.rsqrt(var + module.eps).to(x.dtype)
        y = (x.reshape(B, g, -1) - mean.to(x.dtype)[..., None]) * scale[..., None]
        return y.reshape(x.shape) * module.weight[:, None, None] + module.bias[:, None, None]


def _res(block: ResBlock, x: Tensor, norm: _Norm) -> Tensor:
    h = block.conv1(F.silu(norm(block.norm1, x)))
    h = block.conv2(F.silu(norm(block.norm2, h)))
    return (x if block.nin_shortcut is None else block.nin_shortcut(x)) + h


def _run_level(level: nn.Module, h: Tensor, norm: _Norm | None) -> Tensor:
    """One decoder level and its upsample; ``norm`` None runs the modules as they are (the global part)."""
    for j, res in enumerate(level.res):
        h = res(h) if norm is None else _res(res, h, norm)
        if len(level.attn):
            attn: AttnBlock = level.attn[j]
            if norm is not None:
                raise ValueError("an attention level cannot be decoded on a crop: raise the split")
            h = attn(h)
    if hasattr(level, "upsample"):
        h = level.upsample(h)
    return h


class PasteDecoder:
    """Decodes one window's token grids for the engine. What is pasted is always decoded in full (exact).
    With previews, the first exact decode of variant 0 also records its GroupNorm sums, and the previews
    after it decode only the pasted box from those sums (``decode_region``); the preview of a window's last
    step is exact, and the final decode of the same grid reuses it instead of decoding it twice.

    ``box``: the pasted pixels' bounding box, or None for full decodes only."""

    def __init__(self, vq: VQModel, grid_hw: tuple[int, int], box: Box | None, margin: int = MARGIN_TOKENS):
        self.vq = vq
        self.margin = margin
        self.split = min(SPLIT_LEVEL, len(vq.decoder.conv_blocks) - 1)  # a tokenizer with fewer levels
        self.box = box if self.split >= 1 else None
        if self.box is not None:
            full = grid_hw[0] * grid_hw[1] * vq.cfg.downsample**2
            if crop_box(vq, grid_hw, box, margin, self.split).area > MAX_AREA_FRACTION * full:
                self.box = None  # the crop would cost about as much as the whole window
        self._reference: list[NormSums] | None = None
        self._last: tuple[Tensor, Tensor] | None = None  # the last exact decode: codes, images

    @classmethod
    def for_window(cls, vq: VQModel, grid_hw, write: np.ndarray, work_hw: tuple[int, int], previews: bool):
        """For an engine window: ``write`` the paste weights at window size, ``work_hw`` the decoded size
        before padding (a region decode only when previews run and the decode is pasted without resizing)."""
        box = box_of(write) if previews and write.shape == tuple(work_hw) else None
        return cls(vq, grid_hw, box)

    def decode(self, codes: Tensor, *, exact: bool = True) -> Tensor:
        """Codes (B, h, w) -> images (B, 3, h*ds, w*ds). ``exact`` False (previews): once a reference exists,
        the pasted box from a region decode, and outside it the reference's pixels, which are not pasted."""
        box = self.box
        if not exact and box is not None and self._reference is not None:
            region = decode_region(self.vq, codes, box, margin=self.margin, split=self.split, reference=self._reference)
            out = self._last[1][:1].expand(codes.shape[0], -1, -1, -1).clone()
            out[:, :, box.y0 : box.y1, box.x0 : box.x1] = region
            return out
        if self._last is not None and torch.equal(self._last[0], codes):
            return self._last[1]  # the last step's preview already decoded this grid
        if box is not None and codes.shape[0] == 1:
            images, self._reference = reference_sums(self.vq, codes, box, self.split)
        else:
            images = self.vq.decode(codes)
        self._last = (codes.clone(), images)
        return images
