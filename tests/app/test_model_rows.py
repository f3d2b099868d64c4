"""The Models dialog's words for the core's errors are built from the errors' fields: no command line in them,
offline says how to import, a connection problem what to check; an error of another kind reads as it is."""

from __future__ import annotations

from app.model_rows import error_text
from arpg_core.weights.catalog import REGISTRY
from arpg_core.weights.weights_errors import OfflineError, WeightsError, already_installed, not_installed, offline


def test_offline_says_how_to_import_without_a_command_line():
    entry = REGISTRY["VQ-16"]
    text = error_text(offline(entry, "offline mode"), "")
    assert text.startswith("Cannot download VQ-16 (offline mode).\n\n")
    assert f"download vq_ds16_c2i.pt from {entry.url}, copy it to this computer and choose Import file… here" in text
    assert "arpg-studio" not in text


def test_errors_lose_the_command_lines_advice_and_keep_their_sentence():
    assert error_text(already_installed("VQ-16", "/c/VQ-16.safetensors"), "") == (
        "VQ-16 is already installed (/c/VQ-16.safetensors); remove it first"
    )
    assert error_text(not_installed("ARPG-L"), "") == (
        "ARPG-L is not installed; download ARPG-L in Models…, or offline copy arpg_300m.pt here and choose "
        "Import file… in Models…"
    )
    e = WeightsError("x.pt is a VQ tokenizer, not VQ-16", kind="mismatch", cli_hint="; pass --force")
    assert error_text(e, "") == "X.pt is a VQ tokenizer, not VQ-16"
    broke = OfflineError("the download of a.pt failed (cannot reach h); nothing was installed", kind="broke_off")
    assert error_text(broke, "") == (
        "The download of a.pt failed (cannot reach h); nothing was installed\n\n"
        "Check the connection (and HF_ENDPOINT or a proxy, if you use one)."
    )
    assert error_text(OSError("disk full"), "") == "Disk full"
    assert error_text(None, "it failed") == "It failed"
