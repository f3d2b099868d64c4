"""The user's model cache: list, download, import and remove weights.

Installed models are safetensors files named ``<name>.safetensors`` in ``cache_dir()``: by default
``platformdirs.user_cache_dir("arpg-studio")/models``, or ``$ARPG_STUDIO_CACHE`` (that folder itself). Each records
its kind, config, class names, parameter count, tokenizer pairing and source in its metadata. The embedded model in
assets/ counts as installed.

Downloads go through ``huggingface_hub`` (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, tokens, redirects and the retry with a
``Range`` request when a connection drops all come from there) into a private hub cache, ``cache_dir()/.hub``. The
file is then verified (size, and the sha256 the hub publishes as the ETag of an LFS file, or the git blob sha1 of a
plain one), read weights-only (a pickle that would run code is refused), built strictly against the model it claims
to be, and written atomically; the downloaded ``.pt`` is deleted afterwards, whatever happened. Nothing half-written
is ever left in ``cache_dir()``: on an error, a mismatch, a cancel or Ctrl+C, partial files are removed.
huggingface_hub >= 1.x downloads to a temporary file unique to each call and deletes it when the call fails, so an
interrupted download starts over on the next call (within one call, a dropped connection resumes).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import CheckpointError, build_arpg, build_vq, read_checkpoint, save_safetensors
from .config import ARPG_PRESETS, VQ_PRESETS
from .registry import REGISTRY, ModelEntry, assets_dir, imagenet_class_names

Progress = Callable[[int, int], None]  # (done_bytes, total_bytes)

HUB_DIR = ".hub"
SUFFIX = ".safetensors"
EMBEDDED = ("embedded", "embedded-tokenizer")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
_STALE_SECONDS = 6 * 3600  # temporary files older than this are left over from a killed process
_HASH_CHUNK = 1 << 20


class WeightsError(CheckpointError):
    """A download, import or removal that cannot be done; the message says why, for a person."""


class OfflineError(WeightsError):
    """The hub cannot be reached (HF_HUB_OFFLINE, or no connection); the message says how to import instead."""


class Cancelled(WeightsError):
    """The download was cancelled through its ``cancel`` event; nothing was installed."""


@dataclass(frozen=True)
class InstalledModel:
    name: str
    kind: str  # "arpg" or "vq"
    path: Path
    size_bytes: int
    parameters: int | None
    summary: str  # one line for a person: the config in brief
    config: dict = field(default_factory=dict)
    entry: ModelEntry | None = None  # None for a model imported under a name of its own
    builtin: bool = False  # the embedded model in assets/ (cannot be removed)
    tokenizer: str | None = None  # for an ARPG model: the VQ entry it pairs with
    source: dict = field(default_factory=dict)  # repo/file/revision/sha256 or the imported file's name and sha256
    problem: str | None = None  # why the file is broken (truncated, not safetensors, config off its shapes)


# --- where things live -----------------------------------------------------------------------------


def cache_dir() -> Path:
    """The folder of installed models: ``$ARPG_STUDIO_CACHE``, else ``user_cache_dir("arpg-studio")/models``."""
    env = os.environ.get("ARPG_STUDIO_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("arpg-studio", appauthor=False)) / "models"


def hub_cache_dir() -> Path:
    """huggingface_hub's cache for our downloads (kept apart from the user's own ~/.cache/huggingface)."""
    return cache_dir() / HUB_DIR


def installed_path(name: str) -> Path | None:
    """The installed file of a model name, or None. The embedded names resolve to assets/."""
    if name in EMBEDDED:
        entry = REGISTRY[name]
        path = assets_dir() / entry.filename
        return path if path.is_file() else None
    if not _NAME.fullmatch(name):
        return None
    path = cache_dir() / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def not_installed_message(name: str) -> str:
    entry = REGISTRY.get(name)
    if entry is None or entry.repo is None:
        return f"{name} is not installed (arpg-studio weights list shows what is)"
    return (
        f"{name} is not installed; run `arpg-studio weights download {name}`, or offline copy {entry.filename} "
        f"here and run `arpg-studio weights import {entry.filename}`"
    )


def offline_message(entry: ModelEntry, reason: str) -> str:
    return (
        f"offline: cannot download {entry.name} ({reason}); get {entry.filename} from {entry.url} on a connected "
        f"machine, copy it here and run `arpg-studio weights import {entry.filename}`"
    )


# --- listing ---------------------------------------------------------------------------------------


def installed() -> list[InstalledModel]:
    """Installed models: the embedded ones (when present in assets/), then the cache in registry order, then
    models imported under names of their own, alphabetically. Broken files are listed with the reason (``problem``).
    Temporaries that dead processes left in the cache are deleted on the way."""
    _sweep_stale()
    found = []
    for name in EMBEDDED:
        path = installed_path(name)
        if path is not None:
            found.append(describe(path, name, builtin=True))
    folder = cache_dir()
    files = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    order = {name: i for i, name in enumerate(REGISTRY)}
    files = [f for f in files if not f.name.startswith(".") and _NAME.fullmatch(f.stem)]
    files.sort(key=lambda f: (order.get(f.stem, len(order)), f.stem.lower()))
    found.extend(describe(f, f.stem) for f in files)
    return found


def find(name: str) -> InstalledModel | None:
    path = installed_path(name)
    return describe(path, name, builtin=name in EMBEDDED) if path is not None else None


def describe(path: Path, name: str, builtin: bool = False) -> InstalledModel:
    """An installed file, verified from its safetensors header only (no weights are read): its size against the
    header, its kind, and its config against the tensor shapes. A broken file is described with ``problem``."""
    from .checkpoints import inspect_safetensors

    entry = REGISTRY.get(name)
    size = path.stat().st_size
    try:
        kind, cfg, meta, header = inspect_safetensors(path)
        numel = sum(_numel(t.shape) for t in header.tensors.values())
        if entry is not None and kind != entry.kind:
            raise CheckpointError(f"a{'n ARPG model' if kind == 'arpg' else ' VQ tokenizer'}, not {entry.name}")
    except Exception as e:  # a listing never fails on one bad file
        kind = entry.kind if entry else "?"
        reason = str(e).removeprefix(f"{path}: ")
        return InstalledModel(
            name, kind, path, size, None, f"broken: {reason}", entry=entry, builtin=builtin, problem=reason
        )
    config = cfg.to_dict()
    params = meta.get("parameters")
    if isinstance(params, bool) or not isinstance(params, int) or params <= 0:  # metadata is the file's word
        params = entry.parameters if entry else numel
    recorded = meta.get("tokenizer") if isinstance(meta.get("tokenizer"), str) else None
    tokenizer = (entry.tokenizer if entry else None) or recorded
    source = meta.get("source") if isinstance(meta.get("source"), dict) else {}
    return InstalledModel(
        name, kind, path, size, params, summarize(kind, config), config, entry, builtin, tokenizer, source
    )


def summarize(kind: str, config: dict) -> str:
    try:
        if kind == "arpg":
            side = int(config["block_size"] ** 0.5)
            return (
                f"ARPG dim {config['dim']}, {config['n_layer']} layers, {config['n_head']} heads, "
                f"{config['num_classes']} classes, {side}x{side} tokens"
            )
        if kind == "vq":
            return f"VQ tokenizer, {config['codebook_size']} codes, {2 ** (len(config['ch_mult']) - 1)}x downsampling"
    except (KeyError, TypeError):
        pass
    return f"{kind} (no config recorded)"


# --- download --------------------------------------------------------------------------------------


def download(
    name: str,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    *,
    force: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> InstalledModel:
    """Download an official model from the hub, verify it, convert it into the cache and delete the download.

    ``progress(done_bytes, total_bytes)`` is called as bytes arrive (every 10 MB with huggingface_hub 2.x's plain
    HTTP path); ``on_stage`` with "downloading", "verifying", "converting". Setting ``cancel`` stops the download
    at the next progress report (or before verifying/converting) with :class:`Cancelled`. Raises
    :class:`OfflineError` when the hub cannot be reached and :class:`WeightsError` for everything else.
    """
    entry = REGISTRY.get(name)
    if entry is None or entry.repo is None:
        known = ", ".join(e.name for e in REGISTRY.values() if e.repo)
        raise WeightsError(f"{name!r} is not a model that can be downloaded; choose one of {known}")
    dst = cache_dir() / f"{name}{SUFFIX}"
    if dst.exists() and not force:
        raise WeightsError(f"{name} is already installed ({dst}); remove it first, or pass --force")
    if _offline_env():
        raise OfflineError(offline_message(entry, "HF_HUB_OFFLINE is set"))
    stage = on_stage or (lambda _s: None)

    with _busy(name):
        _sweep_stale()
        endpoint = _endpoint()
        meta = _hub_metadata(entry, endpoint)  # before anything is written: an unreachable hub leaves no trace
        hub = hub_cache_dir()
        total = meta.size or entry.approx_download_bytes
        if progress:
            progress(0, total)
        fetched: Path | None = None
        try:
            stage("downloading")
            fetched = _fetch(entry, meta, hub, endpoint, progress, cancel, total)
            _check_cancel(cancel)
            stage("verifying")
            _verify(fetched, meta, entry, cancel)
            _check_cancel(cancel)
            stage("converting")
            source = {
                "repo": entry.repo,
                "file": entry.filename,
                "revision": meta.commit_hash,
                "sha256": meta.etag.lower() if _is_sha256(meta.etag) else _sha256(fetched, cancel),
            }
            return _install(fetched, name, entry, source, cancel, force=force)
        finally:
            _discard_download(hub, entry, meta, fetched)


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
            "is HF_ENDPOINT a Hugging Face Hub?"
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
                raise Cancelled("download cancelled; nothing was installed")
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
            "the file was deleted, try again"
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
            "the file was deleted. Try again; if it persists, check HF_ENDPOINT and any proxy in between"
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


# --- import ----------------------------------------------------------------------------------------


def import_file(path: str | os.PathLike, name: str | None = None, *, force: bool = False) -> InstalledModel:
    """Install a local ``.pt`` or ``.safetensors`` file, offline. The source file is only read.

    Without ``name`` the file must match a registry entry (by kind, parameter count and, for the official
    models, config). With a registry name it must match that entry; any other name installs it as a model of
    its own (an ARPG model then pairs with the official tokenizer of its vocabulary, if there is one).
    """
    src = Path(path).expanduser()
    if not src.is_file():
        raise WeightsError(f"{src}: no such file")
    if name is not None:
        _check_name(name)
        if (cache_dir() / f"{name}{SUFFIX}").exists() and not force:
            raise WeightsError(f"{name} is already installed; remove it first, or pass --force")
    _sweep_stale()
    with _busy(name or f"file:{src.resolve()}"):
        source = {"file": src.name, "sha256": _sha256(src, None)}
        return _install(src, name, REGISTRY.get(name) if name else None, source, None, force=force)


def _install(
    src: Path, name: str | None, entry: ModelEntry | None, source: dict, cancel, *, force: bool
) -> InstalledModel:
    """Read weights-only, build strictly, check against the registry entry, write ``<name>.safetensors``."""
    ckpt = read_checkpoint(src)
    if ckpt.kind == "unknown":
        from .checkpoints import describe_unknown

        raise WeightsError(f"{src.name}: {describe_unknown(ckpt.state_dict)}")
    model = build_arpg(ckpt) if ckpt.kind == "arpg" else build_vq(ckpt)
    params = sum(p.numel() for p in model.parameters())
    what = f"{'an ARPG model' if ckpt.kind == 'arpg' else 'a VQ tokenizer'} of {params:,} parameters"
    if entry is None and name is None:
        entry = _match(ckpt.kind, model.cfg, params)
        if entry is None:
            raise WeightsError(
                f"{src.name} is {what}, which matches no known model "
                f"({', '.join(e.name for e in REGISTRY.values() if e.repo)}); "
                "pass --name NAME to import it under a name of its own"
            )
        name = entry.name
        if (cache_dir() / f"{name}{SUFFIX}").exists() and not force:
            raise WeightsError(f"{name} is already installed; remove it first, or pass --force")
    elif entry is not None and not _matches(entry, ckpt.kind, model.cfg, params):
        raise WeightsError(
            f"{src.name} is {what}, not {entry.name} ({entry.kind}, {entry.parameters:,} parameters); nothing installed"
        )
    assert name is not None
    meta: dict = {"kind": ckpt.kind, "config": model.cfg.to_dict()}
    class_names = ckpt.metadata.get("class_names")
    imagenet = ckpt.kind == "arpg" and model.cfg.num_classes == 1000 and (entry is None or entry.classes == "imagenet")
    if class_names is None and imagenet:
        class_names = list(imagenet_class_names())
    if class_names is not None:
        meta["class_names"] = class_names
    meta.update(model=name, parameters=params, source=source)
    if ckpt.kind == "arpg":
        recorded = ckpt.metadata.get("tokenizer")
        tokenizer = entry.tokenizer if entry else (recorded or _tokenizer_for(model.cfg.vocab_size))
        if tokenizer:
            meta["tokenizer"] = tokenizer
    _check_cancel(cancel)
    dst = cache_dir() / f"{name}{SUFFIX}"
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_safetensors(dst, model.state_dict(), meta, replace=force)  # atomic; without force never replaces
    return describe(dst, name)


def _match(kind: str, cfg, params: int) -> ModelEntry | None:
    for entry in REGISTRY.values():
        if entry.repo is not None and _matches(entry, kind, cfg, params):
            return entry
    return None


def _matches(entry: ModelEntry, kind: str, cfg, params: int) -> bool:
    if entry.kind != kind or entry.parameters != params:
        return False
    preset = (ARPG_PRESETS if kind == "arpg" else VQ_PRESETS).get(entry.name)
    return preset is None or preset == cfg


def _tokenizer_for(vocab_size: int) -> str | None:
    for name, cfg in VQ_PRESETS.items():
        if name in REGISTRY and cfg.codebook_size == vocab_size:
            return name
    return None


# --- remove ----------------------------------------------------------------------------------------


def remove(name: str) -> Path:
    """Delete an installed model from the cache; returns the path it had."""
    if name in EMBEDDED:
        raise WeightsError(f"{name} is part of the app (assets/) and cannot be removed")
    path = installed_path(name)
    if path is None:
        raise WeightsError(f"{name} is not installed")
    path.unlink()
    return path


# --- helpers ---------------------------------------------------------------------------------------


_busy_lock = threading.Lock()
_busy_names: set[str] = set()


@contextlib.contextmanager
def _busy(name: str) -> Iterator[None]:
    with _busy_lock:
        if name in _busy_names:
            raise WeightsError(f"{name} is already being installed")
        _busy_names.add(name)
    try:
        yield
    finally:
        with _busy_lock:
            _busy_names.discard(name)


def _check_name(name: str) -> None:
    if name in EMBEDDED:
        raise WeightsError(f"{name!r} is reserved for the model that ships with the app")
    if not _NAME.fullmatch(name):
        raise WeightsError(f"{name!r} is not a usable name: letters, digits and . _ + - only, at most 64")


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("download cancelled; nothing was installed")


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
        return OfflineError(offline_message(entry, "offline mode"))
    if isinstance(e, _hub_errors("HfHubHTTPError")):
        status = getattr(getattr(e, "response", None), "status_code", "?")
        if isinstance(e, _hub_errors("RepositoryNotFoundError", "GatedRepoError")):
            return WeightsError(f"{host}: the repository {entry.repo} is not available (HTTP {status})")
        if isinstance(e, _hub_errors("RevisionNotFoundError", "EntryNotFoundError")):
            return WeightsError(f"{host}: {entry.repo} has no file {entry.filename} (HTTP {status})")
        return WeightsError(f"{host} answered HTTP {status} for {entry.repo}/{entry.filename}")
    if isinstance(e, OSError) and during and "Consistency check failed" in str(e):
        return WeightsError(f"the download of {entry.filename} broke off: {str(e).splitlines()[0]}")
    if isinstance(e, (ValueError, TypeError)) and not _is_transport(e):
        return WeightsError(f"cannot download {entry.name}: {e}")
    detail = f"cannot reach {host}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
    if during:
        return OfflineError(f"the download of {entry.filename} failed ({detail}); nothing was installed, try again")
    return OfflineError(offline_message(entry, detail))


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
                raise Cancelled("download cancelled; nothing was installed")
    return h.hexdigest()


def _sha256(path: Path, cancel) -> str:
    return _hash_file(hashlib.sha256(), path, cancel)


def _git_blob_sha1(path: Path, cancel) -> str:
    h = hashlib.sha1()
    h.update(b"blob %d\0" % path.stat().st_size)
    return _hash_file(h, path, cancel)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _prune_empty(top: Path) -> None:
    """Remove empty folders under ``top`` (and ``top`` itself), deepest first."""
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


def _sweep_stale() -> None:
    """Delete temporary files a killed process left behind (ours and huggingface_hub's), once they are old."""
    from .atomic import sweep_stale

    now = time.time()
    folder = cache_dir()
    if folder.is_dir():
        sweep_stale(folder)  # ours: the writer's process is gone, or they are old
    candidates = list(folder.glob(".*.tmp")) if folder.is_dir() else []
    hub = hub_cache_dir()
    if hub.is_dir():
        candidates += list(hub.glob("*/blobs/*.incomplete"))
    for path in candidates:
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_SECONDS:
                path.unlink()


__all__ = [
    "Cancelled",
    "InstalledModel",
    "OfflineError",
    "WeightsError",
    "cache_dir",
    "describe",
    "download",
    "find",
    "hub_cache_dir",
    "import_file",
    "installed",
    "installed_path",
    "not_installed_message",
    "offline_message",
    "remove",
]
