#!/bin/sh
# tests/doctor.sh FMLAB: run `fmlab doctor` on this machine and check what it must find.
# Machine-independent assertions: it exits 0 here, every check prints a verdict, /dev/kvm
# gets a verdict from a real boot (hardware KVM or "cannot run stock kernels"), TCG boots
# a kernel, netns/tun work, and it leaves no namespace behind. A broken config is a FAIL.
set -u
fmlab=$1
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"
before=$(ls -d /tmp/fmlab-doctor-* 2>/dev/null)
out=$($fmlab doctor 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
[ $rc -eq 0 ] && ok "doctor passes on this machine" || notok "doctor exit $rc"
for check in config root commands packages disk memory /dev/kvm tcg 'nested svm' 'net mode' /dev/net/tun 'ip netns'; do
    echo "$out" | grep -Eq "^(PASS|WARN|FAIL)  $check " && ok "verdict for $check" || notok "no verdict for $check"
done
echo "$out" | grep -Eq '^PASS  /dev/kvm +(hardware KVM: a stock kernel ran|cannot run stock kernels|absent)' \
    && ok "/dev/kvm kind decided by a boot" || notok "/dev/kvm kind"
echo "$out" | grep -q '^PASS  tcg  *a stock kernel ran to its root-mount panic' && ok "TCG boots a stock kernel" || notok "tcg"
ip netns list | grep -q fmlab-doctor && notok "doctor left a namespace" || ok "no namespace left"
[ "$(ls -d /tmp/fmlab-doctor-* 2>/dev/null)" = "$before" ] && ok "no temp dir left" || notok "doctor left a temp dir"
tmp=$(mktemp); echo 'SRC_PI=1' >"$tmp"
out=$(FMLAB_CONFIG=$tmp $fmlab doctor 2>&1); rc=$?
rm -f "$tmp"
[ $rc -eq 1 ] && echo "$out" | grep -q '^FAIL  config' && ok "a broken config is a FAIL" || notok "broken config: $out"
# NET_MODE=ovs-dpdk with a host image whose package list lacks OVS-DPDK: a FAIL naming it
cache=$(mktemp -d); mkdir -p "$cache/images/host"; echo 'openvswitch-switch=3.5.0-1' >"$cache/images/host/manifest.txt"
out=$(FMLAB_NET_MODE=ovs-dpdk FMLAB_HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt FMLAB_CACHE_DIR=$cache \
      $fmlab doctor --quick 2>&1); rc=$?
rm -rf "$cache"
[ $rc -eq 1 ] && echo "$out" | grep -q '^FAIL  net mode .*lists no openvswitch-switch-dpdk' \
    && ok "ovs-dpdk without OVS-DPDK in the host image is a FAIL" || notok "ovs-dpdk manifest: $out"
# the L0 QEMU: the patched one not built yet is named with its make target; Debian's 7.2
# (this machine's package) is a warning naming the double interrupt and L0_QEMU=patched
cache=$(mktemp -d)
out=$(FMLAB_CACHE_DIR=$cache $fmlab doctor --quick 2>&1 | grep -A1 '^WARN  nested svm' | tr '\n' ' ')
rm -rf "$cache"
echo "$out" | grep -q "^WARN  nested svm .*L0_QEMU=patched: $cache/l0-qemu/current/bin/qemu-system-x86_64 is not built yet.*make l0-qemu" \
    && ok "an L0 QEMU not built yet names make l0-qemu" || notok "unbuilt L0 QEMU: $out"
if qemu-system-x86_64 --version | grep -q 'version 7\.2\.'; then
    out=$(FMLAB_L0_QEMU=debian $fmlab doctor --quick 2>&1 | grep -A1 '^WARN  nested svm' | tr '\n' ' ')
    echo "$out" | grep -q '^WARN  nested svm .*as Debian ships it: an interrupt .* delivered twice.*L0_QEMU=patched' \
        && ok "Debian's L0 QEMU 7.2 is a warning naming L0_QEMU=patched" || notok "debian L0: $out"
fi
exit $fail
