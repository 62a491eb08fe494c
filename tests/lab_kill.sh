#!/bin/bash
# tests/lab_kill.sh FMLAB [ROUNDS]: nothing of the lab escapes `fmlab down`.
#
# Each round SIGKILLs one of the lab's programs at a random moment, then runs `fmlab down`
# and counts what is left at L0: QEMUs of the lab, the lab's cgroup (it must be gone, and
# it cannot be removed while a process is in it), ssh processes using the lab's key, the
# network namespace, taps and bridges, /dev/shm files. Must be 0 every round. Victims in
# turn:
#   up       `fmlab up` (snapshot restore or boot), SIGKILLed 0-25 s in;
#   migrate  `fmlab migrate` (precopy, postcopy or shm), SIGKILLed 0-20 s in: its ssh to
#            the controller on backup lives on at L0 until down kills the lab's cgroup;
#   control  fmlab-control SIGKILLed on backup 0-15 s after it started (unless the migration
#            ended first: then there is nothing to kill, as the output says): fmlab migrate must
#            end by itself (within 3 min) and say where the guest is.
# ROUNDS defaults to LAB_KILL_ROUNDS or 3 (one per victim); LAB_KILL_SEED replays a run.
set -u
fmlab=$1
rounds=${2:-${LAB_KILL_ROUNDS:-3}}
seed=${LAB_KILL_SEED:-$(date +%s)}
RANDOM=$seed
. "$(dirname "$0")/lab_up.sh"
state=$($fmlab config get STATE_DIR)
key="$($fmlab config get CACHE_DIR)/keys/lab_ed25519"
cg="$(findmnt -n -t cgroup2 -o TARGET | head -n1)/fmlab"
log=$(mktemp /tmp/fmlab-kill.XXXXXX)
total_left=0
# shellcheck source=tests/tap.sh
. "$(dirname "$0")/tap.sh"
trap 'rm -f "$log"' EXIT

# What of the lab is left at L0, as words ("" when nothing).
leftovers() {
    local what="" n
    n=$(pgrep -fc "[q]emu-system.*$state/"); [ "$n" -gt 0 ] && what="$what qemu($n)"
    [ -e "$cg" ] && what="$what cgroup($(wc -l <"$cg/cgroup.procs" 2>/dev/null) processes)"
    # ssh clients name the key; the control masters rename themselves "ssh: PATH [mux]"
    n=$(pgrep -fc "[s]sh .*-i $key|^ssh: $state/.*ssh.ctl"); [ "$n" -gt 0 ] && what="$what ssh($n)"
    ip netns list | grep -qw '^fmlab' && what="$what netns"
    ip -o link | grep -q fmlab && what="$what links"
    compgen -G '/dev/shm/*fmlab*' >/dev/null && what="$what shm"
    echo "$what"
}

# How many processes the lab's cgroup holds now (0 when it does not exist).
in_cgroup() { [ -e "$cg/cgroup.procs" ] && wc -l <"$cg/cgroup.procs" || echo 0; }

down_and_count() {
    local round=$1 out left
    out=$($fmlab down 2>&1) || notok "$round: fmlab down failed: $(echo "$out" | tail -n 2)"
    left=$(leftovers)
    if [ -z "$left" ]; then
        ok "$round: nothing left after down ($(echo "$out" | grep -o 'killed [0-9]* process[a-z]*' || echo 'no process to kill'))"
    else
        total_left=$((total_left + 1))
        notok "$round: left after down:$left"
    fi
}

round_up() {
    local at=$((RANDOM % 26))
    $fmlab up >"$log" 2>&1 &
    local pid=$!
    sleep "$at"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "# fmlab up SIGKILLed after $at s ($(in_cgroup) processes in the lab's cgroup)"
}

start_migration() {   # start_migration SECONDS: start one, return SECONDS later
    local modes=(precopy postcopy shm)
    mode=${modes[RANDOM % 3]} at=$1
    lab_up "$fmlab" >/dev/null || { notok "the lab did not come up"; return 1; }
    $fmlab migrate --mode "$mode" >"$log" 2>&1 &
    mig=$!
    sleep "$at"
}

round_migrate() {
    start_migration $((RANDOM % 21)) || return
    kill -9 "$mig" 2>/dev/null
    wait "$mig" 2>/dev/null
    echo "# fmlab migrate --mode $mode SIGKILLed after $at s ($(in_cgroup) processes in the lab's cgroup:" \
         "$(pgrep -fc "[s]sh .*-i $key") ssh)"
}

round_control() {
    local killed
    start_migration 0 || return
    # the controller starts once dst waits and the binary is on backup: kill it 0-15 s
    # after it appears (or say that none ran within 60 s)
    killed=$($fmlab exec backup --timeout 90 -- "i=0; until pgrep -x fmlab-control >/dev/null || [ \$i -ge 600 ];
        do i=\$((i+1)); sleep 0.1; done; sleep $((RANDOM % 16)); pkill -9 -x fmlab-control && echo killed || echo 'the controller had already ended'" 2>&1)
    local i=0
    while kill -0 "$mig" 2>/dev/null && [ $i -lt 180 ]; do sleep 1; i=$((i + 1)); done
    if kill -0 "$mig" 2>/dev/null; then
        notok "fmlab migrate --mode $mode still runs 180 s after its controller was SIGKILLed ($at s in)"
        kill -9 "$mig"
    else
        wait "$mig"
        ok "fmlab migrate --mode $mode ended (exit $?) $i s after fmlab-control was SIGKILLed ($killed):" \
           "$(grep -v '^ *$' "$log" | tail -n1)"
    fi
}

echo "# $rounds round(s), seed $seed (LAB_KILL_SEED=$seed replays them)"
$fmlab down >/dev/null 2>&1
victims=(up migrate control)
for r in $(seq 1 "$rounds"); do
    victim=${victims[(r - 1) % 3]}
    echo "# round $r: $victim"
    "round_$victim"
    down_and_count "round $r ($victim)"
done
echo "# $total_left of $rounds round(s) left something of the lab behind"
exit $fail
