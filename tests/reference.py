"""Locating and reading the shared reference fixture (official-code numerics) for the tests.

The fixture directory is ``$ARPG_REFERENCE_DIR`` if set, else ``../shared/reference/arpg-tiny``
relative to the repository root. Tests that need it call :func:`require_fixture` (module-level skip).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURE_DIR = REPO_ROOT / ".." / "shared" / "reference" / "arpg-tiny"


def fixture_dir() -> Path:
    env = os.environ.get("ARPG_REFERENCE_DIR")
    return Path(env) if env else DEFAULT_FIXTURE_DIR.resolve()


def require_fixture() -> Path:
    """Skip the calling test module unless the fixture directory holds ``fixture.json``."""
    d = fixture_dir()
    if not (d / "fixture.json").is_file():
        if os.environ.get("ARPG_REQUIRE_REFERENCE"):
            pytest.fail(f"ARPG_REQUIRE_REFERENCE is set but no fixture is at {d}", pytrace=False)
        pytest.skip(
            f"reference fixture not found at {d} (set ARPG_REFERENCE_DIR to the arpg-tiny directory)",
            allow_module_level=True,
        )
    return d


def load_fixture() -> dict:
    """fixture.json: configs, schedules, tensor list and the official state-dict shapes."""
    return json.loads((fixture_dir() / "fixture.json").read_text())


def load_expected() -> dict[str, torch.Tensor]:
    """expected.safetensors: inputs and expected outputs, dtypes as stored."""
    return load_file(str(fixture_dir() / "expected.safetensors"))


def load_weights(name: str) -> dict[str, torch.Tensor]:
    """``<name>.safetensors`` (or ``name`` itself if it has the suffix) with floats cast to float32."""
    fname = name if name.endswith(".safetensors") else f"{name}.safetensors"
    sd = load_file(str(fixture_dir() / fname))
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def layout_path() -> Path:
    """checkpoint-layout.json, which sits next to the fixture directory."""
    return fixture_dir().parent / "checkpoint-layout.json"
