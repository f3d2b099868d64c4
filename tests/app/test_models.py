"""The Models dialog: switching models without a restart (a failed load keeps the model in use), downloads from
a local imitation of the hub with progress, Cancel leaving the cache clean, and offline errors a person can act on.

Tiny models stand in for the official ones (registered as entries of their own, as in tests/test_weights.py);
the cache is a temporary folder ($ARPG_STUDIO_CACHE)."""

from __future__ import annotations

import threading

import pytest
from hubserver import FakeHub
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from tiny import TINY_ENTRIES, files_under, pt_bytes, tiny_arpg, tiny_vq

from arpg_core.files.checkpoints import save_safetensors
from arpg_core.weights import cache as weights
from arpg_core.weights.catalog import REGISTRY

LOAD_TIMEOUT = 15_000
CAT_NAMES = ["cat", "dog", "house", "tree", "cup"]


@pytest.fixture
def cache(tmp_path, monkeypatch, window):
    for name, entry in TINY_ENTRIES.items():
        monkeypatch.setitem(REGISTRY, name, entry)
    folder = tmp_path / "cache"
    monkeypatch.setenv("ARPG_STUDIO_CACHE", str(folder))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    before = window.settings.model_choice()
    yield folder
    window.settings.set_model(before["model"], before["tokenizer"], before["device"], before["precision"])


@pytest.fixture
def hub(cache, monkeypatch):
    with FakeHub(timeout=10) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def open_models(window, qtbot):
    window.actions_["models"].trigger()  # Edit > Models…
    d = window.models_dialog
    assert d is not None and d.isVisible()
    qtbot.waitUntil(lambda: bool(d.rows) and not d.busy, timeout=LOAD_TIMEOUT)
    return d


def visible_boxes(parent) -> list[QMessageBox]:
    return [w for w in parent.findChildren(QMessageBox) if w.isVisible()]


def test_switch_keeps_the_model_in_use_when_the_new_one_fails_then_switches(window, qtbot, cache, tmp_path):
    c, s = window.controller, window.state
    original = c.engine
    original_name = s.engine_info.name
    arpg, vq = tiny_arpg(seed=1), tiny_vq()
    meta = {"kind": "arpg", "config": arpg.cfg.to_dict(), "class_names": CAT_NAMES, "tokenizer": "tiny-vq"}
    save_safetensors(tmp_path / "cats.safetensors", arpg.state_dict(), meta)
    save_safetensors(tmp_path / "vq.safetensors", vq.state_dict(), {"kind": "vq", "config": vq.cfg.to_dict()})

    d = open_models(window, qtbot)
    assert {"ARPG-L", "ARPG-XL", "ARPG-XXL", "VQ-16", "embedded"} <= {r.name for r in d.rows}
    assert d.select("ARPG-XXL") and not d.use_button.isEnabled() and d.download_button.isEnabled()
    assert "ARPG-XXL: about 5.21 GB of memory in fp32" in d.details.text()
    # the list shows at once; the time per image follows from a measurement of this machine, in a worker
    qtbot.waitUntil(lambda: "per 64-step image on this computer" in d.details.text(), timeout=300_000)
    for path, name in ((tmp_path / "vq.safetensors", "tiny-vq"), (tmp_path / "cats.safetensors", "tiny-cats")):
        assert d.import_path(path, name)  # offline, in a worker
        qtbot.waitUntil(lambda n=name: not d.busy and d.row(n) is not None, timeout=LOAD_TIMEOUT)
    assert d.row("tiny-cats").installed and d.row("tiny-cats").kind == "arpg"
    (cache / "broken.safetensors").write_bytes(b"this is not a safetensors file")
    d.refresh()
    qtbot.waitUntil(lambda: d.row("broken") is not None and not d.busy, timeout=LOAD_TIMEOUT)

    # a model that fails to load: the engine in use stays, the error is shown, nothing is stored
    assert d.select("broken") and d.use_button.isEnabled()
    with qtbot.waitSignal(c.load_failed, timeout=LOAD_TIMEOUT):
        d.use_button.click()
    qtbot.waitUntil(lambda: not c.loading, timeout=LOAD_TIMEOUT)
    assert c.engine is original and s.engine_info.name == original_name
    boxes = visible_boxes(window)
    assert boxes and boxes[0].windowTitle() == "The model could not be loaded"
    assert f"Still using {original_name}" in boxes[0].text()
    for box in boxes:
        box.close()
    assert "broken could not be loaded" in d.status.text()
    assert window.settings.model_path() != "broken"

    # a good one: swapped in, the class picker lists its names, the choice is stored
    assert d.select("tiny-cats") and d.use_button.isEnabled()
    with qtbot.waitSignal(c.switched, timeout=LOAD_TIMEOUT):
        d.use_button.click()
    qtbot.waitUntil(lambda: not c.loading, timeout=LOAD_TIMEOUT)
    assert c.engine is not original and c.engine.name == "tiny-cats"
    assert s.engine_info.class_names == tuple(CAT_NAMES)
    assert window.panel.class_model.stringList()[1:] == CAT_NAMES
    window.panel.class_edit.setText("tree")
    window.panel.class_edit.editingFinished.emit()
    assert s.params.label == 3
    assert window.settings.model_path() == "tiny-cats" and window.settings.tokenizer_path() == ""
    assert d.status.text() == "Now using tiny-cats."
    assert d.table.item(d.rows.index(d.row("tiny-cats")), 2).text() == "in use"
    assert not d.use_button.isEnabled() and not d.remove_button.isEnabled()  # in use: cannot be removed
    assert not visible_boxes(window)

    # Preferences: int8 (fast mode) reloads the same model and is stored once it has loaded
    from app.dialogs import PreferencesDialog

    prefs = PreferencesDialog(window.settings, "tiny-cats", window)
    assert prefs.model.text() == "tiny-cats"
    prefs.precision.setCurrentIndex(prefs.precision.findData("int8"))
    choice = prefs.store()
    assert choice == {"model": "tiny-cats", "tokenizer": "", "device": "auto", "precision": "int8"}
    with qtbot.waitSignal(c.switched, timeout=LOAD_TIMEOUT):
        assert window.switch_model(**{**choice, "device": "cpu"})
    assert s.engine_info.precision == "int8" and window.settings.precision() == "int8"
    qtbot.waitUntil(lambda: not c.loading, timeout=LOAD_TIMEOUT)
    assert "int8" in window.model_label.text()


def test_download_through_the_dialog_shows_progress_and_installs(window, qtbot, cache, hub):
    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", pt_bytes({"state_dict": tiny_arpg().state_dict()}))
    hub.add("test-org/tiny-vq", "tiny_vq.pt", pt_bytes({"model": tiny_vq().state_dict()}))
    d = open_models(window, qtbot)
    assert d.select("TINY-ARPG") and not d.row("TINY-ARPG").installed
    assert "Pairs with the tokenizer TINY-VQ (not installed)" in d.details.text()
    values = []
    d.progress.valueChanged.connect(values.append)
    assert d.download_button.isEnabled()
    d.download_button.click()
    assert d.cancel_button.isVisible() and not d.download_button.isEnabled()
    qtbot.waitUntil(lambda: not d.busy and d.row("TINY-ARPG").installed, timeout=LOAD_TIMEOUT)
    assert values and max(values) == 1000  # progress was shown, up to the end
    assert d.status.text() == "Installed TINY-VQ and TINY-ARPG."  # the tokenizer came with it
    assert d.row("TINY-VQ").installed and not d.cancel_button.isVisible()
    i = d.rows.index(d.row("TINY-ARPG"))
    assert d.table.item(i, 2).text() == "installed" and d.table.item(i, 3).text() != "—"
    assert files_under(cache) == ["TINY-ARPG.safetensors", "TINY-VQ.safetensors"]
    assert d.selected().name == "TINY-ARPG" and d.use_button.isEnabled() and not d.download_button.isEnabled()
    assert not visible_boxes(d)

    assert d.select("TINY-VQ") and d.remove(confirm=False)  # in a worker; the list is read again after it
    qtbot.waitUntil(lambda: not d.busy and not d.row("TINY-VQ").installed, timeout=LOAD_TIMEOUT)
    assert d.status.text() == "Removed TINY-VQ." and files_under(cache) == ["TINY-ARPG.safetensors"]


def test_cancel_during_download_leaves_the_cache_clean(window, qtbot, cache, hub, monkeypatch):
    hub.add("test-org/tiny-vq", "tiny_vq.pt", pt_bytes({"model": tiny_vq().state_dict()}))
    pressed = threading.Event()
    during = []
    real = weights.download

    def held(name, progress=None, cancel=None, **kw):
        def report(done, total):
            progress(done, total)
            if done > 0:  # the body has arrived: hold the worker until the UI has pressed Cancel
                pressed.wait(10)
                during.extend(files_under(cache))

        return real(name, report, cancel, **kw)

    monkeypatch.setattr(weights, "download", held)
    d = open_models(window, qtbot)
    assert d.select("TINY-VQ")

    def on_value(value):
        if value > 0 and d.cancel_button.isEnabled():
            d.cancel_button.click()
            pressed.set()

    d.progress.valueChanged.connect(on_value)
    d.download_button.click()
    qtbot.waitUntil(lambda: pressed.is_set() and not d.busy, timeout=LOAD_TIMEOUT)
    assert d.status.text().startswith("Download cancelled; nothing half-written was kept")
    assert not d.row("TINY-VQ").installed and d.download_button.isEnabled()
    assert any(f.startswith(".hub") for f in during), during  # the download was writing into the cache
    assert files_under(cache) == []  # neither the model nor the hub's download cache
    assert not visible_boxes(d)


def test_offline_download_says_how_to_import(window, qtbot, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    d = open_models(window, qtbot)
    assert d.select("TINY-VQ")
    d.download_button.click()
    qtbot.waitUntil(lambda: not d.busy and bool(visible_boxes(d)), timeout=LOAD_TIMEOUT)
    box = visible_boxes(d)[0]
    assert box.windowTitle() == "Cannot download TINY-VQ"
    text = box.text()
    assert text.startswith("Cannot download TINY-VQ (HF_HUB_OFFLINE is set).")
    assert "download tiny_vq.pt from https://huggingface.co/test-org/tiny-vq" in text and "Import file…" in text
    assert "arpg-studio weights" not in text
    box.close()
    assert files_under(cache) == []


def test_the_welcome_downloads_the_offered_model_in_one_click_and_switches_to_it(
    window, qtbot, cache, hub, monkeypatch
):
    from app import estimates

    hub.add("test-org/tiny-arpg", "tiny_arpg.pt", pt_bytes({"state_dict": tiny_arpg().state_dict()}))
    hub.add("test-org/tiny-vq", "tiny_vq.pt", pt_bytes({"model": tiny_vq().state_dict()}))
    monkeypatch.setattr(estimates, "OFFERED", "TINY-ARPG")  # stands in for ARPG-L
    c = window.controller
    d = window.show_welcome()
    qtbot.waitUntil(lambda: d.offer is not None and d.timing is not None, timeout=60_000)
    assert d.offer.name == "TINY-ARPG" and d.offer.tokenizer == "TINY-VQ" and not d.offer.installed
    assert d.download.text().startswith("Download TINY-ARPG (") and d.download.isEnabled()
    with qtbot.waitSignal(c.switched, timeout=60_000):
        qtbot.mouseClick(d.download, Qt.MouseButton.LeftButton)  # the one click
    qtbot.waitUntil(lambda: not c.loading, timeout=LOAD_TIMEOUT)
    assert c.engine.name == "TINY-ARPG" and window.settings.model_path() == "TINY-ARPG"
    assert files_under(cache) == ["TINY-ARPG.safetensors", "TINY-VQ.safetensors"]
    assert not d.isVisible() and not visible_boxes(window)
