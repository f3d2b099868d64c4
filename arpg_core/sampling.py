"""How the unknown tokens of a decode are drawn: ``SamplingParams``, the one place for its defaults.

Shared by the sampler (``arpg_core.nn.sampler``, which runs it) and every edit request
(``arpg_core.edit.requests``, which nests it), so it sits below both; it imports no torch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from arpg_core.choices import CFG_SCHEDULES, PREFILLS, SCHEDULES
from arpg_core.validate import MAX_CFG, MAX_STEPS, MAX_TOP_K, MIN_TOP_P, check_int, check_real, check_temperature


@dataclass(frozen=True)
class SamplingParams:
    """How the unknown tokens are drawn. Out-of-range values raise ``OptionError`` naming the field; a request
    also bounds the temperature away from 0 (``EditRequest.check_options``), the sampler takes any >= 0."""

    num_steps: int = 32
    schedule: str = "arccos"
    cfg_scale: float = 3.0  # 1.0 turns guidance off: only the conditional rows run
    cfg_schedule: str = "constant"
    temperature: float = 1.0  # 0 samples greedily
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1: off
    # An edit's known tokens enter the cache causally, as context does in training; all at once they see each other,
    # a state no training step made, and a well-trained model predicts the unknown ones far worse (docs/prefill.md).
    prefill: str = "causal"

    def __post_init__(self):
        check_int("steps", self.num_steps, 1, MAX_STEPS)
        check_real("cfg_scale", self.cfg_scale, 0.0, MAX_CFG, " (1 = off)")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0:
            check_temperature(t)  # raises, naming what a request takes
        check_int("top_k", self.top_k, 0, MAX_TOP_K, " (0 = off)")
        check_real("top_p", self.top_p, MIN_TOP_P, 1.0, " (1 = off)")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.cfg_schedule not in CFG_SCHEDULES:
            raise ValueError(f"unknown CFG schedule {self.cfg_schedule!r}; choose one of {', '.join(CFG_SCHEDULES)}")
        if self.prefill not in PREFILLS:
            raise ValueError(f"unknown prefill {self.prefill!r}; choose one of {', '.join(PREFILLS)}")

    @property
    def guided(self) -> bool:
        return self.cfg_scale != 1.0
