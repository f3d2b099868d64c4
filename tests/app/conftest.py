"""GUI test fixtures: offscreen Qt (tests/conftest.py), settings and user data in a temporary folder,
and one real engine for all tests. Switch ``engine`` to the embedded model once its weights exist."""

from __future__ import annotations

import os
import tempfile

_HOME = tempfile.mkdtemp(prefix="arpg-studio-test-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from tiny import tiny_arpg, tiny_vq  # noqa: E402

from arpg_core.edit.pipeline import Engine  # noqa: E402

FAST = {"num_steps": 6, "variants": 2, "random_seed": False, "seed": 7}


@pytest.fixture(scope="session")
def engine():
    """The engine every GUI test runs: the shipped embedded model through the app's own loader.

    ARPG_STUDIO_TEST_ENGINE=tiny runs them on a tiny random model (16 px windows) instead.
    """
    if os.environ.get("ARPG_STUDIO_TEST_ENGINE") != "tiny":
        from app.engine_loader import load_default_engine

        return load_default_engine(device="cpu")
    return Engine(tiny_arpg(), tiny_vq(), class_names=list("abcde"), name="tiny")


@pytest.fixture
def window(qtbot, engine):
    from app.main_window import MainWindow

    w = MainWindow(engine=engine)
    w.quiet = True
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    w.state.set_params(**FAST)
    w.controller.refresh_plan()
    yield w
    w.controller.shutdown()


@pytest.fixture
def photo(tmp_path):
    """A small RGB PNG with some structure (not a flat colour)."""
    y, x = np.mgrid[0:96, 0:128]
    rgb = np.stack([(x * 2) % 256, (y * 3) % 256, ((x // 8 + y // 8) % 2) * 200], axis=-1).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    return path
