#!/bin/sh
# kernel/selftest/build.sh: the selftest initramfs (fmsync_test + busybox + init).
#
#   kernel/selftest/build.sh CACHE_DIR SUITE   -> prints the initramfs path
#
# fmsync_test is compiled statically inside the project's build root (SUITE's gcc and
# uapi headers; the fmsync numbers are defined in the test itself) with -Werror, and
# packed with SUITE's busybox-static and ./init into a gzip'd cpio. Cached in
# CACHE_DIR/kernel/selftest-KEY/ (KEY: hash of this directory and the busybox version).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/image/common.sh"
FMLAB_STEP=selftest
cache=${1:?usage: build.sh CACHE_DIR SUITE} suite=${2:?suite}
buildroot=$("$repo/image/buildroot.sh" "$cache" "$suite")
inroot() { chroot "$buildroot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"; }
if [ ! -x "$buildroot/bin/busybox" ] || ! inroot dpkg -s busybox-static >/dev/null 2>&1; then
    say "installing busybox-static in the build root" >&2
    inroot apt-get update -q >/dev/null
    inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        busybox-static >/dev/null
fi
bbver=$(inroot dpkg-query -W -f '${Version}' busybox-static)
key=$(input_hash "$here/build.sh" "$here/init" "$here/fmsync_test.c" -- "$suite" "$bbver")
out=$cache/kernel/selftest-$key
if [ -s "$out/initramfs.cpio.gz" ]; then echo "$out/initramfs.cpio.gz"; exit 0; fi
work=$buildroot/tmp/fmlab-selftest.$$
trap 'rm -rf "$work"' EXIT INT TERM
rm -rf "$work"; mkdir -p "$work/src" "$work/root/bin" "$work/root/proc" "$work/root/sys" "$work/root/dev"
cp "$here/fmsync_test.c" "$work/src/"
say "compiling fmsync_test (static, -Werror)" >&2
inroot gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static \
    -o "/tmp/fmlab-selftest.$$/root/fmsync_test" "/tmp/fmlab-selftest.$$/src/fmsync_test.c" >&2 \
    || die "fmsync_test does not compile (kernel/selftest/fmsync_test.c)"
cp "$buildroot/bin/busybox" "$work/root/bin/busybox"
install -m 0755 "$here/init" "$work/root/init"
mkdir -p "$out.tmp.$$"
inroot sh -c "cd /tmp/fmlab-selftest.$$/root && find . | sort | cpio -o -H newc --quiet -R 0:0" \
    | gzip -9n >"$out.tmp.$$/initramfs.cpio.gz"
rm -rf "$out"; mv "$out.tmp.$$" "$out"
say "selftest initramfs: $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB)" >&2
echo "$out/initramfs.cpio.gz"
