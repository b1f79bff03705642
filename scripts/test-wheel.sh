#!/usr/bin/env bash
# Installs a platform wheel (scripts/build-wheel.sh) into a bare Debian root
# filesystem (mmdebstrap --variant=minbase plus python3 and pip: no -dev
# package, no sealpub) and, there, checks that the package runs its bundled
# binary (sealpub.binary_info()) and publishes a file to the local default
# store and opens it back byte for byte. For an aarch64 wheel the root
# filesystem is arm64 and runs under qemu (binfmt_misc, as set up by
# scripts/cross-arm64.sh).
#
# Usage: scripts/test-wheel.sh WHEEL [SUITE]     (SUITE default: bullseye)
# The root filesystem is cached as a tarball in $SEALPUB_ROOTFS_CACHE
# (default /var/cache/sealpub-rootfs). Needs root (mmdebstrap, chroot).
set -euo pipefail
wheel=$(readlink -f "${1:?usage: test-wheel.sh WHEEL [SUITE]}")
suite=${2:-bullseye}
cache=${SEALPUB_ROOTFS_CACHE:-/var/cache/sealpub-rootfs}
case $wheel in
*_x86_64.whl) darch=amd64 ;;
*_aarch64.whl) darch=arm64 ;;
*)
    echo "test-wheel: $wheel is not an x86_64 or aarch64 wheel" >&2
    exit 2
    ;;
esac
log() { printf 'test-wheel: %s\n' "$*" >&2; }
t0=$SECONDS

# python3-pip for "pip install"; ca-certificates only so pip starts quietly.
PKGS=(python3 python3-pip)
tar=$cache/$suite-$darch-wheeltest.tar
if [[ ! -s $tar ]]; then
    mkdir -p "$cache"
    log "making $tar (mmdebstrap minbase $suite $darch + ${PKGS[*]})"
    mm=(nice mmdebstrap --mode=root --variant=minbase --arch="$darch" --format=tar
        --include="$(IFS=,; echo "${PKGS[*]}")" "$suite" "$tar.tmp")
    # shellcheck source=scripts/debian-mirror.sh
    source "$(dirname "$0")/debian-mirror.sh"
    mm_run "$suite" "$tar.log" "$tar.tmp" "${mm[@]}" || exit 1
    mv "$tar.tmp" "$tar"
    rm -f "$tar.log"
fi
dir=$(mktemp -d /tmp/sealpub-wheeltest-XXXXXX)
cleanup() {
    mountpoint -q "$dir/proc" && umount "$dir/proc"
    mountpoint -q "$dir/dev" && umount -R "$dir/dev"
    rm -rf "$dir"
}
trap cleanup EXIT
tar -C "$dir" -xf "$tar"
mount -t proc proc "$dir/proc"
mount --rbind /dev "$dir/dev"
mount --make-rslave "$dir/dev"
cp "$wheel" "$dir/tmp/"
if chroot "$dir" sh -c 'command -v sealpub || ls /usr/lib/*/pkgconfig/*.pc' >/dev/null 2>&1; then
    log "FAIL: the root filesystem already has sealpub or -dev packages"
    exit 1
fi
whl=/tmp/$(basename "$wheel")
# A bare system: no index, no network; --break-system-packages does not exist
# in Debian 11's pip and is not needed there.
chroot "$dir" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    sh -c "python3 -m pip install --no-index --no-deps $whl >/tmp/pip.log 2>&1 ||
           python3 -m pip install --no-index --no-deps --break-system-packages $whl >>/tmp/pip.log 2>&1" ||
    { cat "$dir/tmp/pip.log" >&2; log "FAIL: pip install"; exit 1; }
chroot "$dir" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 SEALPUB_HOME=/tmp/home \
    python3 - <<'PY'
import hashlib, json, os, subprocess, sys
import sealpub

info = sealpub.binary_info()
assert info["source"] == "bundled", info
print("binary_info:", info)
v = json.loads(subprocess.run([info["path"], "version", "--verbose", "--json"], check=True,
                              stdout=subprocess.PIPE).stdout)
print("version: %s, target %s, openssl %s, libcurl %s, libpq %s" % (
    v["version"], v["build"]["target"], v["libraries"]["openssl"]["runtime"],
    v["libraries"]["libcurl"]["runtime"], v["libraries"]["libpq"]["runtime"]))
data = os.urandom(3 << 20) + bytes(2 << 20)
with open("/tmp/in.bin", "wb") as f:
    f.write(data)
r = sealpub.publish("/tmp/in.bin", name="wheel", stage="dev", version="1")
print("published:", r.object_key, r.stored_size, "bytes")
obj = os.path.join("/tmp/home/objects", r.object_key)
sealpub.open(obj, "/tmp/out.bin")
with open("/tmp/out.bin", "rb") as f:
    assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest(), "round trip differs"
print("round trip identical")
PY
rc=$?
log "$(basename "$wheel") in $suite/$darch: $([[ $rc == 0 ]] && echo passed || echo FAILED) ($((SECONDS - t0)) s)"
exit $rc
