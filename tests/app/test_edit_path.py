"""A Fill click end to end: one request, checked once, its result applied by the core's apply() where its
placement says, as one undoable step."""

from __future__ import annotations

import numpy as np

from arpg_core.edit.placement import Document, apply
from arpg_core.edit.plans import ModePlan

RUN_TIMEOUT = 120_000


def _run(window, qtbot):
    with qtbot.waitSignal(window.controller.finished, timeout=RUN_TIMEOUT):
        assert window.controller.run(), window.state.block_reason
    qtbot.waitUntil(lambda: not window.state.running, timeout=5000)


def test_a_click_builds_its_request_once_and_checks_it_once(window, qtbot):
    s, c = window.state, window.controller
    s.load_document(np.full((40, 48, 3), 120, np.uint8))
    mask = np.zeros((40, 48), bool)
    mask[10:20, 12:30] = True
    s.set_mask(mask, "mask")
    engine = c.engine
    checks, runs = [], []
    check, run = engine.check, engine.run
    engine.check = lambda r: checks.append(r) or check(r)
    engine.run = lambda job: runs.append(job) or run(job)
    try:
        with qtbot.waitSignal(c.finished, timeout=RUN_TIMEOUT):
            assert c.run()
            assert len(checks) == 1  # the click: one request, one check
        qtbot.waitUntil(lambda: not s.running, timeout=5000)
    finally:
        del engine.check, engine.run
    assert len(runs) == 1 and isinstance(runs[0], ModePlan) and runs[0].request is checks[0]


def _apply_and_compare(window, qtbot, mode, **setup):
    """Run ``mode``, apply the current variant, and compare the document with the core's apply()."""
    s, c = window.state, window.controller
    rgb = np.random.default_rng(3).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    alpha = np.full((32, 40), 200, np.uint8)
    s.load_document(rgb, alpha)
    mask = np.zeros((32, 40), bool)
    mask[6:14, 8:20] = True
    s.set_mask(mask, "mask")
    s.set_mode(mode)
    for key, value in setup.items():
        getattr(s, f"set_{key}")(value)
    _run(window, qtbot)
    v = s.current_variant()
    before = Document(s.rgb, s.alpha, s.mask.copy())
    expected = apply(before, v.result, v.index)
    assert c.apply_current()
    assert np.array_equal(s.rgb, expected.rgb) and np.array_equal(s.mask, expected.mask)
    assert (s.alpha is None and expected.alpha is None) or np.array_equal(s.alpha, expected.alpha)
    assert (s.rgb.shape[1], s.rgb.shape[0]) == v.result.placement.size
    s.undo_stack.undo()  # one step back to the document as it was
    assert np.array_equal(s.rgb, rgb) and np.array_equal(s.alpha, alpha) and np.array_equal(s.mask > 0, mask)


def test_fill_applies_where_the_core_says(window, qtbot):
    _apply_and_compare(window, qtbot, "inpaint")


def test_outpaint_applies_where_the_core_says(window, qtbot):
    _apply_and_compare(window, qtbot, "outpaint", extend=(8, 0, 16, 4))
    assert window.state.extend == (0, 0, 0, 0)  # the extension was used up by the apply


def test_expand_applies_where_the_core_says(window, qtbot):
    _apply_and_compare(window, qtbot, "expand")


def test_a_result_for_another_size_is_refused_once_in_the_core(window, qtbot):
    s, c = window.state, window.controller
    s.load_document(np.full((32, 40, 3), 90, np.uint8))
    s.set_mode("expand")
    _run(window, qtbot)
    messages = []
    s.message.connect(messages.append)
    s.rgb = np.full((30, 40, 3), 90, np.uint8)  # the document changed size behind the variants' back
    assert not c.apply_current()
    assert messages[-1] == "This result no longer fits the image"
