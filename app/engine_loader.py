"""The one place the app obtains an engine; tests swap this function or pass an engine directly."""

from __future__ import annotations


def load_default_engine(
    model: str = "embedded", tokenizer: str = "", device: str = "auto", precision: str = "auto", threads: str = "auto"
):
    """Load the engine named in Preferences (the embedded model by default). Runs in a worker thread.

    ``threads`` is Preferences > Threads ('auto' or a count), the thread policy's setting-level override."""
    from arpg_core.weights.registry import load_engine

    return load_engine(
        model or "embedded",
        tokenizer=tokenizer or None,
        device=device or "auto",
        precision=precision or "auto",
        threads={"setting": threads},
    )
