"""Request defaults for a given model: the core's (``arpg_core.edit.requests.default``) with the model's own
defaults over them (``ModelEntry.defaults`` in the catalog, data). The front ends ask here when they
know the model: the CLI for ``--temperature``, the app for a new panel (it opens on the embedded model)."""

from __future__ import annotations

from dataclasses import replace

from arpg_core.edit.requests import SAMPLING_FIELDS, default
from arpg_core.weights.catalog import own_defaults


def model_default(name: str, mode: str | None = None, model: str | None = None):
    """``default(name, mode)``, unless ``model`` (a catalog name) sets its own value for that field;
    ``name="sampling"`` gives the mode's whole ``SamplingParams`` with the model's values in it. A file or None
    has no defaults of its own."""
    own = own_defaults(model)
    if name in own:
        return own[name]
    tuned = {k: v for k, v in own.items() if k in SAMPLING_FIELDS}
    if name == "sampling" and tuned:
        return replace(default("sampling", mode), **tuned)
    return default(name, mode)
