"""Training crops: an endless stream of random multi-scale crops of a ``prepare_data`` folder."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


class CropStream:
    """Endless random multi-scale crops of the photos of one split of a ``prepare_data`` folder.

    Each crop picks a photo uniformly, a square side between ``min_scale`` and ``max_scale`` of the
    photo's shorter side (log-uniform; never below ``size / max_upscale`` pixels unless the photo is
    that small), a uniform position and a horizontal flip with probability 1/2, and resizes to
    ``size`` (area interpolation when shrinking, bicubic when enlarging).  All randomness comes from
    ``generator`` (kept as ``self.generator`` so a trainer can save and restore its state).
    Photos are decoded on first use and cached.  Labels are class indices; photos without a class get
    :data:`NULL_CLASS`.  ``workers > 0`` cuts and resizes a batch's crops on that many threads (OpenCV
    releases the GIL); the draws stay in order on the one generator, so the crops are the same either way.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str | None = "train",
        size: int = 128,
        generator: torch.Generator | None = None,
        *,
        seed: int = 0,
        min_scale: float = 0.15,
        max_scale: float = 1.0,
        max_upscale: float = 1.5,
        flip: bool = True,
        workers: int = 0,
    ):
        self.root = Path(root)
        manifest = json.loads((self.root / "manifest.json").read_text())
        self.class_names: list[str] = list(manifest["class_names"])
        self.records = [r for r in manifest["images"] if split is None or r["split"] == split]
        if not self.records:
            raise ValueError(f"{self.root}: no photos in split {split!r}")
        self.labels = [
            self.class_names.index(r["class"]) if r["class"] is not None else len(self.class_names)
            for r in self.records
        ]
        self.split, self.size = split, int(size)
        self.min_scale, self.max_scale, self.max_upscale, self.flip = min_scale, max_scale, max_upscale, flip
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        self._cache: dict[int, np.ndarray] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="crops") if workers > 0 else None

    def __len__(self) -> int:
        return len(self.records)

    def image(self, i: int) -> np.ndarray:
        """Photo ``i`` of this split as a (H, W, 3) uint8 array (cached)."""
        a = self._cache.get(i)
        if a is None:
            with Image.open(self.root / self.records[i]["file"]) as im:
                a = np.asarray(im.convert("RGB"))
            self._cache[i] = a
        return a

    def image_shape(self, i: int) -> tuple[int, int]:
        """(height, width) of photo ``i``."""
        return self.image(i).shape[:2]

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator, dtype=torch.float64))

    def draw(self) -> tuple[int, int, int, int, bool]:
        """The random part of one crop: photo index, square side, top, left and whether to flip."""
        i = int(torch.randint(len(self.records), (), generator=self.generator))
        h, w = self.image_shape(i)
        short = min(h, w)
        hi = max(1.0, self.max_scale * short)
        lo = min(hi, max(self.min_scale * short, self.size / self.max_upscale))
        side = round(math.exp(math.log(lo) + self._uniform() * (math.log(hi) - math.log(lo))))
        side = max(1, min(side, short))
        y = int(self._uniform() * (h - side + 1))
        x = int(self._uniform() * (w - side + 1))
        flip = self.flip and self._uniform() < 0.5
        return i, side, y, x, flip

    def cut(self, i: int, side: int, y: int, x: int, flip: bool) -> np.ndarray:
        """The crop a :meth:`draw` names, resized to (size, size, 3) uint8."""
        crop = self.image(i)[y : y + side, x : x + side]
        interp = cv2.INTER_AREA if side >= self.size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (self.size, self.size), interpolation=interp)
        if flip:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop)

    def sample(self) -> tuple[np.ndarray, int]:
        """One crop: a (size, size, 3) uint8 array and its class index."""
        d = self.draw()
        return self.cut(*d), self.labels[d[0]]

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        while True:
            yield self.sample()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` crops as a float tensor (n, 3, size, size) in [-1, 1] and a LongTensor of class ids."""
        draws = [self.draw() for _ in range(n)]
        crops = self._pool.map(lambda d: self.cut(*d), draws) if self._pool else [self.cut(*d) for d in draws]
        x = torch.from_numpy(np.stack(list(crops))).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        return x.contiguous(), torch.tensor([self.labels[d[0]] for d in draws], dtype=torch.long)


class DeviceCropStream(CropStream):
    """The same crops as :class:`CropStream` (the same draws from the same generator), cut on ``device``.

    Every photo of the split is decoded once and kept on the device as uint8; each crop is sliced there and
    resized by torch (antialiased bilinear when shrinking, bicubic when enlarging, rounded to whole levels as
    OpenCV does). On a GPU this takes the crop cutting off the CPU, which bound the first GPU run's training
    (docs/gpu-run-1.md). The pixels differ from OpenCV's area resize by about one level on average (its box
    filter against a triangle), more at single sharp pixels; the draws, and so the photos, places and flips,
    are the same.
    """

    def __init__(self, *args, device: str | torch.device = "cpu", **kwargs):
        kwargs.pop("workers", None)  # nothing is cut on the CPU
        super().__init__(*args, **kwargs)
        self.device = torch.device(device)
        with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
            arrays = list(pool.map(self.image, range(len(self.records))))
        # (3, H, W) uint8 per photo, on the device; the CPU copies are not needed again
        self.photos = [torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous().to(self.device) for a in arrays]
        self._cache.clear()

    def image_shape(self, i: int) -> tuple[int, int]:
        return tuple(self.photos[i].shape[1:])

    def cut_on_device(self, i: int, side: int, y: int, x: int, flip: bool) -> torch.Tensor:
        """The crop a :meth:`draw` names: (3, size, size) float in 0..255 on the device."""
        crop = self.photos[i][:, y : y + side, x : x + side].unsqueeze(0).float()  # (1, 3, side, side)
        # shrinking: antialiased, a triangle filter where OpenCV has a box (a box aliases here); enlarging: bicubic
        mode = "bilinear" if side >= self.size else "bicubic"
        crop = F.interpolate(crop, (self.size, self.size), mode=mode, antialias=side >= self.size, align_corners=False)
        crop = crop.round_().clamp_(0, 255)[0]
        return crop.flip(-1) if flip else crop

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` crops as a float tensor (n, 3, size, size) in [-1, 1] on the device, and class ids on the CPU."""
        draws = [self.draw() for _ in range(n)]
        x = torch.stack([self.cut_on_device(*d) for d in draws]).div_(127.5).sub_(1.0)
        return x, torch.tensor([self.labels[d[0]] for d in draws], dtype=torch.long)
