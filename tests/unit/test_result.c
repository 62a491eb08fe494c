/*
 * test_result.c: judging a migration's result (lab/result.c): expected statuses per
 * fault, verdicts with their reasons, the summary line, and median/min/max of repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "result.h"

static json_t *run(const char *status, int mem, int app, int live, double total, double down)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:i, s:{s:{s:b}, s:{s:b}, s:{s:b}}, s:{s:f}}",
                     "mode", "precopy", "from", "src", "to", "dst", "load", "redis", "status", status,
                     "total_time_ms", total, "downtime_ms", down, "transferred_bytes", 300.0 * (1 << 20),
                     "dirty_sync_count", 4, "oracles", "memory", "pass", mem, "application", "pass", app,
                     "liveness", "pass", live, "client", "max_gap_ms", down * 3);
}

static void expected_statuses(void **state)
{
    (void)state;
    assert_string_equal(result_expected_status("precopy", NULL, NULL), "completed");
    assert_string_equal(result_expected_status("precopy", "dst-kill", NULL), "failed");
    assert_string_equal(result_expected_status("precopy", "link-down", NULL), "failed|stalled");
    assert_string_equal(result_expected_status("postcopy", "link-down", NULL), "completed");
    assert_string_equal(result_expected_status("precopy", NULL, "not-converged"), "not-converged");
    assert_string_equal(result_expected_status("shm", "dst-kill", NULL), "failed");
    assert_string_equal(result_expected_status("shm", "image-header", NULL), "failed");
    assert_string_equal(result_expected_status("shm", "src-kill-sync", NULL), "source-lost");
    assert_true(result_status_matches("failed|stalled", "stalled"));
    assert_false(result_status_matches("failed|stalled", "stall"));
    assert_false(result_status_matches("completed", ""));
    assert_false(result_status_matches("completed", NULL));
}

static void verdicts_name_their_reasons(void **state)
{
    (void)state;
    json_t *ok = run("completed", 1, 1, 1, 7000, 120);
    assert_true(result_judge(ok, "completed", false));
    assert_string_equal(json_string_value(json_object_get(ok, "verdict")), "pass");
    assert_int_equal(json_array_size(json_object_get(ok, "reasons")), 0);

    json_t *lost = run("completed", 1, 0, 1, 7000, 120);
    assert_false(result_judge(lost, "completed", false));
    assert_string_equal(json_string_value(json_array_get(json_object_get(lost, "reasons"), 0)),
                        "application oracle failed");

    json_t *wrong = run("completed", 1, 1, 1, 7000, 120);   /* a dst-kill run must not complete */
    assert_false(result_judge(wrong, "failed", false));
    assert_string_equal(json_string_value(json_array_get(json_object_get(wrong, "reasons"), 0)),
                        "status completed, expected failed");
    /* an oracle's own reason is carried into the verdict */
    json_t *why = run("completed", 1, 0, 1, 7000, 120);
    json_object_set_new(json_object_get(json_object_get(why, "oracles"), "application"), "reason",
                        json_string("1 lost keys, 0 wrong values"));
    assert_false(result_judge(why, "completed", false));
    assert_string_equal(json_string_value(json_array_get(json_object_get(why, "reasons"), 0)),
                        "application oracle failed: 1 lost keys, 0 wrong values");
    json_decref(ok), json_decref(lost), json_decref(wrong), json_decref(why);
}

/* A run whose fault must lose the guest: the source gone, the destination's QEMU up but
 * the guest's writer frozen at w1 -> w2. */
static json_t *source_killed(long long w1, long long w2)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:b}, s:{s:b}, s:{s:b, s:s, s:s, s:I, s:I}}}", "mode",
                     "postcopy", "from", "src", "to", "dst", "load", "redis", "status", "source-lost", "oracles",
                     "memory", "pass", 0, "application", "pass", 0, "liveness", "pass", 0, "source_status", "gone",
                     "destination_status", "running", "writes_before", (json_int_t)w1, "writes_after",
                     (json_int_t)w2);
}

static void lost_as_expected(void **state)
{
    (void)state;
    assert_true(result_expects_lost("postcopy", "src-kill-after-switch"));
    assert_true(result_expects_lost("shm", "src-kill-sync"));
    assert_false(result_expects_lost("precopy", "src-kill-after-switch"));
    assert_false(result_expects_lost("postcopy", NULL));

    json_t *lost = source_killed(5000, 5000);
    assert_true(result_judge(lost, "source-lost", true));
    assert_string_equal(json_string_value(json_object_get(lost, "outcome")), "lost, as expected");
    char line[512];
    result_summary(lost, line, sizeof(line));
    assert_non_null(strstr(line, "-> PASS (lost, as expected)"));

    /* the negative: a guest whose writer still advances was not lost */
    json_t *alive = source_killed(5000, 7000);
    assert_false(result_judge(alive, "source-lost", true));
    assert_string_equal(json_string_value(json_array_get(json_object_get(alive, "reasons"), 0)),
                        "the guest still runs on the destination (its writer advanced 5000 -> 7000), expected lost");
    /* and without the expectation the same lost guest fails its oracles */
    json_t *unexpected = source_killed(5000, 5000);
    assert_false(result_judge(unexpected, "source-lost", false));
    json_decref(lost), json_decref(alive), json_decref(unexpected);
}

static void summary_line(void **state)
{
    (void)state;
    char line[512];
    json_t *r = run("completed", 1, 1, 1, 7250, 120);
    result_judge(r, "completed", false);
    result_summary(r, line, sizeof(line));
    assert_string_equal(line, "precopy src->dst (redis load): completed in 7.2 s, downtime 120 ms (client saw "
                              "360 ms), 300 MiB sent, 4 dirty syncs; oracles: memory pass, application pass, "
                              "liveness pass -> PASS");
    /* a postcopy run whose precopy converged first says so: it is not a postcopy number */
    json_object_set_new(r, "mode", json_string("postcopy"));
    result_summary(r, line, sizeof(line));
    assert_non_null(strstr(line, "postcopy src->dst (redis load): completed as precopy (converged before the switch) in"));
    json_object_set_new(r, "postcopy_started", json_true());
    result_summary(r, line, sizeof(line));
    assert_non_null(strstr(line, "postcopy src->dst (redis load): completed in 7.2 s"));
    json_decref(r);
}

static void repeat_statistics(void **state)
{
    (void)state;
    double v[] = { 5, 1, 4, 2 };
    struct stat3 s;
    stats_of(v, 4, &s);
    assert_true(s.median == 3 && s.min == 1 && s.max == 5);
    stats_of(v, 3, &s);
    assert_true(s.median == 2);

    json_t *runs[3] = { run("completed", 1, 1, 1, 7000, 100), run("completed", 1, 1, 1, 9000, 300),
                        run("failed", 1, 1, 1, 1000, 0) };
    for (int i = 0; i < 3; i++)
        result_judge(runs[i], "completed", false);
    json_t *sum = result_repeat_summary(runs, 3);
    assert_int_equal(json_integer_value(json_object_get(sum, "runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(sum, "passed")), 2);
    json_t *down = json_object_get(sum, "downtime_ms");   /* failed runs do not count */
    assert_true(json_number_value(json_object_get(down, "median")) == 200);
    assert_true(json_number_value(json_object_get(down, "max")) == 300);
    assert_true(json_number_value(json_object_get(json_object_get(sum, "max_gap_ms"), "min")) == 300);
    json_decref(sum);
    for (int i = 0; i < 3; i++)
        json_decref(runs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expected_statuses),
        cmocka_unit_test(verdicts_name_their_reasons),
        cmocka_unit_test(lost_as_expected),
        cmocka_unit_test(summary_line),
        cmocka_unit_test(repeat_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
