/* test_ycsb.c: the YCSB generator's decisions (lab/control/ycsb_gen.c) against YCSB's own
 * definitions: the workloads' mixes, the key names, zipfian's skew, latest's recency, and
 * that a run only reads records that exist. Statistical checks use fixed seeds and wide
 * tolerances: a broken generator misses them by far, a correct one never does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "control/ycsb_gen.h"

static struct ycsb_plan plan;

static void workloads_have_ycsb_mixes(void **state)
{
    (void)state;
    static const struct { const char *name; enum ycsb_op op; double p; enum ycsb_dist dist; } want[] = {
        { "a", YCSB_UPDATE, 0.50, YCSB_ZIPFIAN }, { "B", YCSB_READ, 0.95, YCSB_ZIPFIAN },
        { "c", YCSB_READ, 1.00, YCSB_ZIPFIAN },   { "d", YCSB_INSERT, 0.05, YCSB_LATEST },
        { "e", YCSB_SCAN, 0.95, YCSB_ZIPFIAN },   { "f", YCSB_RMW, 0.50, YCSB_ZIPFIAN },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct ycsb_workload *w = ycsb_workload(want[i].name);
        assert_non_null(w);
        assert_true(fabs(w->proportion[want[i].op] - want[i].p) < 1e-9);
        assert_int_equal(w->dist, want[i].dist);
    }
    assert_null(ycsb_workload("g"));
    assert_null(ycsb_workload("ab"));
    /* the mix drawn matches the mix defined: workload b, 100k draws */
    struct ycsb_rng r = { 1 };
    ycsb_plan_init(&plan, ycsb_workload("b"), 1000, 100000);
    int n[YCSB_N_OPS] = { 0 };
    for (int i = 0; i < 100000; i++)
        n[ycsb_next_op(&plan, &r)]++;
    assert_in_range(n[YCSB_READ], 94500, 95500);
    assert_in_range(n[YCSB_UPDATE], 4500, 5500);
    assert_int_equal(n[YCSB_INSERT] + n[YCSB_SCAN] + n[YCSB_RMW], 0);
}

/* YCSB's key for record 0 is user + FNV-64 of 0 (the offset basis run over eight zero
 * octets), and keys are distinct. */
static void keys_are_ycsb_names(void **state)
{
    (void)state;
    char k0[32], k1[32];
    ycsb_key(0, k0, sizeof(k0));
    ycsb_key(1, k1, sizeof(k1));
    assert_string_equal(k0, "user6284781860667377211");
    assert_string_not_equal(k0, k1);
    assert_int_equal(ycsb_java_hash("user"), 3599307);   /* "user".hashCode() in Java */
    for (int64_t v = 0; v < 1000; v++)
        assert_true(ycsb_fnv64(v) >= 0);
}

/* Zipfian (theta 0.99): item 0 about 2^0.99 times as frequent as item 1, draws in range,
 * the top 1% of 10^4 items get far more than 1% of the draws. */
static void zipfian_is_skewed(void **state)
{
    (void)state;
    struct ycsb_zipf z;
    struct ycsb_rng r = { 7 };
    enum { ITEMS = 10000, DRAWS = 400000 };
    static unsigned hits[ITEMS];
    ycsb_zipf_init(&z, ITEMS, 0.99);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t v = ycsb_zipf_next(&z, &r, 0);
        assert_true(v < ITEMS);
        hits[v]++;
    }
    double ratio = (double)hits[0] / hits[1];
    assert_true(ratio > 1.6 && ratio < 2.4);   /* 2^0.99 = 1.99 */
    unsigned top = 0;
    for (int i = 0; i < ITEMS / 100; i++)
        top += hits[i];
    assert_true(top > DRAWS / 3);
}

/* Scrambled zipfian in a run: only loaded records are chosen, hot keys are spread over the
 * key space (not the first records), and some keys are much hotter than others. */
static void run_reads_only_existing_records(void **state)
{
    (void)state;
    struct ycsb_rng r = { 3 };
    enum { RECORDS = 1000 };
    unsigned hits[RECORDS] = { 0 };
    ycsb_plan_init(&plan, ycsb_workload("a"), RECORDS, 100000);
    for (int i = 0; i < 100000; i++) {
        uint64_t k = ycsb_next_keynum(&plan, &r);
        assert_true(k < RECORDS);
        hits[k]++;
    }
    unsigned hottest = 0, first_ten = 0;
    for (int i = 0; i < RECORDS; i++)
        hottest = hits[i] > hottest ? hits[i] : hottest;
    for (int i = 0; i < 10; i++)
        first_ten += hits[i];
    assert_true(hottest > 10 * 100000 / RECORDS);   /* skewed: ten times the mean */
    assert_true(first_ten < 100000 / 10);           /* scrambled: not the low numbers */
}

/* Latest: the newest records are the hot ones, inserts extend the range once acknowledged
 * (in any order), never before. */
static void latest_follows_inserts(void **state)
{
    (void)state;
    struct ycsb_rng r = { 11 };
    ycsb_plan_init(&plan, ycsb_workload("d"), 1000, 1000);
    unsigned newest = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t k = ycsb_next_keynum(&plan, &r);
        assert_true(k < 1000);
        newest += k >= 990;
    }
    assert_true(newest > 10000 / 4);
    uint64_t a = ycsb_insert_keynum(&plan), b = ycsb_insert_keynum(&plan);
    assert_int_equal(a, 1000);
    assert_int_equal(b, 1001);
    ycsb_insert_done(&plan, b);            /* out of order: 1000 is still in flight */
    assert_int_equal(atomic_load(&plan.acked), 1000);
    ycsb_insert_done(&plan, a);
    assert_int_equal(atomic_load(&plan.acked), 1002);
    unsigned seen_new = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t k = ycsb_next_keynum(&plan, &r);
        assert_true(k < 1002);
        seen_new += k >= 1000;
    }
    assert_true(seen_new > 0);
}

static void scans_and_values(void **state)
{
    (void)state;
    struct ycsb_rng r = { 5 };
    char v[YCSB_FIELD_LEN + 1];
    ycsb_plan_init(&plan, ycsb_workload("e"), 100, 100);
    unsigned lo = 1000, hi = 0;
    for (int i = 0; i < 10000; i++) {
        unsigned n = ycsb_scan_length(&plan, &r);
        lo = n < lo ? n : lo;
        hi = n > hi ? n : hi;
    }
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 100);
    ycsb_value(&r, v);
    assert_int_equal(strlen(v), YCSB_FIELD_LEN);
    for (int i = 0; i < YCSB_FIELD_LEN; i++)
        assert_true(v[i] >= ' ' && v[i] <= '~');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workloads_have_ycsb_mixes),
        cmocka_unit_test(keys_are_ycsb_names),
        cmocka_unit_test(zipfian_is_skewed),
        cmocka_unit_test(run_reads_only_existing_records),
        cmocka_unit_test(latest_follows_inserts),
        cmocka_unit_test(scans_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
