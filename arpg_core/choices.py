"""Every list of choices the core accepts, in one torch-free place: the core validates against them and the
app's widgets and the command line offer exactly them (import-linter keeps widgets away from torch)."""

from __future__ import annotations

MODES = ("inpaint", "outpaint", "expand", "generate")  # one typed request each (arpg_core.edit.requests)
SCHEDULES = ("arccos", "cosine")  # how many tokens each step decodes
CFG_SCHEDULES = ("constant", "linear")  # how the guidance scale moves over the steps
# How an edit's known tokens enter the KV cache: "causal" (each sees the ones before it in raster order, as every
# token does in training) or "bidirectional" (all at once, seeing each other; the reference fixture's semantics)
PREFILLS = ("causal", "bidirectional")
ROPES = ("pi", "ntk")  # expand: "pi" interpolates every rotary frequency, "ntk" extrapolates the highest ones
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # of the model's weights (arpg_core.edit.pipeline.resolve_precision)
DEVICES = ("auto", "cpu", "cuda", "mps")
SIDES = ("left", "top", "right", "bottom")  # the order of an outpaint's extension
