#!/usr/bin/env bash
# Builds a platform wheel of the Python package that carries the sealpub
# binary and every shared library it needs beyond the C library, the way
# auditwheel does: the libraries are copied next to it (sealpub/_bin/libs),
# the binary's RPATH is $ORIGIN/libs and each library's is $ORIGIN
# (patchelf), and the wheel's platform tag is manylinux_2_Y_ARCH, where 2.Y
# is the newest glibc symbol version any of these files needs.
#
# Usage: scripts/build-wheel.sh ARCH BINARY LIBROOT OUTDIR
#   ARCH     x86_64 or aarch64
#   BINARY   the sealpub executable (built against LIBROOT's libraries)
#   LIBROOT  the root filesystem whose /usr/lib/TRIPLET holds those libraries:
#            the Debian 11 tree scripts/distro-matrix.sh built it in (so the
#            wheel runs on glibc >= 2.31), or a sysroot
#   OUTDIR   where the .whl is written
# The glibc floor is the oldest system the binary was built on: build in the
# oldest root filesystem to support (Debian 11 here, as scripts/test-wheel.sh
# checks). Prints the wheel's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: build-wheel.sh ARCH BINARY LIBROOT OUTDIR}
binary=${2:?}
libroot=${3:?}
outdir=${4:?}
case $arch in
x86_64) triplet=x86_64-linux-gnu strip=strip ;;
aarch64) triplet=aarch64-linux-gnu strip=aarch64-linux-gnu-strip ;;
*)
    echo "build-wheel: ARCH must be x86_64 or aarch64" >&2
    exit 2
    ;;
esac
command -v patchelf >/dev/null || { echo "build-wheel: patchelf missing (scripts/install-deps.sh)" >&2; exit 1; }

# The libraries every manylinux system provides (PEP 599/600): never bundled.
SYSTEM_LIBS=" libc.so.6 libm.so.6 libdl.so.2 librt.so.1 libpthread.so.0 libresolv.so.2 libutil.so.1 libnsl.so.1
 libgcc_s.so.1 libstdc++.so.6 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 "
search=("$libroot/usr/lib/$triplet" "$libroot/lib/$triplet" "$libroot/usr/lib" "$libroot/lib")

stage=$(mktemp -d /tmp/sealpub-wheel-XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin/libs"
cp "$binary" "$stage/bin/sealpub"
chmod 755 "$stage/bin/sealpub"

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
find_lib() {
    local d
    for d in "${search[@]}"; do
        if [[ -e $d/$1 ]]; then
            readlink -f "$d/$1"
            return 0
        fi
    done
    return 1
}

# Breadth-first over DT_NEEDED, from the binary through every bundled library.
queue=("$stage/bin/sealpub")
declare -A seen=()
while ((${#queue[@]})); do
    file=${queue[0]}
    queue=("${queue[@]:1}")
    for lib in $(needed "$file"); do
        [[ $SYSTEM_LIBS == *" $lib "* || -n ${seen[$lib]:-} ]] && continue
        seen[$lib]=1
        src=$(find_lib "$lib") || { echo "build-wheel: $lib (needed by $(basename "$file")) not found under $libroot" >&2; exit 1; }
        cp "$src" "$stage/bin/libs/$lib"
        chmod 644 "$stage/bin/libs/$lib"
        queue+=("$stage/bin/libs/$lib")
    done
done

"$strip" --strip-unneeded "$stage/bin/sealpub" "$stage"/bin/libs/* 2>/dev/null || true
patchelf --set-rpath '$ORIGIN/libs' "$stage/bin/sealpub"
for lib in "$stage"/bin/libs/*; do
    patchelf --set-rpath '$ORIGIN' "$lib"
done

# The newest GLIBC_2.N symbol version referenced: the manylinux floor.
glibc=$(for f in "$stage/bin/sealpub" "$stage"/bin/libs/*; do readelf -V --wide "$f"; done |
    grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_2\.//' | sort -n | tail -1)
platform=manylinux_2_${glibc}_$arch

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir"/sealpub-*-py3-none-*"$arch".whl
wheel=$(cd "$root/python/build_backend" && SEALPUB_WHEEL_BINARY_DIR=$stage/bin SEALPUB_WHEEL_PLATFORM=$platform \
    python3 -c 'import sys, sealpub_build; print(sealpub_build.build_wheel(sys.argv[1]))' "$outdir")
echo "build-wheel: $wheel: sealpub + ${#seen[@]} libraries ($(ls "$stage/bin/libs" | tr '\n' ' ')), glibc >= 2.$glibc" >&2
echo "$outdir/$wheel"
