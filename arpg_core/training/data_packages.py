"""Fetching the sources of training photos: Debian packages and Python wheels, what each file in them is.

``apt-get download`` and ``dpkg-deb -x`` (nothing is installed) for the ``.deb`` files, ``pip download
--no-deps`` for the wheels; then, per file, its upstream path, its label from the source's picks and its
licence (DEP-5 copyright files, or a wheel's rules). The sources themselves are :mod:`arpg_core.training.data_sources`.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from arpg_core.training.data_sources import SKIP, Source
from arpg_core.training.rcc import read_rcc

RASTER_EXTS = (".jpg", ".jpeg", ".png", ".webp")


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
