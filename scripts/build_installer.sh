#!/usr/bin/env bash
# Build the ARPG Studio desktop bundle (Linux): the one documented build command.
#
#   scripts/build_installer.sh [--deb] [--no-tar] [--dist DIR] [--work DIR] [--package-only]
#
# 1. installs PyInstaller into the build Python if it is missing,
# 2. runs `pyinstaller --noconfirm --clean build.spec` (one-folder build: DIST/arpg-studio/),
# 3. strips torch's and the interpreter's shared libraries, nothing else (see strip_libraries),
# 4. packs DIST/arpg-studio-linux-<arch>.tar.gz (unless --no-tar),
# 5. with --deb, also DIST/arpg-studio_<version>_<arch>.deb: the folder under /opt/arpg-studio, a
#    /usr/bin/arpg-studio symlink and a .desktop entry (needs dpkg-deb),
# 6. prints the unpacked and compressed sizes.
#
# --package-only skips steps 1-3 and packs an existing DIST/arpg-studio/ again.
# --dist defaults to dist/, --work to build/. PYTHON picks the interpreter (default: .venv/bin/python if
# present, else python3); it must be the environment the app runs in: CPU torch, PySide6-Essentials,
# opencv-python-headless. DEB_COMPRESS picks dpkg-deb's compressor (default xz; gzip is faster).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

DIST="$ROOT/dist"
WORK="$ROOT/build"
MAKE_DEB=0
MAKE_TAR=1
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) MAKE_DEB=1 ;;
        --no-tar) MAKE_TAR=0 ;;
        --package-only) BUILD=0 ;;
        --dist) DIST="$(mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
        --work) WORK="$(mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "build_installer.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
APP="$DIST/arpg-studio"
ARCH="$(uname -m)"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)"

mib() { echo "$(( ($1 + 524288) / 1048576 )) MiB"; }
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

build_bundle() {
    if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
        echo "== installing PyInstaller into $PYTHON"
        "$PYTHON" -m pip install "pyinstaller>=6.0"
    fi
    if ! ls assets/embedded-arpg.safetensors assets/embedded-tokenizer.safetensors >/dev/null 2>&1; then
        echo "warning: assets/ has no embedded weights: the bundle starts, but cannot edit until a model is installed" >&2
    fi
    echo "== pyinstaller build.spec -> $APP"
    "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$WORK" build.spec
}

# torch/lib carries ~70 MB of symbols, a self-built Python's libpython and lib-dynload ~20 MB. Nothing
# else is stripped: wheels repaired by auditwheel (numpy.libs with OpenBLAS, opencv_python_headless.libs,
# pillow.libs) were rewritten by patchelf and fail to load once stripped ("ELF load command
# address/offset not page-aligned"); that is also why build.spec leaves PyInstaller's strip off.
strip_libraries() {
    if ! command -v strip >/dev/null; then
        echo "warning: strip not found; the bundle stays ~90 MB bigger" >&2
        return
    fi
    local before after
    before=$(tree_bytes "$APP")
    find "$APP" -type f \( -path '*/torch/lib/*.so*' -o -name 'libpython3*.so*' -o -path '*/lib-dynload/*.so' \) \
        -print0 | xargs -0 -r strip --strip-unneeded
    after=$(tree_bytes "$APP")
    echo "== stripped torch/lib, libpython and lib-dynload: $(mib $((before - after))) saved"
}

make_deb() {
    local deb_arch stage installed_kb glibc_min
    deb_arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    DEB="$DIST/arpg-studio_${VERSION}_${deb_arch}.deb"
    stage="$WORK/deb-root"
    echo "== packing $DEB"
    rm -rf "$stage" "$DEB"
    mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications"
    cp -al "$APP" "$stage/opt/arpg-studio"  # hard links: no second copy on disk
    ln -s /opt/arpg-studio/arpg-studio "$stage/usr/bin/arpg-studio"
    cat > "$stage/usr/share/applications/arpg-studio.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=ARPG Studio
Comment=Zero-shot inpainting, outpainting and 2x expansion
Exec=/opt/arpg-studio/arpg-studio
Terminal=false
Categories=Graphics;2DGraphics;RasterGraphics;
EOF
    installed_kb=$(du -sk "$stage" | cut -f1)
    # The newest glibc symbol version any bundled file asks for: the build machine's libraries set it.
    glibc_min=$(find "$APP" -type f \( -name '*.so*' -o -name arpg-studio \) -print0 \
        | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
    # Everything else the bundle loads from the system (checked with ldd): libGL/libEGL and libxcb.
    cat > "$stage/DEBIAN/control" <<EOF
Package: arpg-studio
Version: $VERSION
Section: graphics
Priority: optional
Architecture: $deb_arch
Installed-Size: $installed_kb
Depends: libc6 (>= ${glibc_min:-2.34}), libgl1, libegl1, libxcb1
Recommends: fonts-dejavu-core
Maintainer: ARPG Studio <noreply@arpg-studio.invalid>
Description: ARPG Studio - zero-shot image editing with ARPG
 Inpainting, outpainting and 2x expansion with randomized parallel
 autoregressive decoding; CPU build with a small embedded model.
EOF
    dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$stage" "$DEB" >/dev/null
    rm -rf "$stage"
}

t_start=$(date +%s)
t_built=$t_start
if [ "$BUILD" = 1 ]; then
    build_bundle
    t_built=$(date +%s)
    strip_libraries
    # The trainer writes the weights 0600: whoever may run the app must be able to read them.
    chmod -R u+rwX,go+rX "$APP"
elif [ ! -x "$APP/arpg-studio" ]; then
    echo "build_installer.sh: --package-only, but there is no $APP/arpg-studio" >&2
    exit 1
fi

TAR="$DIST/arpg-studio-linux-$ARCH.tar.gz"
if [ "$MAKE_TAR" = 1 ]; then
    echo "== packing $TAR"
    rm -f "$TAR"
    tar -C "$DIST" --owner=0 --group=0 --numeric-owner -cf - arpg-studio | gzip -6 > "$TAR"
fi

DEB=""
if [ "$MAKE_DEB" = 1 ]; then
    if command -v dpkg-deb >/dev/null; then
        make_deb
    else
        echo "warning: dpkg-deb not found; no .deb" >&2
    fi
fi
t_end=$(date +%s)

unpacked=$(tree_bytes "$APP")
echo "== done in $((t_end - t_start)) s (pyinstaller $((t_built - t_start)) s)"
echo "unpacked  $APP: $unpacked bytes ($(mib "$unpacked"))"
if [ "$MAKE_TAR" = 1 ]; then
    tgz=$(stat -c %s "$TAR")
    echo "tar.gz    $TAR: $tgz bytes ($(mib "$tgz"))"
fi
if [ -n "$DEB" ]; then
    deb=$(stat -c %s "$DEB")
    echo "deb       $DEB: $deb bytes ($(mib "$deb"))"
fi
