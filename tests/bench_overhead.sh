#!/bin/bash
# tests/bench_overhead.sh FMLAB [REPEAT]: `make bench-overhead`, what keeping the shm image
# current costs the running guest (the study's sweep: redis throughput with no sync and
# with the sync every 1, 50, 100, 500 ms).
#
# For each workload (OVERHEAD_WORKLOADS, default "a b"), loaded once with fmlab ycsb, and
# each repeat: YCSB alone for OVERHEAD_SECONDS (default 30), then for each dirty tracking
# (OVERHEAD_TRACKING, default "fmsync stock") and period (OVERHEAD_PERIODS_MS, default
# "1 50 100 200 500") the same workload while fmlab-control shm-sync writes the guest
# through to the pool for OVERHEAD_SECONDS (then cancels it: nothing migrates).
# Throughput counts only the whole seconds inside the write-through window (the sync's
# first full copy is left out); the baseline the same number of seconds after a 5 s
# warm-up. Prints median (min-max) ops/s and the change against no sync, per point, and
# the median copy time and dirty pages per period; writes the table to
# RESULTS_DIR/bench-overhead-<time>.md with every result file listed.
set -u
fmlab=$1
repeat=${2:-3}
workloads=${OVERHEAD_WORKLOADS:-a b}
trackings=${OVERHEAD_TRACKING:-fmsync stock}
periods=${OVERHEAD_PERIODS_MS:-1 50 100 200 500}
seconds=${OVERHEAD_SECONDS:-30}
fail=0
results_dir=$($fmlab config get RESULTS_DIR)
stamp=$(date +%Y%m%d-%H%M%S)
out="$results_dir/bench-overhead-$stamp.md"
work="$results_dir/bench-overhead-$stamp"
mkdir -p "$work"

. "$(dirname "$0")/lab_up.sh"
lab_up "$fmlab" || { echo "bench-overhead: fmlab up failed" >&2; exit 1; }
host=$($fmlab status --json | jq -r '.guest.host')
ip=$($fmlab config get "$(echo "$host" | tr a-z A-Z)_IP")
qmp=$($fmlab config get VM_QMP_PORT)
shm=$($fmlab config get SHM_IMAGE_PATH)

# ycsb_run FILE ARGS...: fmlab ycsb --phase run ARGS, its result.json copied to FILE.
ycsb_run() {
    local file=$1 log result
    shift
    log=$($fmlab ycsb --phase run "$@" 2>&1)
    result=$(echo "$log" | sed -n 's/^\[ycsb\] result: //p')
    [ -f "$result" ] && cp "$result" "$file" || { echo "# ycsb failed: $(echo "$log" | tail -n 2)"; fail=1; }
}

# point W TRACKING PERIOD_MS FILE_PREFIX: YCSB beside the sync; FILE_PREFIX.{ycsb,sync}.json.
point() {
    local w=$1 t=$2 p=$3 f=$4
    $fmlab ycsb --phase run --workload "$w" --operations 1000000000 --max-seconds $((seconds + 600)) \
        >"$f.ycsb.log" 2>&1 &
    local ycsb=$!
    sleep 3   # the client runs before the sync starts
    $fmlab exec backup --timeout $((seconds + 600)) -- "/usr/local/bin/fmlab-control shm-sync --from $ip \
        --qmp-port $qmp --shm-path $shm --period-us $((p * 1000)) --dirty-tracking $t --seconds $seconds \
        --timeout 600" 2>&1 | sed -n 's/^result //p' >"$f.sync.json"
    # by process name: a pattern would also match the shells whose command lines name it
    $fmlab exec backup -- 'pkill -TERM -x fmlab-control; true' >/dev/null
    wait "$ycsb"
    local result
    result=$(sed -n 's/^\[ycsb\] result: //p' "$f.ycsb.log")
    [ -f "$result" ] && cp "$result" "$f.ycsb.json" || { echo "# ycsb beside the sync failed"; fail=1; }
    jq -e '.pass == true' "$f.sync.json" >/dev/null 2>&1 || { echo "# shm-sync failed: $(cat "$f.sync.json")"; fail=1; }
}

# Throughput (ops/s) of a ycsb result over the whole seconds of the sync's write-through.
window_ops() {
    jq -n --slurpfile y "$1.ycsb.json" --slurpfile s "$1.sync.json" '
        $y[0].run as $r | $s[0] as $x |
        ((($x.start_epoch_ms + $x.write_through_start_ms - $r.start_epoch_ms) / 1000) | ceil) as $a |
        ((($x.start_epoch_ms + $x.write_through_start_ms + $x.write_through_ms - $r.start_epoch_ms) / 1000) | floor) as $b |
        $r.ops_per_second[$a:$b] | if length == 0 then null else add / length end'
}
baseline_ops() {
    jq --argjson s "$seconds" '.run.ops_per_second[5:(5 + $s)] | add / length' "$1"
}
spread() {   # numbers on stdin: "median (min-max)"
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } printf "%.1f (%.1f-%.1f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR + 1) / 2)]; else print "nan" }'; }

for w in $workloads; do
    echo "# workload $w: loading"
    $fmlab ycsb --workload "$w" --phase load >"$work/load-$w.log" 2>&1 || { echo "# load $w failed"; fail=1; }
    for r in $(seq 1 "$repeat"); do
        echo "# workload $w, repeat $r: no sync"
        ycsb_run "$work/$w-none-$r.json" --workload "$w" --operations 1000000000 --max-seconds $((seconds + 10))
        for t in $trackings; do
            for p in $periods; do
                echo "# workload $w, repeat $r: $t every $p ms"
                point "$w" "$t" "$p" "$work/$w-$t-$p-$r"
            done
        done
    done
done

{
    echo "## Write-through overhead, $(date -u +%Y-%m-%d) ($(nproc) cores, hosts under TCG, guest $($fmlab config get GUEST_MEM), $($fmlab config get GUEST_VCPUS) redis)"
    echo
    echo "YCSB from backup, $($fmlab config get YCSB_RECORDS) records, $($fmlab config get YCSB_THREADS) threads;"
    echo "ops/s over $seconds s, median (min-max) of $repeat; Δ against no sync (medians)."
    echo
    echo "| workload | sync | ops/s | Δ % | copy ms per period | dirty pages per period |"
    echo "|---|---|---|---|---|---|"
    for w in $workloads; do
        base=$(for r in $(seq 1 "$repeat"); do baseline_ops "$work/$w-none-$r.json" 2>/dev/null; done | median)
        echo "| $w | none | $(for r in $(seq 1 "$repeat"); do baseline_ops "$work/$w-none-$r.json" 2>/dev/null; done | spread) | - | - | - |"
        for t in $trackings; do
            for p in $periods; do
                ops=$(for r in $(seq 1 "$repeat"); do window_ops "$work/$w-$t-$p-$r" 2>/dev/null; done | grep -v null)
                m=$(echo "$ops" | median)
                copy=$(cat "$work/$w-$t-$p-"*.sync.json 2>/dev/null | jq -r '.samples[] | select(.phase == "syncing") | .last_copy_us // empty' | median)
                dirty=$(cat "$work/$w-$t-$p-"*.sync.json 2>/dev/null | jq -r '.samples[] | select(.phase == "syncing") | .last_dirty_pages // empty' | median)
                delta=$(awk -v m="$m" -v b="$base" 'BEGIN { if (m == "nan" || b == "nan" || b == 0) print "-"; else printf "%+.1f", (m - b) / b * 100 }')
                echo "| $w | $t, $p ms | $(echo "$ops" | spread) | $delta | $(awk -v c="$copy" 'BEGIN { if (c == "nan") print "-"; else printf "%.1f", c / 1000 }') | $dirty |"
            done
        done
    done
    echo
    echo "Files: $work/ (ycsb and shm-sync results per point). Made by: make bench-overhead"
} | tee "$out"
echo "# table: $out"
exit $fail
