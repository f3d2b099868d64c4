"""Entry point of ``arpg-studio``: a command runs the CLI; no command, an image file or --selftest starts the app.

Qt is imported only when the GUI starts, so the CLI stays light.
"""

from __future__ import annotations

import sys

from arpg_core.threads import prepare_process

prepare_process()  # before anything imports torch: OpenMP reads its wait policy once, when it loads

# a path with one of these opens in the app even when it does not exist: the app says so in a dialog
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    is_command = bool(argv) and not argv[0].startswith("-") and not _is_image_to_open(argv[0])
    if is_command or argv[:1] in (["-h"], ["--help"]):
        from arpg_core.cli.main import main as cli_main

        return cli_main(argv)
    from app.main_window import run_app

    return run_app(argv)


def _is_image_to_open(arg: str) -> bool:
    """``arpg-studio photo.jpg`` opens the photo in the app; a command name always means the command."""
    from pathlib import Path

    from arpg_core.cli.main import command_names

    path = Path(arg)
    return arg not in command_names() and (path.is_file() or path.suffix.lower() in IMAGE_SUFFIXES)


if __name__ == "__main__":
    sys.exit(main())
