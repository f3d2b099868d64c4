"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one.

Every file is written to a hidden temporary in its own folder, ``.NAME.PID.TOKEN.tmp`` (NAME shortened when the
folder's name limit needs it), and then put in place in one step:

- replacing (``--force``): ``os.replace``;
- claiming a name that must not exist: ``os.link`` of the finished temporary to the final name, which fails if
  the name exists, so of two runs racing for one name exactly one wins (where a file system has no hard links, an
  ``O_EXCL`` claim of the name followed by a rename over it).

``OutputSet`` writes several files all or nothing: ``check`` refuses unusable names before any work (existing
without force, no such folder, a name too long, a folder that cannot be written), ``stage`` creates the
temporaries, ``commit`` puts them all in place or none (undoing the ones done; a replaced file is kept as a hidden
hard link until ``finish``), ``rollback`` undoes a commit. Temporaries of dead runs (their PID gone, or older than
``STALE_SECONDS``) are deleted by the next run that writes in the same folder (``sweep_stale``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

STALE_SECONDS = 30 * 60  # any temporary of ours unmodified this long is left over
DEAD_PID_GRACE = 60  # a dead process's temporary is deleted once it is this old (another PID namespace, ...)
_TEMP = re.compile(r"^\.(?P<name>.*)\.(?P<pid>\d{1,10})\.(?P<token>[a-z0-9]{8})\.tmp$")
_OLD_TEMP = re.compile(r"^\..+\.(png|jpe?g|webp|bmp|tiff?|safetensors|json)\.[A-Za-z0-9_]{8}\.tmp$")  # mkstemp's
_NO_LINK = {errno.EPERM, errno.EXDEV, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}


class OutputError(OSError):
    """An output that cannot be written; the message names the user's path, never a temporary."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError, TypeError):
        return 255


def temp_path(final: Path) -> Path:
    """A fresh hidden temporary name beside ``final``, within the folder's name limit."""
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    limit = name_max(final.parent)
    name = final.name
    while name and len(os.fsencode(f".{name}{tail}")) > limit:
        name = name[:-1]
    return final.with_name(f".{name}{tail}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl+C there: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_stale(folder: str | os.PathLike, now: float | None = None) -> list[Path]:
    """Delete temporaries of our writers that no live process owns; returns what was deleted."""
    now = time.time() if now is None else now
    deleted = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return deleted
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        m = _TEMP.match(name)
        if m is None and not _OLD_TEMP.match(name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            dead = m is not None and age > DEAD_PID_GRACE and not _pid_alive(int(m["pid"]))
            if dead or age > STALE_SECONDS:
                os.unlink(entry.path)
                deleted.append(Path(entry.path))
        except OSError:
            continue
    return deleted


def _strerror(e: OSError) -> str:
    return e.strerror or type(e).__name__


class OutputSet:
    """Files written all or nothing; see the module doc. ``force`` allows replacing existing files."""

    def __init__(self, paths: Sequence[str | os.PathLike], *, force: bool = False):
        self.finals = [Path(p) for p in paths]
        self.force = force
        self.temps: list[Path] = []
        self._done: list[tuple[Path, int, Path | None]] = []  # (final, inode we put there, backup of the old file)

    # --- before the work ------------------------------------------------------------------------------

    def check(self) -> None:
        """Refuse, naming the user's path, any output that could not be written; nothing is left behind."""
        seen: dict[str, Path] = {}
        for p in self.finals:
            key = _identity(p)
            if key in seen:
                raise OutputError(f"{p} and {seen[key]} are the same file; give each output a name of its own")
            seen[key] = p
            self._check_one(p)

    def _check_one(self, p: Path) -> None:
        folder = p.parent
        if p.name in ("", ".", ".."):
            raise OutputError(f"{p}: not a file name")
        if not folder.is_dir():
            raise OutputError(f"{folder}: no such folder" if not folder.exists() else f"{p}: {folder} is not a folder")
        size, limit = len(os.fsencode(p.name)), name_max(folder)
        if size > limit:
            raise OutputError(f"{p}: the file name is too long ({size} bytes; at most {limit} in this folder)")
        if os.path.lexists(p):
            if not self.force:
                raise OutputError(f"{p} exists; pass --force to overwrite it")
            if p.is_dir() or not p.is_file():
                raise OutputError(f"{p} exists and is not a regular file; it is never replaced")
            if not os.access(p, os.W_OK):
                raise OutputError(f"{p} is read-only or immutable; it is not replaced")
        sweep_stale(folder)
        probe = temp_path(p)
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as e:
            raise OutputError(f"{p}: cannot write in {folder} ({_strerror(e)})") from e
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)

    # --- after the work -------------------------------------------------------------------------------

    def stage(self) -> list[Path]:
        """Create one empty temporary per output (the same order) and return them."""
        for p in self.finals[len(self.temps) :]:
            for _ in range(8):
                tmp = temp_path(p)
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    continue
                except OSError as e:
                    self.discard()
                    raise OutputError(f"{p}: cannot write in {p.parent} ({_strerror(e)})") from e
                os.close(fd)
                self.temps.append(tmp)
                break
            else:
                self.discard()
                raise OutputError(f"{p}: cannot create a temporary file beside it")
        return list(self.temps)

    def commit(self) -> None:
        """Put every staged file in place, or none: on any failure, undo what was done and raise OutputError."""
        mode = 0o666 & ~_umask()
        try:
            for final, tmp in zip(self.finals, self.temps):
                # after writing: a writer may have replaced tmp with a 0600 file of its own (safetensors does)
                os.chmod(tmp, mode)
                self._done.append(self._place(final, tmp))
        except BaseException as e:
            self.rollback()
            if isinstance(e, OutputError) or not isinstance(e, OSError):
                raise
            raise OutputError(f"{final}: cannot be written ({_strerror(e)}); no output was written") from e
        self.temps = []

    def _place(self, final: Path, tmp: Path) -> tuple[Path, int, Path | None]:
        inode = os.stat(tmp).st_ino
        backup = None
        if self.force:
            if os.path.lexists(final) and len(self.finals) > 1:
                backup = temp_path(final)  # keeps the old file until finish(), so a rollback can restore it
                try:
                    os.link(final, backup)
                except OSError:
                    shutil.copy2(final, backup)
            try:
                os.replace(tmp, final)
            except BaseException:
                if backup is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
                raise
            return final, inode, backup
        try:
            os.link(tmp, final)
        except FileExistsError as e:
            raise OutputError(f"{final} exists (written meanwhile by another run?); pass --force to overwrite") from e
        except OSError as e:
            if e.errno not in _NO_LINK:
                raise
            try:  # no hard links here: claim the name exclusively, then rename over our own claim
                os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError as e2:
                raise OutputError(f"{final} exists (written meanwhile by another run?); pass --force") from e2
            os.replace(tmp, final)
            return final, inode, None
        os.unlink(tmp)
        return final, inode, None

    def rollback(self) -> None:
        """Undo a commit (restoring replaced files) and delete every temporary."""
        for final, inode, backup in reversed(self._done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                elif os.stat(final).st_ino == inode:  # still ours: nobody replaced it since
                    os.unlink(final)
        self._done = []
        self.discard()

    def finish(self) -> None:
        """Forget a successful commit: delete the kept copies of replaced files."""
        for _, _, backup in self._done:
            if backup is not None:
                with contextlib.suppress(OSError):
                    os.unlink(backup)
        self._done = []

    def discard(self) -> None:
        for tmp in self.temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.temps = []


def _identity(p: Path) -> str:
    """One string per file, whatever way its name is spelled (./a.png, a.png, a link to the folder)."""
    try:
        folder = os.path.realpath(p.parent)
    except OSError:
        folder = os.path.abspath(p.parent)
    return os.path.normcase(os.path.join(folder, p.name))


@contextmanager
def atomic_write(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder to write to; it takes ``path``'s place in one step when the
    block ends, and is removed when the block raises (Ctrl+C included). The file gets the usual permissions
    (0666 less the umask). With ``replace=False`` an existing ``path`` is never replaced (OutputError)."""
    path = Path(path)
    outputs = OutputSet([path], force=replace)
    sweep_stale(path.parent)
    (tmp,) = outputs.stage()
    try:
        yield tmp
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
    outputs.finish()
