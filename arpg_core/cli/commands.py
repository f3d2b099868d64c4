"""The table of ``arpg-studio`` subcommands, and what every command module shares.

A command module (edit_cli, train_cli, weights_cli) registers its parser builders here with :func:`command`;
``arpg_core.cli.main`` imports those modules and builds the parser from :data:`COMMANDS`. The modules never import
``cli`` itself, so the imports run one way. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

COMMANDS: dict[str, Callable[[argparse.ArgumentParser], None]] = {}


class UserError(Exception):
    """A problem with the user's input; its message is shown as is."""


def command(name: str):
    """Register ``fn(parser)``, which fills in the parser of ``arpg-studio NAME``."""

    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register
