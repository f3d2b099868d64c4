"""The frozen desktop app: build it from build.spec, run its ``--selftest``, hold the size budget.

Builds with scripts/build_installer.sh into a temporary folder (a few minutes, ~1.7 GB of disk while it
runs), or checks an existing build: ARPG_INSTALLER_DIST=dist (the folder holding arpg-studio/ and the
tarball, or the arpg-studio/ folder itself). An existing build must bundle the same embedded weights as
assets/ and be newer than the sources, otherwise the test fails as stale.

Skips when the embedded weights are not in assets/ or PyInstaller is not installed
(``pip install -e ".[build]"``); ARPG_REQUIRE_INSTALLER=1 turns the PyInstaller skip into a failure.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.installer

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
WEIGHTS = ("embedded-arpg.safetensors", "embedded-tokenizer.safetensors")
EXE = "arpg-studio.exe" if sys.platform == "win32" else "arpg-studio"
MIB = 2**20
MAX_UNPACKED = 850 * MIB
MAX_TARBALL = 320 * MIB
BUILD_TIMEOUT_S = 900
SELFTEST_TIMEOUT_S = 240
SOURCES = ("build.spec", "app", "arpg_core")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tree_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        p = ROOT / name
        files = [p] if p.is_file() else [f for f in p.rglob("*.py")]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def _bundled_assets(app_dir: Path) -> Path:
    for candidate in (app_dir / "_internal" / "assets", app_dir / "assets"):
        if candidate.is_dir():
            return candidate
    raise AssertionError(f"no assets/ folder inside {app_dir}")


@pytest.fixture(scope="module")
def build() -> dict:
    """{'app': the arpg-studio/ folder, 'tarball': its .tar.gz or None, 'tmp': a scratch folder}."""
    missing = [name for name in WEIGHTS if not (ASSETS / name).is_file()]
    if missing:
        pytest.skip(f"the embedded weights are not in assets/ yet ({', '.join(missing)}); the bundle needs them")
    tmp = Path(tempfile.mkdtemp(prefix="arpg-installer-"))
    try:
        given = os.environ.get("ARPG_INSTALLER_DIST")
        if given:
            dist = Path(given).resolve()
            app_dir = dist if (dist / EXE).is_file() else dist / "arpg-studio"
            if not (app_dir / EXE).is_file():
                pytest.fail(f"ARPG_INSTALLER_DIST={given}: no {EXE} in {dist} or {dist / 'arpg-studio'}")
            tarballs = sorted(app_dir.parent.glob("arpg-studio-*.tar.gz"))
            tarball = tarballs[0] if tarballs else None
            _check_fresh(app_dir, tarball)
        else:
            if importlib.util.find_spec("PyInstaller") is None:
                reason = 'PyInstaller is not installed: pip install -e ".[build]"'
                if os.environ.get("ARPG_REQUIRE_INSTALLER"):
                    pytest.fail(reason)
                pytest.skip(reason)
            dist = tmp / "dist"
            env = {**os.environ, "PYTHON": sys.executable}
            res = subprocess.run(
                [
                    "bash",
                    str(ROOT / "scripts" / "build_installer.sh"),
                    "--dist",
                    str(dist),
                    "--work",
                    str(tmp / "work"),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
            )
            assert res.returncode == 0, f"the build failed:\n{res.stdout[-4000:]}\n{res.stderr[-6000:]}"
            app_dir = dist / "arpg-studio"
            tarball = next(iter(dist.glob("arpg-studio-*.tar.gz")), None)
            shutil.rmtree(tmp / "work", ignore_errors=True)
        yield {"app": app_dir, "tarball": tarball, "tmp": tmp}
    finally:
        if not os.environ.get("ARPG_INSTALLER_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def _check_fresh(app_dir: Path, tarball: Path | None) -> None:
    bundled = _bundled_assets(app_dir)
    for name in WEIGHTS:
        if not (bundled / name).is_file() or _sha256(bundled / name) != _sha256(ASSETS / name):
            pytest.fail(f"stale build in {app_dir}: its {name} differs from assets/; rebuild it")
    built = (app_dir / EXE).stat().st_mtime
    if _newest_source_mtime() > built:
        pytest.fail(f"stale build in {app_dir}: build.spec, app/ or arpg_core/ changed after it was built")
    if tarball is not None and tarball.stat().st_mtime < built:
        pytest.fail(f"stale tarball {tarball}: older than the build next to it")


def _app_env(tmp: Path) -> dict:
    """The user's environment minus anything that could point the frozen app at the source tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ARPG_STUDIO_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_CACHE_HOME=str(tmp / "cache"),
    )
    return env


def test_frozen_selftest_runs_a_real_edit(build):
    tmp = build["tmp"] / "selftest"
    tmp.mkdir()
    res = subprocess.run(
        [str(build["app"] / EXE), "--selftest"],
        cwd=tmp,
        env=_app_env(tmp),
        capture_output=True,
        text=True,
        timeout=SELFTEST_TIMEOUT_S,
    )
    assert res.returncode == 0, f"exit {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr[-4000:]}"
    lines = [line for line in res.stdout.splitlines() if line.startswith("selftest")]
    assert len(lines) == 1, f"expected one selftest line on stdout, got:\n{res.stdout}"
    m = re.fullmatch(
        r"selftest ok: (inpaint|outpaint|expand) (\d+)x(\d+) in ([\d.]+) s \((.+) on (\w+), (\d+) steps\)", lines[0]
    )
    assert m, f"not a selftest success line: {lines[0]!r}"
    assert m.group(5) == "embedded" and m.group(6) == "cpu", lines[0]
    assert int(m.group(2)) > 0 and int(m.group(7)) > 0, lines[0]
    logs = list((tmp / "data").rglob("*.log"))
    assert logs, "the frozen app wrote no log file under XDG_DATA_HOME"


def test_frozen_cli_answers(build):
    tmp = build["tmp"] / "cli"
    tmp.mkdir()
    res = subprocess.run(
        [str(build["app"] / EXE), "--help"], cwd=tmp, env=_app_env(tmp), capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "usage: arpg-studio" in res.stdout


def test_frozen_download_goes_through_the_hub_client(build):
    """huggingface_hub, its HTTP stack and the verification run frozen: a local hub serves a file whose
    advertised sha256 is wrong, and the app must refuse it with a message, not a traceback."""
    from hubserver import FakeHub

    from arpg_core.weights.catalog import REGISTRY

    entry = REGISTRY["VQ-16"]
    tmp = build["tmp"] / "download"
    tmp.mkdir()
    env = _app_env(tmp)
    env.update(ARPG_STUDIO_CACHE=str(tmp / "models"), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    env.pop("HF_HUB_OFFLINE", None)
    with FakeHub(timeout=30) as hub:
        hub.add(entry.repo, entry.filename, b"not a checkpoint" * 4096, advertised_sha256="ab" * 32)
        env["HF_ENDPOINT"] = hub.endpoint
        res = subprocess.run(
            [str(build["app"] / EXE), "weights", "download", "VQ-16"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        gets = hub.seen(method="GET")
    assert res.returncode != 0, res.stdout
    assert "Traceback" not in res.stderr, res.stderr[-4000:]
    assert "checksum mismatch" in res.stderr, res.stderr[-4000:]
    assert gets, "the frozen app never fetched the file"
    leftovers = [p for p in (tmp / "models").rglob("*") if p.is_file()] if (tmp / "models").exists() else []
    assert not [p for p in leftovers if p.suffix in (".pt", ".safetensors")], leftovers


def test_bundle_keeps_what_the_app_needs_and_drops_the_rest(build):
    internal = build["app"] / "_internal"
    bundled = _bundled_assets(build["app"])
    for name in WEIGHTS:
        assert _sha256(bundled / name) == _sha256(ASSETS / name), f"{name} in the bundle differs from assets/"
    assert (bundled / "imagenet_classes.txt").is_file()
    assert (internal / "torch" / "bin" / "torch_shm_manager").is_file(), "import torch needs torch_shm_manager"
    assert list(internal.rglob("libQt6DBus*")), "QtGui links libQt6DBus"
    for dropped in ("torch/test", "torch/include", "torch/share", "PySide6/Qt/translations"):
        assert not (internal / dropped).exists(), f"{dropped} should not be bundled"
    platforms = {p.name for p in (internal / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()}
    assert any("xcb" in p for p in platforms) and any("offscreen" in p for p in platforms), platforms
    assert not any("wayland" in p or "eglfs" in p for p in platforms), platforms
    for pattern in ("libtorchbind_test*", "libjitbackend_test*", "libQt6Network*", "libQt6Wayland*"):
        assert not list(internal.rglob(pattern)), f"{pattern} should not be bundled"


def test_size_budget(build):
    app_dir, tarball = build["app"], build["tarball"]
    unpacked = _tree_bytes(app_dir)
    if tarball is None:  # a reused build without its tarball: pack one the way the build script does
        tarball = build["tmp"] / "arpg-studio.tar.gz"
        with open(tarball, "wb") as out:
            tar = subprocess.Popen(["tar", "-C", str(app_dir.parent), "-cf", "-", app_dir.name], stdout=subprocess.PIPE)
            subprocess.run(["gzip", "-6"], stdin=tar.stdout, stdout=out, check=True)
            assert tar.wait() == 0
    packed = tarball.stat().st_size
    report = (
        f"unpacked {unpacked / MIB:.0f} MiB (budget {MAX_UNPACKED // MIB}), "
        f"tar.gz {packed / MIB:.0f} MiB (budget {MAX_TARBALL // MIB})"
    )
    print(report)
    assert unpacked <= MAX_UNPACKED, report
    assert packed <= MAX_TARBALL, report
