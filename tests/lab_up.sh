# shellcheck shell=bash
# tests/lab_up.sh: sourced by the scripts that need a running lab (migration, bench).
# lab_up FMLAB: if the guest is not running, take down whatever is left and bring the
# lab up; returns fmlab up's status.
lab_up() {
    "$1" status --json 2>/dev/null | jq -e '.guest.state == "running"' >/dev/null && return 0
    echo "# the lab is not up (or the guest is not running): fmlab up"
    "$1" down >/dev/null 2>&1
    "$1" up
}
