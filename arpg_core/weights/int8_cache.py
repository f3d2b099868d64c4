"""A cache of a model's int8 weights, so that an int8 load reuses them instead of quantizing again.

One safetensors file per weights file, in ``<models cache>/int8/``: for every Linear its int8 values, scale
and zero point (the fbgemm-packed form cannot be saved; packing is redone at every load). Its metadata
records what it was made from: the source file's size, mtime, inode and a SHA-256 of its first and last MiB,
the torch version, the cache format, and a CRC-32 of every stored byte. A cache whose record does not
match the source, or that cannot be read, does not match the model's layers or fails its CRC, is never
used: the weights are quantized afresh and the cache is written again, atomically.

Off unless ``ARPG_STUDIO_INT8_CACHE`` is 1 (measured in docs/performance.md: with the single packing of
``arpg_core.nn.loading.quantize_int8_`` the quantization it saves costs about what reading and checking the
cache does).
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path

import torch
from torch import nn

from arpg_core.nn.loading import int8_weights, quantize_int8_, read_safetensors

CACHE_ENV = "ARPG_STUDIO_INT8_CACHE"
FORMAT = "arpg-int8-1"
_EDGE = 1 << 20  # bytes hashed at each end of the source file


def enabled(env=None) -> bool:
    return (os.environ if env is None else env).get(CACHE_ENV, "0") == "1"


def default_folder() -> Path:
    from arpg_core.weights.cache import cache_dir

    return cache_dir() / "int8"


def cache_path(source: str | os.PathLike, folder: str | os.PathLike) -> Path:
    source = Path(source)
    tag = hashlib.sha256(os.path.abspath(source).encode()).hexdigest()[:12]
    return Path(folder) / f"{source.stem}-{tag}.int8.safetensors"


def source_record(source: str | os.PathLike) -> dict[str, str]:
    """What identifies the weights file: size, mtime, inode and a hash of both ends (not the whole file:
    hashing 1.3 GB would cost more than the quantization the cache saves)."""
    st = os.stat(source)
    h = hashlib.sha256()
    with open(source, "rb") as f:
        h.update(f.read(_EDGE))
        f.seek(max(0, st.st_size - _EDGE))
        h.update(f.read(_EDGE))
    return {
        "format": FORMAT,
        "torch": torch.__version__,
        "size": str(st.st_size),
        "mtime_ns": str(st.st_mtime_ns),
        "inode": str(st.st_ino),
        "edges_sha256": h.hexdigest(),
    }


def quantize_cached(model: nn.Module, source: str | os.PathLike, folder: str | os.PathLike | None = None) -> str:
    """Quantize ``model`` (built from ``source``) to int8 in place, from the cache when it is valid.
    Returns "hit", "built" (no cache yet) or "rebuilt" (a stale or broken one was replaced)."""
    path = cache_path(source, default_folder() if folder is None else folder)
    record = source_record(source)
    names = {name for name, m in model.named_modules() if type(m) is nn.Linear}
    weights, status = None, "built"
    if path.exists():
        try:
            weights = _read(path, record, model, names)
            status = "hit"
        except (OSError, ValueError, KeyError, RuntimeError):
            status = "rebuilt"
    quantize_int8_(model, weights)
    if weights is None:
        _write(path, record, int8_weights(model))
    return status


def _read(path: Path, record: dict[str, str], model: nn.Module, names: set[str]):
    tensors, metadata = read_safetensors(path)
    for key, value in record.items():
        if metadata.get(key) != value:
            raise ValueError(f"made for another {key}")
    if _crc(tensors) != int(metadata["crc32"]):
        raise ValueError("its contents do not match their checksum")
    weights = {}
    for name in names:
        linear = model.get_submodule(name)
        values, scale, zero = tensors[f"{name}.int8"], tensors[f"{name}.scale"], tensors[f"{name}.zero_point"]
        if values.dtype != torch.int8 or tuple(values.shape) != tuple(linear.weight.shape):
            raise ValueError(f"{name}: {tuple(values.shape)} {values.dtype}, not the model's layer")
        weights[name] = (values, float(scale.item()), int(zero.item()))
    if len(tensors) != 3 * len(names):
        raise ValueError("layers that the model does not have")
    return weights


def _write(path: Path, record: dict[str, str], weights: dict) -> None:
    from safetensors.torch import save_file

    from arpg_core.files.atomic import atomic_write

    tensors = {}
    for name, (values, scale, zero) in weights.items():
        tensors[f"{name}.int8"] = values.contiguous()
        tensors[f"{name}.scale"] = torch.tensor([scale], dtype=torch.float64)
        tensors[f"{name}.zero_point"] = torch.tensor([zero], dtype=torch.int64)
    crc = _crc(tensors)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp), metadata={**record, "crc32": str(crc), "layers": json.dumps(len(weights))})
    except OSError:
        pass  # a cache that cannot be written only costs the next load its quantization


def _crc(tensors: dict[str, torch.Tensor]) -> int:
    crc = 0
    for _, t in sorted(tensors.items()):
        crc = zlib.crc32(t.contiguous().numpy(), crc)
    return crc
