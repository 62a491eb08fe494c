#!/bin/sh
# tests/fresh.sh: the two commands on a fresh Debian machine, in a chroot.
#
# A fresh machine is this machine's Debian suite, minbase, with only what it takes to get
# the repository: make, git, ca-certificates (debootstrap, from the mirror this machine's
# apt uses). The committed tree (git clone of HEAD) goes into it, and there, with no
# package of deps.txt installed:
#   1. `make deps` installs every package the project needs (apt-get update first when
#      the lists are stale or absent, as on a fresh install);
#   2. `make test-unit test-config`: the runner and the unit tests build and pass with
#      exactly those packages;
#   3. `make -n lab-up` and `make -n test` start with the same install step, so the two
#      commands of the README need nothing run before them.
# The lab itself cannot run in a chroot (it needs /dev/kvm, namespaces and a kernel of its
# own); `make test` runs it on this machine. Takes ~2-10 min (downloads and unpacks the
# packages: 2 min here); the root is removed at the end. `make test-fresh`, part of `make test`.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/image/common.sh"
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=$("$repo/image/mirror.sh")
root=$(mktemp -d /var/tmp/fmlab-fresh.XXXXXX)
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"
cleanup() { umount_chroot "$root/root"; rm -rf --one-file-system "$root"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# a fresh $suite (minbase + make git ca-certificates) in $root/root"
if debootstrap --variant=minbase --include=make,git,ca-certificates "$suite" "$root/root" "$mirror" \
       >"$root/debootstrap.log" 2>&1; then
    ok "debootstrap $suite"
else
    tail -n 5 "$root/debootstrap.log"; notok "debootstrap $suite"; exit 1
fi
missing=$(for p in $(grep -v '^#' "$repo/deps.txt"); do
              chroot "$root/root" dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
          done | wc -l)
echo "# $missing of $(grep -vc '^#' "$repo/deps.txt") packages of deps.txt are missing there"
git clone -q "$repo" "$root/root/src/fmlab"
mount_chroot "$root/root"
in_root() { chroot "$root/root" sh -c "cd /src/fmlab && $1"; }

first=$(in_root "make -n lab-up 2>/dev/null | grep -v '^make\\[' | head -n 1")
echo "$first" | grep -q 'dpkg-query' && ok "make lab-up starts with the install step" || notok "make -n lab-up starts with: $first"
first=$(in_root "make -n test 2>/dev/null | grep -v '^make\\[' | head -n 1")
echo "$first" | grep -q 'dpkg-query' && ok "make test starts with the install step" || notok "make -n test starts with: $first"
# the apt lists of a fresh debootstrap are there; a machine installed long ago may have
# none: remove them so `make deps` has to notice and update them itself
rm -rf "$root/root/var/lib/apt/lists/"*
t0=$(date +%s)
if in_root "DEBIAN_FRONTEND=noninteractive make deps" >"$root/deps.log" 2>&1; then
    ok "make deps installed $missing packages in $(( $(date +%s) - t0 )) s (it ran apt-get update itself: $(grep -c 'apt-get update first' "$root/deps.log") time)"
else
    tail -n 10 "$root/deps.log"; notok "make deps"
fi
in_root "make deps" 2>&1 | grep -q 'all .* packages installed' && ok "make deps again: nothing to install" \
    || notok "make deps again still installs"
if in_root "make test-unit test-config" >"$root/unit.log" 2>&1; then
    ok "make test-unit test-config pass there ($(grep -c 'PASSED' "$root/unit.log") unit suites)"
else
    tail -n 15 "$root/unit.log"; notok "make test-unit test-config"
fi
exit $fail
