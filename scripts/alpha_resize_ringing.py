"""Ringing of a 2x alpha resize on a hard-edged disc matte (128 px, radius 40): pixels that were fully opaque or
fully transparent in the nearest-neighbour 2x and more than 2 output px away from the edge, yet changed."""

import cv2
import numpy as np

yy, xx = np.mgrid[0:128, 0:128]
a = ((((yy - 64) ** 2 + (xx - 64) ** 2) < 40**2) * 255).astype(np.uint8)
big = np.repeat(np.repeat(a, 2, 0), 2, 1)
edge = cv2.dilate(cv2.Canny(big, 1, 2), np.ones((5, 5), np.uint8)) > 0  # within 2 px of the edge
for name, m in [("INTER_LINEAR", cv2.INTER_LINEAR), ("INTER_LANCZOS4", cv2.INTER_LANCZOS4)]:
    b = cv2.resize(a, (256, 256), interpolation=m)
    far = ~edge
    print(
        f"{name}: changed away from the edge {int(((b != big) & far).sum())}, opaque made partial "
        f"{int(((big == 255) & (b < 255)).sum())}, transparent made partial {int(((big == 0) & (b > 0)).sum())}"
    )
