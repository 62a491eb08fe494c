#!/bin/sh
# tests/repro.sh FMLAB: build the guest and host images from cold into an empty cache
# (sharing only the build root, a tool and not an output) and require byte-identical
# results (same sha256 for disk, kernel, initrd and manifest) with a second, independent
# build: the one in CACHE_DIR when it holds the same packages (same manifest: the mirror
# has not moved since; `make test` built it minutes before in CI), else a second cold build.
# Then check that an unchanged third build is a cache hit in under 5 seconds.
set -eu
fmlab=$1
cache=$($fmlab config get CACHE_DIR)
# assigned first, exported after: a failing config get must stop the script (set -e)
SUITE=$($fmlab config get SUITE)
IMAGE_EPOCH=$($fmlab config get IMAGE_EPOCH)
KERNEL_VER=$($fmlab config get KERNEL_VER)
export SUITE IMAGE_EPOCH KERNEL_VER
guest_size=$($fmlab config get GUEST_IMAGE_SIZE) host_size=$($fmlab config get HOST_IMAGE_SIZE)
image/buildroot.sh "$cache" "$SUITE" >/dev/null
work=$(mktemp -d /var/tmp/fmlab-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
cold_build() {   # RUN KIND: a build into the empty cache $work/RUN
    mkdir -p "$work/$1"
    [ -e "$work/$1/buildroot" ] || ln -s "$cache/buildroot" "$work/$1/buildroot"
    size=$guest_size; [ "$2" = host ] && size=$host_size
    t0=$(date +%s)
    IMAGE_SIZE=$size image/build.sh "$2" "$work/$1" | sed "s/^/  [run $1] /"
    echo "repro: cold $2 build $1: $(( $(date +%s) - t0 )) s"
}
for kind in guest host; do
    cold_build 1 $kind
    # the cache's build of the same inputs (the same key: images/KIND-KEY)
    other=$cache/images/$(basename "$(readlink "$work/1/images/$kind")")
    if ! cmp -s "$work/1/images/$kind/manifest.txt" "$other/manifest.txt" 2>/dev/null; then
        echo "repro: $other has other packages (or none): a second cold build"
        cold_build 2 $kind
        other=$work/2/images/$kind
    fi
    if cmp -s "$work/1/images/$kind/sha256sums" "$other/sha256sums"; then
        echo "ok - $kind image is reproducible (a cold build = $other):"
        sed 's/^/    /' "$work/1/images/$kind/sha256sums"
    else
        echo "not ok - $kind image differs between two builds of the same packages (a cold build, $other):"
        diff "$work/1/images/$kind/sha256sums" "$other/sha256sums" | sed 's/^/    /'
        fail=1
    fi
done
# The cache key must not depend on where the checkout lives (CI clones elsewhere).
mkdir -p "$work/elsewhere" && cp -a image "$work/elsewhere/"
k1=$(sh -c '. image/common.sh; input_hash "$PWD/image/build.sh" "$PWD/image/rootfs-common" -- x')
k2=$(cd "$work/elsewhere" && sh -c '. image/common.sh; input_hash "$PWD/image/build.sh" "$PWD/image/rootfs-common" -- x')
[ "$k1" = "$k2" ] && echo "ok - cache key does not depend on the checkout path ($k1)" \
    || { echo "not ok - cache key differs by checkout path: $k1 vs $k2"; fail=1; }

t0=$(date +%s.%N)
IMAGE_SIZE=$guest_size image/build.sh guest "$work/1" | grep -q 'cache hit'
t=$(echo "$(date +%s.%N) - $t0" | bc)
echo "ok - third guest build is a cache hit in $t s"
[ "$(echo "$t < 5" | bc)" = 1 ] || { echo "not ok - cache hit took $t s (>= 5 s)"; fail=1; }
exit $fail
