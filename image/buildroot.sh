#!/bin/sh
# image/buildroot.sh: the project's Debian build root (a debootstrap chroot of SUITE).
#
# Everything that must come from the target suite rather than from this machine's
# Debian runs inside it: mke2fs (deterministic filesystems from a tarball), the guest
# agent's compiler, and later the kernel and QEMU builds. It has its own apt sources
# (deb + deb-src of SUITE) pointing at the mirror this machine's apt uses.
# Usage: buildroot.sh CACHE_DIR SUITE   -> prints the build root path on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
FMLAB_STEP=buildroot
cache=$1 suite=$2
mirror=$("$here/mirror.sh")
# libarchive's package was renamed for the 64-bit time_t transition (trixie); bookworm's
# build root builds the L0 QEMU (qemu/build.sh l0)
case "$suite" in bookworm|bullseye) libarchive=libarchive13 ;; *) libarchive=libarchive13t64 ;; esac
pkgs="gcc,libc6-dev,make,e2fsprogs,$libarchive,zstd,cpio,xz-utils,ca-certificates"
key=$(input_hash "$here/buildroot.sh" -- "$suite" "$mirror" "$pkgs")
dir="$cache/buildroot/$suite-$key"
if [ -f "$dir/root/.fmlab-buildroot" ]; then echo "$dir/root"; exit 0; fi

mkdir -p "$cache/buildroot"
clean_stale_tmp "$dir"
tmp="$dir.tmp.$$"
trap 'umount_chroot "$tmp/root"; rm -rf --one-file-system "$tmp"' EXIT INT TERM
mkdir -p "$tmp"
say "debootstrap $suite build root (log: $dir.log)" >&2
: >"$dir.log"
logged "$dir.log" debootstrap --variant=minbase --include="$pkgs" "$suite" "$tmp/root" "$mirror" >&2
cat >"$tmp/root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb deb-src
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
rm -f "$tmp/root/etc/apt/sources.list"
touch "$tmp/root/.fmlab-buildroot"
trap - EXIT INT TERM
publish "$tmp" "$dir"
say "ready: $dir/root" >&2
echo "$dir/root"
