#!/usr/bin/env bash
# Makes the before/after pictures in docs/examples/ with the embedded model, through the CLI only.
# Run from the repository root after `arpg-studio prepare-data data/photos`:  bash docs/make_examples.sh
set -euo pipefail
S=${ARPG:-.venv/bin/arpg-studio}
D=docs/examples
P=data/photos/images
mkdir -p "$D"
"${PYTHON:-.venv/bin/python}" - <<'PY'
# inputs: two held-out photos at working sizes, and masks (white = regenerate)
from PIL import Image, ImageDraw
# held-out photos (never seen in training)
src = Image.open("data/photos/images/lomiri_picosdeeuropa-by-aitzol-berasategi.jpg").convert("RGB")
src.resize((256, int(256 * src.height / src.width)), Image.LANCZOS).save("docs/examples/landscape.png")
giraffe = Image.open("data/photos/images/gcompris_erase-giraffe.jpg").convert("RGB")
giraffe.resize((320, int(320 * giraffe.height / giraffe.width)), Image.LANCZOS).save("docs/examples/giraffe.png")
w, h = Image.open("docs/examples/giraffe.png").size
m = Image.new("L", (w, h), 0)
d = ImageDraw.Draw(m)
d.rectangle([w * 0.55, h * 0.1, w * 0.85, h * 0.4], fill=255)
d.line([(20, h - 30), (90, h - 60), (150, h - 40)], fill=255, width=14)
m.save("docs/examples/giraffe-mask.png")
small = src.resize((128, int(128 * src.height / src.width)), Image.LANCZOS)
small.save("docs/examples/landscape-128.png")
PY
$S inpaint $D/giraffe.png --mask $D/giraffe-mask.png -o $D/giraffe-inpaint.png --seed 1 --variants 1 --force
$S outpaint $D/landscape.png --left 64 --right 64 -o $D/landscape-outpaint.png --seed 2 --force
$S expand $D/landscape-128.png -o $D/landscape-expand.png --lanczos $D/landscape-lanczos.png --seed 3 --force
$S generate --class animal -o $D/generate-animal.png --seed 4 --variants 4 --force
