"""What IOPaint, Krita and Photoshop users expect (issue 15): the view follows results, keys stay with the canvas,
saving holds no surprises, and the conventions (Close, lasso, soft brush, Ctrl+Shift+I, clear after Apply, a
history of applied edits, Ctrl+wheel). No test is timed: each waits on state."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from test_app import RUN_TIMEOUT, drop_file, open_fitted, run_and_wait, view_point

from app import file_dialogs


def inside_view(window, rect: QRectF) -> bool:
    return window.canvas.visible_rect().contains(rect)


def when_modal(act) -> QTimer:
    """Call ``act(dialog)`` once a modal dialog runs (the timer fires from inside its event loop)."""
    timer = QTimer()
    timer.setInterval(0)

    def check() -> None:
        w = QApplication.activeModalWidget()
        if w is not None:
            timer.stop()
            act(w)

    timer.timeout.connect(check)
    timer.start()
    return timer


def save_png(path, shape, seed=0, alpha=None):
    rgb = np.random.default_rng(seed).integers(0, 255, (*shape, 3), dtype=np.uint8)
    img = Image.fromarray(np.dstack([rgb, alpha]) if alpha is not None else rgb)
    img.save(path)
    return path


def paint_bottom(window) -> QRectF:
    s = window.state
    W, H = s.size
    s.mask[H - 14 : H - 2, W // 3 : W // 2] = 255
    s.mask_changed.emit(window.canvas.sceneRect().toAlignedRect())
    window.controller.refresh_plan()
    return QRectF(W // 3, H - 14, W // 2 - W // 3, 12)


# --- 1 to 3: the view ------------------------------------------------------------------------------


def test_a_newly_opened_photo_is_fitted_whatever_the_zoom_before(window, qtbot, tmp_path):
    big = save_png(tmp_path / "big.png", (342, 548))
    small = save_png(tmp_path / "small.png", (194, 259), seed=1)
    assert window.open_path(big)
    window.canvas.zoom_by(3.0)  # the user zooms in on the first photo
    assert not inside_view(window, QRectF(0, 0, 548, 342))
    assert window.open_path(small)
    qtbot.waitUntil(lambda: inside_view(window, QRectF(0, 0, 259, 194)), timeout=5000)
    view = window.canvas.viewport().rect()
    shown = window.canvas.mapFromScene(QRectF(0, 0, 259, 194)).boundingRect()
    assert shown.width() >= view.width() - 60 or shown.height() >= view.height() - 60  # fitted, not just small


def test_the_variant_strip_does_not_hide_the_edited_area(window, qtbot, tmp_path):
    wide = save_png(tmp_path / "wide.png", (120, 128))
    open_fitted(window, qtbot, wide)
    edited = paint_bottom(window)
    assert inside_view(window, edited)
    run_and_wait(window, qtbot)
    qtbot.waitUntil(lambda: window.strip.isVisible() and window.strip.height() > 50, timeout=5000)
    qtbot.waitUntil(lambda: inside_view(window, edited), timeout=5000)


def test_the_chosen_variant_is_shown_in_its_own_colours(window, qtbot, photo):
    """Qt tints a selected icon with the highlight colour by default; a chosen variant must not look bluer."""
    from PySide6.QtGui import QIcon

    open_fitted(window, qtbot, photo)
    paint_bottom(window)
    run_and_wait(window, qtbot)
    lst = window.strip.list
    item = lst.item(window.state.current)
    assert item.isSelected()
    size = lst.iconSize()

    def pixels(icon, mode):
        img = icon.pixmap(size, mode).toImage()
        return [img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)]

    icon = item.icon()
    assert pixels(icon, QIcon.Mode.Selected) == pixels(icon, QIcon.Mode.Normal)
    plain = QIcon(icon.pixmap(size))
    assert pixels(plain, QIcon.Mode.Selected) != pixels(plain, QIcon.Mode.Normal)  # what the strip must avoid


def test_a_result_outside_a_zoomed_view_is_brought_into_view(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    edited = paint_bottom(window)
    window.canvas.zoom_by(4.0)
    window.canvas.centerOn(QPointF(10, 10))  # the user looks at the top-left corner
    assert not inside_view(window, edited)
    run_and_wait(window, qtbot)
    qtbot.waitUntil(lambda: inside_view(window, edited), timeout=5000)


def test_after_extend_at_fit_zoom_the_new_areas_are_in_view(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.set_mode("outpaint")
    s.set_extend((0, 0, 128, 0))  # twice as wide
    run_and_wait(window, qtbot)
    assert window.controller.apply_current()
    assert s.size == (256, 96)
    qtbot.waitUntil(lambda: inside_view(window, QRectF(0, 0, 256, 96)), timeout=5000)


# --- 2: keys stay with the canvas ----------------------------------------------------------------------


def test_after_a_run_started_with_the_button_the_arrow_keys_flip_variants(window, qtbot, photo):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    open_fitted(window, qtbot, photo)
    window.state.mask[30:50, 40:70] = 255
    window.controller.refresh_plan()
    p = window.panel
    window.history_dock.hide()  # (shown by an earlier test and restored with the window's layout)
    window.dock.widget().ensureWidgetVisible(p.primary)
    qtbot.waitUntil(lambda: not p.primary.visibleRegion().isEmpty(), timeout=5000)
    assert not p.variants.visibleRegion().isEmpty()
    qtbot.mouseClick(p.variants, Qt.MouseButton.LeftButton, pos=QPoint(p.variants.width() - 6, 4))  # its arrows
    assert QApplication.focusWidget() is p.variants
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(p.primary, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.state.running and len(window.state.variants) > 1, timeout=5000)
    assert QApplication.focusWidget() is window.canvas
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
    assert window.state.current == 1
    qtbot.mouseClick(window.strip.apply, Qt.MouseButton.LeftButton)  # the strip (and its button) goes
    assert not window.state.variants
    assert QApplication.focusWidget() is window.canvas


# --- 4 to 6: saving and opening ------------------------------------------------------------------------


def test_save_as_lists_files_of_the_suggested_format(window, qtbot, tmp_path, monkeypatch):
    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(jpeg)
    assert window.open_path(jpeg)
    calls = []

    def dialog(parent, caption, suggested, filters, selected):
        calls.append((suggested, selected))
        return str(tmp_path / "typed-without-suffix"), selected

    monkeypatch.setattr(file_dialogs, "save_file", dialog)
    assert window.save_as()
    suggested, selected = calls[0]
    assert suggested.endswith("photo_edited.jpg") and selected == "JPEG (*.jpg *.jpeg)"
    assert (tmp_path / "typed-without-suffix.jpg").is_file()  # the format of the filter in use


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_unreadable_file_is_refused_before_asking_about_unsaved_changes(window, qtbot, photo, tmp_path):
    open_fitted(window, qtbot, photo)
    window.controller.lanczos()
    window.controller.apply_current()
    assert window.state.modified
    window.quiet = False
    asked = []
    window.confirm_discard = lambda: asked.append(1) or True
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    for open_it in (lambda: window.open_path(bad), lambda: drop_file(window.canvas.viewport(), bad)):
        open_it()
        boxes = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
        assert boxes and "broken.png" in boxes[0].text()
        assert not asked  # no question about the changes for a file that cannot be opened
        for box in boxes:
            box.close()
    assert window.state.modified and window.state.source_path == photo
    window.quiet = True


def test_no_to_overwriting_the_source_goes_back_to_the_dialog(window, qtbot, photo, monkeypatch):
    open_fitted(window, qtbot, photo)
    window.controller.lanczos()
    window.controller.apply_current()
    window.quiet = False
    source_bytes = photo.read_bytes()
    other = photo.with_name("other.png")
    answers = [photo, other]
    asked = []
    monkeypatch.setattr(window, "ask_save_path", lambda suggested, caption="": asked.append(1) or answers.pop(0))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.No)
    assert window.save_as()
    window.quiet = True
    assert len(asked) == 2 and photo.read_bytes() == source_bytes
    assert other.is_file() and window.state.save_path == other


# --- 7: status messages ------------------------------------------------------------------------------


def test_status_messages_follow_undo_and_count_in_english(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.mask[30:50, 40:70] = 255
    s.set_params(variants=1)
    window.controller.refresh_plan()
    run_and_wait(window, qtbot)
    bar = window.statusBar()
    assert bar.currentMessage().startswith("1 variant in ")
    window.actions_["apply"].trigger()
    assert "Ctrl+Z undoes" in bar.currentMessage()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert s.undo_stack.index() == 0
    assert "Ctrl+Z undoes" not in bar.currentMessage() and bar.currentMessage().startswith("Undone: Apply fill")
    window.actions_["redo"].trigger()
    assert bar.currentMessage() == "Redone: Apply fill"


# --- 8: transparency and JPEG --------------------------------------------------------------------------


def test_saving_transparency_as_jpeg_asks_and_flattens_onto_the_chosen_colour(window, qtbot, tmp_path, monkeypatch):
    alpha = np.zeros((32, 48), np.uint8)
    alpha[:, 24:] = 255
    y, x = np.mgrid[0:32, 0:48]
    rgb = np.stack([x * 5, y * 7, np.full_like(x, 180)], axis=-1).astype(np.uint8)  # smooth: JPEG keeps it
    src = tmp_path / "cutout.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(src)
    assert window.open_path(src)
    s = window.state
    window.quiet = False
    out = tmp_path / "out.jpg"
    monkeypatch.setattr(window, "ask_save_path", lambda suggested, caption="": out)
    timer = when_modal(lambda d: d.reject())
    assert not window.save_as() and not out.exists()  # Cancel: nothing written
    timer.stop()
    assert window.statusBar().currentMessage() == "Not saved"

    def pick_black(dialog) -> None:
        assert "cannot store transparency" in dialog.findChildren(type(window.size_label))[0].text()
        dialog.black.setChecked(True)
        dialog.accept()

    timer = when_modal(pick_black)
    assert window.save_as()
    timer.stop()
    window.quiet = True
    saved = np.asarray(Image.open(out).convert("RGB"), np.int16)
    assert np.abs(saved[:, :20]).mean() < 4  # the transparent half is black
    assert np.abs(saved[:, 28:] - s.rgb[:, 28:]).mean() < 12  # the opaque half is the image
    assert s.alpha is not None  # the document keeps its transparency
    assert "flattened onto #000000" in window.statusBar().currentMessage()
    png = tmp_path / "keeps.png"
    monkeypatch.setattr(window, "ask_save_path", lambda suggested, caption="": png)
    window.quiet = False
    assert window.save_as()  # PNG keeps alpha: no question
    window.quiet = True
    assert np.array_equal(np.asarray(Image.open(png))[..., 3], alpha)


# --- 9: conventions ------------------------------------------------------------------------------------


def test_file_close_on_ctrl_w_returns_to_the_empty_window(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    window.controller.lanczos()
    window.controller.apply_current()
    window.quiet = False
    asked = []
    window.confirm_discard = lambda: asked.append(1) or True
    qtbot.keyClick(window.canvas, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    window.quiet = True
    assert asked == [1]  # unsaved changes: asked first
    s = window.state
    assert not s.has_image and s.mask is None and s.undo_stack.count() == 0
    assert window.windowTitle() == "ARPG Studio"
    qtbot.waitUntil(lambda: s.block_reason == "Open an image first", timeout=5000)
    assert not window.actions_["close"].isEnabled()
    assert window.open_path(photo)  # and a photo opens again after it


def test_lasso_fills_the_outline_and_undo_removes_it(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s, vp = window.state, window.canvas.viewport()
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)
    assert s.tool == "lasso" and window.actions_["lasso"].isChecked()
    outline = [(20, 20), (100, 20), (100, 80), (60, 50), (20, 80)]
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, *outline[0]))
    for x, y in outline[1:]:
        qtbot.mouseMove(vp, view_point(window, x, y))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, *outline[-1]))
    assert s.mask[30, 60] and s.mask[70, 25] and s.mask[70, 95]
    assert not s.mask[70, 60] and not s.mask[10, 60] and not s.mask[30, 110]  # the notch and outside
    assert s.undo_stack.undoText() == "Lasso"
    s.set_erase(True)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 50, 25))
    for x, y in ((70, 25), (70, 40), (50, 40)):
        qtbot.mouseMove(vp, view_point(window, x, y))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_point(window, 50, 40))
    assert not s.mask[32, 60] and s.mask[30, 30]
    s.undo_stack.undo()
    s.undo_stack.undo()
    assert not s.mask.any()


def test_invert_is_ctrl_shift_i_as_in_photoshop_and_krita(window, qtbot, photo):
    open_fitted(window, qtbot, photo)
    s = window.state
    s.mask[10:20, 10:20] = 255
    qtbot.keyClick(window.canvas, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not s.mask[15, 15] and s.mask[50, 50] and s.undo_stack.undoText() == "Invert mask"


@pytest.mark.parametrize("clear", [False, True])
def test_the_mask_is_cleared_after_apply_when_asked(window, qtbot, photo, clear):
    open_fitted(window, qtbot, photo)
    s = window.state
    window.panel.clear_after.setChecked(clear)
    assert s.params.clear_mask_after_apply is clear
    s.mask[30:50, 40:70] = 255
    painted = s.mask.copy()
    window.controller.refresh_plan()
    run_and_wait(window, qtbot)
    window.actions_["apply"].trigger()
    window.panel.clear_after.setChecked(False)  # the option is stored with the parameters: leave it off
    assert s.mask.any() is not clear
    s.undo_stack.undo()  # one step brings back the image and the mask
    assert np.array_equal(s.mask, painted)


def test_ctrl_wheel_zooms_and_is_listed_in_the_shortcuts(window, qtbot, photo):
    from app.actions import shortcut_rows

    assert any("Ctrl+wheel" in keys for _action, keys in shortcut_rows())
    open_fitted(window, qtbot, photo)
    before = window.canvas.zoom
    vp = window.canvas.viewport()
    center = QPointF(vp.rect().center())
    event = QWheelEvent(
        center,
        QPointF(vp.mapToGlobal(vp.rect().center())),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, event)
    assert window.canvas.zoom == pytest.approx(before * 1.25)
