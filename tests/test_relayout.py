"""scripts/relayout.py (issue 14): the move of the core's modules into subpackages, run on a small scratch
repository laid out like this one, and its table checked against this repository's modules."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "relayout.py"

FILES = {
    "arpg_core/__init__.py": "",
    "arpg_core/choices.py": 'MODES = ("inpaint",)\n',
    "arpg_core/weights.py": "def thing():\n    return 'cache'\n",
    "arpg_core/catalog.py": (
        "from pathlib import Path\n\n\ndef assets_dir():\n"
        "    return Path(__file__).resolve().parent.parent / 'assets'\n"
    ),
    "arpg_core/commands.py": "COMMANDS = {}\n",
    "arpg_core/registry.py": (
        "from typing import TYPE_CHECKING\n\n"
        "from .catalog import assets_dir\n"
        "from .choices import MODES\n\n"
        "if TYPE_CHECKING:\n    from .weights import thing\n\n\n"
        "def load():\n    from . import weights\n\n    return weights.thing(), MODES, assets_dir()\n"
    ),
    "arpg_core/cli.py": (
        "import sys\n\nfrom . import registry\nfrom .commands import COMMANDS\n\n\n"
        "def main(argv=None):\n    print(registry.load()[0], len(COMMANDS))\n    return 0\n\n\n"
        'if __name__ == "__main__":\n    sys.exit(main())\n'
    ),
    "app/__init__.py": "",
    "app/main.py": "def run():\n    from arpg_core.cli import main as cli_main\n\n    return cli_main([])\n",
    "tests/test_x.py": (
        "import sys\n\nfrom arpg_core import catalog, choices, registry as reg, weights\n\n\n"
        "def test_x(monkeypatch):\n"
        '    monkeypatch.setattr("arpg_core.registry.load", lambda: 1)\n'
        '    code = "from arpg_core import catalog, weights\\n"\n'
        '    return [sys.executable, "-m", "arpg_core.cli"], code, catalog, choices, reg, weights\n'
    ),
    "pyproject.toml": (
        '[tool.setuptools]\npackages = ["arpg_core", "app"]\n\n[tool.ruff]\nline-length = 120\n\n'
        '[[tool.importlinter.contracts]]\nsource_modules = ["arpg_core.catalog", "arpg_core.choices"]\n'
    ),
    "docs/notes.md": "The registry (`arpg_core/registry.py`, `arpg_core.registry.load`) reads `arpg_core.weights`.\n",
    "LEAD_NOTES.md": "arpg_core.registry stays as written\n",
    "assets/x.txt": "an asset\n",
}


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def _scratch(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    repo = tmp_path / "repo"
    for name, text in {**FILES, **(extra or {})}.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "flat")
    return repo


def _relayout(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(repo), *args], capture_output=True, text=True)


def test_moves_the_modules_and_rewrites_every_kind_of_reference(tmp_path):
    repo = _scratch(tmp_path)
    out = _relayout(repo)
    assert out.returncode == 0, out.stderr
    core = repo / "arpg_core"
    assert sorted(p.name for p in core.glob("*.py")) == ["__init__.py", "choices.py"]
    for path in ("cli/main.py", "cli/commands.py", "weights/cache.py", "weights/catalog.py", "weights/registry.py"):
        assert (core / path).is_file(), path
    assert (core / "cli" / "__init__.py").read_text() == ""  # importing a package imports nothing
    staged = _git(repo, "diff", "--cached", "--name-status", "-M")
    assert "R100\tarpg_core/commands.py\tarpg_core/cli/commands.py" in staged  # moved with git, history kept

    registry = (core / "weights" / "registry.py").read_text()
    assert "from arpg_core.weights.catalog import assets_dir" in registry
    assert "from arpg_core.choices import MODES" in registry  # a top-level module, now named absolutely
    assert "    from arpg_core.weights.cache import thing" in registry  # under TYPE_CHECKING
    assert "    from arpg_core.weights import cache as weights" in registry  # inside a function, old name kept
    catalog = (core / "weights" / "catalog.py").read_text()
    assert "Path(__file__).resolve().parent.parent.parent / " in catalog  # still the repository root
    assert "from arpg_core.cli.main import main as cli_main" in (repo / "app" / "main.py").read_text()

    test = (repo / "tests" / "test_x.py").read_text()
    assert "from arpg_core import choices\n" in test
    for line in ("cache as weights", "catalog", "registry as reg"):  # split per package; ruff sorts them
        assert f"from arpg_core.weights import {line}\n" in test
    assert '"arpg_core.weights.registry.load"' in test  # a monkeypatch target
    assert '"-m", "arpg_core.cli.main"' in test
    assert '"from arpg_core.weights import catalog, cache as weights\\n"' in test  # inside a string
    pyproject = (repo / "pyproject.toml").read_text()
    assert 'packages = ["arpg_core", "arpg_core.cli", "arpg_core.weights", "app"]' in pyproject
    assert '["arpg_core.weights.catalog", "arpg_core.choices"]' in pyproject
    docs = (repo / "docs" / "notes.md").read_text()
    assert "`arpg_core/weights/registry.py`, `arpg_core.weights.registry.load`" in docs
    assert "reads `arpg_core.weights.cache`" in docs
    assert (repo / "LEAD_NOTES.md").read_text() == FILES["LEAD_NOTES.md"]

    env = {**os.environ, "PYTHONPATH": str(repo)}
    cmd = [sys.executable, "-m", "arpg_core.cli.main"]
    run = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["cache", "0"]


def test_refuses_to_run_twice(tmp_path):
    repo = _scratch(tmp_path)
    assert _relayout(repo).returncode == 0
    _git(repo, "commit", "-qm", "moved")
    again = _relayout(repo)
    assert again.returncode == 1
    assert "laid out already" in again.stderr and "Traceback" not in again.stderr
    assert _git(repo, "status", "--porcelain") == ""


def test_an_unknown_module_stops_it_before_anything_moves(tmp_path):
    repo = _scratch(tmp_path, {"arpg_core/newthing.py": "X = 1\n"})
    out = _relayout(repo)
    assert out.returncode == 1
    assert "newthing" in out.stderr and "LAYOUT" in out.stderr
    assert (repo / "arpg_core" / "registry.py").is_file()
    assert _git(repo, "status", "--porcelain") == ""


def test_uncommitted_changes_stop_it(tmp_path):
    repo = _scratch(tmp_path)
    (repo / "arpg_core" / "choices.py").write_text("MODES = ()\n")
    out = _relayout(repo)
    assert out.returncode == 1 and "uncommitted" in out.stderr
    assert (repo / "arpg_core" / "registry.py").is_file()


def _table():
    spec = importlib.util.spec_from_file_location("relayout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_core_module_has_a_place_in_the_table():
    """A module added to the flat core before the move must be added to the table (the script would stop)."""
    relayout = _table()
    if any((ROOT / "arpg_core" / p).is_dir() for p in relayout.packages()):
        pytest.skip("the core is laid out in packages already")
    modules = {p.stem for p in (ROOT / "arpg_core").glob("*.py")}
    assert modules - set(relayout.LAYOUT) - relayout.TOP_LEVEL == set()
    assert not set(relayout.LAYOUT) & relayout.TOP_LEVEL
    leaves = [target for target in relayout.LAYOUT.values()]
    assert len(leaves) == len(set(leaves))  # no two modules land on one path
