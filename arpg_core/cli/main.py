"""The ``arpg-studio`` command line. With no command, ``app`` starts the GUI instead (see app/__main__.py).

Every failure the user can cause ends in one line on stderr and a non-zero exit, never a traceback
(set ARPG_STUDIO_DEBUG=1 to see one); argparse's usage errors too. A broken stderr (or a stdout that only
carries cosmetic lines) never changes the outcome of a command.
"""

from __future__ import annotations

import argparse
import os
import sys

from arpg_core.threads import prepare_process

prepare_process()  # `python -m arpg_core.cli.main`: before any command imports torch (OpenMP's wait policy)

from arpg_core.cli.commands import COMMANDS, EXIT_INTERRUPTED, EXIT_USAGE, UserError, command  # noqa: E402
from arpg_core.files.checkpoint_error import CheckpointError  # noqa: E402
from arpg_core.progress import say, silence  # noqa: E402
from arpg_core.validate import OptionError  # noqa: E402

MAX_MESSAGE = 600  # characters of an error line

# how the command line spells the request fields that arpg_core.validate names in its messages
FLAGS = {
    "steps": "--steps",
    "cfg_scale": "--cfg",
    "temperature": "--temperature",
    "top_k": "--top-k",
    "top_p": "--top-p",
    "variants": "--variants",
    "seed": "--seed",
    "feather": "--feather",
    "dilate": "--dilate",
    "expand_lock": "--lock",
    "colour_match": "--colour-match",
    "candidates": "--candidates",
    "detail": "--detail",
    "quality": "--quality",
    "heads": "--heads",
    **{f"extend_{side}": f"--{side}" for side in ("left", "top", "right", "bottom")},
}

__all__ = ["COMMANDS", "EXIT_INTERRUPTED", "EXIT_USAGE", "UserError", "command", "main"]


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (the usage itself is one -h away)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} -h)\n")


def one_line(text: str) -> str:
    """A message as one line of bounded length."""
    line = " ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


@command("convert")
def _convert_args(p: argparse.ArgumentParser) -> None:
    p.description = "Convert an official ARPG or VQ checkpoint (.pt or .safetensors) to safetensors with its config."
    p.add_argument("input", help="checkpoint file (official .pt, read weights-only, or .safetensors)")
    p.add_argument("output", help="output .safetensors file")
    p.add_argument("--heads", type=int, default=None, help="attention heads (default: dim / 64)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(run=_convert)


def _convert(args) -> int:
    from arpg_core.files.checkpoints import convert

    meta = convert(args.input, args.output, n_head=args.heads, force=args.force)
    cfg = meta["config"]
    what = "ARPG" if meta["kind"] == "arpg" else "VQ tokenizer"
    say(f"wrote {args.output}: {what} {cfg}", sys.stdout)  # cosmetic: the file is the result
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

    from arpg_core.training.data import prepare_data

    work = args.work or str(Path(args.out).resolve().parent / "work")
    prepare_data(args.out, work, holdout=args.holdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="arpg-studio",
        usage="arpg-studio [IMAGE] | arpg-studio COMMAND ... | arpg-studio --selftest",
        description="Zero-shot inpainting, outpainting and 2x expansion with ARPG.\n\n"
        "Without a command, starts the app (opening IMAGE if given);\n"
        "--selftest runs one edit offscreen and exits.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="arpg-studio")
    lines = []
    for name, add_args in COMMANDS.items():
        p = sub.add_parser(name)
        add_args(p)
        summary = (p.description or "").split(". ")[0].rstrip(".")
        lines.append(f"  {name:<16} {summary}")
    parser.epilog = "commands (arpg-studio COMMAND -h for each one's options):\n" + "\n".join(lines)
    return parser


def command_names() -> list[str]:
    from arpg_core.cli import edit_cli, train_cli, weights_cli  # noqa: F401  (register their commands)

    return sorted(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    from arpg_core.cli import edit_cli, train_cli, weights_cli  # noqa: F401  (register their commands)

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = args.run(args)
        _flush_stdout()
        return code
    except KeyboardInterrupt:
        say("arpg-studio: interrupted")
        return EXIT_INTERRUPTED
    except OptionError as e:
        if os.environ.get("ARPG_STUDIO_DEBUG"):
            raise
        say(f"arpg-studio {args.command}: error: {one_line(e.renamed(FLAGS.get(e.option, e.option)))}")
        return 1
    except (UserError, CheckpointError, ValueError, OSError) as e:
        if os.environ.get("ARPG_STUDIO_DEBUG"):
            raise
        say(f"arpg-studio {args.command}: error: {one_line(_describe(e))}")
        return 1
    except Exception as e:
        if os.environ.get("ARPG_STUDIO_DEBUG"):
            raise
        say(f"arpg-studio {args.command}: internal error: {one_line(f'{type(e).__name__}: {e}')}")
        return 1
    finally:
        _quiet_broken_streams()


def _describe(e: BaseException) -> str:
    """An OSError from the system reads 'PATH: reason'; our own errors read as they are."""
    plain = (OSError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    if type(e) in plain and getattr(e, "filename", None) is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e) or type(e).__name__


def _flush_stdout() -> None:
    """Output on stdout that cannot be written (``weights list > /dev/full``) is an error of its own."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as e:
        raise OSError(f"cannot write to standard output ({e})") from e


def _quiet_broken_streams() -> None:
    """Point a broken stdout or stderr at the null device, so Python's final flush at exit cannot fail."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            silence(stream)


if __name__ == "__main__":
    sys.exit(main())  # the command table lives in arpg_core.cli.commands, shared with the command modules
