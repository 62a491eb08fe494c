#!/bin/bash
# tests/bench.sh FMLAB [REPEAT]: `make bench`, the numbers of the study on this lab.
#
# Needs the lab on the fmsync kernel with the patched QEMU: takes it down and brings it
# up from its snapshot first (BENCH_FRESH=0: keeps the running lab).
# Same guest (GUEST_MEM), same load (redis clients from backup + the memory oracle):
#   1. precopy vs postcopy vs shm with each destination RAM mode (copy, promote, pool,
#      and pool again from a guest that runs from the image): REPEAT runs each, median
#      (min-max) of downtime, client-observed gap, total time, bytes over the network,
#      promotion time and the destination's redis throughput in the 10 s after the
#      resume; the ratio of each shm downtime to precopy's; shm downtime in its parts
#   2. shm per sync period at 500 ms and 100 ms, fmsync vs stock dirty tracking:
#      median copy time and dirty pages per write-through period, first copy, final pass
#   3. a YCSB-A client timing every request beside one precopy, postcopy and shm
#      migration (the latency figure)
#   4. the write-through overhead sweep (tests/bench_overhead.sh, OVERHEAD_* as there);
#      BENCH_OVERHEAD=off leaves it out, BENCH_OVERHEAD=DIR takes the sweep a make
#      bench-overhead already left in DIR instead of running it again
# Prints the tables (markdown) and writes them to RESULTS_DIR/bench-<time>.md; the
# folder RESULTS_DIR/bench-<time>/ gets runs.csv (every run's result.json), the
# figures (fmlab plot: modes, writethrough, latency, overhead-chart; PNG, CSV, gnuplot
# script), which are also copied to docs/figures/ with the tables (bench.md) for the
# README. Exits non-zero if a run fails its oracles or a figure cannot be drawn.
set -u
fmlab=$1
repeat=${2:-5}
fail=0
results_dir=$($fmlab config get RESULTS_DIR)
stamp=$(date +%Y%m%d-%H%M%S)
out="$results_dir/bench-$stamp.md"
dir="$results_dir/bench-$stamp"
figures="$(cd "$(dirname "$0")/.." && pwd)/docs/figures"
mkdir -p "$dir"
echo "name,result" >"$dir/runs.csv"

. "$(dirname "$0")/lab_up.sh"
# From the lab as saved (restored from its snapshot: the guest as booted), not from a
# guest that earlier experiments filled: precopy's bytes follow every page ever written
# (a guest used for an hour sent 360 MiB where a fresh one sends 110). BENCH_FRESH=0
# keeps the running lab.
if [ "${BENCH_FRESH:-1}" = 1 ]; then
    echo "# bench: fmlab down, then up from the snapshot (BENCH_FRESH=0 keeps the running lab)"
    $fmlab down >/dev/null 2>&1
fi
lab_up "$fmlab" || { echo "bench: fmlab up failed" >&2; exit 1; }

# run NAME ARGS...: one fmlab migrate per repeat; appends each result.json to runs_NAME.
declare -A runs
run() {
    local name=$1 log
    shift
    log=$(mktemp)
    echo "# bench $name: fmlab migrate $*"
    $fmlab migrate "$@" 2>&1 | tee "$log" | grep '^\[migrate\] [a-z]* [a-z]*->' | sed 's/^/#   /'
    local rc=${PIPESTATUS[0]} result
    result=$(sed -n 's/^\[migrate\] result: //p' "$log" | tail -1)
    rm -f "$log"
    if [ "$rc" -ne 0 ] || [ ! -f "$result" ]; then
        echo "# bench $name: FAILED (exit $rc, result ${result:-none})"
        fail=1
        return
    fi
    last_result=$(realpath "$result")
    # a postcopy run whose precopy converged before the switch is a precopy number
    if jq -e '.mode == "postcopy" and (.postcopy_started | not)' "$result" >/dev/null; then
        echo "# bench $name: converged as precopy before the switch: not counted ($last_result)"
        return
    fi
    runs[$name]="${runs[$name]:-} $result"
    echo "$name,$last_result" >>"$dir/runs.csv"
}

# median FILTER NAME: the median over NAME's runs of jq FILTER (a number per run).
median() {
    # shellcheck disable=SC2086
    jq -s "map($1) | map(select(. != null)) | sort | if length == 0 then null
           else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end" \
        ${runs[$2]:-/dev/null}
}
fmt() { [ "$1" = null ] && echo "-" || printf "%.${2:-0}f" "$1"; }
# spread FILTER NAME [DECIMALS]: "median (min-max)" over NAME's runs.
spread() {
    # shellcheck disable=SC2086
    local r
    r=$(jq -rs "map($1) | map(select(. != null)) | sort | if length == 0 then \"null null null\"
        else \"\\(.[(length - 1) / 2 | floor]) \\(.[0]) \\(.[-1])\" end" ${runs[$2]:-/dev/null})
    set -- $r "${3:-0}"
    [ "$1" = null ] && { echo "-"; return; }
    echo "$(fmt "$1" "$4") ($(fmt "$2" "$4")-$(fmt "$3" "$4"))"
}

# Same guest, same load. Each repeat alternates direction and starts every shm run but
# the last from a guest in the source's DRAM: precopy; shm pool with the destination
# told after "image complete" (SHM_DST_WAIT=off); postcopy (back into DRAM); shm copy,
# promote and pool with the destination waiting for the image (SHM_DST_WAIT=on); then
# "pool, in place" migrates the guest that the pool run left running from the image,
# through the same image. Every shm run keeps the load OBSERVE_S seconds after the resume
# to measure the destination's throughput.
observe=10
for _ in $(seq "$repeat"); do
    run precopy --mode precopy --load redis
    run shm-pool-nowait --mode shm --load redis --dst-ram pool --dst-wait off --observe $observe
    run postcopy --mode postcopy --load redis
    run shm-copy --mode shm --load redis --dst-ram copy --dst-wait on --observe $observe
    run shm-promote --mode shm --load redis --dst-ram promote --dst-wait on --observe $observe
    run shm-pool --mode shm --load redis --dst-ram pool --dst-wait on --observe $observe
    run shm-pool-inplace --mode shm --load redis --dst-ram pool --dst-wait on --observe $observe
done

period=$($fmlab config get SHM_PERIOD_US)
# The last run left the guest running from the image: bring it back into DRAM first, so
# that every period run's source copies its RAM (not counted).
run reset-to-dram --mode precopy --load redis
for p in 500000 100000; do
    for t in fmsync fmsync-page stock; do
        case $t in
        fmsync-page) how=(--dirty-tracking fmsync --granularity page) ;;
        fmsync) how=(--dirty-tracking fmsync --granularity region) ;;
        *) how=(--dirty-tracking "$t") ;;
        esac
        run "shm-$p-$t" --mode shm --load redis --period-us "$p" "${how[@]}" --dst-ram copy --dst-wait on
    done
done

# latency MODE ARGS...: fmlab migrate ARGS while a YCSB-A client times every request,
# from 20 s before the migration to 20 s after; the client's result and timeline, with
# the migration's result.json beside them (migration.json), is run latency-MODE.
# The client has a redis of its own in the guest (instance GUEST_VCPUS, the next port):
# fmlab migrate's application oracle flushes, preloads and digests the first one.
latency_records=5000   # loading takes ~6 ms a record here: YCSB_RECORDS would take minutes
vcpus=$($fmlab config get GUEST_VCPUS)
latency_port=$(( $($fmlab config get REDIS_BASE_PORT) + vcpus ))
latency() {
    local mode=$1 log ycsb result
    shift
    log=$(mktemp)
    $fmlab ycsb --phase run --workload a --records $latency_records --port $latency_port \
        --operations 1000000000 --max-seconds 900 --timeline >"$log" 2>&1 &
    ycsb=$!
    sleep 20
    last_result=
    run "beside-ycsb-$mode" "$@"
    sleep 20
    # by process name: a pattern would also match the shells whose command lines name it
    $fmlab exec backup -- 'pkill -TERM -x fmlab-control; true' >/dev/null
    wait "$ycsb"
    result=$(sed -n 's/^\[ycsb\] result: //p' "$log")
    if [ -f "$result" ] && [ -n "$last_result" ]; then
        cp "$last_result" "$(dirname "$result")/migration.json"
        echo "latency-$mode,$(realpath "$result")" >>"$dir/runs.csv"
    else
        echo "# bench latency-$mode: FAILED ($(tail -n 2 "$log"))"
        fail=1
    fi
    rm -f "$log"
}
echo "# bench latency: a redis for the YCSB client on port $latency_port, $latency_records records"
$fmlab exec vm -- "setsid setpriv --reuid=redis --regid=redis --init-groups /usr/local/sbin/fmlab-redis $vcpus \
    </dev/null >/dev/null 2>&1 &" >/dev/null
for _ in $(seq 30); do
    [ "$($fmlab exec backup -- "redis-cli -h vm -p $latency_port ping" 2>/dev/null)" = PONG ] && break
    sleep 2
done
$fmlab ycsb --workload a --phase load --records $latency_records --port $latency_port >/dev/null 2>&1 \
    || { echo "# ycsb load on port $latency_port failed"; fail=1; }
latency precopy --mode precopy --load redis
latency postcopy --mode postcopy --load redis
latency shm --mode shm --load redis --dst-ram pool --dst-wait on

modes="precopy postcopy shm-copy shm-promote shm-pool-nowait shm-pool shm-pool-inplace"
{
    echo "## precopy vs postcopy vs shm: redis load, $($fmlab config get GUEST_MEM) guest, median (min-max) of $repeat"
    echo
    echo "shm: fmsync tracking, ${period} us period, destination RAM copy / promote (cap"
    echo "$($fmlab config get SHM_PROMOTE_BANDWIDTH) B/s) / pool; 'pool, in place' migrates the guest"
    echo "that runs from the image; 'pool, no wait': the destination is given the image only"
    echo "after the source's 'image complete' (the others get it before the switchover and"
    echo "wait on it). Stop to running: from the source's STOP event to the"
    echo "destination's RESUME event, both timed as they reach backup: the same yardstick for"
    echo "every mode, and the downtime the ratios below use. QEMU downtime: as each mechanism"
    echo "reports it: precopy and postcopy from the source's stop until it sent the last byte"
    echo "(the destination's device-state load and resume are not in it); shm from the"
    echo "source's 'precopy done' event to the destination's 'loaded' event on backup (they"
    echo "are). Client gap: the longest time the redis client on"
    echo "backup saw no reply, the same measure for every mode. Total: precopy and postcopy"
    echo "from 'migrate' to the destination running; shm from the switchover request (the copy"
    echo "into the pool ran before, in the background: 'first copy')."
    echo
    echo "| mode | stop to running ms | QEMU downtime ms | client gap ms | total s | network MiB | first copy s | dst load ms | promoted after s | dst ops/s, 10 s | src ops/s before |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for m in $modes; do
        echo "| $m | $(spread '.stop_to_running_ms // null' $m) | $(spread .downtime_ms $m) | $(spread .client.max_gap_ms $m)" \
             "| $(spread '.total_time_ms / 1000' $m 2) | $(spread '.network.source_sent_bytes / 1048576' $m 1)" \
             "| $(spread '(.first_copy_ms // null) | if . then . / 1000 else null end' $m 1)" \
             "| $(spread '.load_ms // null' $m)" \
             "| $(spread '(.promote_ms // null) | if . then . / 1000 else null end' $m 1)" \
             "| $(spread '.dst_ops_per_s // null' $m) | $(spread '.src_ops_per_s_before // null' $m) |"
    done
    pre=$(median '.stop_to_running_ms // null' precopy)
    echo
    echo "Stop to running against precopy's (median over median):"
    for m in postcopy shm-copy shm-promote shm-pool-nowait shm-pool shm-pool-inplace; do
        d=$(median '.stop_to_running_ms // null' $m)
        [ "$d" != null ] && [ "$pre" != null ] && echo "- $m: $(jq -n "$d / $pre * 100 | round")% of precopy's ($(fmt "$d") ms vs $(fmt "$pre") ms)"
    done
    echo
    echo "### shm downtime, in parts (medians, ms)"
    echo
    echo "Source: stop the VM, final pass (4 KiB), device state save, header; handoff (no"
    echo "wait only): image complete (event on backup) to migrate-incoming-shm; destination:"
    echo "RAM (copy, map or register; a waiting pool destination mapped it before), device"
    echo "state load, resume (block devices, VM start), and the whole load from the command"
    echo "(no wait) or from the moment it saw the image complete (wait), as QEMU measures them."
    echo
    echo "| mode | vm stop | final pass | device state | header | src downtime | handoff | dst RAM | dst device state | dst resume | dst load | RAM in place at src MiB | mapped MiB | copied MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for m in shm-copy shm-promote shm-pool-nowait shm-pool shm-pool-inplace; do
        echo "| $m | $(fmt "$(median '.shm.source["stop-us"] / 1000' $m)" 1) | $(fmt "$(median '.shm.source["final-copy-us"] / 1000' $m)" 1)" \
             "| $(fmt "$(median '.shm.source["device-state-us"] / 1000' $m)" 1) | $(fmt "$(median '.shm.source["msync-us"] / 1000' $m)" 1)" \
             "| $(fmt "$(median '.shm.source["downtime-us"] / 1000' $m)" 1) | $(fmt "$(median '.handoff_ms // null' $m)" 1)" \
             "| $(fmt "$(median '.shm.destination["ram-load-us"] / 1000' $m)" 1) | $(fmt "$(median '.shm.destination["device-load-us"] / 1000' $m)" 1)" \
             "| $(fmt "$(median '(.shm.destination["resume-us"] // null) | if . then . / 1000 else null end' $m)" 1)" \
             "| $(fmt "$(median '.shm.destination["load-us"] / 1000' $m)" 1)" \
             "| $(fmt "$(median '(.shm.source["ram-in-place"] // 0) / 1048576' $m)")" \
             "| $(fmt "$(median '(.shm.destination["ram-mapped"] // 0) / 1048576' $m)")" \
             "| $(fmt "$(median '(.shm.destination["ram-copied"] // 0) / 1048576' $m)") |"
    done
    echo
    echo "What the lab cannot show: the hosts' CXL node and the pool are L0 DRAM (HMAT says"
    echo "node 1 is slower; nothing makes it so), so a guest running from the pool ('pool')"
    echo "runs at DRAM speed here, and promotion gains nothing it would gain on real CXL"
    echo "memory; on hardware 'pool' pays CXL latency on every access until the guest moves"
    echo "again. The hosts are TCG-emulated, so absolute times are far above bare metal's."
    echo
    echo "## shm: one sync period while writing through (redis load), fmsync vs stock tracking"
    echo
    echo "Medians over the write-through periods of one run each. Copy: collect the dirty set"
    echo "and copy it into the pool; fmsync copies 2 MiB regions (fmsync-page: 4 KiB pages)"
    echo "while the guest runs and 4 KiB pages in the final pass."
    echo
    echo "| period ms | tracking | periods | copy ms / period | dirty 4K pages / period | first copy ms | final pass ms | downtime ms |"
    echo "|---|---|---|---|---|---|---|---|"
    for p in 500000 100000; do
        for t in fmsync fmsync-page stock; do
            n="shm-$p-$t"
            # shellcheck disable=SC2086
            method=$(jq -r '.shm.source["dirty-tracking"] + (if .shm.source.granularity then ", " + .shm.source.granularity else "" end)' \
                ${runs[$n]:-/dev/null} 2>/dev/null | head -1)
            echo "| $((p / 1000)) | ${method:-$t}" \
                 "| $(fmt "$(median '.iterations | length' "$n")")" \
                 "| $(fmt "$(median '[.iterations[]["copy-us"]] | sort | .[(length - 1) / 2 | floor] / 1000' "$n")" 1)" \
                 "| $(fmt "$(median '[.iterations[]["dirty-pages"]] | sort | .[(length - 1) / 2 | floor]' "$n")")" \
                 "| $(fmt "$(median '.shm.source["first-copy-us"] / 1000' "$n")")" \
                 "| $(fmt "$(median '.shm.source["final-copy-us"] / 1000' "$n")" 1)" \
                 "| $(fmt "$(median .downtime_ms "$n")") |"
        done
    done
    echo
    echo "Runs:"
    for k in $modes shm-{500000,100000}-{fmsync,fmsync-page,stock}; do
        echo "- $k:${runs[$k]:- (none)}"
    done
} | tee "$out"

case ${BENCH_OVERHEAD:-run} in
off) ;;
run) OVERHEAD_DIR="$dir/overhead" "$(dirname "$0")/bench_overhead.sh" "$fmlab" "${OVERHEAD_REPEAT:-3}" || fail=1 ;;
*) if [ -f "$BENCH_OVERHEAD/overhead.csv" ]; then
       cp -r "$BENCH_OVERHEAD" "$dir/overhead"
       [ -f "$BENCH_OVERHEAD.md" ] && cp "$BENCH_OVERHEAD.md" "$dir/overhead.md"
       echo "# bench: the overhead sweep of $BENCH_OVERHEAD (not run again)"
   else
       echo "# bench: BENCH_OVERHEAD=$BENCH_OVERHEAD has no overhead.csv (off, run, or a make bench-overhead folder)"
       fail=1
   fi ;;
esac
[ -f "$dir/overhead.md" ] && { echo; cat "$dir/overhead.md"; } >>"$out"

plots=("$dir")
[ -f "$dir/overhead/overhead.csv" ] && plots+=("$dir/overhead")
$fmlab plot "${plots[@]}" || fail=1
mkdir -p "$figures"
# the PNGs and the CSVs behind them (the .gp scripts name this machine's paths)
for f in "$dir"/*.png "$dir"/*.csv "$dir"/overhead/overhead-chart.{png,csv} "$dir/overhead/overhead.csv"; do
    [ -f "$f" ] && [ "$(basename "$f")" != runs.csv ] || continue
    rm -f "$figures/$(basename "$f")" "$figures/$(basename "$f").gz"
    # every request of the latency runs is a few MiB: compressed in the repository
    if [ "$(stat -c %s "$f")" -gt 1048576 ]; then gzip -n -c "$f" >"$figures/$(basename "$f").gz"; else cp "$f" "$figures/"; fi
done
{ echo "Made by: make bench (BENCH_REPEAT=$repeat), $(date -u '+%Y-%m-%d %H:%M UTC'); results: $dir"; echo; cat "$out"; } \
    >"$figures/bench.md"
echo "# bench: written to $out; figures in $dir and $figures"
exit $fail
