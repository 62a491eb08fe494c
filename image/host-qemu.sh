#!/bin/sh
# image/host-qemu.sh: the host image with the lab's patched QEMU installed.
#
#   image/host-qemu.sh CACHE_DIR     (after `make host-image` and `make qemu`)
#
# The reproducible host image (images/host, Debian's QEMU 10.0 packages for firmware
# and tools) stays as built; this derives images/host-qemu-KEY from it with the install
# tree of qemu/build.sh (CACHE_DIR/qemu/current/install.tar) unpacked into /usr/local,
# which comes first in root's PATH: the hosts' `qemu-system-x86_64` is the patched one.
# KEY: hash of the base image, the QEMU build and this script. images/host-qemu points
# at the newest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
FMLAB_STEP=host-qemu
cache=${1:?usage: host-qemu.sh CACHE_DIR}
base=$(readlink -f "$cache/images/host") || true
qemu=$(readlink -f "$cache/qemu/current") || true
[ -f "$base/disk.img" ] || die "no host image in $cache/images/host (run: make host-image)"
[ -f "$qemu/install.tar" ] || die "no patched QEMU in $cache/qemu/current (run: make qemu)"
key=$(input_hash "$here/host-qemu.sh" -- "$(basename "$base")" "$(basename "$qemu")")
out=$cache/images/host-qemu-$key
if [ -f "$out/disk.img" ]; then
    ln -sfn "host-qemu-$key" "$cache/images/host-qemu"
    say "cache hit: $out"
    exit 0
fi
for d in "$out".tmp.*; do mountpoint -q "$d/mnt" 2>/dev/null && ! kill -0 "${d##*.tmp.}" 2>/dev/null && umount "$d/mnt"; done
clean_stale_tmp "$out"
tmp=$out.tmp.$$
mnt=$tmp/mnt
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf --one-file-system "$tmp"' EXIT INT TERM
mkdir -p "$mnt"
say "copying $(basename "$base") and installing $(basename "$qemu") into /usr/local"
cp --sparse=always "$base/disk.img" "$tmp/disk.img"
for f in vmlinuz initrd.img; do ln "$base/$f" "$tmp/$f" 2>/dev/null || cp "$base/$f" "$tmp/$f"; done
mount -o loop "$tmp/disk.img" "$mnt"
tar -C "$mnt" -xf "$qemu/install.tar" --no-same-owner
# the emulator looks for its bridge helper under its own prefix: use Debian's
mkdir -p "$mnt/usr/local/libexec" "$mnt/usr/local/share"
ln -sfn /usr/lib/qemu/qemu-bridge-helper "$mnt/usr/local/libexec/qemu-bridge-helper"
cp "$qemu/manifest.txt" "$mnt/usr/local/share/fmlab-qemu.manifest"
version=$(chroot "$mnt" /usr/local/bin/qemu-system-x86_64 --version 2>&1 | head -n 1) \
    || die "the installed QEMU does not run in the host image: $version"
umount "$mnt"
printf 'base %s\nqemu %s\n%s\n' "$(basename "$base")" "$(basename "$qemu")" "$version" >"$tmp/manifest.txt"
rmdir "$mnt"
trap - EXIT INT TERM
publish "$tmp" "$out"
ln -sfn "host-qemu-$key" "$cache/images/host-qemu"
say "ready: $out ($version)"
