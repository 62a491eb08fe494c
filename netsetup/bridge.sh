#!/bin/sh
# netsetup/bridge.sh: the lab network at L0 (NET_MODE=bridge).
#
#   bridge.sh up   NETNS BRIDGE L0_ADDR/PREFIX VM_BRIDGE TAP...
#   bridge.sh down NETNS
#
# up: a network namespace NETNS holding two Linux bridges:
#   BRIDGE, the lab network, with L0_ADDR (the runner reaches the hosts by entering the
#     namespace), and the tap TAP of each host (its eth0);
#   VM_BRIDGE, the guests' network, with no address at all, and the tap TAP-vm of each
#     host (its eth1: the guest's network in src and dst, backup's route to the guest).
# Two bridges, so the guest shares no L2 segment with anything that controls the lab.
# The namespace has nothing else: no route leaves it. The hosts' QEMUs run inside NETNS
# and open their taps by name.
# down: deleting the namespace deletes the bridge and every tap in it. Idempotent.
set -eu
action=${1:?usage: bridge.sh up|down NETNS ...}
ns=${2:?netns name}

case "$action" in
up)
    br=${3:?bridge name} addr=${4:?L0 address/prefix} vmbr=${5:?bridge name of the guests network}
    shift 5
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
    ip -n "$ns" link add "$vmbr" type bridge stp_state 0 forward_delay 0
    ip -n "$ns" link set "$vmbr" addrgenmode none
    ip -n "$ns" link set "$vmbr" up
    for tap in "$@"; do
        ip -n "$ns" tuntap add dev "$tap" mode tap
        ip -n "$ns" link set "$tap" master "$br" up
        ip -n "$ns" tuntap add dev "$tap-vm" mode tap
        ip -n "$ns" link set "$tap-vm" master "$vmbr" up
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
