"""Move the flat ``arpg_core`` modules into subpackages that show the design, and rewrite every reference.

Issue 14: one package per concern (the network, edit planning and the engine, file I/O, the model catalog and
weights cache, training, the CLI). Run it from the repository root on a clean work tree:

    python scripts/relayout.py            # move, rewrite, then ruff --fix and ruff format the touched files
    python scripts/relayout.py --dry-run  # print what would move, change nothing

What it does, in order:
1. Checks: a git work tree with nothing uncommitted (the result is staged, not committed, so
   ``git reset --hard && git clean -fd arpg_core`` undoes it), not laid out already (it refuses to run
   twice), every ``arpg_core/*.py`` named in ``LAYOUT`` or ``TOP_LEVEL`` (an unknown module stops it: add it
   to the table), and no use of ``__file__`` in a moved module that it does not know how to adjust.
2. ``git mv`` each module present into its package; modules of the table that do not exist are skipped. Each
   new package gets an empty ``__init__.py`` (importing a package must not import torch).
3. Rewrites every tracked text file (Python, Markdown, TOML, build.spec, shell, .ci/run) except LEAD_NOTES.md,
   runs/ and data/:
   - relative imports inside the core (``from .x import y``, ``from . import x``) become absolute;
   - dotted names ``arpg_core.x`` (imports, monkeypatch targets, import-linter contracts, ``python -m``,
     prose) become ``arpg_core.pkg.x``;
   - ``from arpg_core import x, y`` is split per package (``from arpg_core.pkg import x``; a renamed module
     keeps its old name with ``as``);
   - paths ``arpg_core/x.py`` become ``arpg_core/pkg/x.py``;
   - ``pyproject.toml`` lists the new packages for setuptools;
   - ``Path(__file__).resolve().parent.parent`` (the repository root, seen from a core module) gains a
     ``.parent`` for the extra level.
4. ``ruff check --fix`` (import order) and ``ruff format`` on the touched Python files.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = "arpg_core"

# Every core module and where it goes. A module listed here that does not exist is skipped (the table also
# covers branches merged later); a module that exists and is not listed stops the script.
LAYOUT: dict[str, str] = {
    # nn: the network, its cache, the sampler and the tokenizer, and loading their weights into them
    "config": "nn.config",
    "model": "nn.model",
    "kv_cache": "nn.kv_cache",
    "sampler": "nn.sampler",
    "tokenizer": "nn.tokenizer",
    "local_decode": "nn.local_decode",  # region decode of the VQ decoder: needs only the tokenizer
    "quant": "nn.quant",
    "loading": "nn.loading",
    # edit: the typed requests, each mode's plan, where a result lands, and the engine's decode loop
    "edits": "edit.edits",
    "requests": "edit.requests",
    "plans": "edit.plans",
    "placement": "edit.placement",
    "pipeline": "edit.pipeline",
    # files: image and checkpoint I/O
    "imageio": "files.imageio",
    "atomic": "files.atomic",
    "safefile": "files.safefile",
    "shapes": "files.shapes",
    "checkpoints": "files.checkpoints",
    "checkpoint_header": "files.checkpoint_header",
    "checkpoint_error": "files.checkpoint_error",
    # weights: the model catalog, the weights cache, and what a model costs on this machine
    "catalog": "weights.catalog",
    "model_files": "weights.model_files",
    "registry": "weights.registry",
    "weights": "weights.cache",
    "weights_hub": "weights.weights_hub",
    "weights_errors": "weights.weights_errors",
    "estimates": "weights.estimates",
    "devices": "weights.devices",
    "int8_cache": "weights.int8_cache",  # int8 weights kept in the cache folder (cache, atomic); quant reads it
    "calibrate": "weights.calibrate",  # this machine's speed, stored in the cache folder; estimates read it
    # training: training and its data
    "train": "training.train",
    "data": "training.data",
    "data_packages": "training.data_packages",
    "data_sources": "training.data_sources",
    "rcc": "training.rcc",
    "photo_filter": "training.photo_filter",
    "crops": "training.crops",
    "metrics": "training.metrics",
    # cli: the command line
    "cli": "cli.main",
    "commands": "cli.commands",
    "edit_cli": "cli.edit_cli",
    "train_cli": "cli.train_cli",
    "weights_cli": "cli.weights_cli",
}

# Small modules several groups use, so none of the packages owns them (and no package imports another just
# for them): the lists of choices (the app, the CLI, the engine and training read them) and the checks of
# option values against them (requests, image and checkpoint files, the CLI), progress reports, and the
# process set-up that must run before torch loads (app/__main__ and the CLI call it first). None of them
# imports a subpackage.
TOP_LEVEL = {"__init__", "choices", "validate", "progress", "threads"}

TEXT_SUFFIXES = {".py", ".md", ".toml", ".spec", ".sh", ".cfg", ".ini", ".txt", ".yml", ".yaml"}
TEXT_NAMES = {".ci/run"}
# docs/architecture.md describes the layout after the move already
NEVER_TOUCH = (
    "LEAD_NOTES.md",
    "runs/",
    "data/",
    "scripts/relayout.py",
    "tests/test_relayout.py",
    "docs/architecture.md",
)

# A core module's own directory changes; the only use of __file__ the script adjusts is the repository root.
LINE_LENGTH = 120  # [tool.ruff] line-length
ROOT_FROM_MODULE = "Path(__file__).resolve().parent.parent"


class Refused(Exception):
    pass


def git(*args: str, cwd: Path = ROOT) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise Refused(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def packages() -> list[str]:
    return sorted({target.split(".")[0] for target in LAYOUT.values()})


def check(root: Path) -> dict[str, str]:
    """The moves to make (old module name -> new dotted path, below arpg_core), or Refused with the reason."""
    core = root / CORE
    if not core.is_dir():
        raise Refused(f"no {CORE}/ in {root}: run this from the repository root")
    done = [p for p in packages() if (core / p).exists()]
    if done:
        raise Refused(
            f"{CORE} is laid out already ({', '.join(f'{CORE}/{p}/' for p in done)} exist(s)); "
            "the script runs once, on the flat layout"
        )
    if git("status", "--porcelain", "--untracked-files=no", cwd=root).strip():
        raise Refused("the work tree has uncommitted changes: commit them first, so that the move can be undone")
    present = {p.stem for p in core.glob("*.py")}
    unknown = sorted(present - set(LAYOUT) - TOP_LEVEL)
    if unknown:
        raise Refused(
            f"{CORE} has module(s) the layout table does not place: {', '.join(unknown)}. "
            "Add each to LAYOUT (or TOP_LEVEL) in scripts/relayout.py, then run it again"
        )
    others = sorted(p.name for p in core.iterdir() if p.suffix != ".py" and p.name not in {"__pycache__", "py.typed"})
    if others:
        raise Refused(f"{CORE} holds something other than modules: {', '.join(others)}; move it by hand first")
    moves = {name: target for name, target in LAYOUT.items() if name in present}
    for name in moves:
        for number, line in enumerate((core / f"{name}.py").read_text(encoding="utf-8").splitlines(), 1):
            if "__file__" in line and ROOT_FROM_MODULE not in line:
                raise Refused(
                    f"{CORE}/{name}.py:{number} uses __file__ in a way the script cannot adjust for the move: "
                    f"{line.strip()!r}"
                )
    return moves


# --- rewriting --------------------------------------------------------------------------------------------


def _alternation(names) -> str:
    return "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))


class Rewriter:
    def __init__(self, moves: dict[str, str]):
        self.moves = moves
        names = _alternation(moves)
        local = _alternation(set(moves) | (TOP_LEVEL - {"__init__"}))
        # `from .x import` / `from . import` at the start of a statement inside the core
        self.relative_from = re.compile(rf"^(\s*)from \.({local})(?![\w.])", re.M)
        self.relative_package = re.compile(r"^(\s*)from \. import ", re.M)
        self.dotted = re.compile(rf"(?<![\w.]){CORE}\.({names})(?!\w)")
        self.path = re.compile(rf"(?<![\w.]){CORE}/({names})\.py(?!\w)")
        # `from arpg_core import a, b as c` on one line (also inside a string), or in parentheses
        self.from_core = re.compile(rf"^([ \t]*)from {CORE} import ([\w, \t]+?)[ \t]*(#[^\n]*)?$", re.M)
        self.from_core_inline = re.compile(rf"(?<![\w.])from {CORE} import ((?:\w+(?: as \w+)?)(?:, \w+(?: as \w+)?)*)")
        self.from_core_paren = re.compile(rf"^([ \t]*)from {CORE} import \(([^)#]*)\)", re.M)

    def _imports(self, names: str) -> list[str]:
        """``a, b as c`` -> one ``from arpg_core.pkg import ...`` per package, in the order first seen."""
        groups: dict[str, list[str]] = {}
        for item in (part.strip() for part in names.split(",")):
            if not item:
                continue
            name, _, alias = (s.strip() for s in item.partition(" as "))
            target = self.moves.get(name)
            if target is None:
                groups.setdefault(CORE, []).append(item)
                continue
            package, _, leaf = f"{CORE}.{target}".rpartition(".")
            alias = alias or name
            groups.setdefault(package, []).append(leaf if leaf == alias else f"{leaf} as {alias}")
        return [f"from {package} import {', '.join(items)}" for package, items in groups.items()]

    def rewrite(self, text: str, in_core: bool) -> str:
        if in_core:
            text = self.relative_from.sub(lambda m: f"{m[1]}from {CORE}.{m[2]}", text)
            text = self.relative_package.sub(lambda m: f"{m[1]}from {CORE} import ", text)
        text = self.dotted.sub(lambda m: f"{CORE}.{self.moves[m[1]]}", text)
        text = self.path.sub(lambda m: f"{CORE}/{self.moves[m[1]].replace('.', '/')}.py", text)

        def whole_line(m: re.Match) -> str:
            comment = f"  {m[3]}" if m[3] else ""
            lines = self._imports(m[2])
            return "\n".join(f"{m[1]}{line}{comment if i == 0 else ''}" for i, line in enumerate(lines))

        def parenthesised(m: re.Match) -> str:
            return "\n".join(f"{m[1]}{line}" for line in self._imports(m[2].replace("\n", " ")))

        text = self.from_core_paren.sub(parenthesised, text)
        text = self.from_core.sub(whole_line, text)
        # what is left is inside a string or after other code on the line: keep it on one line
        return self.from_core_inline.sub(lambda m: "; ".join(self._imports(m[1])), text)


def rewrite_pyproject(text: str, used: list[str]) -> str:
    """setuptools is given the packages by name: add the new ones."""

    def listed(m: re.Match) -> str:
        names = [s.strip().strip("\"'") for s in m[1].split(",") if s.strip()]
        if CORE in names:
            at = names.index(CORE) + 1
            names[at:at] = [f"{CORE}.{p}" for p in used if f"{CORE}.{p}" not in names]
        return "packages = [" + ", ".join(f'"{n}"' for n in names) + "]"

    return re.sub(r"^packages = \[([^\]]*)\]", listed, text, flags=re.M)


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _split(line: str, indent: str, lead: str) -> list[str]:
    """Cut ``line`` at the last space that keeps it within LINE_LENGTH; the rest goes on lines of its own."""
    out = []
    while len(line) > LINE_LENGTH:
        cut = line.rfind(" ", len(indent + lead) + 1, LINE_LENGTH + 1)
        if cut < 0:
            break
        out.append(line[:cut].rstrip())
        line = indent + lead + line[cut + 1 :].lstrip()
    return [*out, line]


def wrap_long_lines(path: Path) -> list[int]:
    """A longer dotted name can push a comment or a docstring line past the line length: wrap those.
    Returns the numbers of the long lines that are code, for a person to wrap."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not any(len(line) > LINE_LENGTH for line in lines):
        return []
    prose = _docstring_lines(ast.parse(text))
    left, out = [], []
    for number, line in enumerate(lines, 1):
        indent = line[: len(line) - len(line.lstrip())]
        if len(line) <= LINE_LENGTH:
            out.append(line)
        elif line.lstrip().startswith("#") and "noqa" not in line:
            out.extend(_split(line, indent, "# "))
        elif number in prose:
            out.extend(_split(line, indent, ""))
        else:
            out.append(line)
            left.append(number)
    path.write_text("\n".join(out), encoding="utf-8")
    return left


def text_files(root: Path) -> list[Path]:
    files = []
    for name in git("ls-files", cwd=root).splitlines():
        if name.startswith(NEVER_TOUCH) or name in NEVER_TOUCH:
            continue
        path = root / name
        if (path.suffix in TEXT_SUFFIXES or name in TEXT_NAMES) and path.is_file():
            files.append(path)
    return files


def relayout(root: Path, dry_run: bool = False) -> list[Path]:
    moves = check(root)
    skipped = sorted(set(LAYOUT) - set(moves))
    for name, target in sorted(moves.items(), key=lambda kv: kv[1]):
        print(f"{CORE}/{name}.py -> {CORE}/{target.replace('.', '/')}.py")
    if skipped:
        print(f"not present, skipped: {', '.join(skipped)}")
    print(f"stays at the top level: {', '.join(sorted(TOP_LEVEL - {'__init__'}))}")
    if dry_run:
        return []
    core = root / CORE
    # read the file list and the core's own files before the move: relative imports are rewritten per origin
    in_core = {(core / f"{name}.py").resolve() for name in {p.stem for p in core.glob("*.py")}}
    files = text_files(root)
    rewriter = Rewriter(moves)
    touched = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        new = rewriter.rewrite(text, in_core=path.resolve() in in_core)
        if path.name == "pyproject.toml" and path.parent == root:
            new = rewrite_pyproject(new, sorted({target.split(".")[0] for target in moves.values()}))
        if path.resolve() in in_core and path.stem in moves:
            new = new.replace(ROOT_FROM_MODULE, ROOT_FROM_MODULE + ".parent")
        if new != text:
            path.write_text(new, encoding="utf-8")
            touched.append(path)
    for package in packages():
        if any(t.startswith(package + ".") for t in moves.values()):
            (core / package).mkdir()
            (core / package / "__init__.py").write_text("")
            git("add", f"{CORE}/{package}/__init__.py", cwd=root)
    moved = []
    for name, target in moves.items():
        new_path = core / (target.replace(".", "/") + ".py")
        git("mv", f"{CORE}/{name}.py", str(new_path.relative_to(root)), cwd=root)
        moved.append(new_path)
    touched = [p for p in touched if p.exists()] + [p for p in moved if p not in touched]
    python = sorted({str(p.relative_to(root)) for p in touched if p.suffix == ".py"})
    ruff = Path(sys.executable).with_name("ruff")
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    if python and ruff:
        subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", *python], cwd=root)
        subprocess.run([ruff, "format", "--quiet", *python], cwd=root)
    elif python:
        print("ruff not found: run `ruff check --fix` and `ruff format` on the touched files", file=sys.stderr)
    by_hand = [f"{name}:{n}" for name in python for n in wrap_long_lines(root / name)]
    git("add", "-u", cwd=root)
    print(
        f"moved {len(moves)} modules into {len([p for p in packages() if (core / p).is_dir()])} packages; "
        f"rewrote references in {len(touched)} files (staged, not committed)"
    )
    if by_hand:
        print(f"code lines now over {LINE_LENGTH} characters, to wrap by hand: {', '.join(by_hand)}", file=sys.stderr)
    return touched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the moves and change nothing")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: here)")
    args = parser.parse_args(argv)
    try:
        relayout(args.root.resolve(), dry_run=args.dry_run)
    except Refused as exc:
        print(f"relayout: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
