#!/bin/bash
# tests/migration.sh FMLAB: `make test-migration`, the migration matrix on real VMs.
#
# Brings the lab up if it is not (fmlab up), then migrates the redis guest back and
# forth between src and dst with `fmlab migrate` and asserts on every result.json:
#   1. precopy, idle guest            -> completed, all three oracles pass
#   2. precopy, redis load            -> completed, acked keys all present, digest equal
#   3. postcopy, redis load           -> completed through postcopy, oracles pass
#   4. precopy, guest dirtying MEM_LOAD_MIB faster than an 8 MiB/s link -> not-converged
#                                        (cancelled at the timeout),
#                                        guest still running on its source, oracles pass
#   5. postcopy, source killed once the destination runs -> the guest is lost, as
#      expected (the run passes for it); fmlab up --guest-only brings it back
#      precopy, destination QEMU killed mid-migration -> failed, guest on its source
#      then the guest's QEMU killed: the next case restores the lab's snapshot (a reset,
#      not a reboot) and a precopy right after the restore passes every oracle
#   6. shm (HOST_QEMU=fmsync): redis guest through the CXL pool, each destination RAM
#      mode (pool, promote, copy) in both directions, fmsync and stock dirty tracking
#      -> completed, oracles pass, RAM not on the network, RAM where the mode says
#      fmsync at 4 KiB pages (the default) and at 2 MiB regions while the guest runs;
#      shm faults: destination killed while it loads, the image corrupted (header byte,
#      device state byte) before the load -> failed, source resumed, nothing lost;
#      source killed while it writes through -> the image is refused, the guest is lost,
#      as expected, and fmlab up --guest-only brings it back
#   7. shm again on a lab whose hosts boot Debian's stock kernel (no KVM_CAP_FMSYNC):
#      auto tracking falls back to KVM's dirty log; the lab is left down afterwards
# and that each oracle can fail: the memory oracle catches a stale page in the running
# guest, also one the writer rewrote before the check; after a precopy, --oracle-fault
# makes each oracle fail with its own reason (oracle-neg-*).
# CASES=REGEX (make test-migration CASES=shm-image) runs only the cases whose names match.
set -u
fmlab=$1
fail=0
ok()    { echo "ok - $*"; }
notok() { echo "not ok - $*"; fail=1; }
# want NAME: the case NAME is selected by CASES (all when CASES is empty).
want() { [ -z "${CASES:-}" ] || [[ $1 =~ $CASES ]]; }
# jqcheck FILE DESC FILTER: FILTER must evaluate to true on FILE (a skipped case: nothing).
jqcheck() {
    [ "$1" = skipped ] && return
    if [ -n "$1" ] && jq -e "$3" "$1" >/dev/null 2>&1; then ok "$2"; else notok "$2 ($3)"; fi
}
t_start=$(date +%s)
max_bw=$($fmlab config get MIGRATE_MAX_BANDWIDTH); downtime=$($fmlab config get MIGRATE_DOWNTIME_LIMIT_MS)

. "$(dirname "$0")/lab_up.sh"
lab_up "$fmlab" || { notok "fmlab up"; exit 1; }

# migrate NAME ARGS...: run one migration; sets $result to its result.json. A case
# starts from a lab whose guest runs: after a case that lost it, the snapshot is restored.
migrate() {
    name=$1; shift
    want "$name" || { result=skipped; return; }
    lab_up "$fmlab" || notok "$name: a lab with a running guest (fmlab up)"
    log=$(mktemp)
    echo "# $name: fmlab migrate $*"
    t0=$(date +%s)
    $fmlab migrate "$@" 2>&1 | tee "$log" | sed 's/^/#   /'
    rc=${PIPESTATUS[0]}
    result=$(sed -n 's/^\[migrate\] result: //p' "$log" | tail -1)
    rm -f "$log"
    want_rc=${want_rc:-0}
    [ "$rc" -eq "$want_rc" ] && ok "$name: fmlab migrate exits $want_rc ($(( $(date +%s) - t0 )) s)" \
                             || notok "$name: fmlab migrate exits $want_rc (got $rc)"
    [ -f "$result" ] || { notok "$name: result.json written"; result=; }
}

common_checks() {
    jqcheck "$result" "$1: all three oracles pass" \
        '.oracles.memory.pass and .oracles.application.pass and .oracles.liveness.pass and .verdict == "pass"'
    jqcheck "$result" "$1: memory oracle checked every page, none bad" \
        '.oracles.memory.pages > 0 and .oracles.memory.bad_pages == 0'
    jqcheck "$result" "$1: digest before == digest after" \
        '.oracles.application.digest_before == .oracles.application.digest_after'
    jqcheck "$result" "$1: samples and per-iteration records" '(.samples | length) > 0 and (.iterations | length) > 0'
    jqcheck "$result" "$1: parameters recorded" \
        ".parameters[\"max-bandwidth\"] == \"${2:-$max_bw}\" and .parameters[\"downtime-limit\"] == \"$downtime\""
}

completed_checks() {
    jqcheck "$result" "$1: completed, guest moved" \
        '.status == "completed" and .oracles.liveness.destination_status == "running"
         and (.oracles.liveness.source_status | test("postmigrate|gone"))'
    jqcheck "$result" "$1: QEMU's numbers (total, downtime, bytes, syncs)" \
        '.total_time_ms > 0 and .downtime_ms > 0 and .transferred_bytes > 0 and .dirty_sync_count >= 1'
    jqcheck "$result" "$1: the client saw a gap, writes advanced on the destination" \
        '.client.max_gap_ms > 0 and .oracles.liveness.writes_after > .oracles.liveness.writes_before'
    jqcheck "$result" "$1: the study's HMP view (socat) says completed" \
        '.hmp_info_migrate_source | test("Migration status: completed")'
}

migrate "precopy-idle" --mode precopy --load idle
common_checks precopy-idle; completed_checks precopy-idle

migrate "precopy-redis" --mode precopy --load redis
common_checks precopy-redis; completed_checks precopy-redis
jqcheck "$result" "precopy-redis: keys written during migration, every acked key present" \
    '.oracles.application.acked_keys > 0 and .oracles.application.lost_keys == 0 and .oracles.application.wrong_values == 0'

migrate "postcopy-redis" --mode postcopy --load redis
common_checks postcopy-redis; completed_checks postcopy-redis
jqcheck "$result" "postcopy-redis: postcopy really ran" \
    '.postcopy_started == true and .hosts.source.query_migrate.ram["postcopy-bytes"] > 0'
jqcheck "$result" "postcopy-redis: every acked key present" \
    '.oracles.application.acked_keys > 0 and .oracles.application.lost_keys == 0'

# Here nested dirty tracking throttles the writer to ~12 MiB/s, below what the link
# carries: cap the bandwidth under that (8 MiB/s) so the guest really outruns it.
migrate "non-convergence" --mode precopy --load memory --max-bandwidth 8388608 --timeout 90 \
    --expect not-converged
common_checks non-convergence 8388608
jqcheck "$result" "non-convergence: not-converged, cancelled, guest still on its source" \
    '.status == "not-converged" and .qemu_status == "cancelled" and .oracles.liveness.expected_on == "source"
     and .oracles.liveness.source_status == "running"'

# lost_checks NAME: the fault lost the guest and the run passes for it (the expected
# outcome): the oracles show its writer advanced nowhere; fmlab up --guest-only brings it back.
lost_checks() {
    jqcheck "$result" "$1: the guest is lost, as expected (its writer advanced nowhere)" \
        '.verdict == "pass" and .outcome == "lost, as expected" and .oracles.liveness.pass == false
         and .oracles.liveness.writes_after <= .oracles.liveness.writes_before'
    if ! want "$1"; then :
    elif $fmlab up --guest-only >/dev/null 2>&1 && $fmlab status --json | jq -e '.guest.state == "running"' >/dev/null
    then ok "$1: fmlab up --guest-only brings the guest back"
    else notok "$1: fmlab up --guest-only brings the guest back"; fi
}

# postcopy, the source killed once the destination runs: the guest's pages that were
# never sent are gone with it, so the guest is lost; the run passes when the oracles show
# exactly that (the expected outcome), and the guest is booted again
migrate "postcopy-src-kill" --mode postcopy --load redis --fault src-kill-after-switch --postcopy-delay 2000
jqcheck "$result" "postcopy-src-kill: the source died after the switch" \
    '.fault_point_ms > 0 and (.status | test("^(source-lost|postcopy-paused|failed)$"))'
lost_checks postcopy-src-kill

migrate "dst-kill" --mode precopy --load redis --fault dst-kill
common_checks dst-kill
jqcheck "$result" "dst-kill: failed, fault injected mid-precopy, guest on its source" \
    '.status == "failed" and .fault_point_ms > 0 and .oracles.liveness.source_status == "running"
     and .oracles.liveness.destination_status != "running"'

# A case that loses the guest is followed by a restore of the lab's snapshot, not a
# reboot: lose it on purpose (its QEMU killed), then a precopy and the shm cases run on
# the restored lab and must pass every oracle.
if want precopy-after-restore; then
where=$($fmlab status --json | jq -r .guest.host)
echo "# lost guest: its QEMU on $where is killed; the next case starts from a restored lab"
$fmlab exec "$where" -- 'kill -9 $(cat /run/fmlab-vm.pid)' >/dev/null
fi
migrate "precopy-after-restore" --mode precopy --load redis
common_checks precopy-after-restore; completed_checks precopy-after-restore
if want precopy-after-restore && [ "$($fmlab config get LAB_SNAPSHOT)" = auto ]; then
    from=$($fmlab status --json | jq -r .restored_from)
    case "$from" in auto-*) ok "the lost guest's lab was restored from snapshot $from, not rebooted" ;;
                    *) notok "the lost guest's lab was restored, not rebooted (restored_from='$from')" ;; esac
fi

# shm (fmsync) migration through the CXL pool: needs the patched QEMU in the hosts.
shm_checks() {   # NAME TRACKING: completed through the pool, RAM never on the network
    jqcheck "$result" "$1: completed through the pool, guest moved" \
        '.status == "completed" and .oracles.liveness.destination_status == "running"'
    jqcheck "$result" "$1: dirty tracking was $2" ".shm.source[\"dirty-tracking\"] == \"$2\""
    jqcheck "$result" "$1: write-through periods with dirty pages and copy times" \
        '(.iterations | length) > 0 and all(.iterations[]; has("dirty-pages") and has("copy-us"))'
    jqcheck "$result" "$1: precopy, downtime, total and load times measured" \
        '.precopy_ms > 0 and .downtime_ms > 0 and .total_time_ms >= .downtime_ms and .load_ms > 0'
    # what crossed the network while RAM went through the pool: control messages, ssh
    # and the redis client's own traffic; precopy of the same guest sends ~250 MiB
    jqcheck "$result" "$1: RAM did not cross the network (source sent < 16 MiB)" \
        '.network.source_sent_bytes < 16777216'
}
guest_bytes=$($fmlab config get GUEST_MEM | numfmt --from=iec)
dst_ram_checks() {   # NAME MODE: the destination's RAM went where MODE says
    case $2 in
    pool) jqcheck "$result" "$1: dst-ram pool, guest RAM mapped in place from the image" \
              ".dst_ram == \"pool\" and .shm.destination[\"dst-ram\"] == \"pool\"
               and .shm.destination[\"ram-mapped\"] >= $guest_bytes"
          jqcheck "$result" "$1: the waiting destination loaded the device state as the source wrote it" \
              '.shm.destination["device-state-streamed"] == true' ;;
    copy) jqcheck "$result" "$1: dst-ram copy, guest RAM copied, nothing mapped" \
              '.dst_ram == "copy" and .shm.destination["dst-ram"] == "copy" and (.shm.destination["ram-mapped"] // 0) == 0' ;;
    promote) jqcheck "$result" "$1: dst-ram promote, every page local after the resume (faulted + background)" \
              ".dst_ram == \"promote\" and .promote_ms > 0 and .shm.destination[\"ram-promoted\"] >= $guest_bytes
               and (.shm.destination[\"pages-faulted\"] + .shm.destination[\"pages-background\"]) * 4096 >= $guest_bytes" ;;
    esac
    jqcheck "$result" "$1: the image is of this run (run id recorded)" '.run_id | test("^[0-9a-f-]{36}$")'
    jqcheck "$result" "$1: the destination waited for the image (given it before the switchover)" \
        '.dst_wait == true and .shm.destination["wait-us"] > 0'
}
if [ "$($fmlab config get HOST_QEMU)" = fmsync ]; then
    # The three destination RAM modes, each in both directions (src->dst, dst->src).
    migrate "shm-pool" --mode shm --load redis --dst-ram pool
    common_checks shm-pool; shm_checks shm-pool fmsync; dst_ram_checks shm-pool pool
    jqcheck "$result" "shm-pool: every acked key present" \
        '.oracles.application.acked_keys > 0 and .oracles.application.lost_keys == 0'
    # back through the same image: the guest runs from it, so its RAM is in place there
    migrate "shm-pool-back" --mode shm --load redis --dst-ram pool --dirty-tracking stock
    common_checks shm-pool-back; shm_checks shm-pool-back kvm-dirty-log; dst_ram_checks shm-pool-back pool
    jqcheck "$result" "shm-pool-back: the source ran from the image, its RAM was in place (< 16 MiB copied)" \
        ".shm.source[\"ram-in-place\"] >= $guest_bytes and .shm.source[\"bytes-copied\"] < 16777216"
    for dir in "" -back; do
        migrate "shm-promote$dir" --mode shm --load redis --dst-ram promote
        common_checks "shm-promote$dir"; shm_checks "shm-promote$dir" fmsync; dst_ram_checks "shm-promote$dir" promote
    done
    # fmsync collecting 4 KiB pages (the default) or 2 MiB regions while the guest runs:
    # the memory oracle is what says no write between two passes was lost
    for g in page region; do
        migrate "shm-$g" --mode shm --load redis --dst-ram copy --granularity $g
        common_checks "shm-$g"; shm_checks "shm-$g" fmsync; dst_ram_checks "shm-$g" copy
        jqcheck "$result" "shm-$g: the passes while the guest ran collected $g""s" \
            ".shm.source.granularity == \"$g\" and .parameters.granularity == \"$g\""
    done
    for dir in "" -back; do
        migrate "shm-copy$dir" --mode shm --load redis --dst-ram copy
        common_checks "shm-copy$dir"; shm_checks "shm-copy$dir" fmsync; dst_ram_checks "shm-copy$dir" copy
    done

    # shm faults, each with its expected outcome and every oracle.
    # The destination dies while it loads (copy mode: the load takes a second or more):
    # the source is resumed, the guest loses nothing.
    migrate "shm-dst-kill" --mode shm --load redis --dst-ram copy --fault dst-kill
    common_checks shm-dst-kill
    jqcheck "$result" "shm-dst-kill: failed, fault during the load, source resumed, guest on its source" \
        '.status == "failed" and .fault_point_ms > 0 and .source_resumed == true
         and .oracles.liveness.source_status == "running" and .oracles.liveness.destination_status != "running"'
    # The destination dies while it waits for the image (before the switchover): the
    # source completes the image, nobody takes it, the source is resumed.
    migrate "shm-dst-kill-wait" --mode shm --load redis --dst-ram pool --fault dst-kill-wait
    common_checks shm-dst-kill-wait
    jqcheck "$result" "shm-dst-kill-wait: failed, destination lost while waiting, source resumed, guest on its source" \
        '.status == "failed" and (.error_desc | test("destination was lost")) and .source_resumed == true
         and .oracles.liveness.source_status == "running" and .oracles.liveness.destination_status != "running"'
    # The same hop with the destination told only after "image complete" (SHM_DST_WAIT=off).
    migrate "shm-pool-nowait" --mode shm --load redis --dst-ram pool --dst-wait off
    common_checks shm-pool-nowait
    jqcheck "$result" "shm-pool-nowait: completed, the destination was told after the image was complete" \
        '.status == "completed" and .dst_wait == false and .handoff_ms >= 0 and (.shm.destination["wait-us"] // 0) == 0'
    # The complete image is corrupted in the pool before the destination loads it.
    for what in header devstate; do
        migrate "shm-image-$what" --mode shm --load redis --fault "image-$what"
        common_checks "shm-image-$what"
        jqcheck "$result" "shm-image-$what: refused with a clear error (bad checksum), source resumed" \
            '.status == "failed" and (.error_desc | test("bad checksum")) and .source_resumed == true
             and .oracles.liveness.source_status == "running"'
    done
    # The source dies while it writes through: the image stays "syncing", the destination
    # refuses it, the guest is lost; fmlab up --guest-only brings it back.
    migrate "shm-src-kill-sync" --mode shm --load redis --fault src-kill-sync
    jqcheck "$result" "shm-src-kill-sync: source lost, the image (still syncing) refused by the destination" \
        '.status == "source-lost" and (.dst_refusal | test("not complete \\(state syncing\\)"))'
    lost_checks shm-src-kill-sync
else   # HOST_QEMU=debian was asked for: Debian's QEMU has no shm migration
    echo "ok - shm migration # SKIP HOST_QEMU=$($fmlab config get HOST_QEMU): the hosts run Debian's QEMU"
fi

# Ctrl-C on fmlab migrate, at different phases of each mode: the lab must end with
# exactly one live guest (no QEMU is stopped before the lab knows where the guest runs,
# and the controller on backup is stopped too), and a migration after it passes every
# oracle. The phase hit is timing-dependent; what is checked holds for any.
interrupted() {   # NAME DELAY_S ARGS...
    local case=$1 delay=$2 log pid; shift 2
    want "$case" || return 0
    lab_up "$fmlab" || notok "$case: a lab with a running guest (fmlab up)"
    log=$(mktemp)
    echo "# $case: fmlab migrate $*, Ctrl-C (SIGINT) after $delay s"
    setsid $fmlab migrate "$@" >"$log" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -INT -- -"$pid" 2>/dev/null
    wait "$pid"
    sed 's/^/#   /' "$log" | tail -n 6
    rm -f "$log"
    if $fmlab status --json | jq -e '.guest.state == "running" and .guest.other_host != "running"' >/dev/null
    then ok "$case: after Ctrl-C exactly one live guest ($($fmlab status --json | jq -r .guest.host))"
    else notok "$case: after Ctrl-C exactly one live guest ($($fmlab status --json | jq -c .guest))"; fi
    [ -z "$($fmlab exec backup -- 'pgrep -x fmlab-control' 2>/dev/null)" ] \
        && ok "$case: no fmlab-control left on backup" || notok "$case: no fmlab-control left on backup"
    migrate "$case-after" --mode precopy --load redis
    common_checks "$case-after"; completed_checks "$case-after"
}
interrupted int-precopy-iterating 4 --mode precopy --load redis
interrupted int-postcopy-switched 12 --mode postcopy --load redis --postcopy-delay 2000
if [ "$($fmlab config get HOST_QEMU)" = fmsync ]; then
    interrupted int-shm-syncing 16 --mode shm --load redis --write-through 20
    interrupted int-shm-switchover 20 --mode shm --load redis --write-through 5
fi

# The memory oracle is not vacuous: a page made stale in the running guest is caught.
if want memory-oracle-negative; then
vm_ip=$($fmlab config get VM_IP); agent_port=$($fmlab config get AGENT_PORT)
# from backup: only the control plane is on the guests' network
reply=$($fmlab exec backup -- "bash -c 'exec 3<>/dev/tcp/$vm_ip/$agent_port; for c in \"mem start 4 0\" \
    \"mem corrupt 7 stale\" \"mem check\" \"mem stop\"; do echo \"\$c\" >&3; read -r -t 60 l <&3; echo \"\$l\"; done'")
echo "$reply" | sed 's/^/#   agent: /'
echo "$reply" | grep -q '^pages=1024 bad=1 torn=0 stale=1' && ok "memory oracle catches a stale page in the guest" \
    || notok "memory oracle catches a stale page in the guest"
# ... and still when the writer rewrote the page before the check (a migration's lost
# page is rewritten within one sweep, seconds): the writer verified it first
reply=$($fmlab exec backup -- "bash -c 'exec 3<>/dev/tcp/$vm_ip/$agent_port; for c in \"mem start 4 0\" \
    \"mem corrupt 7 stale\" \"mem resume\" sleep \"mem check\" \"mem stop\"; do \
    if [ \"\$c\" = sleep ]; then sleep 2; continue; fi; echo \"\$c\" >&3; read -r -t 60 l <&3; echo \"\$l\"; done'")
echo "$reply" | sed 's/^/#   agent: /'
echo "$reply" | grep -q '^pages=1024 bad=1 torn=0 stale=0 misplaced=0 found=1' \
    && ok "memory oracle catches a stale page that the writer rewrote before the check" \
    || notok "memory oracle catches a stale page that the writer rewrote before the check"
fi

# Every oracle fails through the real migration path, with its own reason: after a
# precopy completes and before the oracles look, fmlab-control does one wrong
# (--oracle-fault); the run must fail and its reasons name the oracle that caught it.
while read -r kind pattern <&3; do
    want_rc=1 migrate "oracle-neg-$kind" --mode precopy --load redis --oracle-fault "$kind"
    jqcheck "$result" "oracle-neg-$kind: the run fails, caught by: $pattern" \
        ".verdict == \"fail\" and .oracle_fault.done == true and any(.reasons[]; test(\"$pattern\"))"
done 3<<'CASES'
stale-page memory oracle failed: 1 bad pages
lost-key application oracle failed: 1 lost keys
changed-value application oracle failed: 0 lost keys, 1 wrong values
changed-digest application oracle failed: 0 lost keys, 0 wrong values, .*digest differs
two-copies liveness oracle failed: two copies run
CASES

# YCSB from backup (fmlab ycsb): workload d (reads of the latest records + inserts) loads,
# runs, and every operation is answered; a workload YCSB does not have is one line.
if want ycsb; then
    lab_up "$fmlab" >/dev/null
    out=$($fmlab ycsb --workload d --records 1000 --operations 2000 --threads 2 2>&1); rc=$?
    echo "$out" | grep -E '^\[(OVERALL|READ|INSERT)\], (Throughput|Operations|99th)' | sed 's/^/#   /'
    result=$(echo "$out" | sed -n 's/^\[ycsb\] result: //p')
    [ $rc -eq 0 ] && ok "ycsb d: load and run finished" || notok "ycsb d: exit $rc: $(echo "$out" | tail -n 3)"
    jqcheck "$result" "ycsb d: 1000 records loaded, 2000 operations run, reads and inserts, no error" \
        '.load.operations == 1000 and .run.operations == 2000 and .run.per_operation.READ.errors == 0
         and .run.per_operation.INSERT.operations > 0 and .run.throughput_ops_s > 0'
    out=$($fmlab ycsb --workload g 2>&1); rc=$?
    [ $rc -eq 2 ] && [ "$out" = "fmlab ycsb: --workload is one of a, b, c, d, e, f" ] \
        && ok "ycsb: an unknown workload is one line" || notok "ycsb --workload g: $out"
fi

if $fmlab status --json | jq -e '.guest.state == "running"' >/dev/null; then ok "the guest still runs after the matrix"
else notok "the guest still runs after the matrix"; fi

# shm on a stock kernel (the fallback path): the lab once more, its hosts booting the host
# image's Debian kernel (KVM without KVM_CAP_FMSYNC); auto tracking must fall back to
# KVM's dirty log and the guest must still arrive whole. The lab is left down.
if want shm-stock-kernel && [ "$($fmlab config get HOST_QEMU)" = fmsync ] && [ "$($fmlab config get HOST_KERNEL)" = fmsync ]; then
    echo "# shm on a stock kernel: fmlab down, then fmlab up with HOST_KERNEL=debian"
    $fmlab down >/dev/null 2>&1
    export FMLAB_HOST_KERNEL=debian
    if $fmlab up; then
        ok "stock-kernel lab up"
        migrate "shm-stock-kernel" --mode shm --load redis
        common_checks shm-stock-kernel; shm_checks shm-stock-kernel kvm-dirty-log
        jqcheck "$result" "shm-stock-kernel: every acked key present" \
            '.oracles.application.acked_keys > 0 and .oracles.application.lost_keys == 0'
    else
        notok "stock-kernel lab up"
    fi
    $fmlab down >/dev/null 2>&1
    unset FMLAB_HOST_KERNEL
    echo "# the lab is down (it last ran the stock kernel); make lab-up brings it back"
fi
echo "# test-migration took $(( $(date +%s) - t_start )) s"
exit $fail
