"""Fuzzing the image, mask and checkpoint loaders with hypothesis (run by tests/test_fuzz.py, in a process of its own).

Every input must either load or be refused with the loader's own error (ImageError, CheckpointError) in one line:
no other exception, no traceback text, no multi-line message. The process's peak resident memory may grow by at
most ``ARPG_FUZZ_MAX_MB`` (320) over its warmed-up baseline, and its address space by at most 1 GB: a file of a
few KB must not make a loader allocate what its header claims. (An image's header may still claim up to 64
megapixels, which Pillow allocates before it finds the data missing: 256 MB at most.)

Inputs are random bytes, mutations (flipped bytes, truncations, overwritten size fields) of small valid files in
every format the loaders read, crafted safetensors headers and metadata configs with hostile values, and the
text files people save by mistake. The run is bounded: ``ARPG_FUZZ_EXAMPLES`` examples per loader (default 120;
tests/test_fuzz.py runs 300)
and a fixed seed, so CI sees the same cases every time; set ``ARPG_FUZZ_RANDOM=1`` to explore new ones.

    python tests/fuzz_loaders.py            # exits 0 when every property holds
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from arpg_core.files.checkpoints import build_arpg, build_vq, read_checkpoint, save_safetensors
from arpg_core.files.imageio import ImageError, load_image, load_mask
from arpg_core.files.safefile import CheckpointError
from arpg_core.nn.config import ARPGConfig, VQConfig
from arpg_core.nn.model import ARPG
from arpg_core.nn.tokenizer import VQModel

EXAMPLES = int(os.environ.get("ARPG_FUZZ_EXAMPLES", "120"))
MAX_GROWTH_MB = int(os.environ.get("ARPG_FUZZ_MAX_MB", "320"))  # resident
MAX_VIRTUAL_MB = 1024  # address space: an allocation never touched counts here (2 GB reads of a 200-byte file)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("ARPG_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
WORK = Path(tempfile.mkdtemp(prefix="arpg-fuzz-"))

# --- seeds: small valid files ------------------------------------------------------------------------------


def _image_bytes(arr: np.ndarray, mode: str, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _image_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
    gray = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    seeds = [
        _image_bytes(rgb, "RGB", "PNG"),
        _image_bytes(rgba, "RGBA", "PNG"),
        _image_bytes(gray, "L", "PNG"),
        _image_bytes(rgb, "RGB", "JPEG", quality=80),
        _image_bytes(rgb, "RGB", "WEBP"),
        _image_bytes(rgb, "RGB", "BMP"),
        _image_bytes(rgb, "RGB", "TIFF"),
        _image_bytes(gray, "L", "GIF"),
    ]
    im16 = Image.fromarray(gray.astype(np.uint16) * 257)
    buf = io.BytesIO()
    im16.save(buf, format="PNG")
    seeds.append(buf.getvalue())
    pal = Image.fromarray(gray, "L").convert("P")
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=0)
    seeds.append(buf.getvalue())
    return seeds


def png_with_header(width: int, height: int, depth: int, color: int, body: bytes) -> bytes:
    """A PNG whose IHDR says what the caller wants, with valid CRCs, and an IDAT of ``body``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


FUZZ_ARPG = ARPGConfig(dim=16, n_layer=2, n_head=2, vocab_size=8, num_classes=2, block_size=4, multiple_of=16)
FUZZ_VQ = VQConfig(
    codebook_size=8,
    codebook_dim=4,
    z_channels=4,
    ch=4,
    ch_mult=(1,),
    encoder_res_blocks=1,
    decoder_res_blocks=1,
    num_groups=2,
    show_usage=False,
)


def _checkpoint_seeds() -> list[bytes]:
    torch.manual_seed(0)
    arpg, vq = ARPG(FUZZ_ARPG), VQModel(FUZZ_VQ)
    seeds = []
    for kind, model in (("arpg", arpg), ("vq", vq)):
        path = WORK / f"seed-{kind}.safetensors"
        save_safetensors(path, model.state_dict(), {"kind": kind, "config": model.cfg.to_dict()})
        seeds.append(path.read_bytes())
        buf = io.BytesIO()
        torch.save({"model": model.state_dict()}, buf)
        seeds.append(buf.getvalue())
    return seeds


IMAGE_SEEDS = _image_seeds()
CKPT_SEEDS = _checkpoint_seeds()
ARPG_KEYS = list(ARPG(FUZZ_ARPG).state_dict())
TEXTS = [
    b"root:x:0:0:root:/root:/bin/bash\n",
    b"hello",
    b"<!DOCTYPE html><html><body>Sign in</body></html>",
    b"Entry not found",
    b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n",
    b'{"error": "Repository not found"}',
    b"\xef\xbb\xbf   \n",
]

# --- strategies ----------------------------------------------------------------------------------------------


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "int", "cut", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "int":  # a size field of a header, overwritten with something large or odd
            value = draw(st.sampled_from([0, 1, 255, 65535, 2**31 - 1, 2**32 - 1, 8000, 100_000]))
            data[at : at + 4] = struct.pack("<I" if draw(st.booleans()) else ">I", value)
        elif op == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


hostile_number = st.one_of(
    st.integers(-(2**40), 2**40),
    st.sampled_from([0, 1, -1, 2, 3, 4, 16, 64, 10**9, 10**12, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
    st.lists(st.integers(-2, 70), max_size=3),
)


@st.composite
def hostile_config(draw, kind: str):
    base = (FUZZ_ARPG if kind == "arpg" else FUZZ_VQ).to_dict()
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.text(max_size=8), st.none(), st.lists(st.integers(), max_size=3), st.integers()))
    for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        base[key] = draw(hostile_number)
    return base


@st.composite
def crafted_safetensors(draw) -> bytes:
    """A header of hypothesis's choosing (shapes, dtypes, offsets, metadata config) over a few bytes of data."""
    data = draw(st.binary(max_size=512))
    names = draw(st.lists(st.sampled_from([*ARPG_KEYS, "quantize.embedding.weight", "x"]), max_size=4, unique=True))
    tensors = {}
    for name in names:
        shape = draw(st.lists(st.one_of(st.integers(0, 8), st.sampled_from([2**20, 2**31, 2**62])), max_size=3))
        dtype = draw(st.sampled_from(["F32", "F16", "BF16", "I64", "BOOL", "F8_E4M3", "Q4", 7]))
        start = draw(st.integers(0, len(data)))
        end = draw(st.one_of(st.integers(start, len(data)), st.sampled_from([start, 2**40])))
        tensors[name] = {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}
    kind = draw(st.sampled_from(["arpg", "vq"]))
    meta = {"format": "arpg-studio/1", "kind": json.dumps(kind), "config": json.dumps(draw(hostile_config(kind)))}
    if draw(st.booleans()):
        tensors["__metadata__"] = meta
    header = json.dumps(tensors).encode()
    if draw(st.booleans()):
        header += b" " * draw(st.integers(0, 7))
    return struct.pack("<Q", len(header)) + header + data


@st.composite
def relabelled(draw) -> bytes:
    """A valid tiny model whose recorded config is replaced by a hostile one (the issue's memory bomb)."""
    kind = draw(st.sampled_from(["arpg", "vq"]))
    torch.manual_seed(0)
    model = ARPG(FUZZ_ARPG) if kind == "arpg" else VQModel(FUZZ_VQ)
    from safetensors.torch import save

    cfg = draw(hostile_config(kind))
    if draw(st.booleans()) and isinstance(cfg, dict):
        cfg.update(dim=8192, n_layer=48, n_head=64) if kind == "arpg" else cfg.update(ch=4096, codebook_size=2**24)
    meta = {"format": "arpg-studio/1", "kind": json.dumps(kind), "config": json.dumps(cfg)}
    return save(model.state_dict(), metadata=meta)


image_inputs = st.one_of(
    st.binary(max_size=2048),
    mutated(IMAGE_SEEDS),
    st.builds(
        png_with_header,
        st.one_of(st.integers(0, 64), st.sampled_from([2**31 - 1, 100_000, 8000, 65535])),
        st.one_of(st.integers(0, 64), st.sampled_from([2**31 - 1, 100_000, 8000, 65535])),
        st.sampled_from([1, 2, 4, 8, 16, 3]),
        st.sampled_from([0, 2, 3, 4, 6, 5]),
        st.one_of(st.binary(max_size=64), st.just(zlib.compress(b"\0" * 4096))),
    ),
    st.sampled_from(TEXTS),
)
checkpoint_inputs = st.one_of(
    st.binary(max_size=2048),
    mutated(CKPT_SEEDS),
    crafted_safetensors(),
    relabelled(),
    st.sampled_from(TEXTS),
    st.sampled_from(CKPT_SEEDS),
)

# --- the properties ------------------------------------------------------------------------------------------


def _peaks_mb() -> tuple[float, float]:
    """(peak resident, peak virtual) of this process in MB; virtual is 0 where /proc is missing."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    virtual = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                virtual = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, virtual


BASELINE: tuple[float, float] = (0.0, 0.0)


def _write(data: bytes, suffix: str) -> Path:
    path = WORK / f"input{suffix}"
    path.write_bytes(data)
    return path


def _check(fn, allowed: type[Exception], data: bytes) -> None:
    try:
        fn()
    except allowed as e:
        text = str(e)
        assert text and "\n" not in text and "Traceback" not in text, f"not one line: {text!r}"
        assert len(text) < 2000, f"an overlong message ({len(text)} chars)"
    rss, virtual = _peaks_mb()
    if rss - BASELINE[0] > MAX_GROWTH_MB or virtual - BASELINE[1] > MAX_VIRTUAL_MB:
        # peaks only grow: the first input over the limit is the culprit (hypothesis's shrinking cannot be)
        culprit = WORK / "culprit.bin"
        if not culprit.exists():
            culprit.write_bytes(data)
            print(f"over the memory limit on {len(data)} bytes, kept in {culprit}: {data[:96]!r}", flush=True)
        raise AssertionError(
            f"peak memory grew by {rss - BASELINE[0]:.0f} MB resident, {virtual - BASELINE[1]:.0f} MB virtual"
        )


@SETTINGS
@given(image_inputs, st.sampled_from([".png", ".jpg", ".bin"]))
def fuzz_image(data: bytes, suffix: str) -> None:
    path = _write(data, suffix)
    _check(lambda: load_image(path), ImageError, data)


@SETTINGS
@given(image_inputs, st.sampled_from([None, (10, 12), (8, 8)]))
def fuzz_mask(data: bytes, size) -> None:
    path = _write(data, ".png")
    _check(lambda: load_mask(path, size), ImageError, data)


def _load_model(path: Path) -> None:
    ckpt = read_checkpoint(path)
    if ckpt.kind == "arpg":
        build_arpg(ckpt)
    elif ckpt.kind == "vq":
        build_vq(ckpt)


@SETTINGS
@given(checkpoint_inputs, st.sampled_from([".safetensors", ".pt"]))
def fuzz_checkpoint(data: bytes, suffix: str) -> None:
    path = _write(data, suffix)
    _check(lambda: _load_model(path), CheckpointError, data)


def main() -> int:
    global BASELINE
    # warm up every code path once (lazy imports, thread pools, allocator arenas), then take the baseline
    for seed in IMAGE_SEEDS:
        path = _write(seed, ".png")
        load_image(path)
        load_mask(path)
    for i, seed in enumerate(CKPT_SEEDS):
        # the VQ .pt is refused: its GroupNorm groups cannot be inferred from shapes (only a config has them)
        with contextlib.suppress(CheckpointError):
            _load_model(_write(seed, ".safetensors" if i % 2 == 0 else ".pt"))
    BASELINE = _peaks_mb()
    for prop in (fuzz_image, fuzz_mask, fuzz_checkpoint):
        prop()
        print(f"{prop.__name__}: {EXAMPLES} examples passed", flush=True)
    rss, virtual = _peaks_mb()
    print(f"peak memory growth: {rss - BASELINE[0]:.0f} MB resident, {virtual - BASELINE[1]:.0f} MB virtual")
    return 0


if __name__ == "__main__":
    sys.exit(main())
