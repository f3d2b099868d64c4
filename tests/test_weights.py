"""The model cache: downloads from a local imitation of the hub, imports, removal, offline use, the CLI.

Tiny models stand in for the official ones, saved the way the official files are (``{"state_dict": ...}`` for
ARPG, ``{"model": ...}`` for the VQ tokenizer) and registered as entries of their own for the test.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hubserver import FakeHub
from tiny import ARPG_PARAMS, TINY_ARPG, TINY_ENTRIES, files_under, pt_bytes, tiny_arpg, tiny_vq

from arpg_core.files.checkpoints import CheckpointError, read_checkpoint
from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS
from arpg_core.weights import cache as weights
from arpg_core.weights.catalog import REGISTRY, imagenet_class_names
from arpg_core.weights.estimates import estimate
from arpg_core.weights.registry import load_engine

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def blobs() -> dict[str, bytes]:
    sd = tiny_arpg().state_dict()
    return {
        "arpg": pt_bytes({"state_dict": sd}),
        "vq": pt_bytes({"model": tiny_vq().state_dict(), "steps": 10}),
        # over one 10 MiB download chunk, so a connection dropped after it resumes with a Range request
        "arpg_big": pt_bytes({"state_dict": sd, "optimizer": {"exp_avg": torch.zeros(2_750_000)}}),
    }


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    for name, entry in TINY_ENTRIES.items():
        monkeypatch.setitem(REGISTRY, name, entry)
    folder = tmp_path / "cache"
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(folder))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    return folder


@pytest.fixture
def hub(cache, monkeypatch):
    with FakeHub(timeout=30) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Payload:
    """Unpickling this would create a marker file: the side effect the loader must never allow."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


# --- download --------------------------------------------------------------------------------------


def test_download_verifies_converts_and_loads(hub, cache, blobs):
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", blobs["arpg"])
    hub.add("test-org/tiny-vq", "tiny_vq.pt", blobs["vq"])
    seen, stages = [], []
    m = weights.download("TINY-ARPG", progress=lambda d, t: seen.append((d, t)), on_stage=stages.append)
    weights.download("TINY-VQ")

    assert m.path == cache / "TINY-ARPG.safetensors" and m.kind == "arpg" and m.parameters == ARPG_PARAMS
    assert seen[-1] == (len(blobs["arpg"]), len(blobs["arpg"]))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert stages == ["downloading", "verifying", "converting"]
    assert m.source["sha256"] == hashlib.sha256(blobs["arpg"]).hexdigest()
    assert m.source["revision"] and m.tokenizer == "TINY-VQ"
    # the .pt and the hub cache are gone: only the converted files remain
    assert files_under(cache) == ["TINY-ARPG.safetensors", "TINY-VQ.safetensors"]
    assert [x.name for x in weights.installed() if x.name.startswith("TINY")] == ["TINY-ARPG", "TINY-VQ"]

    engine = load_engine("TINY-ARPG")  # the tokenizer comes from the entry's pairing, installed too
    assert engine.name == "TINY-ARPG" and engine.vq.cfg.codebook_size == 64
    sd = tiny_arpg().state_dict()
    assert all(torch.equal(engine.arpg.state_dict()[k], v) for k, v in sd.items())

    # exactly the traffic of hf_hub_download: HEADs on /resolve, GETs on the CDN, no /api/ call
    assert all("/resolve/" in r.path for r in hub.seen("hub")) and hub.seen("hub", "GET") == []
    assert all(r.headers.get("Accept-Encoding") == "identity" for r in hub.seen("hub"))
    assert len(hub.seen("cdn", "GET")) == 2 and not any("/api/" in r.path for r in hub.requests)

    with pytest.raises(weights.WeightsError, match="already installed"):
        weights.download("TINY-ARPG")


def test_dropped_connection_resumes_with_a_range_request(hub, cache, blobs):
    data = blobs["arpg_big"]
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", data, drop_after=len(data) - 100_000)
    m = weights.download("TINY-ARPG")
    gets = hub.seen("cdn", "GET")
    assert len(gets) == 2
    assert "Range" not in gets[0].headers and gets[1].headers["Range"].startswith("bytes=")
    assert int(gets[1].headers["Range"].removeprefix("bytes=").rstrip("-")) > 0
    assert m.source["sha256"] == hashlib.sha256(data).hexdigest()
    assert files_under(cache) == ["TINY-ARPG.safetensors"]


def test_checksum_mismatch_rejects_the_file_and_leaves_the_cache_clean(hub, cache, blobs):
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", blobs["arpg"], advertised_sha256="ab" * 32)
    with pytest.raises(weights.WeightsError, match="checksum mismatch"):
        weights.download("TINY-ARPG")
    assert files_under(cache) == []
    with pytest.raises(CheckpointError, match="not installed"):
        load_engine("TINY-ARPG")


def test_cancel_leaves_nothing(hub, cache, blobs):
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", blobs["arpg"])
    cancel = threading.Event()
    with pytest.raises(weights.Cancelled):
        weights.download("TINY-ARPG", progress=lambda d, t: cancel.set(), cancel=cancel)
    assert files_under(cache) == []


def test_offline_mode_says_how_to_import(hub, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(weights.OfflineError) as e:
        weights.download("TINY-ARPG")
    msg = str(e.value)
    assert msg.startswith("offline: cannot download TINY-ARPG") and "weights import tiny_arpg.pt" in msg
    assert hub.requests == [] and files_under(cache) == []


def test_unreachable_endpoint_is_offline(cache, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(weights.OfflineError, match=r"^offline: cannot download TINY-VQ .*weights import tiny_vq\.pt"):
        weights.download("TINY-VQ")
    assert not cache.exists()


def test_malicious_pickle_is_refused_without_side_effect(hub, cache, tmp_path):
    marker = tmp_path / "PWNED"
    evil = pt_bytes({"state_dict": tiny_arpg().state_dict(), "hook": _Payload(marker)})
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", evil)
    with pytest.raises(CheckpointError, match="refused"):
        weights.download("TINY-ARPG")
    assert not marker.exists() and files_under(cache) == []

    local = tmp_path / "evil.pt"
    local.write_bytes(evil)
    with pytest.raises(CheckpointError, match="refused"):
        weights.import_file(local, name="TINY-ARPG")
    assert not marker.exists() and files_under(cache) == []


def test_unknown_model_and_repo_are_clear_errors(hub, cache, blobs):
    hub.add("test-org/tiny-vq", "other.pt", blobs["vq"])
    with pytest.raises(weights.WeightsError, match=r"has no file tiny_vq\.pt"):
        weights.download("TINY-VQ")
    with pytest.raises(weights.WeightsError, match="not available"):
        weights.download("TINY-ARPG")  # no such repo on this hub
    with pytest.raises(weights.WeightsError, match="not a model that can be downloaded"):
        weights.download("embedded")
    assert files_under(cache) == []


# --- import and remove -----------------------------------------------------------------------------


def test_import_offline_detects_the_model_and_keeps_the_source(cache, blobs, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing may be asked of a hub
    src_arpg, src_vq = tmp_path / "tiny_arpg.pt", tmp_path / "tiny_vq.pt"
    src_arpg.write_bytes(blobs["arpg"])
    src_vq.write_bytes(blobs["vq"])
    before = {p: (sha256(p), p.stat().st_mtime_ns) for p in (src_arpg, src_vq)}

    a = weights.import_file(src_arpg)
    v = weights.import_file(src_vq)
    assert (a.name, v.name) == ("TINY-ARPG", "TINY-VQ") and (a.kind, v.kind) == ("arpg", "vq")
    assert a.source == {"file": "tiny_arpg.pt", "sha256": before[src_arpg][0]}
    assert {p: (sha256(p), p.stat().st_mtime_ns) for p in before} == before
    assert load_engine("TINY-ARPG").name == "TINY-ARPG"

    with pytest.raises(weights.WeightsError, match="already installed"):
        weights.import_file(src_vq)
    with pytest.raises(weights.WeightsError, match=r"is a VQ tokenizer .* not TINY-ARPG"):
        weights.import_file(src_vq, name="TINY-ARPG", force=True)
    assert files_under(cache) == ["TINY-ARPG.safetensors", "TINY-VQ.safetensors"]

    # a model of no known size needs a name of its own; it then loads with an explicit tokenizer
    other = tmp_path / "other.pt"
    torch.save({"model": tiny_arpg(cfg=replace(TINY_ARPG, n_layer=2)).state_dict()}, other)
    with pytest.raises(weights.WeightsError, match="--name"):
        weights.import_file(other)
    mine = weights.import_file(other, name="my-arpg")
    assert mine.entry is None and mine.tokenizer is None
    with pytest.raises(CheckpointError, match="needs its tokenizer"):
        load_engine("my-arpg")
    assert load_engine("my-arpg", tokenizer="TINY-VQ").name == "my-arpg"
    # 1000 classes: ImageNet's names are recorded with the weights
    wide = tmp_path / "wide.pt"
    torch.save({"state_dict": tiny_arpg(cfg=replace(TINY_ARPG, num_classes=1000)).state_dict()}, wide)
    weights.import_file(wide, name="wide")
    names = read_checkpoint(cache / "wide.safetensors").metadata["class_names"]
    assert len(names) == 1000 and names == list(imagenet_class_names())
    # a converted file imports again (e.g. copied from another machine)
    again = weights.import_file(a.path, name="copy-of-tiny")
    assert again.parameters == ARPG_PARAMS


def test_remove(cache, blobs, tmp_path):
    src = tmp_path / "tiny_vq.pt"
    src.write_bytes(blobs["vq"])
    weights.import_file(src)
    assert weights.remove("TINY-VQ") == cache / "TINY-VQ.safetensors"
    assert files_under(cache) == [] and weights.find("TINY-VQ") is None
    with pytest.raises(weights.WeightsError, match="not installed"):
        weights.remove("TINY-VQ")
    with pytest.raises(weights.WeightsError, match="cannot be removed"):
        weights.remove("embedded")


def test_presets_need_installing_and_estimates(cache):
    with pytest.raises(CheckpointError, match=r"ARPG-L is not installed.*weights download ARPG-L"):
        load_engine("ARPG-L")
    xxl, large = estimate("ARPG-XXL"), estimate("ARPG-L")
    assert 5.1e9 < xxl["memory_bytes"] < 5.3e9 and xxl["tokenizer"] == "VQ-16"
    assert xxl["seconds_per_image"] > large["seconds_per_image"] > 0  # measured here: tests/test_calibrate.py
    assert estimate("VQ-16")["seconds_per_image"] is None
    assert REGISTRY["ARPG-L"].approx_download_bytes == 4 * 319_845_376
    assert weights.cache_dir() == cache


def test_official_entries_are_matched_by_size_and_config():
    for name, cfg in ARPG_PRESETS.items():
        assert weights._match("arpg", cfg, REGISTRY[name].parameters) is REGISTRY[name]
    assert weights._match("vq", VQ_PRESETS["VQ-16"], 71_883_403) is REGISTRY["VQ-16"]
    assert weights._match("arpg", replace(ARPG_PRESETS["ARPG-L"], n_head=8), 319_845_376) is None
    assert weights._match("vq", VQ_PRESETS["VQ-16"], 319_845_376) is None


def test_default_cache_dir_is_the_user_cache(monkeypatch):
    from platformdirs import user_cache_dir

    monkeypatch.delenv("ARPG_STUDIO_CACHE", raising=False)
    assert weights.cache_dir() == Path(user_cache_dir("arpg-studio", appauthor=False)) / "models"


# --- the command line ------------------------------------------------------------------------------


def test_cli_list(cache, blobs, tmp_path, capsys):
    from arpg_core.cli.main import main

    src = tmp_path / "tiny_vq.pt"
    src.write_bytes(blobs["vq"])
    assert main(["weights", "import", str(src)]) == 0
    assert "installed TINY-VQ: VQ tokenizer, 64 codes" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = {line.split()[0]: line for line in lines if line.strip()}
    assert lines[0].split()[:4] == ["NAME", "KIND", "PARAMS", "STATUS"]
    assert "installed" in row["TINY-VQ"] and "not installed" in row["TINY-ARPG"]
    assert "not installed" in row["ARPG-XXL"] and "~5.21 GB" in row["ARPG-XXL"]
    assert "s/image here (int8 ~" in row["ARPG-XXL"] and "s/image here" in row["embedded"]  # measured here
    assert lines[-1] == f"cache: {cache}"
    assert main(["weights", "remove", "TINY-VQ"]) == 0
    assert main(["weights", "remove", "TINY-VQ"]) == 1
    assert "error: TINY-VQ is not installed" in capsys.readouterr().err


def _foreground() -> None:
    """In the child before it runs: Ctrl+C as a terminal delivers it. A process inherits an ignored or blocked
    SIGINT (a shell's background job does; so does anything started while a thread of this process sits in
    system()), and Python then never raises KeyboardInterrupt: the fresh-clone CI runs showed the CLI's main
    thread polling every 0.1 s and never interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_cli_download_ctrl_c_exits_130_and_leaves_nothing(hub, cache, blobs):
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", blobs["arpg"], stall_after=50_000)
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
        "from tiny import TINY_ENTRIES\n"
        "from arpg_core.weights.catalog import REGISTRY\n"
        "REGISTRY.update(TINY_ENTRIES)\n"
        "from arpg_core.cli.main import main\n"
        "sys.exit(main(['weights', 'download', 'TINY-ARPG']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=os.environ.copy(), preexec_fn=_foreground
    )
    try:
        assert hub.wait_for_get(timeout=120), "the download never started"
        deadline = time.monotonic() + 10
        while not any(f.endswith(".incomplete") for f in files_under(cache)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(f.endswith(".incomplete") for f in files_under(cache)), files_under(cache)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("arpg-studio weights: interrupted; nothing was installed")
    assert "Traceback" not in err
    assert files_under(cache) == []


def test_a_cancel_acts_while_the_network_stalls(monkeypatch):
    """The hub library can sit in a stalled read (and answer its timeout by resuming): a cancel, or Ctrl+C, must
    not wait for it. The fetch runs in its own thread and the caller stops waiting within a fraction of a second."""
    import threading
    import types

    from arpg_core.weights import cache as weights_cache
    from arpg_core.weights.weights_errors import Cancelled

    release = threading.Event()
    monkeypatch.setattr(weights_cache, "_fetch", lambda *a: release.wait(30))  # a read that ignores the cancel
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        weights_cache._fetch_waiting(types.SimpleNamespace(name="ARPG-L"), None, None, None, None, cancel, 0)
    release.set()
    assert time.monotonic() - t0 < 5  # not the stalled read's 30 s
