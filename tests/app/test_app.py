"""The app end to end with the real (tiny) engine: open, paint, run, cancel, outpaint, save, stay responsive."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from arpg_core.edit.edits import feather_alpha
from arpg_core.edit.requests import default

RUN_TIMEOUT = 180_000  # an upper bound on waiting, not a timing: runs share 2 cores


def drop_file(widget, path) -> None:
    """Drag-enter then drop a file URL, as a file manager does (the QPoint drag constructor is deprecated
    in Qt 6.12 but is the only one QDragEnterEvent has)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPoint(40, 40)
    enter = QDragEnterEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)


def view_point(window, x: float, y: float) -> QPoint:
    return window.canvas.mapFromScene(QPointF(x, y))


def open_fitted(window, qtbot, path) -> None:
    assert window.open_path(path)
    window.canvas.fit()
    qtbot.wait(10)


def run_and_wait(window, qtbot):
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT):
        assert window.controller.run(), window.state.block_reason
    qtbot.waitUntil(lambda: not window.state.running, timeout=5000)


def test_empty_state_explains_what_to_do(window):
    assert not window.state.has_image
    assert window.state.block_reason == "Open an image first"
    assert not window.panel.primary.isEnabled()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_open_by_drop(window, qtbot, photo):
    drop_file(window.canvas.viewport(), photo)
    s = window.state
    assert s.has_image and s.size == (128, 96)
    assert s.source_path == photo
    assert np.array_equal(s.rgb, np.asarray(Image.open(photo).convert("RGB")))
    assert str(photo.resolve()) in window.settings.recent_files()


def test_corrupt_file_gives_a_dialog(window, qtbot, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    assert not window.open_path(bad)
    boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "broken.png" in boxes[0].text()
    assert "Traceback" not in boxes[0].text() + boxes[0].detailedText()  # a reason, never a traceback
    boxes[0].close()
    assert not window.state.has_image


def test_brush_stroke_changes_mask_and_undo_restores(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, vp = window.state, window.canvas.viewport()
    s.set_brush_size(10)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 20, 20))
    qtbot.mouseMove(vp, view_point(window, 60, 40))
    qtbot.mouseMove(vp, view_point(window, 100, 60))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 100, 60))
    painted = s.mask.copy()
    assert painted[40, 60] and painted[20, 20] and not painted[90, 5]
    assert s.undo_stack.count() == 1
    s.set_erase(True)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 60, 40))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 60, 40))
    assert not s.mask[40, 60]
    s.undo_stack.undo()
    assert np.array_equal(s.mask, painted)
    s.undo_stack.undo()
    assert not s.mask.any()
    s.undo_stack.redo()
    assert np.array_equal(s.mask, painted)


def test_mask_operations_are_undoable(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_tool("rect")
    vp = window.canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 30, 30))
    qtbot.mouseMove(vp, view_point(window, 60, 50))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 60, 50))
    rect = s.mask.copy()
    assert rect[40, 45] and not rect[10, 10]
    window.actions_["grow"].trigger()
    assert s.mask.sum() > rect.sum()
    window.actions_["invert"].trigger()
    assert not s.mask[40, 45]
    window.actions_["clear"].trigger()
    assert not s.mask.any()
    for _ in range(3):
        s.undo_stack.undo()
    assert np.array_equal(s.mask, rect)


def test_inpaint_run_applies_and_keeps_pixels_outside_the_mask(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.mask[30:50, 40:70] = 255
    s.mask_changed.emit(window.canvas.sceneRect().toAlignedRect())
    window.controller.refresh_plan()
    assert s.block_reason == "" and s.windows
    original = s.rgb.copy()
    steps = []
    s.progress_changed.connect(lambda step, total, eta: steps.append((step, total)))
    run_and_wait(window, qtbot)
    assert steps and steps[-1][0] == steps[-1][1] > 0
    assert len(s.variants) == 2 and s.current == 0
    assert np.array_equal(s.rgb, original)  # a preview until applied
    window.actions_["next"].trigger()
    assert s.current == 1
    window.actions_["apply"].trigger()
    assert not s.variants
    outside = feather_alpha(s.mask > 0, s.params.feather) == 0
    assert np.array_equal(s.rgb[outside], original[outside])
    assert not np.array_equal(s.rgb, original)
    s.undo_stack.undo()
    assert np.array_equal(s.rgb, original)


def test_cancel_mid_run_leaves_the_document_unchanged(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.mask[10:30, 10:30] = 255
    s.mask[60:90, 80:120] = 255
    s.set_params(num_steps=64, variants=1)
    window.controller.refresh_plan()
    before_rgb, before_mask, undo_count = s.rgb, s.mask.copy(), s.undo_stack.count()
    seen = []

    def on_progress(step, total, _eta):
        if step > 0:
            seen.append((step, total))
        if len(seen) == 1:
            window.actions_["cancel"].trigger()

    s.progress_changed.connect(on_progress)
    assert window.controller.run()
    qtbot.waitUntil(lambda: not s.running, timeout=RUN_TIMEOUT)
    assert seen and seen[-1][0] < seen[-1][1]  # stopped before the end
    assert s.rgb is before_rgb and np.array_equal(s.mask, before_mask)
    assert s.undo_stack.count() == undo_count
    assert not s.variants and s.preview is None


def test_outpaint_handles_change_the_canvas_size(window, qtbot, tmp_path):
    small = tmp_path / "small.png"
    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(small)
    open_fitted(window, qtbot, small)
    s = window.state
    s.set_mode("outpaint")
    window.controller.refresh_plan()
    assert s.block_reason.startswith("Drag a handle")
    vp = window.canvas.viewport()
    handle = window.canvas.frame.handles()["right"]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=window.canvas.mapFromScene(handle))
    qtbot.mouseMove(vp, view_point(window, 32 + 8, 12))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 32 + 8, 12))
    assert s.extend[2] == 8 and s.extend[0] == s.extend[1] == s.extend[3] == 0
    assert window.panel.side_spins[2].value() == 8
    window.panel.side_spins[1].setValue(4)  # the pixel field of the top side
    assert s.extend == (0, 4, 8, 0)
    assert window.canvas.frame.rect.width() == 40 and window.canvas.frame.rect.height() == 28
    run_and_wait(window, qtbot)
    v = s.current_variant()
    assert v.image.shape[:2] == (28, 40) and (v.x, v.y) == (0, -4)  # the original does not move
    assert window.controller.apply_current()
    assert s.size == (40, 28) and s.extend == (0, 0, 0, 0)
    assert np.array_equal(s.rgb[4:28, 0:32], rgb)
    s.undo_stack.undo()
    assert s.size == (32, 24)


def test_expand_lanczos_baseline_doubles_the_size(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_mode("expand")
    assert "256 × 192" in window.panel.expand_sizes.text()
    window.panel.lanczos_requested.emit()
    assert s.variants[-1].title == "Lanczos 2x"
    assert window.controller.apply_current()
    assert s.size == (256, 192)


def test_expand_keeps_the_source_unless_switched_off(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    window.state.set_mode("expand")
    assert window.panel.keep_source.isChecked() and window.controller.request().expand_lock > 0
    window.panel.keep_source.setChecked(False)
    assert window.state.params.keep_source is False and window.controller.request().expand_lock == 0
    run_and_wait(window, qtbot)
    assert window.state.current_variant().image.shape == (192, 256, 3)


def test_fill_and_extend_match_colours_unless_switched_off(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, boxes = window.state, window.panel.colour_match
    assert len(boxes) == 2 and all(b.isChecked() for b in boxes)
    s.set_mode("outpaint")
    s.set_extend((16, 0, 0, 0))
    assert window.controller.request().colour_match == default("colour_match") > 0
    boxes[1].setChecked(False)  # Extend's box; Fill's follows, as it is the same setting
    assert s.params.colour_match == 0 and not boxes[0].isChecked()
    assert window.controller.request().colour_match == 0
    run_and_wait(window, qtbot)
    assert window.controller.apply_current()
    assert "raw colours" in window.controller.history.entries[-1].details()
    boxes[0].setChecked(True)
    assert s.params.colour_match == default("colour_match") and boxes[1].isChecked()


def test_fill_and_extend_restore_fine_grain_unless_switched_off(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, boxes = window.state, window.panel.detail
    assert len(boxes) == 2 and all(b.isChecked() for b in boxes)
    s.mask[30:50, 40:70] = 255
    assert window.controller.request().detail == default("detail") > 0
    boxes[0].setChecked(False)  # Fill's box; Extend's follows, as it is the same setting
    assert s.params.detail == 0 and not boxes[1].isChecked()
    assert window.controller.request().detail == 0
    run_and_wait(window, qtbot)
    assert window.controller.apply_current()
    assert "no grain restored" in window.controller.history.entries[-1].details()
    boxes[1].setChecked(True)
    assert s.params.detail == default("detail") and boxes[0].isChecked()


def test_save_writes_a_new_file_and_never_touches_the_source(window, qtbot, photo, monkeypatch):
    source_bytes = photo.read_bytes()
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_mode("expand")
    window.controller.lanczos()
    window.controller.apply_current()
    asked = []
    monkeypatch.setattr(window, "ask_save_path", lambda suggested, caption="": asked.append(suggested) or suggested)
    assert window.save()
    target = asked[0]
    assert target != photo and target.name == "photo_edited.png"
    assert photo.read_bytes() == source_bytes
    assert Image.open(target).size == (256, 192)
    assert s.save_path == target and not s.modified
    s.mask[0:4, 0:4] = 255  # Save again goes to the same new file, without asking
    assert window.save() and len(asked) == 1


def test_ui_stays_responsive_during_a_run(window, qtbot, photo):
    """The edit runs in a worker thread and the event loop keeps turning while it decodes: a timer on the UI
    thread fires between decoding steps, at several different steps of the run (counted in steps, not seconds,
    so a busy machine cannot fail it)."""
    import threading

    open_fitted(window, qtbot, photo)
    s = window.state
    for y in range(4, 96, 24):  # separate islands: one window each, so the run takes many steps
        for x in range(4, 128, 24):
            s.mask[y : y + 8, x : x + 8] = 255
    s.set_params(num_steps=64, variants=2)
    window.controller.refresh_plan()
    engine = window.controller.engine
    run_threads = []
    original = engine.run

    def run(job):
        run_threads.append(threading.current_thread())
        return original(job)

    engine.run = run
    seen = set()
    timer = QTimer(interval=0)
    timer.timeout.connect(lambda: s.running and 0 < s.progress[0] < s.progress[1] and seen.add(s.progress[0]))
    timer.start()
    try:
        run_and_wait(window, qtbot)
    finally:
        timer.stop()
        del engine.run
    assert len(s.windows) > 10
    assert run_threads and run_threads[0] is not threading.main_thread()
    assert len(seen) >= 3, f"the UI thread ran at only {len(seen)} distinct steps of the run"


def test_variant_keys_and_compare(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.mask[30:50, 40:70] = 255
    window.controller.refresh_plan()
    run_and_wait(window, qtbot)
    assert len(s.variants) == 2
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    assert s.current == 1
    qtbot.keyPress(window.canvas, Qt.Key.Key_C)
    assert s.show_original and not window.canvas.variant_layer.isVisible()
    qtbot.keyRelease(window.canvas, Qt.Key.Key_C)
    assert not s.show_original and window.canvas.variant_layer.isVisible()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert len(s.variants) == 1
    window.actions_["split"].trigger()
    assert s.split == 0.5 and window.canvas.split_item.isVisible()


def test_time_left_reads_naturally():
    from app.panel_values import time_left

    assert [time_left(t) for t in (0.2, 1.4, 42, 59.6, 61, 754)] == [
        "under a second left",
        "about 1 s left",
        "about 42 s left",
        "about 1 min 00 s left",
        "about 1 min 01 s left",
        "about 12 min 34 s left",
    ]


def test_class_picker_sets_the_label(window, qtbot):
    edit = window.panel.class_edit
    names = window.state.engine_info.class_names
    edit.setText(names[2])
    edit.editingFinished.emit()
    assert window.state.params.label == 2
    edit.setText("none")
    edit.editingFinished.emit()
    assert window.state.params.label is None


def test_brush_size_keys(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_brush_size(40)
    window.actions_["larger"].trigger()
    assert s.brush_size > 40
    window.actions_["much_smaller"].trigger()
    assert s.brush_size < 40
    assert window.size_box.value() == s.brush_size


@pytest.mark.parametrize("with_alpha", [False, True])
def test_autosave_round_trip(window, qtbot, tmp_path, with_alpha):
    from app import files

    rgb = np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    alpha = np.full((20, 30), 128, np.uint8) if with_alpha else None
    window.state.load_document(rgb, alpha)
    window.state.mask[5:10, 5:10] = 255
    window.state.set_mode("outpaint")
    window.state.set_extend((3, 0, 7, 1))
    window._change_count += 1
    window.autosave().join(10)
    data = files.read_autosave()
    assert np.array_equal(data["rgb"], rgb) and np.array_equal(data["mask"], window.state.mask)
    assert (data["alpha"] is None) == (alpha is None)
    window.state.set_mode("inpaint")
    window.recover(data)
    assert window.state.modified and window.state.mask[7, 7]
    assert window.state.mode == "outpaint" and window.state.extend == (3, 0, 7, 1)  # every field written is read
    window.state.undo_stack.undo()  # the mask came back through undo
    assert not window.state.mask.any()
    files.clear_autosave()
    assert files.read_autosave() is None


def test_concurrent_autosaves_leave_the_newest_whole(tmp_path, caplog):
    from app import files

    folder = tmp_path / "autosave"
    threads = []
    for i in range(6):  # as a timer tick and a close can overlap
        rgb = np.full((24, 32, 3), 40 * i, np.uint8)
        threads.append(files.write_autosave(rgb, None, np.zeros((24, 32), bool), None, None, {"i": i}, folder))
    for t in threads:
        t.join(10)
    data = files.read_autosave(folder)
    assert data is not None and data["meta"]["i"] == 5 and int(data["rgb"][0, 0, 0]) == 200
    assert "autosave failed" not in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autosave"]


def test_selftest_runs_the_worker_path(qtbot, engine, monkeypatch, capsys):
    from app import engine_loader
    from app.main_window import run_app

    monkeypatch.setattr(engine_loader, "load_default_engine", lambda **kw: engine)
    assert run_app(["--selftest"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("selftest ok: inpaint 128x128 in ")


def test_an_image_argument_starts_the_app_and_a_command_the_cli(monkeypatch, photo, tmp_path):
    import arpg_core.cli.main
    from app import __main__ as entry
    from app import main_window

    calls = []
    monkeypatch.setattr(main_window, "run_app", lambda argv: calls.append(("app", argv)) or 0)
    monkeypatch.setattr(arpg_core.cli.main, "main", lambda argv: calls.append(("cli", argv)) or 0)
    missing = str(tmp_path / "missing.jpg")
    for argv in ([str(photo)], [missing], [], ["--selftest"], ["inpaint", str(photo)], ["weights", "list"], ["-h"]):
        assert entry.main(argv) == 0
    assert calls == [
        ("app", [str(photo)]),
        ("app", [missing]),  # the app says in a dialog that it is missing
        ("app", []),
        ("app", ["--selftest"]),
        ("cli", ["inpaint", str(photo)]),
        ("cli", ["weights", "list"]),
        ("cli", ["-h"]),
    ]


def test_the_app_opens_the_image_it_is_started_with(qtbot, engine, monkeypatch, photo):
    from app import engine_loader
    from app.main_window import show_window

    monkeypatch.setattr(engine_loader, "load_default_engine", lambda **kw: engine)
    window = show_window([str(photo)])
    qtbot.addWidget(window)
    window.quiet = True
    qtbot.waitUntil(lambda: window.state.source_path == photo and window.controller.engine is engine, timeout=20_000)
    assert window.state.size == (128, 96)
    window.controller.shutdown()


def test_settings_persist_across_windows(qtbot, engine):
    from app.main_window import MainWindow

    first = MainWindow(engine=engine)
    first.quiet = True
    qtbot.addWidget(first)
    first.state.set_brush_size(77)
    first.state.set_params(num_steps=21, cfg_scale=4.5)
    first.panel.colour_match[0].setChecked(False)
    first.close()
    second = MainWindow(engine=engine)
    qtbot.addWidget(second)
    assert second.state.brush_size == 77
    assert second.state.params.sampling.num_steps == 21 and second.state.params.sampling.cfg_scale == 4.5
    assert second.panel.steps.value() == 21
    assert second.state.params.colour_match == 0 and not any(b.isChecked() for b in second.panel.colour_match)


def test_preferences_store_the_thread_setting(window):
    from app.dialogs import PreferencesDialog

    s = window.settings
    s.set_threads("auto")
    prefs = PreferencesDialog(s, "x", window)
    assert prefs.threads.value() == 0 and prefs.threads.text() == "auto"
    prefs.threads.setValue(1)
    assert prefs.store() is None and s.threads() == "1"  # threads alone need no reload
    again = PreferencesDialog(s, "x", window)
    assert again.threads.value() == 1
    again.threads.setValue(0)
    again.store()
    assert s.threads() == "auto"
