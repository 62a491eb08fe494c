# shellcheck shell=bash
# tests/lab_up.sh: sourced by the scripts that need a running lab (migration, bench).
# lab_up FMLAB: unless the guest runs and answers (QMP says running and redis answers
# PONG from backup), take down whatever is left and bring the lab up: `fmlab up` restores
# the snapshot of the current inputs (auto-KEY) in seconds when there is one, else boots
# and saves it. This is also the reset between migration cases: a case that lost or hung
# the guest is followed by a restore, not a reboot. Before that reset, the end of the
# guest's console log is kept in RESULTS_DIR (a restore rolls the hosts' disks back).
# Returns fmlab up's status.
lab_up() {
    local st host port
    st=$("$1" status --json 2>/dev/null)
    host=$(echo "$st" | jq -r '.guest.host // empty')
    port=$("$1" config get REDIS_BASE_PORT)
    if echo "$st" | jq -e '.guest.state == "running"' >/dev/null; then
        [ "$("$1" exec backup -- "timeout 20 redis-cli -h vm -p $port ping" 2>/dev/null)" = PONG ] && return 0
        local keep; keep="$("$1" config get RESULTS_DIR)/guest-console-$(date +%Y%m%d-%H%M%S).log"
        mkdir -p "$(dirname "$keep")"
        "$1" exec "$host" -- "tail -n 300 /var/log/fmlab-vm-console.log" >"$keep" 2>&1
        echo "# the guest runs on $host but redis does not answer from backup (its console: $keep)"
        local death; death=$(grep -m1 -aE 'Kernel panic|BUG:|Oops|soft lockup|hung_task' "$keep" | tr -d '\r')
        if [ -n "$death" ]; then echo "# the guest's kernel: $death"
        else echo "# the guest's kernel printed no panic or oops: a hang, or its network or redis stopped"; fi
    fi
    echo "# the lab is not up (or the guest is not running or not answering): fmlab down, fmlab up"
    "$1" down >/dev/null 2>&1
    local t0; t0=$(date +%s)
    "$1" up 2>&1 | sed 's/^/#   /'
    local rc=${PIPESTATUS[0]}
    echo "# fmlab up: exit $rc in $(( $(date +%s) - t0 )) s"
    return "$rc"
}
