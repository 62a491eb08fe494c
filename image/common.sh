# image/common.sh: shell helpers shared by the image, build-root and kernel/QEMU builders.
#
# Sourced, not run. Owns: progress lines, the input-hash used as cache key, atomic
# publishing of a finished build (build in NAME.tmp.PID, rename when complete, so an
# interrupted build never leaves a directory the cache believes), and chroot mounts.

say()  { printf '[%s] %s\n' "${FMLAB_STEP:-build}" "$*"; }
die()  { printf '[%s] error: %s\n' "${FMLAB_STEP:-build}" "$*" >&2; exit 1; }

# input_hash FILE|DIR... [-- STRING...]: sha256 over file names+contents and strings.
# Names are taken relative to the repository, so the key does not depend on where the
# checkout lives (a CI clone must hit the same cache).
input_hash() {
    { while [ $# -gt 0 ] && [ "$1" != "--" ]; do
          (cd "$(dirname "$1")/.." &&
           find "$(basename "$(dirname "$1")")/$(basename "$1")" -type f -print0 |
           LC_ALL=C sort -z | xargs -0 sha256sum)
          shift
      done
      [ "${1:-}" = "--" ] && shift
      for s in "$@"; do printf '%s\n' "$s"; done
    } | sha256sum | cut -c1-16
}

# publish TMPDIR FINALDIR: make a finished build visible to the cache in one rename.
publish() {
    sync -f "$1" 2>/dev/null || sync
    rm -rf "$2.old" && { [ ! -e "$2" ] || mv "$2" "$2.old"; }
    mv "$1" "$2" && rm -rf "$2.old"
}

# Remove stale half-builds left by interrupted runs (their PID is gone). Mounts inside
# them (debootstrap's proc/sys/dev) are taken down first, and rm never crosses into
# another filesystem, so a killed build can never take the host's /dev with it.
clean_stale_tmp() {
    for d in "$1".tmp.*; do
        [ -e "$d" ] || continue
        pid=${d##*.tmp.}
        kill -0 "$pid" 2>/dev/null && continue
        say "removing interrupted build $d"
        umount_chroot "$d/root"
        rm -rf --one-file-system "$d"
    done
}

# Unmount the build-root bind mounts (BUILDROOT/mnt/fmlab-PID) of builds that died.
clean_stale_mounts() {
    for m in "$1"/mnt/fmlab-*; do
        [ -d "$m" ] || continue
        kill -0 "${m##*/fmlab-}" 2>/dev/null && continue
        mountpoint -q "$m" && umount -l "$m"
        rmdir "$m" 2>/dev/null || true
    done
}

mount_chroot() {   # (each only if not mounted yet: another build may share the root)
    mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
    mountpoint -q "$1/sys" || mount -t sysfs sysfs "$1/sys" 2>/dev/null || mount --rbind /sys "$1/sys"
    mountpoint -q "$1/dev" || mount --bind /dev "$1/dev"
    mountpoint -q "$1/dev/pts" || mount -t devpts devpts "$1/dev/pts" 2>/dev/null || true
}

umount_chroot() {
    for m in dev/pts dev sys proc; do
        mountpoint -q "$1/$m" 2>/dev/null && umount -l "$1/$m"
    done
    return 0
}

# Run a long step with its output in a log, printing elapsed time; show the log tail on failure.
logged() {
    log=$1; shift
    t0=$(date +%s)
    if ! "$@" >>"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "step failed: $* (full log: $log)"
    fi
    say "  done in $(( $(date +%s) - t0 )) s"
}
