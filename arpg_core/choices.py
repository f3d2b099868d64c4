"""The lists of choices the sampler accepts, in one torch-free place: the sampler validates against them
and the app's widgets offer exactly them (import-linter keeps widgets away from the sampler itself)."""

from __future__ import annotations

SCHEDULES = ("arccos", "cosine")  # how many tokens each step decodes
CFG_SCHEDULES = ("constant", "linear")  # how the guidance scale moves over the steps
