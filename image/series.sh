# image/series.sh: sourced by kernel/build.sh and qemu/build.sh (after common.sh).
#
# apply_series PRISTINE TREE PATCH_DIR WHAT: keep TREE = PRISTINE + PATCH_DIR/*.patch
# (in order) while rewriting as few files as possible, so make/ninja rebuild only what a
# patch changes. TREE is made once as hard links to PRISTINE; the files the series (or
# the previous series) touches are patched in a staging copy, and a file in TREE is
# replaced only when its patched content differs; files only an old series created are
# removed. A patch that does not apply stops the build, naming the patch and its failed
# hunks. WHAT names the source in messages. Sets $touched (the files the series touches)
# and $series_count.
apply_series() {
    _pristine=$1 _tree=$2 _pdir=$3 _what=$4
    [ -f "$_tree/.fmlab-tree" ] || { say "creating the working tree (hard links to the source)"
        rm -rf "$_tree"; cp -al "$_pristine" "$_tree"; rm -f "$_tree/.fmlab-unpacked"; touch "$_tree/.fmlab-tree"; }
    set -- "$_pdir"/*.patch
    [ -e "$1" ] || die "no patches in $_pdir"
    _stage=$_tree.stage.$$
    rm -rf "$_tree".stage.*
    mkdir -p "$_stage"
    touched=$(cat "$@" | sed -n 's#^+++ b/##p' | sort -u)
    _all=$(printf '%s\n%s\n' "$touched" "$(cat "$_tree/.fmlab-touched" 2>/dev/null || true)" | sort -u)
    for _f in $_all; do
        [ -e "$_pristine/$_f" ] || continue
        mkdir -p "$_stage/$(dirname "$_f")"
        cp -p "$_pristine/$_f" "$_stage/$_f"
    done
    for _p in "$@"; do
        if ! _out=$(cd "$_stage" && patch -p1 --forward --batch --no-backup-if-mismatch -r - <"$_p" 2>&1); then
            rm -rf "$_stage"
            printf '%s\n' "$_out" | grep -E 'FAILED|malformed|can.t find file' | sed 's/^/    /' >&2
            die "patch $(basename "$_p") does not apply to $_what (see the hunks above)"
        fi
    done
    _changed=0
    for _f in $_all; do
        if [ -e "$_stage/$_f" ]; then
            if ! cmp -s "$_stage/$_f" "$_tree/$_f"; then
                rm -f "$_tree/$_f"; mkdir -p "$_tree/$(dirname "$_f")"; cp "$_stage/$_f" "$_tree/$_f"
                _changed=$((_changed + 1))
            fi
        elif [ -e "$_tree/$_f" ] && [ ! -e "$_pristine/$_f" ]; then
            rm -f "$_tree/$_f"; _changed=$((_changed + 1))
        fi
    done
    printf '%s\n' "$touched" >"$_tree/.fmlab-touched"
    rm -rf "$_stage"
    series_count=$#
    say "applied $# patches to $_what; $_changed files changed in the tree"
}

# enter_build_root CACHE SUITE DIR NAME: one build of NAME at a time (a lock in DIR), DIR
# bind-mounted at /mnt/NAME inside SUITE's build root (always the same path: Kbuild,
# meson and ninja record absolute paths, so a path that changed would rebuild every
# object), /proc, /sys, /dev mounted, all taken down on exit. Sets $buildroot and $mnt
# (/mnt/NAME, the path inside the root), and defines inroot CMD...
enter_build_root() {
    buildroot=$("$repo/image/buildroot.sh" "$1" "$2")
    clean_stale_mounts "$buildroot"
    exec 8>"$3/.build.lock"
    flock -n 8 || { say "waiting for another $4 build to finish"; flock 8; }
    mnt=/mnt/$4
    trap 'mountpoint -q "$buildroot$mnt" && umount -l "$buildroot$mnt"; umount_chroot "$buildroot"' EXIT INT TERM
    mkdir -p "$buildroot$mnt"
    while mountpoint -q "$buildroot$mnt"; do umount -l "$buildroot$mnt"; done   # left by a killed build
    mount --bind "$3" "$buildroot$mnt"
    mount_chroot "$buildroot"
}
inroot() { chroot "$buildroot" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"; }
