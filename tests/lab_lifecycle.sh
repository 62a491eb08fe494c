#!/bin/sh
# tests/lab_lifecycle.sh FMLAB: the nested lab end to end, on real VMs.
#
# 1. up: all three hosts ready; each shows NUMA node 1 with memory and no CPUs, HMAT
#    marks node 1 slower; bytes src writes to the CXL pool are read back by dst and
#    backup; hosts ping each other by name; the redis guest runs under KVM in src and
#    answers from backup; src/dst are pinned to SRC_/DST_CPUSET; a second up is refused;
#    the guest reaches backup but no socket on the lab network (its host's QMP, console).
#    snapshot: save the running lab, down, `up --from`: redis keeps a key set before the
#    save, dst reads src's pool bytes, src's clock continued from the save (no jump);
#    other inputs (HOST_MEM) do not match; a hostile name is one line; a truncated
#    snapshot is one line and a boot.
# 2. down: no QEMU of the lab, tap, bridge, namespace, cgroup or /dev/shm file remains.
# 3. Ctrl-C in the middle of `up`: up removes what it started by itself.
#    kill: SIGKILL the runner in the middle of `up`; `down` still cleans up everything.
# 4. bad input: not root, missing images: one clear line each, nothing started.
# 5. LAB_CYCLES=N (default 1): N up/down cycles in all, each with zero boot retries.
# The whole test runs beside LAB_HOG CPU hogs on L0 (default 1: busy loops, each bounded
# by LAB_HOG_S seconds and stopped at exit), so the lab must come up on a loaded machine,
# not only on a quiet one. LAB_HOG=0 turns them off.
set -u
fmlab=$1
state=$($fmlab config get STATE_DIR)
cycles=${LAB_CYCLES:-1} hogs=${LAB_HOG:-1} hog_s=${LAB_HOG_S:-3600}
hog_pids=
stop_hogs() { for p in $hog_pids; do kill "$p" 2>/dev/null; done; hog_pids=; }
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
for i in $(seq "$hogs"); do
    timeout "$hog_s" sh -c 'while :; do :; done' &
    hog_pids="$hog_pids $!"
done
[ "$hogs" -gt 0 ] && echo "# $hogs CPU hog(s) on L0 beside the lab (pids$hog_pids, at most $hog_s s)"
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"
check() { desc=$1; shift; if "$@" >/dev/null 2>&1; then ok "$desc"; else notok "$desc"; fi; }
on()    { host=$1; shift; $fmlab exec "$host" -- "$@"; }

# Nothing of the lab may remain: QEMUs (command line names STATE_DIR), namespace,
# taps and bridge (they live in the namespace, but check L0 too), pool file.
assert_clean() {
    check "$1: no QEMU of the lab" sh -c "! pgrep -f '[q]emu-system.*$state/'"
    check "$1: no network namespace fmlab" sh -c "! ip netns list | grep -qw '^fmlab'"
    check "$1: no fmlab tap or bridge at L0" sh -c "! ip -o link | grep -q fmlab"
    check "$1: no lab file in /dev/shm" sh -c "! ls /dev/shm | grep -q fmlab"
    check "$1: no lab cgroup" sh -c "! test -e \"\$(findmnt -n -t cgroup2 -o TARGET | head -n1)/fmlab\""
}

# Start `fmlab up` in the background (log in $1); return once a host QEMU runs and
# $2 more seconds have passed. Sets $runner.
start_up_and_wait() {
    $fmlab up --boot >"$1" 2>&1 &
    runner=$!
    i=0
    until pgrep -f "[q]emu-system.*$state/[a-z]+/qmp" >/dev/null || [ $i -ge 60 ]; do sleep 1; i=$((i + 1)); done
    sleep "$2"
}

$fmlab down >/dev/null 2>&1

echo "# bad input"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups $fmlab up 2>&1); rc=$?
[ $rc -ne 0 ] && [ "$out" = "fmlab up: must run as root (it creates a network namespace, taps and a bridge)" ] \
    && ok "not root: one clear line" || notok "not root: $out"
out=$(FMLAB_CACHE_DIR=/nonexistent $fmlab up 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "missing /nonexistent/images/guest/vmlinuz (build it: make image)" \
    && ok "missing image names the file and the make target" || notok "missing image: $out"
assert_clean "after refused ups"

# The boot retries of the lab that is up: every host's and the guest's ready file.
assert_no_retries() {
    for f in "$state"/src/ready "$state"/dst/ready "$state"/backup/ready "$state"/vm.ready; do
        r=$(sed -n 's/.*retries=\([0-9]*\).*/\1/p' "$f" 2>/dev/null)
        [ "$r" = 0 ] && ok "$1: $(basename "$(dirname "$f")")/$(basename "$f"): $(cat "$f")" \
            || notok "$1: $f says retries='$r'"
    done
}

echo "# up (a boot: --boot neither restores nor saves a snapshot)"
t0=$(date +%s)
$fmlab up --boot; rc=$?
echo "# fmlab up took $(( $(date +%s) - t0 )) s"
[ $rc -eq 0 ] && ok "fmlab up" || notok "fmlab up exit $rc"
assert_no_retries "cycle 1"
check "status: 3 of 3 hosts running" sh -c "$fmlab status | grep -q '^3 of 3 hosts running'"
out=$($fmlab up 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q 'a lab is already up' && ok "a second up is refused: $out" \
    || notok "second up: $out"
for h in src dst backup; do
    check "[$h] node 1: memory, no CPUs" on $h "numactl -H | grep -q '^node 1 cpus: *\$' && numactl -H | grep -Eq '^node 1 size: [1-9]'"
    check "[$h] HMAT: node 1 slower than node 0" on $h \
        '[ $(cat /sys/devices/system/node/node1/access0/initiators/read_latency) -gt $(cat /sys/devices/system/node/node0/access0/initiators/read_latency) ]'
    check "[$h] kvm_amd loaded, /dev/kvm present" on $h "test -d /sys/module/kvm_amd/parameters && test -c /dev/kvm"
    check "[$h] CXL pool is /dev/dax0.0 on node 1" on $h "test -c /dev/dax0.0 && [ \$(cat /sys/bus/dax/devices/dax0.0/target_node) = 1 ]"
done
mark="fmlab-pool-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
check "[src] writes '$mark' into the pool" on src "printf %s $mark > /tmp/mark && daxio -i /tmp/mark -o /dev/dax0.0 -s 1048576 -l ${#mark}"
for h in dst backup; do
    got=$(on $h "daxio -i /dev/dax0.0 -o /tmp/mark -k 1048576 -l ${#mark} >/dev/null 2>&1; cat /tmp/mark")
    [ "$got" = "$mark" ] && ok "[$h] reads the same bytes from the pool" || notok "[$h] pool read '$got'"
done
# The pool's namespace keeps its page metadata in each host's RAM (--map=mem): a pattern
# src writes over the pool (first MiB, every 64 MiB, last MiB) reads back intact on dst
# and backup, and all three hosts stay healthy (no kernel BUG/Oops, shell answers).
pool_points='sz=$(cat /sys/bus/dax/devices/dax0.0/size); M=1048576; last=$((sz / M - 1)); pts="$(seq 0 64 $last) $last"'
for h in src dst backup; do
    check "[$h] the pool's namespace keeps its struct pages in host RAM (map mem)" on $h "ndctl list -N | grep -q '\"map\":\"mem\"'"
done
check "[src] writes a 1 MiB pattern at the first, every 64th and the last MiB of the pool" on src \
    "$pool_points; head -c \$M /dev/urandom > /tmp/pat && for p in \$pts; do daxio -i /tmp/pat -o /dev/dax0.0 -s \$((p * M)) -l \$M >/dev/null 2>&1 || exit 1; done; sha256sum < /tmp/pat > /tmp/pat.sum"
patsum=$(on src "cut -c1-64 /tmp/pat.sum")
for h in dst backup; do
    check "[$h] reads the pattern back at every point, last MiB included" on $h \
        "$pool_points; for p in \$pts; do daxio -i /dev/dax0.0 -o /tmp/got -k \$((p * M)) -l \$M >/dev/null 2>&1 && [ \$(sha256sum < /tmp/got | cut -c1-64) = $patsum ] || exit 1; done"
done
for h in src dst backup; do
    check "[$h] healthy after the pool test (shell answers, no kernel BUG/Oops)" on $h "! dmesg | grep -Eq 'BUG|Oops|general protection'"
done
check "[backup] pings src and dst by name" on backup "ping -c1 -W3 src && ping -c1 -W3 dst"
check "[backup] redis in the guest answers PONG" on backup "[ \$(redis-cli -h vm -p $($fmlab config get REDIS_BASE_PORT) ping) = PONG ]"
check "[backup] the guest stores and returns a key" on backup "redis-cli -h vm -p $($fmlab config get REDIS_BASE_PORT) set fmlab-k v42 && [ \$(redis-cli -h vm -p $($fmlab config get REDIS_BASE_PORT) get fmlab-k) = v42 ]"
check "fmlab console vm reaches the guest's shell" sh -c \
    "(sleep 3; printf 'echo VMCON-\$((6*7))\r'; sleep 3; printf '\035') | $fmlab console vm 2>&1 | grep -aq VMCON-42"
check "fmlab console src reaches the host's shell" sh -c \
    "(sleep 2; printf 'echo HCON-\$((6*7))\r'; sleep 2; printf '\035') | $fmlab console src 2>&1 | grep -aq HCON-42"
# Isolation (issue: the guest must not reach its host's QEMU): the guest is on the guests'
# network only. From inside it (bash's /dev/tcp, 3 s), the lab addresses of src and dst are
# unreachable: src's QMP and console of the guest QEMU, src's and dst's sshd. backup's sshd
# answers it (so the probe can say "open"), and backup still reaches src's QMP and console.
echo "# isolation: the guest reaches backup, nothing on the lab network"
probe() { $fmlab exec "$1" --timeout 30 -- "timeout 3 bash -c '</dev/tcp/$2/$3' 2>/dev/null && echo open || echo closed" 2>&1; }
src_ip=$($fmlab config get SRC_IP); dst_ip=$($fmlab config get DST_IP); backup_ip=$($fmlab config get BACKUP_IP)
qmp_port=$($fmlab config get VM_QMP_PORT); con_port=$($fmlab config get VM_CONSOLE_PORT)
for t in "vm $src_ip $qmp_port src's guest QMP:closed" "vm $src_ip $con_port src's guest console:closed" \
         "vm $src_ip 22 src's sshd:closed" "vm $dst_ip 22 dst's sshd:closed" "vm $backup_ip 22 backup's sshd:open" \
         "backup $src_ip $qmp_port src's guest QMP:open" "backup $src_ip $con_port src's guest console:open"; do
    want=${t##*:}; set -- ${t%:*}; from=$1 ip=$2 port=$3; shift 3
    got=$(probe "$from" "$ip" "$port")
    [ "$got" = "$want" ] && ok "isolation: from $from, $* ($ip:$port) is $got" \
        || notok "isolation: from $from, $* ($ip:$port) is '$got', want $want"
done
check "status: the guest's QEMU says running (QMP from L0)" sh -c "$fmlab status | grep -q '^vm  *running'"
check "[src] the guest runs under KVM inside src" on src "pgrep -f 'qemu-system-x86_64 -name vm .*-machine q35 -accel kvm'"
for pair in src:SRC_CPUSET dst:DST_CPUSET; do
    h=${pair%%:*}; want=$($fmlab config get ${pair#*:})
    pid=$(cat "$state/$h/qemu.pid")
    got=$(taskset -pc "$pid" | sed 's/.*: //')
    [ "$got" = "$want" ] && ok "[$h] QEMU pinned to L0 CPUs $want" || notok "[$h] pinned to '$got', want '$want'"
done
check "[src] pings dst and backup by name" on src "ping -c1 -W3 dst && ping -c1 -W3 backup"

echo "# snapshot: save the running lab, take it down, restore it into a fresh lab"
port=$($fmlab config get REDIS_BASE_PORT)
snap=lifecycle-test
check "[backup] the guest stores fmlab-snap=$mark" on backup "redis-cli -h vm -p $port set fmlab-snap $mark"
up_before=$(on src "cut -d' ' -f1 /proc/uptime"); t_save=$(date +%s)
out=$($fmlab snapshot save $snap 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc -eq 0 ] && ok "fmlab snapshot save $snap" || notok "fmlab snapshot save exit $rc"
check "the lab goes on after the save: redis PONG from backup" on backup "[ \$(redis-cli -h vm -p $port ping) = PONG ]"
check "snapshot list: $snap, current inputs" sh -c "$fmlab snapshot list | grep -q '^$snap  *current inputs'"
check "snapshot check: $snap matches the current inputs" $fmlab snapshot check $snap
out=$(FMLAB_HOST_MEM=2G $fmlab snapshot check $snap 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "was made from other inputs" \
    && ok "snapshot check: other HOST_MEM is other inputs: $out" || notok "snapshot check with HOST_MEM=2G: $out"
out=$($fmlab up --from no-such-snapshot 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "a lab is already up" && ok "up --from while a lab is up is refused" \
    || notok "up --from while up: $out"
$fmlab down >/dev/null 2>&1
assert_clean "down after the save"
out=$($fmlab up --from ../etc 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "snapshot name '../etc'" \
    && ok "up --from a hostile name: one line, nothing started: $out" || notok "up --from ../etc: $out"
assert_clean "after the refused --from"
t0=$(date +%s)
$fmlab up --from $snap; rc=$?
restore_s=$(( $(date +%s) - t0 ))
echo "# fmlab up --from $snap took $restore_s s"
[ $rc -eq 0 ] && ok "fmlab up --from $snap ($restore_s s)" || notok "fmlab up --from $snap exit $rc"
check "restored: 3 of 3 hosts running" sh -c "$fmlab status | grep -q '^3 of 3 hosts running'"
got=$(on backup "redis-cli --raw -h vm -p $port get fmlab-snap")
[ "$got" = "$mark" ] && ok "restored: redis returns the key set before the save" || notok "restored: fmlab-snap='$got'"
got=$(on dst "daxio -i /dev/dax0.0 -o /tmp/mark -k 1048576 -l ${#mark} >/dev/null 2>&1; cat /tmp/mark")
[ "$got" = "$mark" ] && ok "restored: [dst] reads src's bytes from the pool" || notok "restored: pool read '$got'"
up_after=$(on src "cut -d' ' -f1 /proc/uptime"); gap=$(( $(date +%s) - t_save ))
awk -v a="$up_after" -v b="$up_before" -v g="$gap" 'BEGIN { exit !(a >= b && a - b < g) }' \
    && ok "restored: src's clock continued from the save (uptime $up_before -> $up_after s, $gap s later at L0)" \
    || notok "restored: src uptime $up_before -> $up_after over $gap s at L0"
check "restored: [src] the guest runs under KVM inside src" on src "pgrep -f 'qemu-system-x86_64 -name vm'"
# A snapshot that does not load: one line naming it and why, then the lab boots instead.
snapdir="$($fmlab config get CACHE_DIR)/snapshots/$snap"
$fmlab down >/dev/null 2>&1
truncate -s 4096 "$snapdir/backup.vmstate"
t0=$(date +%s)
$fmlab up --from $snap >/tmp/fmlab-badsnap.log 2>&1; rc=$?
line=$(grep "did not restore" /tmp/fmlab-badsnap.log)
[ $rc -eq 0 ] && [ "$(echo "$line" | wc -l)" = 1 ] && echo "$line" | grep -q "snapshot '$snap' did not restore: \[backup\] QEMU exited while loading its state" \
    && grep -q "booting instead" /tmp/fmlab-badsnap.log \
    && ok "a truncated snapshot: one line ($line), then a boot ($(( $(date +%s) - t0 )) s)" \
    || notok "truncated snapshot: rc $rc: $(grep -E 'snapshot|up:' /tmp/fmlab-badsnap.log | head -3)"
check "after the fallback boot: redis PONG from backup" on backup "[ \$(redis-cli -h vm -p $port ping) = PONG ]"
check "fmlab snapshot rm $snap" $fmlab snapshot rm $snap
check "snapshot check after rm: no snapshot" sh -c "! $fmlab snapshot check $snap"

echo "# down"
$fmlab down; rc=$?
[ $rc -eq 0 ] && ok "fmlab down" || notok "fmlab down exit $rc"
assert_clean "after down"
check "down again is a no-op" $fmlab down

for cycle in $(seq 2 "$cycles"); do
    echo "# cycle $cycle of $cycles: up, redis from backup, down"
    t0=$(date +%s)
    $fmlab up --boot >/tmp/fmlab-cycle.log 2>&1; rc=$?
    [ $rc -eq 0 ] && ok "cycle $cycle: fmlab up in $(( $(date +%s) - t0 )) s" \
        || notok "cycle $cycle: fmlab up exit $rc: $(tail -n 5 /tmp/fmlab-cycle.log)"
    assert_no_retries "cycle $cycle"
    check "cycle $cycle: [backup] redis in the guest answers PONG" on backup "[ \$(redis-cli -h vm -p $($fmlab config get REDIS_BASE_PORT) ping) = PONG ]"
    $fmlab down >/dev/null 2>&1 || notok "cycle $cycle: fmlab down"
    assert_clean "cycle $cycle: after down"
done

echo "# Ctrl-C (SIGINT) in the middle of up: up itself takes down what it started"
start_up_and_wait /tmp/fmlab-int-test.log 10
kill -INT $runner
wait $runner; rc=$?
[ $rc -eq 130 ] && ok "interrupted up exits 130" || notok "interrupted up exit $rc"
grep -q 'interrupted; taking down what was started' /tmp/fmlab-int-test.log \
    && ok "interrupted up says it tears down" || notok "no teardown message: $(tail -n 3 /tmp/fmlab-int-test.log)"
assert_clean "after Ctrl-C (no fmlab down)"

echo "# SIGKILL in the middle of up"
start_up_and_wait /tmp/fmlab-kill-test.log 15
kill -9 $runner
wait $runner 2>/dev/null
check "hosts were running when the runner was killed" pgrep -f "[q]emu-system.*$state/"
$fmlab down; rc=$?
[ $rc -eq 0 ] && ok "fmlab down after SIGKILL" || notok "fmlab down after SIGKILL exit $rc"
sleep 2
assert_clean "after SIGKILL + down"
exit $fail
