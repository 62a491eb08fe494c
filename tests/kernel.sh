#!/bin/sh
# tests/kernel.sh: `make test-kernel`: the fmsync selftest inside L1 hosts that run the
# built fmsync kernel (kernel/, issue 5).
#
# Boots the cached bzImage at L0 (TCG, emulated SVM) with the selftest initramfs
# (kernel/selftest/) twice: kvm_amd npt=0 on `-cpu qemu64,+svm` (KVM's shadow MMU,
# the lab's setting) and npt=1 on `-cpu EPYC,+svm,+npt` (the TDP MMU, the
# real-hardware path). Each boot has a timeout and a bounded retry (nested boots under
# TCG sometimes hang); a boot that reaches the end of the selftest is never retried,
# whatever its result. Logs: build/test-kernel/. Exit status non-zero on any failure.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
fmlab=build/fmlab
cache=$($fmlab config get CACHE_DIR) suite=$($fmlab config get SUITE)
kernel=$cache/kernel/current/bzImage
[ -r "$kernel" ] || { echo "test-kernel: error: no fmsync kernel at $kernel (run: make kernel)" >&2; exit 1; }
initrd=$(kernel/selftest/build.sh "$cache" "$suite")
out=build/test-kernel
rm -rf "$out"; mkdir -p "$out"
attempts=${FMSYNC_TEST_ATTEMPTS:-3} limit=${FMSYNC_TEST_TIMEOUT:-900} args=${FMSYNC_TEST_ARGS:--b,256}
failed=0
echo "test-kernel: $(readlink -f "$kernel") ($(du -k "$kernel" | cut -f1) KiB), selftest args '$args'"

run_mode() {  # name npt cpu
    name=$1 npt=$2 cpu=$3 try=1
    while [ "$try" -le "$attempts" ]; do
        log=$out/$name-attempt$try.log
        t0=$(date +%s)
        echo "[$name] boot $try/$attempts: -cpu $cpu, kvm_amd.npt=$npt (log: $log)"
        rc=0
        timeout "$limit" qemu-system-x86_64 -accel tcg,thread=multi -cpu "$cpu" -smp 1 -m 2G \
            -nodefaults -no-user-config -display none -no-reboot -serial "file:$log" \
            -kernel "$kernel" -initrd "$initrd" \
            -append "console=ttyS0 panic=-1 quiet kvm_amd.npt=$npt fmsync.args=$args" \
            </dev/null >"$log.qemu" 2>&1 || rc=$?
        secs=$(( $(date +%s) - t0 ))
        end=$(tr -d '\r' <"$log" | sed -n 's/^FMSYNC-END rc=//p' | tail -1)
        if [ -n "$end" ]; then
            tr -d '\r' <"$log" | sed -n '/^FMSYNC-BEGIN/,/^FMSYNC-END/p' >"$out/$name.tap"
            pass=$(grep -c '^ok ' "$out/$name.tap" || true)
            fail=$(grep -c '^not ok ' "$out/$name.tap" || true)
            grep -E '^(FMSYNC-BEGIN|not ok|Bail out|# .*(MMU|GiB|per GiB|cost|backing))' "$out/$name.tap" | sed "s/^/[$name]   /"
            if [ "$end" = 0 ] && [ "$fail" = 0 ] && [ "$pass" -gt 0 ]; then
                echo "[$name] PASS: $pass checks, 0 failed, ${secs} s, $((try - 1)) retries"
                echo "$name pass checks=$pass retries=$((try - 1)) seconds=$secs" >>"$out/summary"
            else
                echo "[$name] FAIL: $pass passed, $fail failed, selftest exit $end (log: $log)"
                echo "$name fail checks=$pass failed=$fail retries=$((try - 1)) seconds=$secs" >>"$out/summary"
                failed=1
            fi
            return 0
        fi
        why="no FMSYNC-END line"
        [ "$rc" = 124 ] && why="timed out after ${limit} s"
        echo "[$name] boot $try did not finish the selftest ($why, qemu exit $rc); last lines:"
        tr -d '\r' <"$log" | tail -n 5 | sed "s/^/[$name]   /"
        try=$((try + 1))
    done
    echo "[$name] FAIL: no boot of $attempts finished the selftest (logs: $out/$name-attempt*.log)"
    echo "$name fail boots=$attempts" >>"$out/summary"
    failed=1
}

run_mode shadow-npt0 0 "qemu64,+svm"
run_mode tdp-npt1 1 "EPYC,+svm,+npt"
echo "test-kernel: summary ($out/summary):"; sed 's/^/  /' "$out/summary"
[ "$failed" = 0 ] || { echo "test-kernel: FAILED" >&2; exit 1; }
echo "test-kernel: passed"
