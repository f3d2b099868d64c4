"""The tokenizer on its device and the model's grid: an edit's pixels to tokens and back (uint8 at the edges)."""

from __future__ import annotations

import numpy as np
import torch

from arpg_core.edit.edits import DecodePlan
from arpg_core.nn.local_decode import PasteDecoder
from arpg_core.nn.precision import bf16_autocast
from arpg_core.nn.tokenizer import VQModel


class Codec:
    """The tokenizer on its device, and the model's grid: pixels to tokens and back."""

    def __init__(self, vq: VQModel, device: torch.device, side: int, bf16_decode: bool = False):
        self.vq, self.device, self.side = vq, device, side
        # Decode in bf16 (the engine's int8 and bf16 modes, on hardware with bf16 units): about half the decode's
        # CPU time, pixels within a few 8-bit units of fp32's (docs/performance.md). The encode stays fp32:
        # in bf16 a few % of the codes would change.
        self.bf16_decode = bf16_decode

    def _decoding(self):
        return bf16_autocast(self.device, self.bf16_decode)

    @property
    def patch(self) -> int:
        return self.vq.cfg.downsample

    @property
    def native(self) -> int:
        return self.side * self.patch

    def encode(self, images: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> tokens (B, H/p, W/p) on the CPU."""
        with torch.inference_mode():
            return self.vq.encode(_to_tensor(images, self.device)).cpu()

    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """Tokens (B, h, w) -> (B, h*p, w*p, 3) uint8."""
        with torch.inference_mode(), self._decoding():
            return _to_uint8(self.vq.decode(codes.to(self.device)).float().cpu())

    def grid_images(
        self, grid: torch.Tensor, plan: DecodePlan, paste: PasteDecoder | None = None, exact: bool = True
    ) -> np.ndarray:
        """(B, side*side) token grids of a plan -> (B, h*p, w*p, 3) uint8; unknown positions as code 0.

        ``paste``: the window's decoder that may decode only the pasted box for a preview (``exact`` False)."""
        h, w = plan.grid_hw
        codes = grid.view(grid.shape[0], plan.side, plan.side)[:, :h, :w].clamp(min=0)  # (B, h, w)
        if paste is None:
            return self.decode(codes)
        with torch.inference_mode(), self._decoding():
            return _to_uint8(paste.decode(codes.to(self.device), exact=exact).float().cpu())


def _to_tensor(images: np.ndarray, device) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return (x / 127.5 - 1.0).to(device)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [-1, 1] -> (B, H, W, 3) uint8, as the official sampler maps it."""
    x = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()
