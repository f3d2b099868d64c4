"""The hub side of a download: metadata, the transfer with progress and cancel, verification, clean-up.

Everything that talks to ``huggingface_hub`` lives here (see ``arpg_core.weights.cache`` for the whole story): its
errors become :class:`~arpg_core.weights.weights_errors.WeightsError` with fields, connection problems
:class:`~arpg_core.weights.weights_errors.OfflineError`. Names are private to the weights modules.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from arpg_core.weights.catalog import ModelEntry
from arpg_core.weights.weights_errors import Cancelled, OfflineError, WeightsError, offline

Progress = Callable[[int, int], None]  # (done_bytes, total_bytes)

_HASH_CHUNK = 1 << 20
_busy_lock = threading.Lock()
_busy_names: set[str] = set()


def _hub_metadata(entry: ModelEntry, endpoint: str | None):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(entry.repo, entry.filename, **_kwargs(hf_hub_url, endpoint=endpoint))
    try:
        meta = get_hf_file_metadata(url, **_kwargs(get_hf_file_metadata, endpoint=endpoint))
    except Exception as e:
        raise _network_error(entry, e, endpoint) from e
    if not meta.commit_hash or not meta.etag:
        raise WeightsError(
            f"{endpoint or 'the hub'} answered for {entry.repo}/{entry.filename} without a commit or ETag; "
            "is HF_ENDPOINT a Hugging Face Hub?",
            kind="hub",
            name=entry.name,
            filename=entry.filename,
        )
    return meta


def _fetch(entry, meta, hub: Path, endpoint, progress, cancel, total) -> Path:
    from huggingface_hub import hf_hub_download

    options = dict(revision=meta.commit_hash, cache_dir=str(hub), endpoint=endpoint)
    supports_bar = "tqdm_class" in inspect.signature(hf_hub_download).parameters
    if supports_bar:
        options["tqdm_class"] = _progress_class(progress, cancel, total)
    try:
        path = hf_hub_download(entry.repo, entry.filename, **_kwargs(hf_hub_download, **options))
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as e:
        _check_cancel(cancel)  # a cancel raised inside Xet's progress callback may come back as another error
        raise _network_error(entry, e, endpoint, during="download") from e
    if progress and not supports_bar:
        progress(total, total)
    return Path(os.path.realpath(path))


def _progress_class(progress: Progress | None, cancel: threading.Event | None, total: int):
    """A stand-in for tqdm that forwards byte counts and stops the download when cancelled.

    huggingface_hub creates it with tqdm's keyword arguments and calls update(n) per chunk written (also with a
    negative n when a server ignores a Range request). It defines update_transfer, so that Xet downloads report
    through this one bar (bytes written) rather than through a second, network-bytes bar.
    """

    class _Bar:
        def __init__(self, *args, total: int | None = None, initial: int = 0, **kwargs):
            self.total = total or None
            self.n = initial
            self.format_dict: dict = {}
            self._report()

        def update(self, n: int | float = 1) -> None:
            self.n += n
            self._report()

        def update_transfer(self, n: int | float = 1) -> None:
            pass

        def _report(self) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress:
                progress(int(self.n), int(self.total or total))

        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        set_transfer_postfix_str = set_description = set_postfix_str

        def refresh(self, *args, **kwargs) -> None:
            pass

        def close(self) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

    return _Bar


def _verify(path: Path, meta, entry: ModelEntry, cancel) -> None:
    size = path.stat().st_size
    if meta.size is not None and size != meta.size:
        raise WeightsError(
            f"{entry.filename}: size mismatch: the hub says {meta.size} bytes, the download has {size}; "
            "the file was deleted, try again",
            kind="corrupt",
            name=entry.name,
            filename=entry.filename,
            detail="size",
        )
    etag = (meta.etag or "").lower()
    if _is_sha256(etag):
        actual, what = _sha256(path, cancel), "sha256"
    elif re.fullmatch(r"[0-9a-f]{40}", etag):
        actual, what = _git_blob_sha1(path, cancel), "git sha1"
    else:
        return  # the hub gave no content hash: size and the strict load are all there is
    if actual != etag:
        raise WeightsError(
            f"{entry.filename}: checksum mismatch: the hub publishes {what} {etag}, the download has {actual}; "
            "the file was deleted. Try again; if it persists, check HF_ENDPOINT and any proxy in between",
            kind="corrupt",
            name=entry.name,
            filename=entry.filename,
            detail=what,
        )


def _discard_download(hub: Path, entry: ModelEntry, meta, fetched: Path | None) -> None:
    """Delete the downloaded file and its cache entries (pointer, blob, lock), and the folders left empty."""
    from huggingface_hub.file_download import repo_folder_name

    folder = repo_folder_name(repo_id=entry.repo, repo_type="model")
    storage = hub / folder
    etag = meta.etag or ""  # huggingface_hub names the blob after the ETag as the hub sent it
    doomed = [
        storage / "snapshots" / str(meta.commit_hash) / entry.filename,
        storage / "blobs" / etag if etag else None,
        hub / ".locks" / folder / f"{etag}.lock" if etag else None,
        fetched,
    ]
    if etag and (storage / "blobs").is_dir():  # a fetch stopped mid-way or left behind (``ETAG[.random].incomplete``)
        doomed += list((storage / "blobs").glob(f"{glob.escape(etag)}*.incomplete"))
    for path in doomed:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()
    with _busy_lock:
        if len(_busy_names) > 1:
            return  # another download may be creating folders in the hub cache right now: leave them
        _prune_empty(storage)
        _prune_empty(hub / ".locks")
        tag = hub / "CACHEDIR.TAG"
        if tag.is_file() and not any(p for p in hub.iterdir() if p != tag):
            with contextlib.suppress(OSError):
                tag.unlink()
        with contextlib.suppress(OSError):
            hub.rmdir()


@contextlib.contextmanager
def _busy(name: str) -> Iterator[None]:
    with _busy_lock:
        if name in _busy_names:
            raise WeightsError(f"{name} is already being installed", kind="busy", name=name)
        _busy_names.add(name)
    try:
        yield
    finally:
        with _busy_lock:
            _busy_names.discard(name)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _offline_env() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if value.strip().upper() in ("1", "ON", "YES", "TRUE"):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)  # read when huggingface_hub was first imported
    except (ImportError, AttributeError):
        return False


def _endpoint() -> str | None:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    value = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return value or None


def _network_error(entry: ModelEntry, e: Exception, endpoint: str | None, during: str = "") -> WeightsError:
    """A person's message for what huggingface_hub raised; connection problems become OfflineError."""
    host = endpoint or "https://huggingface.co"
    if isinstance(e, _hub_errors("OfflineModeIsEnabled", "LocalEntryNotFoundError")):
        return offline(entry, "offline mode")
    if isinstance(e, _hub_errors("HfHubHTTPError")):
        status = getattr(getattr(e, "response", None), "status_code", "?")
        if isinstance(e, _hub_errors("RepositoryNotFoundError", "GatedRepoError")):
            return _hub(entry, f"{host}: the repository {entry.repo} is not available (HTTP {status})")
        if isinstance(e, _hub_errors("RevisionNotFoundError", "EntryNotFoundError")):
            return _hub(entry, f"{host}: {entry.repo} has no file {entry.filename} (HTTP {status})")
        return _hub(entry, f"{host} answered HTTP {status} for {entry.repo}/{entry.filename}")
    if isinstance(e, OSError) and during and "Consistency check failed" in str(e):
        first = str(e).splitlines()[0]
        return _hub(entry, f"the download of {entry.filename} broke off: {first}", kind="broke_off", detail=first)
    if isinstance(e, (ValueError, TypeError)) and not _is_transport(e):
        return WeightsError(f"cannot download {entry.name}: {e}", name=entry.name, detail=str(e))
    detail = f"cannot reach {host}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
    if during:
        message = f"the download of {entry.filename} failed ({detail}); nothing was installed, try again"
        return _hub(entry, message, kind="broke_off", detail=detail, error=OfflineError)
    return offline(entry, detail)


def _hub(entry: ModelEntry, message: str, kind: str = "hub", error: type[WeightsError] = WeightsError, **fields):
    """An error about ``entry``'s download, with the entry's name, file and address as its fields."""
    return error(message, kind=kind, name=entry.name, filename=entry.filename, url=entry.url, **fields)


def _hub_errors(*names: str) -> tuple[type, ...]:
    from huggingface_hub import utils

    return tuple(c for c in (getattr(utils, n, None) for n in names) if isinstance(c, type))


def _is_transport(e: Exception) -> bool:
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"TransportError", "RequestException", "ConnectionError", "TimeoutException", "HTTPError"})


def _kwargs(fn, **options) -> dict:
    """The options that this huggingface_hub version's ``fn`` accepts (None values dropped)."""
    accepted = inspect.signature(fn).parameters
    return {k: v for k, v in options.items() if v is not None and k in accepted}


def _is_sha256(value: str | None) -> bool:
    return bool(value) and re.fullmatch(r"[0-9a-f]{64}", value.lower()) is not None


def _hash_file(h, path: Path, cancel) -> str:
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
    return h.hexdigest()


def _sha256(path: Path, cancel) -> str:
    return _hash_file(hashlib.sha256(), path, cancel)


def _git_blob_sha1(path: Path, cancel) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    return _hash_file(h, path, cancel)


def _prune_empty(top: Path) -> None:
    """Remove empty folders under ``top`` (and ``top`` itself), deepest first."""
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()
