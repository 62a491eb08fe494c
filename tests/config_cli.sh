#!/bin/sh
# tests/config_cli.sh FMLAB: the config commands as a user meets them.
# A config.txt with a typo'd key, a bad IP and a duplicate key gives exactly three
# errors with file and line, and a non-zero exit; get/show/overrides work.
set -u
fmlab=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"

sed -e 's/^SRC_IP=/SRC_PI=/' -e 's/^VM_IP=.*/VM_IP=10.10.1.300/' config.txt >"$tmp/bad.txt"
echo "MIGRATION_PORT=4445" >>"$tmp/bad.txt"
src_line=$(grep -n '^SRC_PI=' "$tmp/bad.txt" | cut -d: -f1)
vm_line=$(grep -n '^VM_IP=' "$tmp/bad.txt" | cut -d: -f1)
mig_line=$(grep -n '^MIGRATION_PORT=4444' "$tmp/bad.txt" | cut -d: -f1)
dup_line=$(wc -l <"$tmp/bad.txt")
FMLAB_CONFIG="$tmp/bad.txt" $fmlab config check >"$tmp/out" 2>&1
rc=$?
cat >"$tmp/want" <<WANT
$tmp/bad.txt:$src_line: unknown key 'SRC_PI' (did you mean 'SRC_IP'?)
$tmp/bad.txt:$vm_line: VM_IP: malformed value '10.10.1.300' (expected an IPv4 address like 10.10.1.1)
$tmp/bad.txt:$dup_line: duplicate key 'MIGRATION_PORT' (first set on line $mig_line)
$tmp/bad.txt: missing required key 'SRC_IP'
4 errors in $tmp/bad.txt
WANT
[ $rc -eq 1 ] && ok "config check exits 1 on a bad file" || notok "config check exit $rc"
if diff -u "$tmp/want" "$tmp/out"; then ok "config check names file, line and key of each error"
else notok "config check messages"; fi

$fmlab config check >/dev/null && ok "the repository's config.txt is valid" || notok "config.txt invalid"
[ "$($fmlab config get VM_IP)" = 10.10.1.100 ] && ok "config get VM_IP" || notok "config get VM_IP"
[ "$($fmlab config get --bytes META_STATE_LENGTH)" = 1048576 ] && ok "config get --bytes" || notok "get --bytes"
FMLAB_GUEST_MEM=1G $fmlab config show | grep -q '^GUEST_MEM *1G *env FMLAB_GUEST_MEM$' \
    && ok "config show marks environment overrides" || notok "config show override"
out=$(FMLAB_VM_IP=nope $fmlab config get VM_IP 2>&1); rc=$?
[ $rc -ne 0 ] && [ "$out" = "environment: FMLAB_VM_IP: malformed value 'nope' (expected an IPv4 address like 10.10.1.1)" ] \
    && ok "a bad override is refused with its name" || notok "bad override: $out"
# A path that a shell would run as a command: refused by config check, nothing runs.
rm -f /tmp/fmlab-config-pwned
out=$(FMLAB_SHARED_STORAGE='/tmp/x;touch /tmp/fmlab-config-pwned' $fmlab config check 2>&1); rc=$?
[ $rc -ne 0 ] && [ ! -e /tmp/fmlab-config-pwned ] && echo "$out" | grep -q "FMLAB_SHARED_STORAGE: malformed value.*characters a shell interprets" \
    && ok "a path with shell characters is refused by config check, with its name" || notok "hostile path: rc=$rc $out"
out=$($fmlab config get NOPE 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$out" = "fmlab config get: unknown key 'NOPE'" ] && ok "get of an unknown key" || notok "get unknown: $out"
out=$(FMLAB_CONFIG=/nonexistent $fmlab config check 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "^/nonexistent: cannot read config file" && ok "missing config file named" \
    || notok "missing file: $out"
# NET_MODE=ovs-dpdk: shm's dst-ram pool would split the guest's RAM from its NIC's; refused
# in one line before anything of a lab is touched (none needs to be up)
out=$(FMLAB_NET_MODE=ovs-dpdk FMLAB_HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt \
      $fmlab migrate --mode shm --dst-ram pool 2>&1); rc=$?
out=$(echo "$out" | grep -v '^fmlab migrate: warning: ')   # e.g. no cgroup v2 in a chroot
[ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q 'dst-ram pool cannot run with NET_MODE=ovs-dpdk' \
    && ok "shm dst-ram pool with NET_MODE=ovs-dpdk is refused in one line" || notok "ovs-dpdk dst-ram pool: rc=$rc $out"
$fmlab --help | grep -q 'doctor' && ok "fmlab --help lists the commands" || notok "--help"
out=$($fmlab frobnicate 2>&1); [ $? -eq 2 ] && ok "unknown command: $out" || notok "unknown command"
exit $fail
