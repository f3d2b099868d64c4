"""The only place where numpy arrays and QImages are converted into each other."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage


def rgb_to_qimage(rgb: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """(H, W, 3) uint8 (+ optional (H, W) uint8 alpha) -> a QImage that owns its pixels."""
    h, w = rgb.shape[:2]
    if alpha is None:
        arr = np.ascontiguousarray(rgb, dtype=np.uint8)
        return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    arr = np.ascontiguousarray(np.dstack([rgb, alpha]), dtype=np.uint8)
    return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def qimage_to_rgb(image: QImage) -> tuple[np.ndarray, np.ndarray | None]:
    """A QImage of any format -> (H, W, 3) uint8 and an (H, W) alpha, or None when fully opaque."""
    has_alpha = image.hasAlphaChannel()
    fmt = QImage.Format.Format_RGBA8888 if has_alpha else QImage.Format.Format_RGB888
    img = image.convertToFormat(fmt)
    h, w, ch = img.height(), img.width(), (4 if has_alpha else 3)
    raw = np.frombuffer(img.constBits(), np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    arr = raw[:, : w * ch].reshape(h, w, ch).copy()
    if not has_alpha:
        return arr, None
    alpha = arr[..., 3].copy()
    return np.ascontiguousarray(arr[..., :3]), (None if (alpha == 255).all() else alpha)


def mask_to_overlay(mask: np.ndarray, color: QColor) -> QImage:
    """(h, w) uint8 coverage (or bool) -> an RGBA image: ``color`` as opaque as the coverage."""
    h, w = mask.shape
    arr = np.zeros((h, w, 4), np.uint8)
    arr[..., 0], arr[..., 1], arr[..., 2] = color.red(), color.green(), color.blue()
    arr[..., 3] = np.where(mask, 255, 0) if mask.dtype == bool else mask
    return QImage(arr.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def thumbnail(rgb: np.ndarray, side: int) -> QImage:
    """A QImage scaled to fit ``side`` x ``side`` (smooth)."""
    from PySide6.QtCore import Qt

    img = rgb_to_qimage(rgb)
    return img.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
