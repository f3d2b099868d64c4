"""Pack the training photos of a prepare-data folder small enough to travel to a GPU machine.

    .venv/bin/python scripts/pack_training_data.py data/photos gpu-data [--quality 90]

The device tool copies the working tree and the ignored paths named in its ``carry`` (``gpu-data``, ignored in
.gitignore) within 64 MiB in all; the tracked tree takes about 27 MB and data/photos 50 MB. This writes the train
split only (the held-out photos stay here, where the evaluation runs), each photo re-encoded as JPEG at
``quality`` (90: 27 MB for the 255 training photos), with a manifest in prepare-data's format listing them and
the same class names, so ``CropStream`` and the training commands read it as they read data/photos.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

LIMIT = 64 * 2**20  # bytes: what the device tool carries in all
ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="a prepare-data folder (manifest.json, images/)")
    ap.add_argument("out", help="new folder for the packed copy")
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    src, out = Path(args.data), Path(args.out)
    manifest = json.loads((src / "manifest.json").read_text())
    (out / "images").mkdir(parents=True, exist_ok=True)
    kept = []
    for record in manifest["images"]:
        if record["split"] != "train":
            continue
        name = f"images/{Path(record['file']).stem}.jpg"
        with Image.open(src / record["file"]) as img:
            img.convert("RGB").save(out / name, "JPEG", quality=args.quality)
        kept.append({**record, "file": name})
    (out / "manifest.json").write_text(json.dumps({**manifest, "images": kept}, indent=1))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    tree = sum((ROOT / name).stat().st_size for name in tracked.decode().split("\0") if (ROOT / name).is_file())
    total = size + tree
    print(f"wrote {len(kept)} training photos to {out}: {size / 1e6:.1f} MB")
    print(f"with the tracked tree ({tree / 1e6:.1f} MB): {total / 1e6:.1f} MB of the {LIMIT / 1e6:.1f} MB that travel")
    return 0 if total < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
