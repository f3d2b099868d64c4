"""Checks on weights files that run before anything big is allocated or anything is unpickled.

- ``identify`` names the common wrong files (an HTML page, a Git LFS pointer, the hub's error body, plain text,
  an image, an archive) from their first bytes, so they are never handed to a loader.
- ``read_header`` parses a safetensors header by itself, with bounds: the header is at most ``MAX_HEADER`` bytes,
  every tensor has a known dtype and a shape whose byte size matches its offsets, and the tensors exactly fill
  the rest of the file. A truncated file, or one whose header claims more than the file holds, is refused here.
- ``check_zip`` accepts a PyTorch zip only when every member is stored uncompressed inside the file, so what
  torch.load maps or reads is bounded by the file's size (no zip bomb).
- ``check_tensor_bounds`` refuses tensors that claim more elements than their storage holds (a stride-0 view
  that would explode when copied); ``check_finite`` refuses NaN and Inf weights.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from arpg_core.files.checkpoint_error import CheckpointError

MAX_HEADER = 8 << 20  # bytes of safetensors header (JSON); real model headers are tens of KB
MAX_DIMS = 8
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
ZIP_MAGIC = b"PK\x03\x04"
_FINITE_CHUNK = 1 << 22  # elements checked at a time: a bounded temporary per chunk


@dataclass(frozen=True)
class TensorInfo:
    dtype: str  # safetensors name: F32, BF16, ...
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class SafeHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    file_size: int


# --- what is this file? ----------------------------------------------------------------------------------

_HUB_ERRORS = ("entry not found", "repository not found", "revision not found", "invalid username or password")
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", None),  # too short a magic to trust alone
    (b"\x1f\x8b", "a gzip archive (unpack it first)"),
    (b"BZh", "a bzip2 archive (unpack it first)"),
    (b"\xfd7zXZ\x00", "an xz archive (unpack it first)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a program (ELF), not weights"),
)


def identify(head: bytes) -> str | None:
    """What a file that is not a checkpoint is, from its first bytes (a few KB); None when it may be one."""
    for magic, what in _MAGIC:
        if what and head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF image"
    if b"\x00" in head:
        return None  # binary: safetensors, a PyTorch pickle, or something the loaders will refuse on their own
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # a character cut at the end of the sample is fine
            return None
        text = head[: e.start].decode("utf-8")
    body = text.lstrip("\ufeff \t\r\n")
    low = body[:1024].lower()
    if low.startswith("version https://git-lfs"):
        return (
            "a Git LFS pointer (a small text file that stands for the weights), not the weights: "
            "fetch the real file (git lfs pull, or download it from the hub)"
        )
    if low.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in low[:512]:
        return "an HTML page (a login or error page saved in place of the weights?)"
    if low.startswith("<?xml"):
        return "an XML document (an error page saved in place of the weights?)"
    for phrase in _HUB_ERRORS:
        if phrase in low[:300]:
            return f"the hub's error answer ({_quote(body)}) saved in place of the weights: check the name and revision"
    if low.startswith("{"):
        error = _json_error(body)
        if error is not None:
            return f"an error message from a server ({_quote(error)}) saved in place of the weights"
        return "a JSON text file, not weights"
    if not body:
        return "a file of blank text, not weights"
    if sum(c.isprintable() or c in "\t\r\n" for c in text) >= 0.95 * len(text):
        return f"a text file, not weights (it begins {_quote(body)})"
    return None


def _json_error(text: str) -> str | None:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, dict):
        for key in ("error", "message", "detail"):
            if isinstance(obj.get(key), str):
                return obj[key]
    return None


def _quote(text: str, limit: int = 48) -> str:
    line = " ".join(text.split())
    return repr(line if len(line) <= limit else line[: limit - 3] + "...")


def read_head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def looks_like_safetensors(head: bytes) -> bool:
    """An 8-byte little-endian header length within bounds, followed by a JSON object."""
    if len(head) < 9 or head.startswith(ZIP_MAGIC):
        return False
    return 0 < int.from_bytes(head[:8], "little") <= MAX_HEADER and head[8:9] == b"{"


# --- safetensors -----------------------------------------------------------------------------------------


def read_header(path: str | os.PathLike) -> SafeHeader:
    """Parse and check a safetensors header; reads nothing but the header. Raises CheckpointError."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a readable safetensors file ({_kind_of(path)}; {size} bytes)")
        n = int.from_bytes(head, "little")
        if n > MAX_HEADER or n < 2:
            raise CheckpointError(f"{path}: not a readable safetensors file ({_kind_of(path)})")
        if n + 8 > size:
            raise CheckpointError(
                f"{path}: not a readable safetensors file (truncated: its header claims {n} bytes, {size - 8} follow)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file (its header is not JSON: {e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a readable safetensors file (its header is not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: not a readable safetensors file (its metadata is not text)")
    data = size - 8 - n
    tensors = {name: _tensor_info(path, name, info, data) for name, info in header.items()}
    claimed = max((t.end for t in tensors.values()), default=0)
    if claimed > data:
        raise CheckpointError(
            f"{path}: the file is truncated (or damaged): its header describes {claimed} bytes of tensors, "
            f"it holds {data}"
        )
    spans = sorted((t.start, t.end) for t in tensors.values())
    end = 0
    for start, stop in spans:
        if start != end:
            raise CheckpointError(f"{path}: not a readable safetensors file (its tensors overlap or leave gaps)")
        end = stop
    if end != data:
        raise CheckpointError(f"{path}: not a readable safetensors file ({data - end} bytes after the last tensor)")
    return SafeHeader(tensors, metadata, size)


def _tensor_info(path: Path, name: str, info, data: int) -> TensorInfo:
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: not a readable safetensors file (tensor {_quote(name)}: {why})")

    if not isinstance(info, dict):
        raise bad("no description")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise bad(f"unknown dtype {_quote(str(dtype))}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(_count(s) for s in shape):
        raise bad("the shape is not a list of at most 8 sizes")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(o) for o in offsets):
        raise bad("no valid data offsets")
    start, end = offsets
    if not start <= end:
        raise bad(f"its data offsets ({start}..{end}) are reversed")
    nbytes = DTYPE_BYTES[dtype]
    for s in shape:
        nbytes *= s
        if nbytes > end - start:
            break
    if nbytes != end - start:
        raise bad(f"shape {shape} of {dtype} does not match its {end - start} bytes")
    return TensorInfo(dtype, tuple(shape), start, end)


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _kind_of(path: Path) -> str:
    head = read_head(path)
    if head.startswith(ZIP_MAGIC):
        return "it is a PyTorch pickle (zip)" if _is_torch_zip(path) else "it is a zip archive"
    if head[:1] == b"\x80":
        return "it looks like a pickle"
    return identify(head) or "its first bytes are not a safetensors header"


# --- PyTorch zip files -----------------------------------------------------------------------------------


def _is_torch_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist()[:4096])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def check_zip(path: Path) -> None:
    """A PyTorch zip whose members are all stored (uncompressed) within the file; else CheckpointError."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise CheckpointError(f"{path}: the file is truncated or corrupt, or not a PyTorch checkpoint ({e})") from e
    if not any(i.filename.endswith("data.pkl") for i in infos):
        raise CheckpointError(f"{path}: a zip archive, not a PyTorch checkpoint (no data.pkl inside)")
    total = 0
    for i in infos:
        if i.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{path}: refused: {i.filename} is compressed; PyTorch stores checkpoints uncompressed"
            )
        total += i.file_size
    if total > size:
        raise CheckpointError(f"{path}: the file is truncated or corrupt (its members claim {total} bytes)")


def check_tensor_bounds(path: Path, sd: dict) -> None:
    """Every tensor within its storage, and all of them within the file: copying them is bounded by its size."""
    size = path.stat().st_size
    total = 0
    for k, t in sd.items():
        nbytes = t.numel() * t.element_size()
        storage = t.untyped_storage().nbytes()
        if nbytes > storage or t.storage_offset() * t.element_size() > storage:
            raise CheckpointError(f"{path}: refused: tensor {k} claims {nbytes} bytes but its data holds {storage}")
        total += nbytes
        if total > 2 * size:  # slack for tied weights; anything beyond is a view bomb
            raise CheckpointError(f"{path}: refused: its tensors claim {total} bytes, more than the file holds")


def check_finite(sd: dict, what: str) -> None:
    """Refuse NaN or Inf in floating-point tensors, checked in chunks (no full-size temporary)."""
    import torch

    for k, t in sd.items():
        if not t.is_floating_point():
            continue
        flat = t.detach().reshape(-1)
        for i in range(0, flat.numel(), _FINITE_CHUNK):
            chunk = flat[i : i + _FINITE_CHUNK]
            if chunk.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
                chunk = chunk.float()
            if not bool(torch.isfinite(chunk).all()):
                raise CheckpointError(f"{what}: refused: {k} holds NaN or infinite values (damaged weights)")


def dtype_name(dtype) -> str:
    """The safetensors name of a torch dtype (F32, BF16, ...), for ``shapes.check_fits``."""
    import torch

    names = {
        torch.float64: "F64",
        torch.float32: "F32",
        torch.float16: "F16",
        torch.bfloat16: "BF16",
        torch.int64: "I64",
        torch.int32: "I32",
        torch.int16: "I16",
        torch.int8: "I8",
        torch.uint8: "U8",
        torch.bool: "BOOL",
    }
    for attr, name in (("float8_e4m3fn", "F8_E4M3"), ("float8_e5m2", "F8_E5M2")):
        if hasattr(torch, attr):
            names[getattr(torch, attr)] = name
    return names.get(dtype, str(dtype).removeprefix("torch."))
