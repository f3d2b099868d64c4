"""The error of a weights file that cannot be used; torch-free, so the catalog's errors can build on it."""

from __future__ import annotations


class CheckpointError(ValueError):
    """A weights file that cannot be used; the message says why, for a person."""
