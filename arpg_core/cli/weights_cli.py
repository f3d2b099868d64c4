"""``arpg-studio weights list | download NAME | import FILE [--name NAME] | remove NAME``: the model cache."""

from __future__ import annotations

import sys

from arpg_core.cli.commands import EXIT_INTERRUPTED, EXIT_USAGE, command
from arpg_core.progress import ProgressBar, say

MB = 1_000_000


@command("weights")
def _weights_args(p) -> None:
    p.description = (
        "Manage model weights (list, download, import, remove). The official ARPG-L/XL/XXL and the VQ-16 "
        "tokenizer are downloaded (or imported from a copied file, offline) into the user cache, converted to "
        "safetensors. Set ARPG_STUDIO_CACHE to choose the folder."
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    ls = sub.add_parser("list", help="models known and installed, with sizes and estimates")
    ls.description = "List the registry's models, which are installed, and where the cache is."
    dl = sub.add_parser("download", help="download an official model from the Hugging Face Hub")
    dl.description = "Download, verify (size, sha256) and convert an official model; the .pt is deleted after."
    dl.add_argument("name", help="ARPG-L, ARPG-XL, ARPG-XXL or VQ-16")
    dl.add_argument("--force", action="store_true", help="replace an installed copy")
    im = sub.add_parser("import", help="install a local .pt or .safetensors file (offline)")
    im.description = "Install a local checkpoint: its kind and model are detected; the file itself is only read."
    im.add_argument("file", help="checkpoint file, e.g. arpg_300m.pt or vq_ds16_c2i.pt")
    im.add_argument("--name", default=None, help="install under this name (default: the model it matches)")
    im.add_argument("--force", action="store_true", help="replace an installed copy")
    rm = sub.add_parser("remove", help="delete an installed model from the cache")
    rm.add_argument("name")
    p.set_defaults(run=_run, weights_help=p.format_help)


def _run(args) -> int:
    action = getattr(args, "action", None)
    if action is None:
        print(args.weights_help(), file=sys.stderr)
        return EXIT_USAGE
    return {"list": _list, "download": _download, "import": _import, "remove": _remove}[action](args)


def _list(args) -> int:
    from arpg_core.weights import calibrate
    from arpg_core.weights.cache import installed
    from arpg_core.weights.catalog import REGISTRY
    from arpg_core.weights.estimates import estimate
    from arpg_core.weights.model_files import cache_dir

    have = {m.name: m for m in installed()}
    if calibrate.speed(measure=False) is None and sys.stderr.isatty():
        # a status line for a person at a terminal; in a script stderr keeps to the one line of an error
        say("measuring this computer's speed for the estimates (once, a few seconds)...")
    rows = [("NAME", "KIND", "PARAMS", "STATUS", "SIZE", "NOTES")]
    for entry in REGISTRY.values():
        m = have.pop(entry.name, None)
        est = estimate(entry)
        notes = [f"{entry.native_px} px"]
        if entry.tokenizer and entry.repo:
            notes.append(f"with {entry.tokenizer}")
        notes.append(f"RAM ~{format_bytes(est['memory_bytes'])}")
        if est["seconds_per_image"] is not None:
            notes.append(f"~{est['seconds_per_image']:g} s/image here (int8 ~{est['seconds_per_image_int8']:g} s)")
        if m is not None and m.problem:
            status, size, notes = "broken", format_bytes(m.size_bytes), [f"{m.problem} (remove it and install again)"]
        elif m is not None:
            status, size = ("built in" if m.builtin else "installed"), format_bytes(m.size_bytes)
        elif entry.repo is None:
            status, size = "missing", "-"
        else:
            status, size = "not installed", f"~{format_bytes(est['download_bytes'])}"
        rows.append((entry.name, entry.kind, _count(entry.parameters), status, size, ", ".join(notes)))
    for m in have.values():  # imported under names of their own
        notes = m.summary + (f", with {m.tokenizer}" if m.tokenizer else "")
        status = "broken" if m.problem else "installed"
        rows.append((m.name, m.kind, _count(m.parameters), status, format_bytes(m.size_bytes), notes))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])
    print(f"\ncache: {cache_dir()}")
    return 0


def _download(args) -> int:
    from arpg_core.weights.cache import download

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(max(1, round(total / MB)), f"download {args.name}", unit="MB")
        bar.total = max(1, round(total / MB))
        bar.update(min(bar.total, round(done / MB)))

    def stage(name: str) -> None:
        if name != "downloading":
            if bar is not None:
                bar.close()
            say(f"{name}...")

    try:
        m = download(args.name, progress=progress, force=args.force, on_stage=stage)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        say("arpg-studio weights: interrupted; nothing was installed (partial files removed)")
        return EXIT_INTERRUPTED
    _installed(m)
    return 0


def _import(args) -> int:
    from arpg_core.weights.cache import import_file

    say(f"reading {args.file}...")
    try:
        m = import_file(args.file, name=args.name, force=args.force)
    except KeyboardInterrupt:
        say("arpg-studio weights: interrupted; nothing was installed")
        return EXIT_INTERRUPTED
    _installed(m)
    return 0


def _remove(args) -> int:
    from arpg_core.weights.cache import remove

    path = remove(args.name)
    say(f"removed {args.name} ({path})", sys.stdout)
    return 0


def _installed(m) -> None:
    say(f"installed {m.name}: {m.summary}, {format_bytes(m.size_bytes)} at {m.path}", sys.stdout)


def _count(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1e9:
        return f"{n / 1e9:.2g}B"
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    return f"{n / 1e3:.3g}K"


def format_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} GB"
