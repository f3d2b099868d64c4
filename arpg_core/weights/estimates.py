"""What a catalog entry costs here: approximate download size, memory, and time per image on this machine.

Torch is imported only when this machine's speed has to be measured (arpg_core.weights.calibrate), never to read a
stored measurement or the sizes.
"""

from __future__ import annotations

from arpg_core.weights import calibrate
from arpg_core.weights.calibrate import Speed
from arpg_core.weights.catalog import REGISTRY, ModelEntry


def estimate(entry: ModelEntry | str, speed: Speed | None = None, measure: bool = True) -> dict:
    """Approximate download size, memory (fp32 on the CPU) and time per image of a registry entry.

    ``memory_bytes`` is the model's own weights in fp32 (about 5.2 GB for ARPG-XXL); the tokenizer it pairs with
    adds ``tokenizer_memory_bytes``. ``seconds_per_image`` (fp32) and ``seconds_per_image_int8`` are for one
    64-step image (sampling, batch 1 with guidance) on this machine: from ``speed``, else the measurement kept
    in the model cache, taken on first use (arpg_core.weights.calibrate); None for a tokenizer, or when nothing is
    measured and ``measure`` is False.
    """
    if isinstance(entry, str):
        entry = REGISTRY[entry]
    tok = REGISTRY.get(entry.tokenizer) if entry.tokenizer else None
    seconds = seconds_int8 = measured = None
    if entry.kind == "arpg":
        if speed is None:
            speed = calibrate.speed(measure=measure)
        if speed is not None:
            n = calibrate.parameters_of(entry.name, entry.parameters)
            seconds = _round_seconds(speed.seconds_per_image(n, "fp32"))
            seconds_int8 = _round_seconds(speed.seconds_per_image(n, "int8"))
            measured = speed.machine
    return {
        "name": entry.name,
        "parameters": entry.parameters,
        "download_bytes": entry.approx_download_bytes,
        "memory_bytes": 4 * entry.parameters,
        "tokenizer": entry.tokenizer,
        "tokenizer_memory_bytes": 4 * tok.parameters if tok else 0,
        "seconds_per_image": seconds,
        "seconds_per_image_int8": seconds_int8,
        "steps": calibrate.STEPS_PER_IMAGE,
        "measured": measured,  # the machine, threads and others' load of the measurement
        "native_px": entry.native_px,
        "classes": entry.classes_source,
        "approximate": True,
    }


def _round_seconds(s: float) -> float:
    return round(s, 2) if s < 1 else round(s, 1) if s < 10 else float(round(s))
