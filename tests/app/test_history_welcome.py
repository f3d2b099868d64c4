"""The soft brush, the history of applied edits (a click re-selects one, Again replays it exactly), the
first-start welcome (shown once, Help brings it back), the model name in the status bar, and file dialogs
(native where the platform has one, a readable fallback)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QFileDialog, QListView, QTreeView
from test_app import RUN_TIMEOUT, open_fitted, run_and_wait, view_point

from app import estimates, file_dialogs
from app.softmask import blend_weight, soften
from arpg_core.edit.edits import feather_alpha


def stroke(window, qtbot, points) -> None:
    vp = window.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, *points[0]))
    for x, y in points[1:]:
        qtbot.mouseMove(vp, view_point(window, x, y))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, *points[-1]))


# --- soft brush -----------------------------------------------------------------------------------------


def test_a_soft_brush_paints_a_soft_edge_and_fades_the_result_in(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_brush_size(40)
    window.hardness_box.setValue(25)
    assert s.hardness == 0.25
    stroke(window, qtbot, [(64, 48), (64, 48)])
    assert s.mask[48, 64] == 255  # the hard core
    ring = s.mask[48, 64 + 16]  # 16 px out of a 20 px radius: in the soft band
    assert 0 < ring < 255 and s.mask[48, 64 + 21] == 0
    window.hardness_box.setValue(100)
    stroke(window, qtbot, [(20, 20), (20, 20)])
    assert set(np.unique(s.mask[5:35, 5:35])) == {0, 255}  # a hard brush: no in-between values
    s.undo_stack.undo()
    source = s.rgb.copy()
    window.controller.refresh_plan()
    run_and_wait(window, qtbot)
    v = s.current_variant()
    changed = np.abs(v.image.astype(int) - source.astype(int)).sum(axis=2)
    far = feather_alpha(s.mask > 0, s.params.feather) == 0
    assert far.any() and (changed[far] == 0).all()  # nothing moves beyond the stroke and its feather band
    assert blend_weight(s.mask)[48, 64 + 16] == pytest.approx(ring / 255)
    centre, rim = changed[44:52, 60:68].mean(), changed[48, 80:83].mean()
    assert centre > 0 and rim < centre  # faded in towards the soft edge


def test_soften_moves_a_pixel_only_by_the_change_the_model_made():
    rng = np.random.default_rng(0)
    source = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    result = source.copy()
    result[10:30, 10:30] = 255 - result[10:30, 10:30]
    mask = np.zeros((40, 50), np.uint8)
    mask[14:26, 14:26] = 255
    mask[14:26, 14] = 100
    out = soften(source, result, mask, margin=6)
    assert np.array_equal(out[mask == 255], result[mask == 255])
    unchanged = (result == source).all(axis=2)
    assert np.array_equal(out[unchanged], source[unchanged])
    k = 100 / 255
    expected = np.round(source[20, 14] + (result[20, 14].astype(float) - source[20, 14]) * k)
    assert np.array_equal(out[20, 14], expected.astype(np.uint8))
    assert np.array_equal(out[20, 12], np.round(source[20, 12] + (result[20, 12].astype(float) - source[20, 12]) * k))


# --- history ------------------------------------------------------------------------------------------


def click_item(qtbot, panel, row: int) -> None:
    rect = panel.list.visualItemRect(panel.list.item(row))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_history_lists_applied_edits_reselects_one_and_again_replays_it_exactly(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, c = window.state, window.controller
    s.mask[30:50, 40:70] = 255
    painted = s.mask.copy()
    s.set_params(seed=40, random_seed=False, variants=2, num_steps=5, cfg_scale=2.5, label=1)
    c.refresh_plan()
    run_and_wait(window, qtbot)
    window.actions_["next"].trigger()
    seed = s.current_variant().seed  # the second best of the model's candidates, seeds 40, 41, ...
    candidates = s.params.candidates
    assert candidates > 2 and seed in range(40, 40 + candidates)
    window.actions_["apply"].trigger()
    applied = s.rgb.copy()
    window.actions_["history"].trigger()
    panel = window.history_panel
    assert window.history_dock.isVisible() and panel.list.count() == 1
    name = s.engine_info.class_names[1]
    assert panel.list.item(0).text() == f"1. Fill · seed {seed} · class {name} · 5 steps · CFG 2.5"
    assert f"seed {seed} (variant 2 of 2, the best of {candidates} by fit from seed 40)" in panel.details.text()
    assert "edge feather" in panel.details.text()
    assert f"{s.params.sampling.prefill} context" in panel.details.text()  # how the kept pixels entered the model

    s.set_mode("expand")  # the user moves on: other settings, another mask
    s.set_params(num_steps=9, seed=3, random_seed=True, cfg_scale=7.0, label=None, variants=3)
    s.clear_mask()
    click_item(qtbot, panel, 0)  # re-selects the edit
    p = s.params
    assert s.mode == "inpaint" and (p.sampling.num_steps, p.sampling.cfg_scale, p.label) == (5, 2.5, 1)
    assert (p.seed, p.variants, p.random_seed) == (40, 2, False)  # the run's: Fill gives the same variants
    assert np.array_equal(s.mask, painted)

    while s.undo_stack.canUndo():  # back to the photo as opened: the applied edit is shown as undone
        s.undo_stack.undo()
    assert "(undone)" in panel.list.item(0).text()
    with qtbot.waitSignal(c.finished, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(panel.again, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not s.running, timeout=5000)
    assert len(s.variants) == 2 and s.current == 1 and s.current_variant().seed == seed
    assert np.array_equal(s.current_variant().image, applied)  # the same request gives the same pixels
    assert c.apply_current() and panel.list.count() == 2


def test_history_keeps_the_lanczos_baseline_and_a_new_photo_clears_it(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, c = window.state, window.controller
    s.set_mode("expand")
    c.lanczos()
    c.apply_current()
    panel = window.history_panel
    assert panel.list.item(0).text().startswith("1. Expand 2x (Lanczos)")
    c.replay(c.history.entries[0])  # Again: the baseline once more, on the image as it is now
    assert s.variants[-1].image.shape[:2] == (2 * s.size[1], 2 * s.size[0])
    assert window.open_path(photo)
    assert panel.list.count() == 0


# --- the welcome and the status bar -----------------------------------------------------------------


def new_window(qtbot, engine):
    from app.main_window import MainWindow

    w = MainWindow(engine=engine)
    w.quiet = True
    qtbot.addWidget(w)
    w.show()
    w.state.set_params(num_steps=4)
    return w


def test_the_welcome_shows_at_the_first_start_only_and_help_brings_it_back(qtbot, engine):
    from app.settings import Settings

    Settings().set_welcome_seen(False)
    first = new_window(qtbot, engine)
    first.start()
    qtbot.waitUntil(lambda: first.welcome is not None and first.welcome.isVisible(), timeout=5000)
    d = first.welcome
    text = " ".join(label.text() for label in d.findChildren(type(first.size_label)))
    assert "It can:" in text and "It cannot:" in text
    qtbot.waitUntil(lambda: d.offer is not None and d.timing is not None, timeout=RUN_TIMEOUT)
    assert d.offer.name == "ARPG-L" and "download 1.6 GB" in d.offer_text.text()
    assert "GB on disk" in d.offer_text.text() and "of memory" in d.offer_text.text()
    assert d.download.text() == "Download ARPG-L (1.6 GB)" and d.import_button.isEnabled()
    assert "with ARPG-L" in d.timing_text.text() and d.how.text().startswith("Estimated, not measured:")
    assert d.timing.estimate_seconds > 0 and "GFLOP/s" in d.how.text()
    d.accept()
    first.close()

    second = new_window(qtbot, engine)
    second.start()
    for _ in range(3):
        QApplication.processEvents()
    assert second.welcome is None  # never again by itself
    second.actions_["welcome"].trigger()  # Help > Welcome and models…
    assert second.welcome is not None and second.welcome.isVisible()
    second.welcome.accept()
    second.close()


def test_the_model_name_in_the_status_bar_opens_the_models_dialog(window, qtbot):
    label = window.model_label
    assert label.text().startswith("Model: ")
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)
    assert window.models_dialog is not None and window.models_dialog.isVisible()
    qtbot.waitUntil(lambda: not window.models_dialog.busy, timeout=20_000)
    window.models_dialog.close()


def test_measure_scales_the_reference_time_by_this_machines_speed():
    from arpg_core.weights.estimates import estimate

    t = estimates.measure(steps=32)
    ref = estimate("ARPG-L")
    assert t.reference_seconds == pytest.approx(ref["seconds_per_image"] / 2 + estimates.REFERENCE_DECODE_SECONDS)
    assert t.gflops > 0 and t.embedded_seconds > 0
    assert t.estimate_seconds == pytest.approx(t.reference_seconds * estimates.REFERENCE_GFLOPS / t.gflops)
    assert f"{t.gflops:.0f} GFLOP/s here" in t.explain() and "32-step" in t.explain()


# --- file dialogs ---------------------------------------------------------------------------------------


def test_native_dialogs_are_asked_for_where_the_desktop_has_a_portal(tmp_path):
    services = tmp_path / "services"
    services.mkdir()
    (services / file_dialogs.PORTAL_SERVICE).write_text("[D-BUS Service]\n")
    kde = {"XDG_CURRENT_DESKTOP": "KDE", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/bus"}
    assert file_dialogs.native_theme(kde, "linux", [str(services)]) == "xdgdesktopportal"
    assert file_dialogs.native_theme(kde, "linux", [str(tmp_path / "none")]) is None  # no portal: Qt's own
    assert file_dialogs.native_theme({**kde, "QT_QPA_PLATFORMTHEME": "kde"}, "linux", [str(services)]) is None
    gnome = {**kde, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}
    assert file_dialogs.native_theme(gnome, "linux", [str(services)]) is None  # Qt's GTK theme does it
    assert file_dialogs.native_theme(kde, "win32", [str(services)]) is None  # native by itself
    assert file_dialogs.native_theme({}, "linux", [str(services)]) is None  # no desktop (Xvfb)


def _luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def test_the_fallback_file_dialog_is_readable(window, qtbot, tmp_path):
    for name in ("holiday.jpg", "garden.png"):
        (tmp_path / name).write_bytes(b"x")
    d = QFileDialog(window, "Open image", str(tmp_path))
    d.setOption(QFileDialog.Option.DontUseNativeDialog)
    d.show()
    qtbot.waitUntil(lambda: d.isVisible(), timeout=5000)
    view = d.findChild(QListView, "listView")
    tree = d.findChild(QTreeView, "treeView")
    assert view is not None and tree is not None
    qtbot.waitUntil(lambda: view.model().rowCount(view.rootIndex()) >= 2, timeout=10_000)
    for widget in (view, tree):
        image = widget.viewport().grab().toImage()
        background = QColor(image.pixel(image.width() - 3, image.height() - 3))
        text = widget.palette().color(widget.foregroundRole())
        lighter, darker = sorted((_luminance(background), _luminance(text)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 7, (background.name(), text.name())  # WCAG AAA
    d.reject()
