"""The bounds of every number a request takes, checked once, here, before any work.

Each refusal is an ``OptionError`` (a ValueError) that names the option and its allowed range in one line. The
option is named by its field (``cfg_scale``, ``top_p``, ...); a front end that spells it otherwise (the command
line's ``--cfg``) reports ``e.renamed("--cfg")``. Checks come in three layers, so each runs as early as it can:

- ``check_options``: the numbers alone (before any file is read);
- ``check_inputs``: against the image and mask (before the model is loaded);
- ``check_for_model``: against the model's grid, vocabulary and classes (before any compute).

``check_request`` runs all three; ``Engine.check`` calls it. Nothing here imports torch.
"""

from __future__ import annotations

import math
import numbers

MAX_STEPS = 1024
MAX_CFG = 100.0
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 100.0  # 0 is allowed too: greedy
MIN_TOP_P = 0.001
MAX_TOP_K = 1 << 24
MAX_VARIANTS = 16
MAX_DILATE = 64  # tokens: the largest grid side a model may have; a model's own grid side bounds it further
MAX_FEATHER = 8192  # px; the image's larger side bounds it further
MAX_EXTEND = 8192  # px per side
MAX_LOCK = 16.0  # px
MAX_COLOUR_MATCH = 64.0  # px
MAX_DETAIL = 2.0  # times the grain the known pixels lost
MAX_PIXELS = 64_000_000  # of the image, the extended canvas and the 2x result
MIN_QUALITY, MAX_QUALITY = 1, 100


class OptionError(ValueError):
    """A number outside its allowed range; ``option`` is the request field, the message says what is allowed."""

    def __init__(self, option: str, allowed: str, value, label: str | None = None):
        self.option, self.allowed, self.value = option, allowed, value
        super().__init__(self.renamed(label or option))

    def renamed(self, name: str) -> str:
        return f"{name} must be {self.allowed}, got {show(self.value)}"


def show(value) -> str:
    """A value for a message: short, and numbers the way a person typed them."""
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_int(option: str, value, lo: int, hi: int, unit: str = "", label: str | None = None) -> int:
    allowed = f"a whole number between {lo} and {hi}{unit}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise OptionError(option, allowed, value, label)
    return int(value)


def check_real(option: str, value, lo: float, hi: float, unit: str = "", label: str | None = None) -> float:
    allowed = f"a number between {lo:g} and {hi:g}{unit}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise OptionError(option, allowed, value, label)
    if not lo <= value <= hi:
        raise OptionError(option, allowed, value, label)
    return float(value)


def check_quality(quality) -> int:
    """JPEG and WebP quality (checked for every format, so a typo never waits for the output to matter)."""
    return check_int("quality", quality, MIN_QUALITY, MAX_QUALITY)


def check_heads(n_head, dim: int | None) -> int:
    """Attention heads for a model of width ``dim``: a divisor of dim with a head size that is a multiple of 4."""
    if dim is None or dim < 4:
        return check_int("heads", n_head, 1, 4096)
    divisors = [h for h in range(1, dim // 4 + 1) if dim % h == 0 and (dim // h) % 4 == 0]
    allowed = f"one of {', '.join(map(str, divisors[:12]))}{' ...' if len(divisors) > 12 else ''} (dim {dim})"
    if isinstance(n_head, bool) or not isinstance(n_head, numbers.Integral) or n_head not in divisors:
        raise OptionError("heads", allowed, n_head)
    return int(n_head)


def check_temperature(t) -> float:
    if not (isinstance(t, numbers.Real) and not isinstance(t, bool) and math.isfinite(t)) or (
        t != 0 and not MIN_TEMPERATURE <= t <= MAX_TEMPERATURE
    ):
        raise OptionError("temperature", f"0 (greedy) or between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g}", t)
    return float(t)


def check_options(r) -> None:
    """The request's numbers on their own, before any input is read (its own ``check_options``)."""
    r.check_options()


def check_inputs(r) -> None:
    """The request against its image and mask, before the model is loaded (its own ``check_inputs``)."""
    r.check_inputs()


def check_for_model(r, *, grid_side: int, vocab_size: int, num_classes: int) -> None:
    """The request against the model that will run it, before any compute."""
    dilate = getattr(r, "dilate", 0)  # inpaint only
    check_int("dilate", dilate, 0, grid_side, f" tokens (this model's grid is {grid_side}x{grid_side})")
    check_int("top_k", r.sampling.top_k, 0, vocab_size, f" (0 = off; this model has {vocab_size} tokens)")
    if r.label is not None and not (isinstance(r.label, numbers.Integral) and 0 <= r.label < num_classes):
        raise ValueError(f"class {r.label} is outside 0..{num_classes - 1} for this model")


def check_request(r, *, grid_side: int, vocab_size: int, num_classes: int) -> None:
    check_options(r)
    check_inputs(r)
    check_for_model(r, grid_side=grid_side, vocab_size=vocab_size, num_classes=num_classes)
