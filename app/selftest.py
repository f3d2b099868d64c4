"""``arpg-studio --selftest``: load the default engine, run one small inpaint through the real worker path
(window, state, controller, EditJob thread), apply it and check the pixels outside the mask. One line out."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEventLoop, QTimer

from . import engine_loader

SIZE = 128
TIMEOUT_S = 300


def _test_image() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    rgb = np.stack([x * 2, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)
    mask = np.zeros((SIZE, SIZE), bool)
    mask[SIZE // 3 : SIZE // 2, SIZE // 3 : 2 * SIZE // 3] = True
    return rgb, mask


def selftest(window_class) -> int:
    try:
        engine = engine_loader.load_default_engine()
    except Exception as e:
        print(f"selftest failed: the model did not load: {e}")
        return 1
    window = window_class(engine=engine)
    window.quiet = True
    try:
        return _run(window, engine)
    except Exception as e:
        print(f"selftest failed: {type(e).__name__}: {e}")
        return 1
    finally:
        window.close()


def _run(window, engine) -> int:
    from arpg_core.edit.edits import feather_alpha

    state, controller = window.state, window.controller
    rgb, mask = _test_image()
    state.load_document(rgb)
    state.mask[...] = np.where(mask, 255, 0)
    state.set_mode("inpaint")
    state.set_params(num_steps=8, variants=1, random_seed=False, seed=1)
    outcome: dict = {}
    loop = QEventLoop()
    controller.finished.connect(lambda took: (outcome.setdefault("took", took), loop.quit()))
    controller.error.connect(lambda title, msg, _d: (outcome.setdefault("error", f"{title}: {msg}"), loop.quit()))
    steps_seen = []
    state.progress_changed.connect(lambda step, total, _eta: steps_seen.append((step, total)))
    t0 = time.perf_counter()
    if not controller.run():
        print(f"selftest failed: cannot run: {controller.blocked_reason()}")
        return 1
    QTimer.singleShot(TIMEOUT_S * 1000, loop.quit)
    loop.exec()
    if "error" in outcome:
        print(f"selftest failed: {outcome['error']}")
        return 1
    if "took" not in outcome:
        print(f"selftest failed: no result within {TIMEOUT_S} s")
        return 1
    if not steps_seen or not controller.apply_current():
        print("selftest failed: no progress was reported or the result could not be applied")
        return 1
    outside = feather_alpha(mask, state.params.feather) == 0
    if not np.array_equal(state.rgb[outside], rgb[outside]):
        print("selftest failed: pixels outside the mask changed")
        return 1
    took = time.perf_counter() - t0
    where = f"{engine.name} on {engine.device}, {len(steps_seen)} steps"
    print(f"selftest ok: inpaint {SIZE}x{SIZE} in {took:.1f} s ({where})")
    return 0
