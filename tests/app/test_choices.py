"""Every choice the app offers is one the core accepts (the app once offered a 'linear' step schedule
that the sampler refused, which blocked every run), and the app's defaults are the core's."""

from __future__ import annotations

import numpy as np

from arpg_core import choices
from arpg_core.edit.requests import SamplingParams, default, request_type
from arpg_core.validate import check_options
from arpg_core.weights.defaults import model_default


def combo_items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_every_schedule_the_panel_offers_is_accepted_by_the_core(window):
    panel = window.panel
    offered = [(panel.schedule, "schedule"), (panel.cfg_schedule, "cfg_schedule"), (panel.prefill, "prefill")]
    for combo, field in offered:
        assert combo_items(combo), f"the panel offers no {field}"
        for text in combo_items(combo):
            combo.setCurrentText(text)
            assert getattr(window.state.params.sampling, field) == text
            request = window.controller.request()
            assert getattr(request.sampling, field) == text
            check_options(request)


def test_every_mode_the_panel_offers_builds_a_request_the_core_accepts(window):
    s = window.state
    s.load_document(np.full((24, 32, 3), 90, np.uint8))
    mask = np.zeros((24, 32), bool)
    mask[4:12, 4:12] = True
    s.set_mask(mask, "mask")
    s.set_extend((8, 0, 0, 0))
    assert list(window.panel.mode_buttons) == list(choices.MODES)
    for mode, button in window.panel.mode_buttons.items():
        button.click()
        assert s.mode == mode
        request = window.controller.request()
        assert type(request) is request_type(mode)
        request.validate()
        window.controller.engine.check(request)


def test_every_number_the_panel_allows_is_accepted_by_the_core(window):
    """Both ends of every spin box go through the request's checks."""
    panel = window.panel
    s = window.state
    s.load_document(np.full((80, 80, 3), 90, np.uint8))
    s.set_mask(np.ones((80, 80), bool), "mask")
    boxes = [panel.steps, panel.cfg, panel.temperature, panel.variants, panel.seed, panel.top_k, panel.top_p]
    boxes.append(panel.feather)
    for box in boxes:
        before = box.value()
        for value in (box.minimum(), box.maximum()):
            box.setValue(value)
            check_options(window.controller.request())
        box.setValue(before)


def test_preferences_offer_only_devices_and_precisions_the_core_accepts(window):
    from app.dialogs import PreferencesDialog

    prefs = PreferencesDialog(window.settings, "x", window)
    assert combo_items(prefs.device) == list(choices.DEVICES)
    offered = [prefs.precision.itemData(i) for i in range(prefs.precision.count())]
    assert offered and set(offered) <= set(choices.PRECISIONS)


def test_the_app_defaults_are_the_cores(window):
    from app.state import Params

    p = Params()
    # a new app opens on the embedded model, so it starts from that model's own sampling defaults
    assert default("model") == "embedded"
    assert p.sampling == model_default("sampling", model="embedded") != SamplingParams()
    for name in ("label", "seed", "feather", "seam_first", "colour_match"):
        assert getattr(p, name) == default(name), name
    s = window.state
    s.load_document(np.full((24, 32, 3), 90, np.uint8))
    s.set_mode("expand")
    s.set_params(keep_source=True)
    assert window.controller.request().expand_lock == default("expand_lock") > 0


def test_a_sampling_default_follows_the_model_unless_the_user_set_it(qtbot):
    """The embedded model samples at 0.7 (its own default); switching to an official model moves a setting still at
    that to the core's, and leaves one the user chose (here the prefill)."""
    from app.state import AppState, EngineInfo

    s = AppState()

    def info(name):
        return EngineInfo(name, "cpu", (), 256, 16)

    s.set_engine_info(info("embedded"))
    own = model_default("temperature", model="embedded")
    assert s.params.sampling.temperature == own != SamplingParams().temperature
    assert s.params.sampling.prefill == SamplingParams().prefill == "causal"
    s.set_params(prefill="bidirectional")
    s.set_engine_info(info("ARPG-L"))
    assert s.params.sampling.temperature == SamplingParams().temperature
    assert s.params.sampling.prefill == "bidirectional"  # the user's
    s.set_engine_info(info("embedded"))
    assert s.params.sampling.temperature == own and s.params.sampling.prefill == "bidirectional"


def test_the_candidates_follow_the_model_unless_the_user_set_them(qtbot, window):
    """The embedded model keeps the best of 6 fills; an official model samples only the variants asked for. The
    panel shows the number, and a Fill asks for it."""
    from app.state import EngineInfo

    s, panel = window.state, window.panel
    own = model_default("candidates", model="embedded")
    assert own > 1 and s.params.candidates == own and panel.candidates.value() == own
    s.set_engine_info(EngineInfo("ARPG-L", "cpu", (), 256, 16))
    assert s.params.candidates == default("candidates") == 1 and panel.candidates.value() == 1
    panel.candidates.setValue(4)  # the user's choice stays across a switch
    s.set_engine_info(EngineInfo("embedded", "cpu", (), 128, 16))
    assert s.params.candidates == 4
    s.set_mode("inpaint")
    assert window.controller.request().candidates == 4
