# shellcheck shell=bash
# tests/lab_up.sh: sourced by the scripts that need a running lab (migration, bench).
# lab_up FMLAB: if the guest is not running, take down whatever is left and bring the
# lab up: `fmlab up` restores the snapshot of the current inputs (auto-KEY) in seconds
# when there is one, else boots and saves it. This is also the reset between migration
# cases: a case that lost the guest is followed by a restore, not a reboot. Returns
# fmlab up's status.
lab_up() {
    "$1" status --json 2>/dev/null | jq -e '.guest.state == "running"' >/dev/null && return 0
    echo "# the lab is not up (or the guest is not running): fmlab down, fmlab up"
    "$1" down >/dev/null 2>&1
    local t0; t0=$(date +%s)
    "$1" up 2>&1 | sed 's/^/#   /'
    local rc=${PIPESTATUS[0]}
    echo "# fmlab up: exit $rc in $(( $(date +%s) - t0 )) s"
    return "$rc"
}
