#!/bin/bash
# tests/bench_overhead.sh FMLAB [REPEAT]: `make bench-overhead`, what keeping the shm image
# current costs the running guest (the study's sweep: redis throughput with no sync and
# with the sync every 1, 50, 100, 200, 500 ms).
#
# For each workload (OVERHEAD_WORKLOADS, default "a b": YCSB workloads on redis; mc-W is
# workload W on the guest's memcached, the study's second workload), loaded once with fmlab ycsb, each
# dirty tracking (OVERHEAD_TRACKING, default "fmsync fmsync-page stock": fmsync copying
# 2 MiB regions or 4 KiB pages while the guest runs, KVM's dirty log), period (OVERHEAD_PERIODS_MS)
# and repeat: one YCSB run, first alone for OVERHEAD_SECONDS (default 20: the baseline),
# then while fmlab-control shm-sync writes the guest through to the pool for
# OVERHEAD_SECONDS (then cancels it: nothing migrates). The two windows are back to back
# in one client run, so the change is measured against the throughput of that moment (the
# lab's baseline drifts by 2x between runs minutes apart). Throughput counts whole
# seconds only: the baseline from 5 s after the run starts to the sync's start, the sync
# from its first write-through period (its first full copy is left out) to its end.
# Prints, per point, median (min-max) ops/s with the sync and its change against the
# baseline of the same run, and the median copy time and dirty pages per period. Writes
# RESULTS_DIR/bench-overhead-<time>.md (the table), and bench-overhead-<time>/ with
# overhead.csv (one row per run: what fmlab plot draws), the figure (overhead-chart.png)
# and every result file.
set -u
fmlab=$1
repeat=${2:-3}
workloads=${OVERHEAD_WORKLOADS:-a b}
trackings=${OVERHEAD_TRACKING:-fmsync fmsync-page stock}
periods=${OVERHEAD_PERIODS_MS:-1 50 100 200 500}
seconds=${OVERHEAD_SECONDS:-20}
fail=0
results_dir=$($fmlab config get RESULTS_DIR)
stamp=$(date +%Y%m%d-%H%M%S)
# make bench puts the sweep in its own folder (OVERHEAD_DIR)
work=${OVERHEAD_DIR:-$results_dir/bench-overhead-$stamp}
out=$work.md
mkdir -p "$work"

. "$(dirname "$0")/lab_up.sh"
lab_up "$fmlab" || { echo "bench-overhead: fmlab up failed" >&2; exit 1; }
# The guest into its host's DRAM first: one that runs from the pool image (after an shm
# migration with dst-ram pool: make bench's last) is the image, and its sync copies
# nothing (the sweep would measure dirty tracking alone).
echo "# the guest into DRAM: fmlab migrate --mode precopy --load idle"
$fmlab migrate --mode precopy --load idle 2>&1 | grep '^\[migrate\] [a-z]* [a-z]*->' | sed 's/^/#   /'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bench-overhead: the precopy into DRAM failed" >&2; exit 1; }
host=$($fmlab status --json | jq -r '.guest.host')
ip=$($fmlab config get "$(echo "$host" | tr a-z A-Z)_IP")
qmp=$($fmlab config get VM_QMP_PORT)
shm=$($fmlab config get SHM_IMAGE_PATH)

# the fmlab ycsb arguments of workload W: a-f on redis, mc-a ... on memcached
workload_args() {
    case $1 in
    mc-*) echo "--store memcached --workload ${1#mc-}" ;;
    *) echo "--workload $1" ;;
    esac
}

# fmsync (2 MiB regions while the guest runs), fmsync-page (4 KiB pages), stock
tracking_args() {
    case $1 in
    fmsync-page) echo "--dirty-tracking fmsync --granularity page" ;;
    fmsync) echo "--dirty-tracking fmsync --granularity region" ;;
    *) echo "--dirty-tracking $1" ;;
    esac
}

# point W TRACKING PERIOD_MS FILE_PREFIX: YCSB alone, then beside the sync;
# FILE_PREFIX.{ycsb,sync}.json.
point() {
    local w=$1 t=$2 p=$3 f=$4
    # shellcheck disable=SC2046 # the arguments are words
    $fmlab ycsb --phase run $(workload_args "$w") --operations 1000000000 --max-seconds $((2 * seconds + 600)) \
        >"$f.ycsb.log" 2>&1 &
    local ycsb=$!
    sleep $((seconds + 10))   # the client's start (ssh, connect) takes a few of these seconds
    $fmlab exec backup --timeout $((seconds + 600)) -- "/usr/local/bin/fmlab-control shm-sync --from $ip \
        --qmp-port $qmp --shm-path $shm --period-us $((p * 1000)) $(tracking_args "$t") --seconds $seconds \
        --timeout 600" 2>&1 | sed -n 's/^result //p' >"$f.sync.json"
    # by process name: a pattern would also match the shells whose command lines name it
    $fmlab exec backup -- 'pkill -TERM -x fmlab-control; true' >/dev/null
    wait "$ycsb"
    # the guest takes a while to run at full speed again once its pages are no longer
    # tracked (its shadow page tables are rebuilt fault by fault): the next run waits
    sleep 10
    local result
    result=$(sed -n 's/^\[ycsb\] result: //p' "$f.ycsb.log")
    [ -f "$result" ] && cp "$result" "$f.ycsb.json" || { echo "# ycsb beside the sync failed"; fail=1; }
    jq -e '.pass == true' "$f.sync.json" >/dev/null 2>&1 || { echo "# shm-sync failed: $(cat "$f.sync.json")"; fail=1; }
}

# The CSV row of one run: its baseline (whole seconds from 5 s to the sync's start) and
# its throughput over the whole seconds of the write-through, the copy time and dirty
# pages per period (medians over the periods).
csv_row() {
    local w=$1 t=$2 p=$3 r=$4 f=$5
    jq -r -n --slurpfile y "$f.ycsb.json" --slurpfile s "$f.sync.json" \
        --arg w "$w" --arg t "$t" --arg p "$p" --arg r "$r" '
        def mean: if length == 0 then null else add / length end;
        def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
        $y[0].run as $run | $s[0] as $x |
        (($x.start_epoch_ms - $run.start_epoch_ms) / 1000) as $sync0 |
        (($sync0 + $x.write_through_start_ms / 1000) | ceil) as $a |
        (($sync0 + ($x.write_through_start_ms + $x.write_through_ms) / 1000) | floor) as $b |
        ($run.ops_per_second[5:($sync0 | floor)] | mean) as $base |
        ($run.ops_per_second[$a:$b] | mean) as $ops |
        [$x.samples[] | select(.phase == "syncing")] as $per |
        [$w, $t, $p, $r, $base, $ops,
         (if $base and $ops then ($ops - $base) / $base * 100 else null end),
         ([$per[] | .last_copy_us // empty] | median | if . then . / 1000 else null end),
         ([$per[] | .last_dirty_pages // empty] | median)]
        | map(if . == null then "" elif type == "number" then (. * 10 | round / 10 | tostring) else . end)
        | join(",")'
}
# numbers on stdin: "median (min-max)"; the median of an even count is the mean of the
# middle two (as fmlab plot computes it)
spread() {
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f (%.1f-%.1f)", m, v[1], v[NR] }'
}
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit }
        printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

csv="$work/overhead.csv"
echo "workload,tracking,period_ms,repeat,baseline_ops,sync_ops,delta_pct,copy_ms,dirty_pages" >"$csv"
for w in $workloads; do
    echo "# workload $w: loading"
    # shellcheck disable=SC2046
    $fmlab ycsb $(workload_args "$w") --phase load >"$work/load-$w.log" 2>&1 || { echo "# load $w failed"; fail=1; }
    for r in $(seq 1 "$repeat"); do
        for t in $trackings; do
            for p in $periods; do
                f="$work/$w-$t-$p-$r"
                point "$w" "$t" "$p" "$f"
                row=$(csv_row "$w" "$t" "$p" "$r" "$f" 2>/dev/null) || row="$w,$t,$p,$r,,,,,"
                echo "$row" >>"$csv"
                echo "$row" | awk -F, '{ printf "# workload %s, repeat %s, %s every %s ms: %s ops/s alone, %s with the sync (%s %%), copy %s ms, %s dirty pages per period\n", $1, $4, $2, $3, $5, $6, $7, $8, $9 }'
            done
        done
    done
done

# column N of the CSV rows matching workload W (and tracking T, period P when given)
col() {
    awk -F, -v w="$1" -v t="${2:-}" -v p="${3:-}" -v c="$4" \
        'NR > 1 && $1 == w && (t == "" || $2 == t) && (p == "" || $3 == p) && $c != "" { print $c }' "$csv"
}
{
    echo "## Write-through overhead, $(date -u +%Y-%m-%d) ($(nproc) cores, hosts under TCG, guest $($fmlab config get GUEST_MEM), $($fmlab config get GUEST_VCPUS) redis)"
    echo
    echo "YCSB from backup, $($fmlab config get YCSB_RECORDS) records, $($fmlab config get YCSB_THREADS) threads."
    echo "Each run: $seconds s alone, then $seconds s of write-through (after the sync's first copy);"
    echo "median (min-max) of $repeat runs. Δ: each run against its own baseline."
    echo
    echo "| workload | sync | ops/s alone | ops/s with sync | Δ % | copy ms per period | dirty pages per period |"
    echo "|---|---|---|---|---|---|---|"
    for w in $workloads; do
        echo "| $w | none | $(col "$w" "" "" 5 | spread) | - | - | - | - |"
        for t in $trackings; do
            for p in $periods; do
                echo "| $w | $t, $p ms | $(col "$w" "$t" "$p" 5 | spread) | $(col "$w" "$t" "$p" 6 | spread) |" \
                    "$(col "$w" "$t" "$p" 7 | spread) | $(col "$w" "$t" "$p" 8 | spread) | $(col "$w" "$t" "$p" 9 | median) |"
            done
        done
    done
    echo
    echo "Files: $work/ (overhead.csv, ycsb and shm-sync results per run). Made by: make bench-overhead"
} | tee "$out"
echo "# table: $out"
$fmlab plot "$work" && echo "# figure: $work/overhead-chart.png" || fail=1
exit $fail
