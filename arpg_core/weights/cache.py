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
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arpg_core.files.checkpoint_error import CheckpointError
from arpg_core.files.checkpoint_header import describe_unknown, inspect_safetensors
from arpg_core.nn.config import ARPG_PRESETS, VQ_PRESETS, ARPGConfig, VQConfig
from arpg_core.weights.catalog import REGISTRY, ModelEntry, imagenet_class_names
from arpg_core.weights.model_files import EMBEDDED, NAME, SUFFIX, cache_dir, hub_cache_dir, installed_path
from arpg_core.weights.weights_errors import Cancelled, OfflineError, WeightsError, already_installed, offline
from arpg_core.weights.weights_hub import (
    Progress,
    _busy,
    _check_cancel,
    _discard_download,
    _endpoint,
    _fetch,
    _hub_metadata,
    _is_sha256,
    _offline_env,
    _sha256,
    _verify,
)

_STALE_SECONDS = 6 * 3600  # temporary files older than this are left over from a killed process


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
    files = [f for f in files if not f.name.startswith(".") and NAME.fullmatch(f.stem)]
    files.sort(key=lambda f: (order.get(f.stem, len(order)), f.stem.lower()))
    found.extend(describe(f, f.stem) for f in files)
    return found


def find(name: str) -> InstalledModel | None:
    path = installed_path(name)
    return describe(path, name, builtin=name in EMBEDDED) if path is not None else None


def describe(path: Path, name: str, builtin: bool = False) -> InstalledModel:
    """An installed file, verified from its safetensors header only (no weights are read): its size against the
    header, its kind, and its config against the tensor shapes. A broken file is described with ``problem``."""
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


def native_px(model: InstalledModel, tokenizer: InstalledModel | None = None) -> int | None:
    """The side in pixels an installed ARPG model works at: its token grid times its tokenizer's downsampling
    (the installed ``tokenizer``'s config, else the preset of the name it pairs with). None when unknown."""
    if model.kind != "arpg" or not model.config.get("block_size"):
        return None
    if tokenizer is not None and tokenizer.kind == "vq" and tokenizer.config:
        patch = VQConfig.from_dict(tokenizer.config).downsample
    elif model.tokenizer in VQ_PRESETS:
        patch = VQ_PRESETS[model.tokenizer].downsample
    else:
        return None
    return ARPGConfig.from_dict(model.config).grid_size * patch


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
        raise WeightsError(
            f"{name!r} is not a model that can be downloaded; choose one of {known}", kind="not_downloadable", name=name
        )
    dst = cache_dir() / f"{name}{SUFFIX}"
    if dst.exists() and not force:
        raise already_installed(name, str(dst))
    if _offline_env():
        raise offline(entry, "HF_HUB_OFFLINE is set")
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
            fetched = _fetch_waiting(entry, meta, hub, endpoint, progress, cancel, total)
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


def _fetch_waiting(entry, meta, hub: Path, endpoint, progress, cancel, total) -> Path:
    """``_fetch`` in a thread of its own while this one waits, so that Ctrl+C and ``cancel`` act within 0.1 s even
    while the network stalls. In the calling thread an interrupt that lands in a stalled read can be swallowed:
    the hub library answers the read's timeout by resuming the download, and the interrupt is lost with it
    (seen as a Ctrl+C that never ends ``weights download``). A fetch left behind stops at its next progress
    report; whatever it leaves is swept as stale by the next download."""
    stop = cancel if cancel is not None else threading.Event()
    out: dict = {}

    def run() -> None:
        try:
            out["path"] = _fetch(entry, meta, hub, endpoint, progress, stop, total)
        except BaseException as e:  # handed to the waiting thread
            out["error"] = e

    worker = threading.Thread(target=run, name=f"download {entry.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
            _check_cancel(stop)
    except BaseException:
        stop.set()  # Ctrl+C or a cancel: the fetch stops at its next report
        raise
    if "error" in out:
        raise out["error"]
    return out["path"]


# --- import ----------------------------------------------------------------------------------------


def import_file(path: str | os.PathLike, name: str | None = None, *, force: bool = False) -> InstalledModel:
    """Install a local ``.pt`` or ``.safetensors`` file, offline. The source file is only read.

    Without ``name`` the file must match a registry entry (by kind, parameter count and, for the official
    models, config). With a registry name it must match that entry; any other name installs it as a model of
    its own (an ARPG model then pairs with the official tokenizer of its vocabulary, if there is one).
    """
    src = Path(path).expanduser()
    if not src.is_file():
        raise WeightsError(f"{src}: no such file", kind="no_file", path=str(src))
    if name is not None:
        _check_name(name)
        if (cache_dir() / f"{name}{SUFFIX}").exists() and not force:
            raise already_installed(name)
    _sweep_stale()
    with _busy(name or f"file:{src.resolve()}"):
        source = {"file": src.name, "sha256": _sha256(src, None)}
        return _install(src, name, REGISTRY.get(name) if name else None, source, None, force=force)


def _install(
    src: Path, name: str | None, entry: ModelEntry | None, source: dict, cancel, *, force: bool
) -> InstalledModel:
    """Read weights-only, build strictly, check against the registry entry, write ``<name>.safetensors``."""
    from arpg_core.files.checkpoints import (  # torch: only to install
        build_arpg,
        build_vq,
        read_checkpoint,
        save_safetensors,
    )

    ckpt = read_checkpoint(src)
    if ckpt.kind == "unknown":
        raise WeightsError(f"{src.name}: {describe_unknown(ckpt.state_dict)}", kind="unreadable", path=str(src))
    model = build_arpg(ckpt) if ckpt.kind == "arpg" else build_vq(ckpt)
    params = sum(p.numel() for p in model.parameters())
    what = f"{'an ARPG model' if ckpt.kind == 'arpg' else 'a VQ tokenizer'} of {params:,} parameters"
    if entry is None and name is None:
        entry = _match(ckpt.kind, model.cfg, params)
        if entry is None:
            raise WeightsError(
                f"{src.name} is {what}, which matches no known model "
                f"({', '.join(e.name for e in REGISTRY.values() if e.repo)})",
                kind="no_match",
                path=str(src),
                detail=f"{src.name} is {what}",
                cli_hint="; pass --name NAME to import it under a name of its own",
            )
        name = entry.name
        if (cache_dir() / f"{name}{SUFFIX}").exists() and not force:
            raise already_installed(name)
    elif entry is not None and not _matches(entry, ckpt.kind, model.cfg, params):
        raise WeightsError(
            f"{src.name} is {what}, not {entry.name} ({entry.kind}, {entry.parameters:,} parameters); "
            "nothing installed",
            kind="mismatch",
            name=entry.name,
            path=str(src),
            detail=f"{src.name} is {what}",
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
        raise WeightsError(f"{name} is part of the app (assets/) and cannot be removed", kind="builtin", name=name)
    path = installed_path(name)
    if path is None:
        raise WeightsError(f"{name} is not installed", kind="not_installed", name=name)
    path.unlink()
    return path


# --- helpers ---------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if name in EMBEDDED:
        raise WeightsError(f"{name!r} is reserved for the model that ships with the app", kind="bad_name", name=name)
    if not NAME.fullmatch(name):
        raise WeightsError(
            f"{name!r} is not a usable name: letters, digits and . _ + - only, at most 64", kind="bad_name", name=name
        )


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _sweep_stale() -> None:
    """Delete temporary files a killed process left behind (ours and huggingface_hub's), once they are old."""
    from arpg_core.files.atomic import sweep_stale

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
    "native_px",
    "remove",
]
