#!/bin/sh
# kernel/build.sh: `make kernel` / `make kernel-check`: the fmsync host kernel.
#
#   kernel/build.sh CACHE_DIR SUITE [build|check]
#
# Fetches linux-source-6.12 through apt inside the project's build root (its own apt
# sources, the mirror this machine's apt uses), unpacks it once per version, applies
# kernel/patches/*.patch in order, merges config/fmsync-host.config onto
# x86_64_defconfig with the kernel's merge_config.sh, and builds bzImage inside the
# build root. The result goes to CACHE_DIR/kernel/kernel-KEY (KEY: hash of the source
# version, the patches, the fragment and this script); CACHE_DIR/kernel/current points
# at the newest. The patched tree and the object tree persist per source version: a
# file is rewritten only when its patched content changed, so touching one patch
# rebuilds only what includes the files it changes. `check` applies the series and
# compiles only the KVM objects (arch/x86/kvm, virt/kvm), for fast feedback.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$repo/image/common.sh"
. "$repo/image/series.sh"
FMLAB_STEP=kernel
cache=${1:?usage: build.sh CACHE_DIR SUITE [build|check]} suite=${2:?suite} mode=${3:-build}
pkg=linux-source-6.12
deps="bc bison flex libelf-dev libssl-dev cpio kmod make gcc libc6-dev xz-utils patch python3"
kdir=$cache/kernel
mkdir -p "$kdir/dl"

enter_build_root "$cache" "$suite" "$kdir" kernel

# 1. the build root gets the kernel's build dependencies (once)
if [ ! -f "$buildroot/.fmlab-kernel-deps" ]; then
    say "installing kernel build dependencies in the build root: $deps"
    logged "$kdir/deps.log" inroot apt-get update -q
    logged "$kdir/deps.log" inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $deps
    touch "$buildroot/.fmlab-kernel-deps"
fi

# 2. the source: the suite's current linux-source-6.12, downloaded once per version
version=$(inroot apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
[ -n "$version" ] || { inroot apt-get update -q >/dev/null; version=$(inroot apt-cache show --no-all-versions "$pkg" | sed -n 's/^Version: //p' | head -1); }
[ -n "$version" ] || die "apt in the build root does not know $pkg (is $suite's main in its sources?)"
deb=$kdir/dl/${pkg}_${version}_all.deb
if [ ! -s "$deb" ]; then
    say "downloading $pkg $version"
    logged "$kdir/dl.log" inroot sh -c "cd $mnt/dl && apt-get download -q $pkg=$version"
fi
pristine=$kdir/src-$version
if [ ! -f "$pristine/.fmlab-unpacked" ]; then
    say "unpacking $pkg $version (one time per version)"
    rm -rf "$pristine" "$pristine.tmp" "$pristine.deb"
    mkdir -p "$pristine.tmp" "$pristine.deb"
    # the .deb holds the tarball; unpack it apart (the kernel has a usr/ of its own)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$pristine.deb" --wildcards './usr/src/*.tar.xz'
    tar -xJf "$pristine.deb"/usr/src/*.tar.xz -C "$pristine.tmp" --strip-components=1
    rm -rf "$pristine.deb"
    touch "$pristine.tmp/.fmlab-unpacked"
    mv "$pristine.tmp" "$pristine"
fi

# 3. the patched tree (image/series.sh): hard links to the source, patched files
#    replaced only when their content changes
tree=$kdir/tree-$version obj=$kdir/obj-$version
apply_series "$pristine" "$tree" "$here/patches" "$pkg $version"

# 4. configure: x86_64_defconfig + the fragment, with the kernel's own merge script
key=$(input_hash "$here/build.sh" "$here/patches" "$here/config" -- "$pkg" "$version" "$mode")
out_dir=$kdir/kernel-$key
if [ "$mode" = build ] && [ -f "$out_dir/bzImage" ]; then
    ln -sfn "kernel-$key" "$kdir/current"
    say "cache hit: $out_dir"
    exit 0
fi
mkdir -p "$obj"
log=$kdir/build-$key.log
: >"$log"
rt=$mnt/tree-$version ro=$mnt/obj-$version
frag=$(basename "$here")/config/fmsync-host.config
cp "$here/config/fmsync-host.config" "$obj/fmsync-host.config"
say "configuring: x86_64_defconfig + $frag (log: $log)"
logged "$log" inroot make -C "$rt" O="$ro" x86_64_defconfig
logged "$log" inroot sh -c "cd $rt && scripts/kconfig/merge_config.sh -m -O $ro $ro/.config $ro/fmsync-host.config"
logged "$log" inroot make -C "$rt" O="$ro" olddefconfig
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$obj/fmsync-host.config" | while IFS= read -r line; do
    grep -qxF "$line" "$obj/.config" || echo "${line%%=*}"; done)
[ -z "$missing" ] || die "the fragment's options did not survive olddefconfig (unmet dependencies?): $(echo $missing)"
kept=$(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$obj/fmsync-host.config" | while IFS= read -r sym; do
    if grep -qE "^$sym=[ym]" "$obj/.config"; then echo "$sym"; fi; done)
[ -z "$kept" ] || die "options the fragment turns off are still on after olddefconfig (selected by another?): $(echo $kept)"

# 5. build, with a progress line every 30 s
jobs=$(nproc)
if [ "$mode" = check ]; then targets="arch/x86/kvm/ virt/kvm/"; else targets=bzImage; fi
say "building $targets with -j$jobs (log: $log)"
t0=$(date +%s)
( while sleep 30; do say "  ... $(( $(date +%s) - t0 )) s, $(grep -c '^  CC' "$log") files compiled"; done ) &
ticker=$!
if ! inroot make -C "$rt" O="$ro" -j"$jobs" $targets >>"$log" 2>&1; then
    kill $ticker 2>/dev/null
    grep -E 'error:|Error [0-9]' "$log" | head -n 15 >&2
    die "the kernel build failed (full log: $log)"
fi
kill $ticker 2>/dev/null
say "  built in $(( $(date +%s) - t0 )) s"
[ "$mode" = check ] && { say "check passed: the series applies and the KVM objects compile"; exit 0; }

# 6. publish
tmp=$out_dir.tmp.$$
rm -rf "$tmp"; mkdir -p "$tmp"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
cp "$obj/.config" "$tmp/config"
cp "$obj/System.map" "$tmp/System.map"
inroot make -s -C "$rt" O="$ro" kernelrelease >"$tmp/kernelrelease"
printf 'source %s %s\npatches %s\nkey %s\n' "$pkg" "$version" "$series_count" "$key" >"$tmp/manifest.txt"
(cd "$here/patches" && sha256sum *.patch) >>"$tmp/manifest.txt"
cp "$log" "$tmp/build.log"
publish "$tmp" "$out_dir"
ln -sfn "kernel-$key" "$kdir/current"
say "built $out_dir: bzImage $(du -h "$out_dir/bzImage" | cut -f1), $(cat "$out_dir/kernelrelease")"
