"""Entry point of ``arpg-studio``: a command runs the CLI, no command (or --selftest) starts the app.

Qt is imported only when the GUI starts, so the CLI stays light.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if (argv and not argv[0].startswith("-")) or argv[:1] in (["-h"], ["--help"]):
        from arpg_core.cli import main as cli_main

        return cli_main(argv)
    from app.main_window import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
