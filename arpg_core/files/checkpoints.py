"""Reading and writing weights: safetensors first, official ``.pt`` files through weights-only unpickling.

A pickled ``.pt`` file is opened with ``torch.load(weights_only=True)``, which refuses any object that is
not plain tensors and containers, so a malicious file cannot run code. Configs are inferred from the
state dict (or read from our safetensors metadata) and every mismatch is reported by key name.

Nothing is allocated on a file's word: a file is first recognised by its bytes (common wrong files are named,
see ``safefile.identify``), a safetensors header is checked against the file's size, and a config is checked
against the tensor shapes and dtypes (``shapes.check_fits``) before any model is built. Weights must be finite.
Only PyTorch's zip format is unpickled: the legacy format allocates what its header claims before any check.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from arpg_core.files.atomic import atomic_write
from arpg_core.files.checkpoint_header import (
    IGNORED_KEYS,
    _check_recorded,
    _config_from_metadata,
    _decode_metadata,
    _strip,
    describe_unknown,
    detect_kind,
    infer_arpg_config,
    infer_vq_config,
)
from arpg_core.files.safefile import (
    ZIP_MAGIC,
    CheckpointError,
    check_finite,
    check_tensor_bounds,
    check_zip,
    dtype_name,
    identify,
    looks_like_safetensors,
    read_head,
    read_header,
)
from arpg_core.files.shapes import USAGE_BUFFER, USAGE_BUFFER_LEN, check_fits, expected_shapes
from arpg_core.nn.config import ARPGConfig, VQConfig
from arpg_core.nn.loading import finish, meta_model, read_safetensors
from arpg_core.nn.model import ARPG
from arpg_core.nn.tokenizer import VQModel
from arpg_core.validate import check_heads

FORMAT = "arpg-studio/1"
WRAPPER_KEYS = ("state_dict", "model", "module")


@dataclass
class Checkpoint:
    state_dict: dict[str, torch.Tensor]
    kind: str  # "arpg", "vq" or "unknown"
    metadata: dict = field(default_factory=dict)  # our safetensors metadata, decoded


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a state dict from safetensors or a weights-only ``.pt``, unwrapped and with prefixes stripped."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a weights file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        head = read_head(path)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from e
    if head.startswith(ZIP_MAGIC):
        sd, metadata = _read_pickle(path), {}
    elif looks_like_safetensors(head) or (path.suffix == ".safetensors" and not identify(head)):
        sd, metadata = _read_safetensors(path)
    elif head[:1] == b"\x80":
        raise CheckpointError(
            f"{path}: refused: an old-format (pre-2020, non-zip) PyTorch file; it is not read because that format "
            "allocates whatever its header claims. Re-save it with torch.save in a recent PyTorch"
        )
    else:
        what = identify(head) or "neither safetensors nor a PyTorch checkpoint"
        raise CheckpointError(f"{path}: not a weights file: this is {what}")
    sd = {_strip(k): v for k, v in sd.items() if _strip(k) not in IGNORED_KEYS}
    return Checkpoint(sd, detect_kind(sd), metadata)


def arpg_config_of(ckpt: Checkpoint, n_head: int | None = None) -> ARPGConfig:
    _expect_kind(ckpt, "arpg")
    if "config" in ckpt.metadata and n_head is None:
        return _config_from_metadata(None, "arpg", ckpt.metadata)
    if n_head is not None:
        head = ckpt.state_dict.get("head.weight")
        check_heads(n_head, int(head.shape[-1]) if head is not None and head.dim() == 2 else None)
    try:
        return infer_arpg_config(ckpt.state_dict, n_head)
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise CheckpointError(f"cannot infer the ARPG configuration from this file: {e}") from e


def vq_config_of(ckpt: Checkpoint) -> VQConfig:
    _expect_kind(ckpt, "vq")
    if "config" in ckpt.metadata:
        return _config_from_metadata(None, "vq", ckpt.metadata)
    try:
        return infer_vq_config(ckpt.state_dict)
    except (KeyError, ValueError, IndexError, TypeError, ZeroDivisionError) as e:
        raise CheckpointError(f"cannot infer the tokenizer configuration from this file: {e}") from e


def build_arpg(ckpt: Checkpoint, n_head: int | None = None) -> ARPG:
    """The model, whose parameters are the state dict's own tensors (arpg_core.nn.loading: no second copy)."""
    cfg = arpg_config_of(ckpt, n_head)
    _check_fits(ckpt.state_dict, "arpg", cfg, "ARPG model")  # before ARPG(cfg) allocates anything
    check_finite(ckpt.state_dict, "ARPG model")
    model = meta_model(lambda: ARPG(cfg))
    _load_strict(model, ckpt.state_dict, "ARPG model")
    return finish(model).eval()


def build_vq(ckpt: Checkpoint) -> VQModel:
    cfg = vq_config_of(ckpt)
    sd = dict(ckpt.state_dict)
    if cfg.show_usage and USAGE_BUFFER not in sd:
        sd[USAGE_BUFFER] = torch.zeros(USAGE_BUFFER_LEN)  # statistics only, never read
    _check_fits(sd, "vq", cfg, "VQ tokenizer")
    check_finite({k: v for k, v in sd.items() if k != USAGE_BUFFER}, "VQ tokenizer")
    model = meta_model(lambda: VQModel(cfg))
    _load_strict(model, sd, "VQ tokenizer")
    return finish(model).eval()


def load_arpg(path: str | os.PathLike, n_head: int | None = None) -> tuple[ARPG, dict]:
    ckpt = read_checkpoint(path)
    return build_arpg(ckpt, n_head), ckpt.metadata


def load_vq(path: str | os.PathLike) -> tuple[VQModel, dict]:
    ckpt = read_checkpoint(path)
    return build_vq(ckpt), ckpt.metadata


def save_safetensors(path: str | os.PathLike, state_dict: dict, metadata: dict, *, replace: bool = True) -> None:
    """Write atomically: a temporary file in the same folder, then a rename. Values of metadata are JSON.
    With ``replace=False`` an existing file is never replaced, not even one that appears while writing."""
    path = Path(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    meta = {"format": FORMAT, **{k: json.dumps(v) for k, v in metadata.items()}}
    with atomic_write(path, replace=replace) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    n_head: int | None = None,
    class_names: list[str] | None = None,
    force: bool = False,
) -> dict:
    """Convert an ARPG or VQ checkpoint in the official layout to safetensors with its config recorded."""
    from arpg_core.files.atomic import OutputError, OutputSet

    dst = Path(dst)
    if dst.suffix != ".safetensors":
        raise CheckpointError(f"{dst}: the output must end in .safetensors")
    try:
        OutputSet([dst], force=force).check()  # writable, not taken, a name that fits: before any work
    except OutputError as e:
        raise CheckpointError(str(e)) from e
    ckpt = read_checkpoint(src)
    if ckpt.kind == "arpg":
        model = build_arpg(ckpt, n_head)
        config = model.cfg.to_dict()
    elif ckpt.kind == "vq":
        model = build_vq(ckpt)
        config = model.cfg.to_dict()
    else:
        raise CheckpointError(f"{src}: {describe_unknown(ckpt.state_dict)}")
    meta = {"kind": ckpt.kind, "config": config}
    if class_names is not None or "class_names" in ckpt.metadata:
        meta["class_names"] = class_names if class_names is not None else ckpt.metadata["class_names"]
    save_safetensors(dst, model.state_dict(), meta, replace=force)
    return meta


# --- helpers ---------------------------------------------------------------------------------------


def _expect_kind(ckpt: Checkpoint, kind: str) -> None:
    if ckpt.kind == kind:
        return
    names = {"arpg": "an ARPG model", "vq": "a VQ tokenizer"}
    if ckpt.kind in names:
        raise CheckpointError(f"this is {names[ckpt.kind]}, not {names[kind]}")
    raise CheckpointError(describe_unknown(ckpt.state_dict))


def _check_fits(sd: dict, kind: str, cfg, what: str) -> None:
    """The tensors (or header entries) of ``sd`` against what ``cfg`` asks for; nothing is allocated."""
    found = {k: (tuple(v.shape), v.dtype if isinstance(v.dtype, str) else dtype_name(v.dtype)) for k, v in sd.items()}
    check_fits(found, expected_shapes(kind, cfg), what)


def _load_strict(model: torch.nn.Module, sd: dict, what: str) -> None:
    expected = model.state_dict()
    found = {k: (tuple(v.shape), "F32") for k, v in sd.items()}  # dtypes were checked before building
    check_fits(found, {k: tuple(v.shape) for k, v in expected.items()}, what)
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in sd.items()}, strict=True, assign=True)


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    header = read_header(path)  # sizes and offsets checked against the file
    metadata = _decode_metadata(header.metadata)
    names = {_strip(k): v for k, v in header.tensors.items() if _strip(k) not in IGNORED_KEYS}
    kind = detect_kind(names)
    cfg = _config_from_metadata(path, kind, metadata) if kind != "unknown" else None
    if cfg is not None:  # the model a file claims is checked against its tensors, never built on its word
        _check_recorded(path, names, kind, cfg)
    try:
        sd, _ = read_safetensors(path)  # no memory map: peak memory is the tensors alone (arpg_core.nn.loading)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    return sd, metadata


def _read_pickle(path: Path) -> dict:
    check_zip(path)  # stored members within the file: what torch.load maps is bounded by the file's size
    # argparse.Namespace is what official training scripts store as 'args': plain data, safe to allow.
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as e:
        first = (str(e).splitlines() or [""])[0][:160]
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled objects other than tensors, which could run "
            f"code. Only weights are accepted ({first})"
        ) from e
    except Exception as e:  # a damaged zip or pickle can fail in many ways inside torch
        first = (str(e).splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path}: the file is truncated or corrupt, or not a PyTorch checkpoint ({type(e).__name__}: {first})"
        ) from e
    sd = _unwrap(obj, path)
    check_tensor_bounds(path, sd)
    return sd


def _unwrap(obj, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        keys = ", ".join(repr(k)[:40] for k in list(obj)[:6])
        raise CheckpointError(f"{path}: no named tensors found (top-level keys: {keys or 'none'})")
    return tensors
