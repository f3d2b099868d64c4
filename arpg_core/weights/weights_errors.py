"""The errors of the model cache (download, import, removal), with fields a program reads instead of sentences.

``str(error)`` is the command line's one line: ``message`` followed by ``cli_hint``, the advice in the
command line's own terms (``pass --force``, ``run `arpg-studio weights import FILE```). The app builds its own
words from ``kind`` and the fields (``name``, ``path``, ``filename``, ``url``, ``detail``) and never parses
the sentence. No torch here.
"""

from __future__ import annotations

from arpg_core.files.checkpoint_error import CheckpointError
from arpg_core.weights.catalog import REGISTRY, ModelEntry

# what went wrong, for a program; the message says it for a person
KINDS = (
    "failed",  # anything else
    "offline",  # the hub cannot be reached before a download (OfflineError); filename and url say what to import
    "broke_off",  # the connection failed during the download (OfflineError); nothing was installed
    "hub",  # the hub answered, but not with the file (HTTP errors, a server that is not a hub)
    "corrupt",  # the download differs from what the hub publishes (size, checksum)
    "cancelled",  # through the cancel event (Cancelled)
    "not_downloadable",  # the name is not an official model on the hub
    "exists",  # installed already; replacing it needs force
    "not_installed",
    "builtin",  # the embedded model cannot be removed
    "bad_name",  # a name a model cannot be installed under
    "busy",  # the same model is being installed by another call
    "no_file",  # the file to import does not exist
    "unreadable",  # the file is not a checkpoint of a known kind
    "no_match",  # an import that matches no known model; detail says what the file is
    "mismatch",  # an import that is not the model it was named as; detail says what the file is
)


class WeightsError(CheckpointError):
    """A download, import or removal that cannot be done: ``message`` for a person, ``kind`` and the fields for a
    program, ``cli_hint`` the command line's advice (``str()`` is both, the command line's one line)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "failed",
        name: str | None = None,
        path: str | None = None,
        filename: str | None = None,
        url: str | None = None,
        detail: str | None = None,
        cli_hint: str = "",
    ):
        assert kind in KINDS, kind
        super().__init__(message + cli_hint)
        self.message, self.kind, self.cli_hint = message, kind, cli_hint
        self.name, self.path, self.filename, self.url, self.detail = name, path, filename, url, detail


class OfflineError(WeightsError):
    """The hub cannot be reached (HF_HUB_OFFLINE, or no connection); the message says how to import instead."""


class Cancelled(WeightsError):
    """The download was cancelled through its ``cancel`` event; nothing was installed."""

    def __init__(self, message: str = "download cancelled; nothing was installed", **fields):
        super().__init__(message, kind="cancelled", **fields)


def offline(entry: ModelEntry, reason: str) -> OfflineError:
    """The hub cannot be reached: get the file elsewhere and import it."""
    return OfflineError(
        f"offline: cannot download {entry.name} ({reason})",
        kind="offline",
        name=entry.name,
        filename=entry.filename,
        url=entry.url,
        detail=reason,
        cli_hint=f"; get {entry.filename} from {entry.url} on a connected machine, copy it here and run "
        f"`arpg-studio weights import {entry.filename}`",
    )


def already_installed(name: str, path: str | None = None) -> WeightsError:
    where = f" ({path})" if path else ""
    return WeightsError(
        f"{name} is already installed{where}; remove it first",
        kind="exists",
        name=name,
        path=path,
        cli_hint=", or pass --force",
    )


def not_installed(name: str) -> WeightsError:
    entry = REGISTRY.get(name)
    if entry is None or entry.repo is None:
        hint = " (arpg-studio weights list shows what is)"
    else:
        hint = (
            f"; run `arpg-studio weights download {name}`, or offline copy {entry.filename} here and run "
            f"`arpg-studio weights import {entry.filename}`"
        )
    filename = entry.filename if entry else None
    return WeightsError(f"{name} is not installed", kind="not_installed", name=name, filename=filename, cli_hint=hint)
