"""The ``arpg-studio`` command line. With no command, ``app`` starts the GUI instead (see app/__main__.py).

Every failure the user can cause ends in one line on stderr and a non-zero exit, never a traceback
(set ARPG_STUDIO_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from .threads import prepare_process

prepare_process()  # `python -m arpg_core.cli`: before .checkpoints imports torch (OpenMP's wait policy)

from .checkpoints import CheckpointError  # noqa: E402

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}


class UserError(Exception):
    """A problem with the user's input; its message is shown as is."""


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


@command("convert")
def _convert_args(p: argparse.ArgumentParser) -> None:
    p.description = "Convert an official ARPG or VQ checkpoint (.pt or .safetensors) to safetensors with its config."
    p.add_argument("input", help="checkpoint file (official .pt, read weights-only, or .safetensors)")
    p.add_argument("output", help="output .safetensors file")
    p.add_argument("--heads", type=int, default=None, help="attention heads (default: dim / 64)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(run=_convert)


def _convert(args) -> int:
    from .checkpoints import convert

    meta = convert(args.input, args.output, n_head=args.heads, force=args.force)
    cfg = meta["config"]
    what = "ARPG" if meta["kind"] == "arpg" else "VQ tokenizer"
    print(f"wrote {args.output}: {what} {cfg}")
    return 0


@command("prepare-data")
def _prepare_args(p: argparse.ArgumentParser) -> None:
    p.description = "Collect real photographs from Debian packages and Python wheels into a training folder."
    p.add_argument("out", help="output folder (images/ and manifest.json)")
    p.add_argument("--work", default=None, help="download and extraction folder (default: OUT/../work)")
    p.add_argument("--holdout", type=float, default=0.1, help="share of photos held out for evaluation")
    p.set_defaults(run=_prepare)


def _prepare(args) -> int:
    from pathlib import Path

    from .data import prepare_data

    work = args.work or str(Path(args.out).resolve().parent / "work")
    prepare_data(args.out, work, holdout=args.holdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arpg-studio",
        usage="arpg-studio [IMAGE] | arpg-studio COMMAND ... | arpg-studio --selftest",
        description="Zero-shot inpainting, outpainting and 2x expansion with ARPG.\n\n"
        "Without a command, starts the app (opening IMAGE if given);\n"
        "--selftest runs one edit offscreen and exits.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    lines = []
    for name, add_args in COMMANDS.items():
        p = sub.add_parser(name)
        add_args(p)
        summary = (p.description or "").split(". ")[0].rstrip(".")
        lines.append(f"  {name:<16} {summary}")
    parser.epilog = "commands (arpg-studio COMMAND -h for each one's options):\n" + "\n".join(lines)
    return parser


def command_names() -> list[str]:
    from . import edit_cli, train_cli, weights_cli  # noqa: F401  (register their commands)

    return sorted(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    from . import edit_cli, train_cli, weights_cli  # noqa: F401  (register their commands)

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("arpg-studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserError, CheckpointError, ValueError, OSError) as e:
        if os.environ.get("ARPG_STUDIO_DEBUG"):
            raise
        print(f"arpg-studio {args.command}: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if os.environ.get("ARPG_STUDIO_DEBUG"):
            raise
        print(f"arpg-studio {args.command}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # run through the package module, so the command modules register into the same table
    from arpg_core.cli import main as package_main

    sys.exit(package_main())
