#!/bin/bash
# tests/bench.sh FMLAB [REPEAT]: `make bench`, the numbers of the study on this lab.
#
# Needs the lab up on the fmsync kernel with the patched QEMU (brings it up if not).
# Same guest (GUEST_MEM), same load (redis clients from backup + the memory oracle):
#   1. precopy vs postcopy vs shm (fmsync tracking, SHM_PERIOD_US): REPEAT runs each,
#      median total time, downtime, client-observed gap, bytes over the network
#   2. shm per sync period at 500 ms and 100 ms, fmsync vs stock dirty tracking:
#      median copy time and dirty pages per write-through period, first copy, final pass
# Prints both tables (markdown) and writes them to RESULTS_DIR/bench-<time>.md, with the
# result.json of every run listed. Exits non-zero if a run fails its oracles.
set -u
fmlab=$1
repeat=${2:-3}
fail=0
results_dir=$($fmlab config get RESULTS_DIR)
out="$results_dir/bench-$(date +%Y%m%d-%H%M%S).md"
mkdir -p "$results_dir"

. "$(dirname "$0")/lab_up.sh"
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
    runs[$name]="${runs[$name]:-} $result"
}

# median FILTER NAME: the median over NAME's runs of jq FILTER (a number per run).
median() {
    # shellcheck disable=SC2086
    jq -s "map($1) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end" ${runs[$2]:-/dev/null}
}
fmt() { [ "$1" = null ] && echo "-" || printf "%.${2:-0}f" "$1"; }

for _ in $(seq "$repeat"); do
    run precopy --mode precopy --load redis
    run postcopy --mode postcopy --load redis
    run shm --mode shm --load redis
done

period=$($fmlab config get SHM_PERIOD_US)
for p in 500000 100000; do
    for t in fmsync stock; do
        run "shm-$p-$t" --mode shm --load redis --period-us "$p" --dirty-tracking "$t"
    done
done

{
    echo "## precopy vs postcopy vs shm: redis load, $($fmlab config get GUEST_MEM) guest, median of $repeat"
    echo
    echo "shm: fmsync tracking, ${period} us period. Total time: precopy and postcopy from"
    echo "\`migrate\` to the destination running; shm from the switchover request to the"
    echo "destination running (the copy into the pool ran before, in the background: 'first copy')."
    echo
    echo "| mode | total s | downtime ms | client gap ms | network MiB | QEMU sent MiB | first copy s | dst load ms |"
    echo "|---|---|---|---|---|---|---|---|"
    for m in precopy postcopy shm; do
        echo "| $m | $(fmt "$(median '.total_time_ms / 1000' $m)" 2) | $(fmt "$(median .downtime_ms $m)")" \
             "| $(fmt "$(median .client.max_gap_ms $m)") | $(fmt "$(median '.network.source_sent_bytes / 1048576' $m)" 1)" \
             "| $(fmt "$(median '(.transferred_bytes // 0) / 1048576' $m)" 1)" \
             "| $(fmt "$(median '(.first_copy_ms // null) | if . then . / 1000 else null end' $m)" 1)" \
             "| $(fmt "$(median '.load_ms // null' $m)") |"
    done
    echo
    echo "## shm: one sync period while writing through (redis load), fmsync vs stock tracking"
    echo
    echo "Medians over the write-through periods of one run each. Copy: collect the dirty set"
    echo "and copy it into the pool; fmsync copies 2 MiB regions while the guest runs and"
    echo "4 KiB pages in the final pass."
    echo
    echo "| period ms | tracking | periods | copy ms / period | dirty 4K pages / period | first copy ms | final pass ms | downtime ms |"
    echo "|---|---|---|---|---|---|---|---|"
    for p in 500000 100000; do
        for t in fmsync stock; do
            n="shm-$p-$t"
            # shellcheck disable=SC2086
            method=$(jq -r '.shm.source["dirty-tracking"]' ${runs[$n]:-/dev/null} 2>/dev/null | head -1)
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
    for k in precopy postcopy shm shm-500000-fmsync shm-500000-stock shm-100000-fmsync shm-100000-stock; do
        echo "- $k:${runs[$k]:- (none)}"
    done
} | tee "$out"
echo "# bench: written to $out"
exit $fail
