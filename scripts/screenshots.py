"""Take the README's screenshots of the real app on the embedded model, driven like a person would.

    xvfb-run -s "-screen 0 1360x860x24" .venv/bin/python scripts/screenshots.py PHOTO [--out docs/screenshots]

Runs the app as a user starts it (``arpg-studio``: the model loads in the background) with settings in a
temporary folder, under the xcb platform, and grabs the whole X screen at each state: the first-start
welcome, empty, mask painted (mouse strokes on the canvas), running with the live preview, variants,
outpaint handles, expand with the Lanczos baseline, split compare, the Models dialog, the history of
applied edits, the Open dialog, and a 4000x3000 version of PHOTO after a Fill, zoomed in on the edit.
PHOTO is scaled to 384 px wide for the other shots.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HOME = tempfile.mkdtemp(prefix="arpg-studio-shots-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(HOME, "data")
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def wait_for(cond, timeout: float = 3600.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the app")
        QApplication.processEvents()
        time.sleep(0.01)


def small(path: Path) -> None:
    """256 colours: a third of the bytes, and the UI looks the same."""
    Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print("wrote", path, f"{path.stat().st_size // 1024} KiB")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("photo")
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--welcome-only", action="store_true", help="stop after the welcome's shot")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = Image.open(args.photo).convert("RGB")
    photo = Path(HOME) / "photo.png"
    src.resize((384, round(384 * src.height / src.width)), Image.LANCZOS).save(photo)
    large = Path(HOME) / "large.jpg"  # 4000 x 3000: PHOTO scaled to cover it, centre crop
    k = max(4000 / src.width, 3000 / src.height)
    big = src.resize((round(src.width * k), round(src.height * k)), Image.LANCZOS)
    left, top = (big.width - 4000) // 2, (big.height - 3000) // 2
    big.crop((left, top, left + 4000, top + 3000)).save(large, quality=92)

    from app.main_window import MainWindow

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    w = MainWindow()
    w.quiet = True
    w.resize(1280, 800)
    w.move(0, 0)
    w.show()
    w.start()
    wait_for(lambda: w.controller.engine is not None and not w.controller.loading)
    s = w.state
    wait_for(lambda: w.welcome is not None and w.welcome.timing is not None and w.welcome.offer is not None)
    pump(0.5)
    w.welcome.grab().save(str(out / "09-welcome.png"))  # shown once, at the first start
    small(out / "09-welcome.png")
    w.welcome.accept()
    if args.welcome_only:
        w.close()
        return 0

    def shot(name: str, settle: float = 0.3) -> None:
        if settle:
            pump(settle)
        else:  # now, as it is: paint synchronously without taking further events
            w.repaint()
        pix = QGuiApplication.primaryScreen().grabWindow(0)
        g = w.frameGeometry()
        pix.copy(0, 0, g.width(), g.height()).save(str(out / f"{name}.png"))
        small(out / f"{name}.png")

    shot("01-empty")

    assert w.open_path(photo)
    w.canvas.fit()
    pump(0.2)
    vp = w.canvas.viewport()

    def at(x: float, y: float):
        return w.canvas.mapFromScene(QPointF(x, y))

    s.set_brush_size(28)
    iw, ih = s.size
    strokes = [[(0.60, 0.25), (0.70, 0.30), (0.78, 0.42)], [(0.10, 0.80), (0.22, 0.74), (0.34, 0.80)]]
    for stroke in strokes:
        pts = [at(x * iw, y * ih) for x, y in stroke]
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            QTest.mouseMove(vp, p)
            pump(0.02)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    QTest.mouseMove(vp, at(0.5 * iw, 0.55 * ih))
    s.show_grid = True
    s.view_changed.emit()
    w.controller.refresh_plan()
    shot("02-mask")
    s.show_grid = False
    s.view_changed.emit()

    s.set_params(num_steps=24, variants=3, random_seed=False, seed=11)
    w.controller.refresh_plan()
    grabbed = []

    def on_preview() -> None:  # the first live preview past a quarter of the run
        step, total, _eta = s.progress
        if not grabbed and s.preview is not None and total and step >= total // 4:
            grabbed.append(step)
            shot("03-running", settle=0)

    s.preview_changed.connect(on_preview)
    assert w.controller.run(), s.block_reason
    wait_for(lambda: not s.running)
    s.preview_changed.disconnect(on_preview)
    shot("04-variants")

    s.set_current(0)
    w.actions_["split"].trigger()
    shot("07-split-compare")
    w.actions_["split"].trigger()
    w.actions_["apply"].trigger()

    s.set_mode("outpaint")
    s.set_extend((96, 0, 96, 0))
    w.controller.refresh_plan()
    w.canvas.fit()
    shot("05-outpaint")

    s.set_mode("expand")
    s.set_params(variants=1, num_steps=16)
    w.controller.refresh_plan()
    assert w.controller.run(), s.block_reason
    wait_for(lambda: not s.running)
    w.controller.lanczos()
    s.set_current(0)
    shot("06-expand")
    w.actions_["apply"].trigger()  # the history now holds the Fill and the Expand

    w.actions_["history"].trigger()
    panel = w.history_panel
    pump(0.3)
    rect = panel.list.visualItemRect(panel.list.item(1))
    QTest.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    w.canvas.fit()
    shot("10-history")
    w.actions_["history"].trigger()

    d = w.open_models()
    d.resize(900, 520)
    pump(1.0)
    d.grab().save(str(out / "08-models.png"))  # no window manager under Xvfb: the dialog alone reads better
    small(out / "08-models.png")
    d.close()

    dialog = QFileDialog(w, "Open image", str(Path(args.photo).parent), "Images (*.png *.jpg *.jpeg *.webp)")
    dialog.resize(900, 560)
    dialog.show()
    pump(1.5)
    dialog.grab().save(str(out / "12-open-dialog.png"))  # Qt's own dialog: there is no desktop under Xvfb
    small(out / "12-open-dialog.png")
    dialog.reject()

    assert w.open_path(large)  # 4000 x 3000: fitted on open
    pump(0.3)
    s.set_mode("inpaint")
    s.set_brush_size(150)
    s.set_params(num_steps=16, variants=2, random_seed=False, seed=5)
    iw, ih = s.size
    for stroke in ([(0.55, 0.50), (0.62, 0.53), (0.68, 0.50)], [(0.58, 0.60), (0.66, 0.62)]):
        pts = [at(x * iw, y * ih) for x, y in stroke]
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            QTest.mouseMove(vp, p)
            pump(0.02)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
    edit = QRectF(0.50 * iw, 0.44 * ih, 0.24 * iw, 0.24 * ih)
    while w.canvas.visible_rect().width() > 1.6 * edit.width():  # the user zooms in on the area with the wheel
        w.canvas.zoom_by(1.25)
    w.canvas.centerOn(edit.center() + QPointF(0, -0.3 * edit.height()))
    w.controller.refresh_plan()
    assert w.controller.run(), s.block_reason
    wait_for(lambda: not s.running)
    pump(0.5)
    shot("11-large-fill")
    w.controller.shutdown()
    w.close()
    qt_app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
