"""The module graph of arpg_core and app, read statically from the source with ast.

Every import counts: at module level, inside functions (lazy imports) and under ``if TYPE_CHECKING``. A circle
between modules, however it is held apart at run time, is a design problem (issue 14), so any circle fails.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("arpg_core", "app")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets.add(stem)
            for alias in node.names:
                targets.add(f"{stem}.{alias.name}")  # `from . import weights`: the module itself
    resolved = set()
    for target in targets:
        # the deepest project module the name stands for (`from .registry import REGISTRY` ->
        # arpg_core.weights.registry)
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name and target not in PACKAGES:
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_lazy_and_type_checking_imports(tmp_path):
    """The reader itself: a circle held apart by a lazy import, or by TYPE_CHECKING, is still a circle."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from . import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import X\n")
    (pkg / "d.py").write_text("import pkg.c\n")
    (pkg / "e.py").write_text("from .a import thing\n")  # into a circle, not part of one
    names = {f"pkg.{p.stem}": p for p in pkg.glob("*.py") if p.stem != "__init__"}
    edges = {n: imports_of(n, p, set(names)) for n, p in names.items()}
    assert circles(edges) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]


def test_there_are_no_import_circles_among_the_project_modules():
    edges = graph()
    assert "arpg_core.cli.main" in edges and "app.models_dialog" in edges  # the walk found the project
    assert circles(edges) == []


def test_listing_the_model_catalog_does_not_import_torch():
    """The model catalog is data: reading it (names, sizes, where each comes from, where installed models live,
    the errors about them) must not pull in torch."""
    code = (
        "import sys\n"
        "from arpg_core.weights import catalog, model_files, weights_errors\n"
        "assert catalog.REGISTRY['ARPG-L'].approx_download_bytes > 0\n"
        "assert model_files.installed_path('embedded') is not None\n"
        "assert weights_errors.not_installed('ARPG-L').kind == 'not_installed'\n"
        "print(sorted(m for m in ('torch', 'numpy', 'PySide6') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_weights_list_does_not_import_torch_once_this_machine_is_measured(tmp_path):
    """`arpg-studio weights list` reads the catalog, the installed files' headers and the stored speed
    measurement: none of that needs torch (only measuring the speed, the first time, does)."""
    import json
    import time

    from arpg_core.weights import calibrate

    here = {**calibrate.machine(), "others_busy": 0.0}
    stored = calibrate.Speed((0.5, 2e-8), (0.25, 4e-9), {}, here, time.time())
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / calibrate.CALIBRATION_FILE).write_text(json.dumps(stored.to_dict()))
    code = (
        "import sys\n"
        "from arpg_core.cli.main import main\n"
        "code = main(['weights', 'list'])\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "ARPG_STUDIO_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "embedded" in out.stdout and "s/image here" in out.stdout  # the stored measurement was used
    assert out.stderr.strip().splitlines()[-1] == "False"
