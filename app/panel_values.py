"""The side panel's values that are plain arithmetic: the outpaint presets and the run's time left, as text."""

from __future__ import annotations

SCALE_PRESETS = (1.25, 1.5, 2.0)
ASPECTS = (("1:1", 1, 1), ("4:3", 4, 3), ("3:2", 3, 2), ("16:9", 16, 9), ("9:16", 9, 16), ("3:4", 3, 4))


# Fill's and Extend's checkboxes (shown on both pages, one setting each): the request field, its label and tip
FILL_CHECKS = {
    "colour_match": (
        "Match colours to the surroundings",
        "On: the result is shifted by the model's colour error on the pixels around it, so it takes\n"
        "the colours of its surroundings. Off: the model's raw result.",
    ),
    "detail": (
        "Restore fine grain from the surroundings",
        "On: the fine grain the model's tokenizer blurs away (grass blades, weave, film noise) is taken\n"
        "from the most alike pixels around the edit and added to it. Off: the model's smooth result.",
    ),
}


def extend_for_scale(size: tuple[int, int], factor: float) -> tuple[int, int, int, int]:
    """Equal extension on all sides so the canvas becomes ``factor`` times as large."""
    W, H = size
    dw, dh = round(W * factor) - W, round(H * factor) - H
    return dw // 2, dh // 2, dw - dw // 2, dh - dh // 2


def extend_for_aspect(size: tuple[int, int], aw: int, ah: int) -> tuple[int, int, int, int]:
    """The smallest symmetric extension that reaches the aspect ratio aw:ah."""
    W, H = size
    if W * ah < H * aw:
        dw = round(H * aw / ah) - W
        return dw // 2, 0, dw - dw // 2, 0
    dh = round(W * ah / aw) - H
    return 0, dh // 2, 0, dh - dh // 2


def time_left(eta: float) -> str:
    if eta < 1:
        return "under a second left"
    if eta < 59.5:
        return f"about {eta:.0f} s left"
    minutes, seconds = divmod(round(eta), 60)
    return f"about {minutes} min {seconds:02d} s left"
