#!/bin/sh
# image/build.sh: build the L2 guest image or the L1 host image, reproducibly, into the cache.
#
# Usage: build.sh guest|host CACHE_DIR
# Environment (from the Makefile, which reads config.txt through `fmlab config get`):
#   SUITE IMAGE_EPOCH IMAGE_SIZE KERNEL_VER
#
# Output, in CACHE_DIR/images/KIND-KEY/ (KEY = hash of every input):
#   disk.img (ext4, raw) vmlinuz initrd.img manifest.txt (package=version) sha256sums
# and the symlink CACHE_DIR/images/KIND -> KIND-KEY. A cache hit returns at once.
#
# Reproducible: debootstrap with SOURCE_DATE_EPOCH, no machine-id / host keys / random
# seeds baked in, every mtime clamped to IMAGE_EPOCH, the rootfs packed into a sorted tar
# and turned into ext4 by the build root's mke2fs with a fixed UUID and hash seed.
# Atomic: built in KIND-KEY.tmp.PID and renamed only when complete.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
kind=$1 cache=$2
FMLAB_STEP=$kind-image
: "${SUITE:?} ${IMAGE_EPOCH:?} ${IMAGE_SIZE:?} ${KERNEL_VER:?}"

kernel_pkg=linux-image-amd64
[ "$KERNEL_VER" = auto ] || kernel_pkg=linux-image-$KERNEL_VER
common_pkgs="systemd,systemd-sysv,udev,kmod,iproute2,procps,util-linux,openssh-server,initramfs-tools,zstd,$kernel_pkg"
case "$kind" in
    guest) pkgs="$common_pkgs,redis-server,redis-tools,memcached,iperf3,iputils-ping"
           hostname=fmlab-vm ;;
    host)  pkgs="$common_pkgs,qemu-system-x86,qemu-utils,numactl,ndctl,daxctl,bridge-utils,openvswitch-switch,openvswitch-switch-dpdk,socat,redis-tools,tcpdump,iperf3,expect,openssh-client,pmdk-tools,iputils-ping,ethtool,librte-bus-vdev25,librte-mempool-ring25,librte-net-af-packet25"
           hostname=fmlab-host ;;
    *) die "unknown image kind '$kind' (guest or host)" ;;
esac

mirror=$("$here/mirror.sh")
buildroot=$("$here/buildroot.sh" "$cache" "$SUITE")
overlays="$here/rootfs-common"
case "$kind" in
    guest) overlays="$overlays $here/rootfs-guest $here/agent" ;;
    host)  overlays="$overlays $here/rootfs-host $here/kvmcheck" ;;
esac
key=$(input_hash "$here/build.sh" "$here/common.sh" $overlays -- \
      "$kind" "$SUITE" "$mirror" "$IMAGE_EPOCH" "$IMAGE_SIZE" "$KERNEL_VER" \
      "$(basename "$(dirname "$buildroot")")")
name=$kind-$key
dir=$cache/images/$name
if [ -f "$dir/sha256sums" ]; then
    ln -sfn "$name" "$cache/images/$kind"
    say "cache hit: $dir"
    exit 0
fi

mkdir -p "$cache/images"
clean_stale_tmp "$dir"
clean_stale_mounts "$buildroot"
tmp=$dir.tmp.$$
root=$tmp/root
work=$buildroot/mnt/fmlab-$$
log=$tmp/build.log
cleanup() {
    umount_chroot "$root"
    mountpoint -q "$work" 2>/dev/null && umount -l "$work"
    rmdir "$work" 2>/dev/null || true
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$root"
: >"$log"
export SOURCE_DATE_EPOCH=$IMAGE_EPOCH LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
t_start=$(date +%s)

say "debootstrap $SUITE ($kind packages, log: $log)"
logged "$log" debootstrap --variant=minbase --include="$pkgs" "$SUITE" "$root" "$mirror"

say "configuring"
for o in $overlays; do
    case "$o" in */agent|*/kvmcheck) continue ;; esac
    cp -a "$o/." "$root/"
done
echo "$hostname" >"$root/etc/hostname"
# Root by label: hosts also carry the shared guest disk, so /dev/vda is not always ours.
printf '# fmlab %s image: root by label (a host also attaches the guest disk).\nLABEL=fmlab-%s  /  ext4  rw,relatime,errors=remount-ro  0  1\n' \
    "$kind" "$kind" >"$root/etc/fstab"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$hostname" >"$root/etc/hosts"
units="fmlab-firstboot.service serial-getty@ttyS0.service"
# build_tool DIR NAME: a C tool of the image, compiled in the build root, into /usr/local/sbin
build_tool() {
    rm -rf "$buildroot/tmp/fmlab-$2"
    cp -r "$1" "$buildroot/tmp/fmlab-$2"
    logged "$log" chroot "$buildroot" sh -c "cd /tmp/fmlab-$2 && gcc -std=c11 -O2 -Wall -Wextra \
        -Werror -s -pthread -o $2 *.c"
    install -m 0755 "$buildroot/tmp/fmlab-$2/$2" "$root/usr/local/sbin/$2"
    rm -rf "$buildroot/tmp/fmlab-$2"
}
if [ "$kind" = guest ]; then
    say "building the guest agent in the build root"
    build_tool "$here/agent" fmlab-agent
    # networkd applies ip= for Debian's kernel; the lab's kernel has set it before init
    units="$units fmlab-agent.service systemd-networkd.service systemd-network-generator.service"
    logged "$log" chroot "$root" systemctl disable redis-server.service memcached.service
else
    say "building fmlab-kvmcheck in the build root"
    build_tool "$here/kvmcheck" fmlab-kvmcheck
    # both networks (eth0 addressed, eth1 in the guests' netns or routed) come from
    # fmlab-hostnet (ip), not networkd: nothing to wait for
    units="$units fmlab-hostnet.service"
    logged "$log" chroot "$root" systemctl disable openvswitch-switch.service
fi
logged "$log" chroot "$root" systemctl enable $units
# Only what the lab uses starts: no VT getty (no display), no module loads the lab's
# kernel has built in, no timers that would wake up during a measurement (apt, scrub,
# trim, man-db), no wait for "network online" (it waits on udev).
logged "$log" chroot "$root" systemctl mask getty@tty1.service systemd-networkd-wait-online.service \
    modprobe@drm.service modprobe@efi_pstore.service modprobe@dm_mod.service modprobe@loop.service \
    systemd-pstore.service e2scrub_reap.service apt-daily.timer apt-daily-upgrade.timer \
    dpkg-db-backup.timer e2scrub_all.timer fstrim.timer man-db.timer
# First-boot work done here, once, not at every boot of a reproducible image: the linker
# cache and the journal catalog (udev's hwdb is built by its package), and the "needs
# update" markers that tell ldconfig.service, systemd-journal-catalog-update and
# systemd-hwdb-update they are done
# (ConditionNeedsUpdate compares them with /usr's mtime, which is IMAGE_EPOCH).
logged "$log" chroot "$root" ldconfig
logged "$log" chroot "$root" journalctl --update-catalog
for d in etc var; do
    printf 'TIMESTAMP_NSEC=%s000000000\n' "$IMAGE_EPOCH" >"$root/$d/.updated"
done

say "removing per-machine and time-dependent state"
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id" \
      "$root/var/lib/systemd/random-seed" "$root/var/lib/systemd/credential.secret" \
      "$root/var/cache/ldconfig/aux-cache" "$root"/var/lib/dpkg/*-old \
      "$root"/var/cache/debconf/*-old "$root/etc/resolv.conf"
: >"$root/etc/machine-id"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/man/* \
       "$root"/tmp/* "$root"/var/tmp/* "$root/debootstrap"
find "$root/var/log" -type f -delete
ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

say "extracting kernel and initrd"
vmlinuz=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)
[ -f "$vmlinuz" ] && [ -f "$initrd" ] || die "no kernel or initrd in $root/boot"
cp "$vmlinuz" "$tmp/vmlinuz"
cp "$initrd" "$tmp/initrd.img"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package}=${Version}\n' \
    | LC_ALL=C sort >"$tmp/manifest.txt"

say "packing the filesystem (ext4, $IMAGE_SIZE)"
find "$root" -xdev -newermt "@$IMAGE_EPOCH" -exec touch -h -d "@$IMAGE_EPOCH" {} +
mkdir -p "$work"
mount --bind "$tmp" "$work"
uuid=$(printf 'fmlab-%s-%s' "$kind" "$key" | sha256sum |
       sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
logged "$log" chroot "$buildroot" tar -C "/mnt/fmlab-$$/root" --sort=name --numeric-owner \
    --mtime="@$IMAGE_EPOCH" --clamp-mtime --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --xattrs --xattrs-include='security.capability' \
    -cf "/mnt/fmlab-$$/rootfs.tar" .
logged "$log" chroot "$buildroot" env E2FSPROGS_FAKE_TIME="$IMAGE_EPOCH" \
    mke2fs -q -F -t ext4 -b 4096 -L "fmlab-$kind" -U "$uuid" \
    -E "hash_seed=$uuid,root_owner=0:0" -d "/mnt/fmlab-$$/rootfs.tar" \
    "/mnt/fmlab-$$/disk.img" "$IMAGE_SIZE"
umount "$work" && rmdir "$work"
rm -rf "$root" "$tmp/rootfs.tar"

(cd "$tmp" && sha256sum disk.img vmlinuz initrd.img manifest.txt >sha256sums)
mv "$log" "$cache/images/$name.log"
trap - EXIT INT TERM
publish "$tmp" "$dir"
ln -sfn "$name" "$cache/images/$kind"
say "built $dir in $(( $(date +%s) - t_start )) s: $(du -h --apparent-size "$dir/disk.img" | cut -f1) disk" \
    "($(du -h "$dir/disk.img" | cut -f1) used), $(wc -l <"$dir/manifest.txt") packages"
