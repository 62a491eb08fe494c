#!/bin/sh
# netsetup/bridge.sh: the lab network at L0 (NET_MODE=bridge).
#
#   bridge.sh up   NETNS BRIDGE L0_ADDR/PREFIX TAP...
#   bridge.sh down NETNS
#
# up: a network namespace NETNS holding a Linux bridge BRIDGE (with L0_ADDR, so the
# runner can reach the hosts by entering the namespace) and one tap per host, enslaved
# to the bridge. The namespace has nothing else: no route leaves it. The hosts' QEMUs
# run inside NETNS and open their taps by name.
# down: deleting the namespace deletes the bridge and every tap in it. Idempotent.
set -eu
action=${1:?usage: bridge.sh up|down NETNS ...}
ns=${2:?netns name}

case "$action" in
up)
    br=${3:?bridge name} addr=${4:?L0 address/prefix}
    shift 4
    if ip netns list | grep -qw "^$ns"; then
        echo "netsetup: network namespace '$ns' already exists (another lab? run: fmlab down)" >&2
        exit 1
    fi
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null' EXIT
    ip -n "$ns" link set lo up
    ip -n "$ns" link add "$br" type bridge stp_state 0 forward_delay 0
    ip -n "$ns" addr add "$addr" dev "$br"
    ip -n "$ns" link set "$br" up
    for tap in "$@"; do
        ip -n "$ns" tuntap add dev "$tap" mode tap
        ip -n "$ns" link set "$tap" master "$br" up
    done
    trap - EXIT
    ;;
down)
    if ip netns list | grep -qw "^$ns"; then
        ip netns del "$ns"
    fi
    ;;
*)
    echo "usage: bridge.sh up|down NETNS ..." >&2
    exit 2 ;;
esac
