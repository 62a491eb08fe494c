#!/bin/bash
# tests/migration/selftest.sh TEST_MIGRATION: the case table's checks can fail. Runs the
# matrix binary against fake-fmlab (no lab): with the right result for each case every
# assertion passes; with each case given another case's result (a completed run for a
# fault that must lose the guest, a lost guest for a run that must complete, a clean
# run where an oracle must fail) the assertions that judge the outcome fail, the run
# exits 1 and names the failed case's log and result. `make test-migration-selftest`.
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/tap.sh
. "$here/../tap.sh"
FAKE_RESULTS=$(mktemp -d)
export FAKE_RESULTS
trap 'rm -rf "$FAKE_RESULTS"' EXIT
cases='^(precopy-redis|postcopy-src-kill|oracle-neg-lost-key)$'

out=$(CASES=$cases "$bin" "$here/fake-fmlab" 2>&1); rc=$?
if [ $rc -eq 0 ] && ! echo "$out" | grep -q '^not ok' && [ "$(echo "$out" | grep -c '^ok')" -ge 20 ]
then ok "the right results pass every assertion ($(echo "$out" | grep -c '^ok') ok)"
else notok "the right results pass every assertion (exit $rc): $(echo "$out" | grep '^not ok' | head -3)"; fi

out=$(CASES=$cases FAKE_COMPLETED=lost-postcopy FAKE_LOST=completed-precopy FAKE_ORACLE=completed-precopy \
      "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 1 ] && ok "swapped results: exit 1" || notok "swapped results: exit 1 (got $rc)"
while read -r want <&3; do
    echo "$out" | grep -qF "not ok - $want" && ok "swapped results fail: $want" || notok "swapped results fail: $want"
done 3<<'WANT'
precopy-redis: all three oracles pass
precopy-redis: completed, guest moved
postcopy-src-kill: the source died after the switch
postcopy-src-kill: the guest is lost, as expected
oracle-neg-lost-key: the run fails, caught by: application oracle failed: 1 lost keys
WANT
echo "$out" | grep -q '^# precopy-redis failed: its log .*precopy-redis.log, its result .*lost-postcopy.json' \
    && ok "a failed case names its log and result" || notok "a failed case names its log and result"

# a custom row (no mode) beside a row that cannot run with NET_MODE=ovs-dpdk: the one runs,
# the other is a SKIP with its reason, and nothing crashes in deciding which
out=$(CASES='^(shm-pool|guest-runs-after)$' FAKE_NET_MODE=ovs-dpdk "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q '^ok - shm-pool # SKIP NET_MODE=ovs-dpdk: shm runs with dst-ram copy only' \
    && echo "$out" | grep -q '^ok - guest-runs-after' && ok "ovs-dpdk: shm-pool skipped with its reason, a custom row runs" \
    || notok "ovs-dpdk skip and a custom row (exit $rc): $(echo "$out" | tail -3)"

# a guest whose redis is silent: the framework keeps its console and says how its kernel died
out=$(CASES='^precopy-idle$' FAKE_DEAD_GUEST=panic "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "^# the guest's kernel: \[  828.160\] Kernel panic - not syncing: Fatal exception in interrupt$" \
    && ok "a silent guest whose console ends in a panic: the panic is named" \
    || notok "a silent guest whose console ends in a panic (exit $rc): $(echo "$out" | grep -m2 "guest")"
out=$(CASES='^precopy-idle$' FAKE_DEAD_GUEST=hang "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "^# the guest's kernel printed no panic or oops" \
    && ok "a silent guest without a panic: said so" || notok "a silent guest without a panic (exit $rc)"

out=$(CASES='^no-such-case$' "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "selects no case" && ok "CASES that selects nothing fails" \
    || notok "CASES that selects nothing fails (exit $rc)"
out=$(CASES='(' "$bin" "$here/fake-fmlab" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$out" = "test-migration: CASES='(' is not an extended regular expression" ] \
    && ok "a CASES that is no regex is one line" || notok "a CASES that is no regex is one line: $out"
exit $fail
