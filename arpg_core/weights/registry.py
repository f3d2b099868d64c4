"""Engine assembly: from a model name or file (and its tokenizer) to a ready :class:`~arpg_core.edit.pipeline.Engine`.

What the names stand for is the catalog (``arpg_core.weights.catalog``) and the user's cache
(``arpg_core.weights.model_files``);
which device runs it is ``arpg_core.weights.devices``.
"""

from __future__ import annotations

from pathlib import Path

from arpg_core.edit.pipeline import Engine
from arpg_core.files.checkpoints import CheckpointError, build_arpg, build_vq, read_checkpoint
from arpg_core.weights.catalog import EMBEDDED_ARPG_FILE, EMBEDDED_VQ_FILE, REGISTRY, assets_dir, class_names_for
from arpg_core.weights.devices import resolve_device
from arpg_core.weights.model_files import installed_path
from arpg_core.weights.weights_errors import not_installed


def resolve_path(spec: str, default_file: str) -> Path:
    """A preset name ("embedded", "ARPG-L"), a name given at import, or a file path, to the file it stands for.

    Registry names come first, then existing files, then names of models imported under a name of their own.
    """
    if spec in ("embedded", "embedded-tokenizer"):
        path = assets_dir() / default_file
        if not path.is_file():
            raise CheckpointError(f"the embedded weights are missing: {path} not found")
        return path
    if spec in REGISTRY:
        path = installed_path(spec)
        if path is None:
            raise not_installed(spec)
        return path
    if Path(spec).is_file():
        return Path(spec)
    return installed_path(spec) or Path(spec)


def _recorded_tokenizer(name: str, model_path: Path) -> Path:
    """A tokenizer named in a model's metadata: a known or installed model name, or a plain file name beside the
    model. A path elsewhere (``/etc/passwd``, ``../x``) is refused: a file must not make the app read others."""
    if name in REGISTRY or name in ("embedded", "embedded-tokenizer"):
        return resolve_path(name, EMBEDDED_VQ_FILE)
    path = installed_path(name)
    if path is not None:
        return path
    plain = name not in ("", ".", "..") and Path(name).name == name and "\\" not in name and "/" not in name
    if plain and (model_path.parent / name).is_file():
        return model_path.parent / name
    raise CheckpointError(
        f"{model_path}: its metadata names the tokenizer {name[:80]!r}, which is neither a known model nor a file "
        "beside it; pass --tokenizer"
    )


def load_engine(
    model: str = "embedded",
    tokenizer: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    threads: dict | None = None,
) -> Engine:
    """An Engine from a preset name or files. The embedded model brings its own tokenizer.

    ``precision`` goes to :class:`Engine` ("auto", "fp32", "bf16", or "int8", the CPU fast mode); ``threads``
    overrides the thread policy ({"cli": N} or {"setting": N}, see arpg_core.threads)."""
    dev = resolve_device(device)
    model_path = resolve_path(model, EMBEDDED_ARPG_FILE)
    arpg_ckpt = read_checkpoint(model_path)
    arpg = build_arpg(arpg_ckpt)
    arpg_ckpt.state_dict.clear()  # the model owns those tensors now; int8 can free each fp32 weight as it goes
    if tokenizer is not None:
        tok_path = resolve_path(tokenizer, EMBEDDED_VQ_FILE)  # the user's own choice: any name or file
    else:
        # the embedded model, a preset (its pairing) or a file we installed (the pairing recorded at import)
        entry = REGISTRY.get(model)
        tokenizer = entry.tokenizer if entry else arpg_ckpt.metadata.get("tokenizer")
        if not isinstance(tokenizer, str):
            raise CheckpointError("an ARPG file needs its tokenizer: pass --tokenizer (VQ-16 for the official models)")
        tok_path = _recorded_tokenizer(tokenizer, model_path)
    vq = build_vq(read_checkpoint(tok_path))
    names = class_names_for(arpg.cfg.num_classes, arpg_ckpt.metadata)
    recorded = arpg_ckpt.metadata.get("model")
    name = model if model in REGISTRY or model == recorded else Path(model).stem
    return Engine(
        arpg, vq, class_names=names, name=name, device=dev, precision=precision, threads=threads, int8_source=model_path
    )
