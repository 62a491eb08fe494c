#!/bin/sh
# qemu/build.sh: `make qemu` / `make qemu-check` / `make test-qemu`: the patched QEMU;
# `make l0-qemu`: the L0 QEMU the lab's hosts run in.
#
#   qemu/build.sh CACHE_DIR SUITE build|check|test
#   qemu/build.sh CACHE_DIR bookworm l0
#
# Fetches the suite's `qemu` source package with deb-src inside the project's build root
# (its own apt sources, the mirror this machine's apt uses), unpacks it once per version
# (Debian's own patches applied), applies qemu/patches/*.patch in order, configures the
# lab's minimal x86_64 QEMU (flags below) and builds it inside the build root.
#   build: ninja qemu-system-x86_64, staged as usr/local/bin/qemu-system-x86_64 ->
#          CACHE_DIR/qemu/qemu-KEY/install.tar (KEY: hash of source version, patches,
#          flags, this script); CACHE_DIR/qemu/current points at the newest.
#   check: compile only the objects of the files the series touches (fast feedback).
#   test:  build, then run the series' qtest (tests/qtest/shm-migration-test) and
#          QEMU's own qapi-schema and migration tests that cover the touched code, at L0
#          under TCG inside the build root.
#   l0:    the same steps for the hosts' emulator at L0: the suite's (bookworm's) QEMU 7.2,
#          the known-good L0 for nested SVM under TCG, with qemu/l0-patches applied,
#          built in that suite's build root so it runs on this (bookworm) machine with
#          the libraries of Debian's qemu-system-x86 -> CACHE_DIR/l0-qemu/l0-KEY/bin/
#          qemu-system-x86_64; CACHE_DIR/l0-qemu/current points at the newest.
# The patched tree and the object tree persist per version: a file is rewritten only
# when its patched content changed, so touching one patch rebuilds only what it affects.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$repo/image/common.sh"
. "$repo/image/series.sh"
FMLAB_STEP=qemu
cache=${1:?usage: build.sh CACHE_DIR SUITE build|check|test|l0} suite=${2:?suite} mode=${3:-build}
[ "$mode" = l0 ] && FMLAB_STEP=l0-qemu
firmware=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
if [ "$mode" = l0 ]; then
    # L0 runs the hosts: x86_64 under TCG (KVM kept for machines whose /dev/kvm works),
    # 9p (the guest image share: virtfs needs libattr and libcap-ng), fdt (7.2 requires it
    # for x86_64), nothing else. It
    # finds the firmware of this machine's Debian QEMU packages (make deps installs them).
    deps="dpkg-dev meson ninja-build python3 pkg-config flex bison bzip2 libglib2.0-dev
          libpixman-1-dev zlib1g-dev libcap-ng-dev libattr1-dev libfdt-dev"
    flags="--prefix=/usr/local --firmwarepath=$firmware --target-list=x86_64-softmmu
           --without-default-features --disable-docs --disable-user --enable-kvm --enable-tcg
           --enable-virtfs --enable-attr --enable-cap-ng --enable-fdt=system --disable-install-blobs
           --disable-werror"
    patches=$here/l0-patches qdir=$cache/l0-qemu prefix=l0
else
    deps="dpkg-dev meson ninja-build python3-venv pkg-config flex bison bzip2 libglib2.0-dev
          libpixman-1-dev libslirp-dev libaio-dev libnuma-dev zlib1g-dev seabios qemu-system-data ipxe-qemu"
    # The lab needs: x86_64 system emulation, KVM (hosts run the guest under nested KVM), TCG
    # (the L0 tests), vhost-net/vhost-user, slirp, NUMA (the CXL node), linux-aio.
    flags="--prefix=/usr/local --firmwarepath=$firmware
           --target-list=x86_64-softmmu --without-default-features --disable-docs --disable-download
           --disable-containers --disable-user --enable-kvm --enable-tcg --enable-slirp --enable-vhost-net
           --enable-vhost-user --enable-vhost-kernel --enable-numa --enable-linux-aio --enable-pixman
           --disable-seccomp --disable-install-blobs --enable-werror"
    patches=$here/patches qdir=$cache/qemu prefix=qemu
fi
flags=$(echo $flags)
mkdir -p "$qdir/dl"

enter_build_root "$cache" "$suite" "$qdir" "$prefix"

# 1. build dependencies in the build root (once per list)
depkey=$(echo "$deps" | tr -s ' \n' ' ' | sha256sum | cut -c1-16)
if [ ! -f "$buildroot/.fmlab-qemu-deps-$depkey" ]; then
    say "installing QEMU build dependencies in the build root (log: $qdir/deps.log)"
    logged "$qdir/deps.log" inroot apt-get update -q
    logged "$qdir/deps.log" inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $deps
    touch "$buildroot/.fmlab-qemu-deps-$depkey"
fi

# 2. the source package: the suite's newest qemu, downloaded and unpacked once per version
newest_version() { inroot apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1; }
version=$(newest_version)
[ -n "$version" ] || { inroot apt-get update -q >/dev/null; version=$(newest_version); }
[ -n "$version" ] || die "apt in the build root knows no qemu source (deb-src of $suite missing?)"
uver=${version#*:}
dsc=$qdir/dl/qemu_$uver.dsc
if [ ! -s "$dsc" ]; then
    say "downloading the qemu source package $version"
    logged "$qdir/dl.log" inroot sh -c "cd $mnt/dl && apt-get source --download-only -q qemu=$version"
fi
pristine=$qdir/src-$uver
if [ ! -f "$pristine/.fmlab-unpacked" ]; then
    say "unpacking qemu $version with Debian's patches (one time per version)"
    rm -rf "$pristine" "$pristine.tmp"
    logged "$qdir/dl.log" inroot sh -c "cd $mnt && dpkg-source --no-check -x dl/qemu_$uver.dsc src-$uver.tmp"
    rm -rf "$pristine.tmp/.pc"
    touch "$pristine.tmp/.fmlab-unpacked"
    mv "$pristine.tmp" "$pristine"
fi

# 3. the patched tree (image/series.sh): hard links to the source, patched files
#    replaced only when their content changes
tree=$qdir/tree-$uver obj=$qdir/obj-$uver
apply_series "$pristine" "$tree" "$patches" "qemu $version"

# 4. cache lookup, then configure (again only when the flags change)
key=$(input_hash "$here/build.sh" "$patches" -- "$version" "$flags")
out_dir=$qdir/$prefix-$key
product=$out_dir/install.tar
[ "$mode" = l0 ] && product=$out_dir/bin/qemu-system-x86_64
if { [ "$mode" = build ] || [ "$mode" = l0 ]; } && [ -f "$product" ]; then
    ln -sfn "$prefix-$key" "$qdir/current"
    say "cache hit: $out_dir"
    exit 0
fi
log=$qdir/build-$key.log
: >"$log"
if [ ! -f "$obj/build.ninja" ] || [ "$(cat "$obj/.fmlab-flags" 2>/dev/null)" != "$flags" ]; then
    rm -rf "$obj"; mkdir -p "$obj"
    say "configuring: $flags (log: $log)"
    logged "$log" inroot sh -c "cd $mnt/obj-$uver && ../tree-$uver/configure $flags"
    echo "$flags" >"$obj/.fmlab-flags"
fi

# 5. build, with a progress line every 30 s
case "$mode" in
check)
    targets=$(for f in $touched; do case "$f" in *.c)
        sed -n "s#^build \([^ :]*\.p/$(echo "$f" | tr / _)\.o\):.*#\1#p" "$obj/build.ninja";; esac; done | sort -u)
    [ -n "$targets" ] || die "none of the touched files is compiled in this configuration" ;;
test) targets="qemu-system-x86_64 tests/qtest/shm-migration-test tests/qtest/migration-test" ;;
*)    targets="qemu-system-x86_64" ;;
esac
say "building $(echo $targets | wc -w) targets with ninja -j$(nproc) (log: $log)"
t0=$(date +%s)
( while sleep 30; do say "  ... $(( $(date +%s) - t0 )) s, $(grep -c '^\[[0-9]*/[0-9]*\]' "$log") steps"; done ) &
ticker=$!
if ! inroot sh -c "cd $mnt/obj-$uver && ninja -j$(nproc) $(echo $targets)" >>"$log" 2>&1; then
    kill $ticker 2>/dev/null
    grep -E 'error:|FAILED' "$log" | head -n 15 >&2
    die "the QEMU build failed (full log: $log)"
fi
kill $ticker 2>/dev/null
say "  built in $(( $(date +%s) - t0 )) s"
[ "$mode" = check ] && { say "check passed: the series applies and its $(echo $targets | wc -w) objects compile"; exit 0; }

# 6. test: QEMU's own tests for the touched code, at L0 under TCG in the build root
if [ "$mode" = test ]; then
    tlog=$qdir/test-$key.log
    : >"$tlog"
    say "running tests (log: $tlog)"
    # QEMU run from its build tree finds firmware under qemu-bundle/<firmwarepath>: point
    # those at the build root's Debian firmware packages (seabios, qemu-system-data)
    for d in seabios qemu; do
        inroot sh -c "mkdir -p $mnt/obj-$uver/qemu-bundle/usr/share && ln -sfn /usr/share/$d $mnt/obj-$uver/qemu-bundle/usr/share/$d"
    done
    run_qtest() {
        inroot sh -c "cd $mnt/obj-$uver && QTEST_QEMU_BINARY=./qemu-system-x86_64 \
            QTEST_QEMU_STORAGE_DAEMON_BINARY=/bin/false timeout 900 $*" >>"$tlog" 2>&1
    }
    failed=0
    for t in "tests/qtest/shm-migration-test" \
             "tests/qtest/migration-test -p /x86_64/migration/precopy/tcp/plain" \
             "tests/qtest/migration-test -p /x86_64/migration/postcopy/plain"; do
        t0=$(date +%s)
        if run_qtest "$t --tap"; then r=pass; else r=FAIL; failed=1; fi
        say "  $r: $t ($(( $(date +%s) - t0 )) s, $(grep -c '^ok ' "$tlog") ok so far)"
    done
    if inroot sh -c "cd $mnt/obj-$uver && meson test --suite qapi-schema --no-rebuild -q" >>"$tlog" 2>&1; then
        say "  pass: meson test --suite qapi-schema"
    else say "  FAIL: meson test --suite qapi-schema"; failed=1; fi
    grep -E '^not ok' "$tlog" | head -n 20 >&2 || true
    [ "$failed" = 0 ] || die "QEMU tests failed (log: $tlog)"
    say "QEMU tests passed"
    exit 0
fi

# 7. publish: for the host image an install tree (prefix /usr/local) as a tar; for L0 the
#    binary itself, checked to run here. Only the emulator: firmware, keymaps and
#    qemu-bridge-helper come from Debian's QEMU packages (--firmwarepath above;
#    image/host-qemu.sh links the helper into the host image).
tmp=$out_dir.tmp.$$
rm -rf "$tmp" "$qdir/destdir"; mkdir -p "$tmp"
if [ "$mode" = l0 ]; then
    mkdir -p "$tmp/bin"
    install -m 0755 "$obj/qemu-system-x86_64" "$tmp/bin/qemu-system-x86_64"
    built=$("$tmp/bin/qemu-system-x86_64" --version 2>&1 | head -n 1) ||
        die "the L0 QEMU built in the $suite build root does not run on this machine: $built"
else
    mkdir -p "$qdir/destdir/usr/local/bin"
    install -m 0755 "$obj/qemu-system-x86_64" "$qdir/destdir/usr/local/bin/qemu-system-x86_64"
    tar -C "$qdir/destdir" --sort=name --numeric-owner --owner=0 --group=0 -cf "$tmp/install.tar" .
    rm -rf "$qdir/destdir"
    built="install.tar $(du -h "$tmp/install.tar" | cut -f1)"
fi
printf 'source qemu %s\npatches %s\nflags %s\nkey %s\n' "$version" "$series_count" "$flags" "$key" >"$tmp/manifest.txt"
(cd "$patches" && sha256sum *.patch) >>"$tmp/manifest.txt"
cp "$log" "$tmp/build.log"
publish "$tmp" "$out_dir"
ln -sfn "$prefix-$key" "$qdir/current"
say "built $out_dir: $built"
