"""Every choice the app offers is one the core accepts (the app once offered a 'linear' step schedule
that the sampler refused, which blocked every run)."""

from __future__ import annotations

from arpg_core.validate import check_options


def combo_items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_every_schedule_the_panel_offers_is_accepted_by_the_core(window):
    panel = window.panel
    offered = [(panel.schedule, "schedule"), (panel.cfg_schedule, "cfg_schedule")]
    for combo, field in offered:
        assert combo_items(combo), f"the panel offers no {field}"
        for text in combo_items(combo):
            combo.setCurrentText(text)
            assert getattr(window.state.params, field) == text
            request = window.controller.request()
            assert getattr(request, field) == text
            request.sampling()  # raises ValueError for a choice the sampler does not know
            check_options(request)
