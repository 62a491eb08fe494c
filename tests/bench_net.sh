#!/bin/bash
# tests/bench_net.sh FMLAB: `make bench-net`, the tutorial's network table on this lab.
#
# For each setup in BENCH_NET_SETUPS (default: every NET_MODE with each of its backends,
# "bridge/virtio bridge/vhost-net ovs/virtio ovs/vhost-net ovs-dpdk/vhost-user
# ovs-dpdk/vhost-user:2"; virtio is QEMU's own virtio-net, vhost-net the host kernel's,
# vhost-user OVS-DPDK's, ":N" N queue pairs with N guest vCPUs, the tutorial's multi-queue)
# the lab comes up with that setting (FMLAB_NET_MODE, FMLAB_NET_VHOST, FMLAB_NET_QUEUES: a
# boot the first time, a restore of its own snapshot after; ovs-dpdk adds DPDK's CPU flags
# to HOST_CPU) and, as the tutorial did:
#   iperf3 from the guest, BENCH_NET_STREAMS parallel streams (default 30, -P 30 as the
#   tutorial) for BENCH_NET_SECONDS (default 10), to
#     its host: a server in the host's guests' namespace (vmnet), on an address
#       (BENCH_NET_PROBE_IP, default 10.10.1.201) given to br0 there only for the run:
#       the guest's own path to its host (tap, bridge, the host kernel), while the lab's
#       guest otherwise has no address of its host to reach;
#     another host: backup, across the lab's guests' network (the tutorial's "LAN");
#   ping, 10 packets 0.2 s apart, to the same two: rtt min/avg/max/mdev.
# Prints a markdown table beside the tutorial's numbers and writes it to
# RESULTS_DIR/bench-net-<time>.md (iperf3's summaries beside it, in bench-net-<time>/).
# The lab is left down. Exits 1 if a measurement failed.
set -u
fmlab=$1
setups=${BENCH_NET_SETUPS:-bridge/virtio bridge/vhost-net ovs/virtio ovs/vhost-net ovs-dpdk/vhost-user ovs-dpdk/vhost-user:2}
streams=${BENCH_NET_STREAMS:-30} seconds=${BENCH_NET_SECONDS:-10}
probe=${BENCH_NET_PROBE_IP:-10.10.1.201}
for v in "$streams" "$seconds"; do
    [[ $v =~ ^[1-9][0-9]{0,2}$ ]] || { echo "bench-net: '$v' is not a count of streams or seconds (1-999)" >&2; exit 2; }
done
[[ $probe =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || { echo "bench-net: BENCH_NET_PROBE_IP '$probe' is not an IPv4 address" >&2; exit 2; }
for s in $setups; do
    [[ $s =~ ^(bridge|ovs)/(virtio|vhost-net)$ || $s =~ ^ovs-dpdk/vhost-user(:[1-8])?$ ]] ||
        { echo "bench-net: BENCH_NET_SETUPS: '$s' is not MODE/BACKEND (bridge|ovs with virtio|vhost-net, ovs-dpdk/vhost-user[:QUEUES])" >&2; exit 2; }
done
host_cpu=$($fmlab config get HOST_CPU)
[[ ,$host_cpu, == *,+sse4.2,* ]] || host_cpu="$host_cpu,+ssse3,+sse4.1,+sse4.2,+popcnt"   # DPDK's baseline
backup_ip=$($fmlab config get BACKUP_IP) prefix=$($fmlab config get LAB_NET_PREFIX)
results_dir=$($fmlab config get RESULTS_DIR)
out="$results_dir/bench-net-$(date +%Y%m%d-%H%M%S).md"
raw=${out%.md}   # iperf3's own summary of every run
mkdir -p "$raw"
fail=0

# iperf_from_guest IP NAME: "<receiver Mbit/s>" of the guest's streams to a server at
# IP:5201; iperf3's summary is kept in $raw/NAME.txt.
iperf_from_guest() {
    $fmlab exec vm --timeout $((seconds + 60)) -- \
        "iperf3 -c $1 -p 5201 -P $streams -t $seconds -f m 2>&1 | grep -E 'SUM|receiver|sender|error' | tail -n 8" |
        tee "$raw/$2.txt" | grep -E '(SUM|^\[ *[0-9]+\]).*receiver' | tail -n 1 |
        awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") { print $i; exit }}'
}
# ping_from_guest IP: "min/avg/max/mdev" in ms.
ping_from_guest() {
    $fmlab exec vm --timeout 60 -- "ping -q -c 10 -i 0.2 $1" | sed -n 's|^rtt min/avg/max/mdev = \([0-9./]*\) ms.*|\1|p'
}
measure() {   # SETUP: one row
    local host row to_host to_backup ping_host ping_backup queues
    host=$($fmlab status --json | jq -r .guest.host)
    # a server in the host's vmnet, on an address only br0 there has, for this run
    $fmlab exec "$host" -- "ip -n vmnet addr add $probe/$prefix dev br0 && ip netns exec vmnet iperf3 -s -D -B $probe -p 5201" \
        >/dev/null || echo "# bench-net: no iperf3 server in $host's vmnet"
    $fmlab exec backup -- "iperf3 -s -D -p 5201" >/dev/null || echo "# bench-net: no iperf3 server on backup"
    sleep 1
    # the queue pairs the guest's kernel enabled (the tutorial set them with ethtool -L)
    queues=$($fmlab exec vm -- "ls -d /sys/class/net/eth0/queues/rx-* | wc -l" | tr -d '[:space:]')
    to_host=$(iperf_from_guest "$probe" "${1//[\/:]/-}-host"); ping_host=$(ping_from_guest "$probe")
    to_backup=$(iperf_from_guest "$backup_ip" "${1//[\/:]/-}-backup"); ping_backup=$(ping_from_guest "$backup_ip")
    $fmlab exec "$host" -- "pkill -x iperf3; ip -n vmnet addr del $probe/$prefix dev br0" >/dev/null 2>&1
    $fmlab exec backup -- "pkill -x iperf3" >/dev/null 2>&1
    for v in "$to_host" "$ping_host" "$to_backup" "$ping_backup"; do [ -n "$v" ] || fail=1; done
    row="| ${1%%/*} | ${1#*/} | ${queues:-?} | ${to_host:-failed} Mbit/s | ${to_backup:-failed} Mbit/s | ${ping_host:-failed} | ${ping_backup:-failed} |"
    echo "$row"
    rows+=("$row")
}

rows=()
for setup in $setups; do
    mode=${setup%%/*} backend=${setup#*/} queues=1 settings=()
    [[ $backend == *:* ]] && queues=${backend#*:}
    case $backend in
    vhost-net) settings+=(FMLAB_NET_VHOST=on) ;;
    virtio) settings+=(FMLAB_NET_VHOST=off) ;;
    vhost-user*) settings+=(FMLAB_NET_VHOST=off "FMLAB_HOST_CPU=$host_cpu" "FMLAB_NET_QUEUES=$queues" "FMLAB_GUEST_VCPUS=$queues") ;;
    esac
    echo "# bench-net: $setup (NET_MODE=$mode ${settings[*]}): fmlab down, fmlab up"
    $fmlab down >/dev/null 2>&1
    t0=$(date +%s)
    if ! env FMLAB_NET_MODE="$mode" "${settings[@]}" "$fmlab" up >"$results_dir/bench-net-up.log" 2>&1; then
        echo "# bench-net: fmlab up failed for $setup: $(tail -n 1 "$results_dir/bench-net-up.log")"
        rows+=("| $mode | ${setup#*/} | | lab did not come up | | | |")
        fail=1
        continue
    fi
    echo "# bench-net: up in $(( $(date +%s) - t0 )) s ($($fmlab status --json | jq -r .net_mode))"
    measure "$setup"
done
$fmlab down >/dev/null 2>&1

{
    echo "## Network (make bench-net, $(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "iperf3 from the guest, $streams streams for $seconds s (receiver), and ping (10 packets, rtt"
    echo "min/avg/max/mdev in ms), to its host (its host's guests' namespace, through the tap and"
    echo "the bridge) and to another host (backup, across the lab's guests' network). Hosts and"
    echo "guest are nested under TCG on this machine: every packet crosses an emulated L1 host."
    echo "ovs-dpdk rows: HOST_CPU=$host_cpu; \"queues\": the queue pairs the guest's kernel enabled."
    echo
    echo "| NET_MODE | backend | queues | iperf VM→host | iperf VM→other host | ping VM→host | ping VM→other host |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo "| tutorial, bare metal | virtio | | 1990 Mbit/s | 93.6 Mbit/s | 0.140/0.162/0.183/0.020 | 0.579/0.718/0.848/0.100 |"
    echo "| tutorial, bare metal | vhost | | 2210 Mbit/s | 93.9 Mbit/s | 0.127/0.154/0.223/0.033 | 0.535/0.616/0.781/0.075 |"
} | tee "$out"
echo "# bench-net: $out"
exit $fail
