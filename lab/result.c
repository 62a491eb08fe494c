/*
 * result.c: what a migration run means. The controller on backup measures; this file
 * decides pass or fail against what was expected (a clean run must complete, a killed
 * destination must fail with the guest still on the source, a guest that cannot
 * converge must be cancelled), writes the one-line summary users quote, and reduces
 * repeated runs to median/min/max.
 */
#include "result.h"
#include "values.h"
#include "alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *result_expected_status(const char *mode, const char *fault, const char *expect)
{
    if (expect && *expect)
        return expect;
    if (!fault || !*fault)
        return "completed";
    if (strcmp(fault, "link-down") == 0)   /* postcopy cannot give up: it pauses, then recovers */
        return strcmp(mode, "postcopy") == 0 ? "completed" : "failed|stalled";
    if (strcmp(fault, "src-kill-after-switch") == 0)
        return "postcopy-paused|failed|source-lost";
    if (strcmp(fault, "src-kill-sync") == 0)   /* shm: the image stays "syncing", refused */
        return "source-lost";
    return "failed";
}

bool result_expects_lost(const char *mode, const char *fault)
{
    return fault && ((strcmp(mode, "postcopy") == 0 && strcmp(fault, "src-kill-after-switch") == 0) ||
                     (strcmp(mode, "shm") == 0 && strcmp(fault, "src-kill-sync") == 0));
}

bool result_status_matches(const char *expected, const char *status)
{
    return value_in(status, expected);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The liveness oracle's evidence that the guest runs nowhere: its writer did not
 * advance between the two looks (or nothing answered). */
static bool guest_lost(const json_t *oracles, char *why, size_t len)
{
    const json_t *live = json_object_get(oracles, "liveness");
    json_int_t before = json_integer_value(json_object_get(live, "writes_before"));
    json_int_t after = json_integer_value(json_object_get(live, "writes_after"));
    if (live && after > before && before >= 0) {
        snprintf(why, len, "the guest still runs on the %s (its writer advanced %lld -> %lld), expected lost",
                 strcmp(str(live, "source_status"), "running") == 0 ? "source" : "destination",
                 (long long)before, (long long)after);
        return false;
    }
    return live != NULL;
}

bool result_judge(json_t *r, const char *expected, bool expect_lost)
{
    json_t *reasons = json_array(), *oracles = json_object_get(r, "oracles");
    const char *status = str(r, "status");
    char why[256];

    if (!result_status_matches(expected, status)) {
        snprintf(why, sizeof(why), "status %s, expected %s%s%s", *status ? status : "missing", expected,
                 json_object_get(r, "error") ? ": " : "", str(r, "error"));
        json_array_append_new(reasons, json_string(why));
    }
    const char *names[] = { "memory", "application", "liveness" };
    for (size_t i = 0; i < 3 && !expect_lost; i++) {
        const json_t *oracle = json_object_get(oracles, names[i]);
        if (!json_is_true(json_object_get(oracle, "pass"))) {
            const char *reason = json_string_value(json_object_get(oracle, "reason"));
            snprintf(why, sizeof(why), "%s oracle failed%s%s", names[i], reason ? ": " : "", reason ? reason : "");
            json_array_append_new(reasons, json_string(why));
        }
    }
    if (expect_lost && !guest_lost(oracles, why, sizeof(why)))
        json_array_append_new(reasons, json_string(oracles ? why : "no oracles: cannot tell the guest is lost"));
    bool pass = json_array_size(reasons) == 0;
    if (expect_lost && pass)
        json_object_set_new(r, "outcome", json_string("lost, as expected"));
    json_object_set_new(r, "expected_status", json_string(expected));
    json_object_set_new(r, "verdict", json_string(pass ? "pass" : "fail"));
    json_object_set_new(r, "reasons", reasons);
    return pass;
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static const char *oracle_word(const json_t *r, const char *name)
{
    json_t *o = json_object_get(json_object_get(r, "oracles"), name);
    return !o ? "n/a" : json_is_true(json_object_get(o, "pass")) ? "pass" : "FAIL";
}

void result_summary(const json_t *r, char *out, size_t len)
{
    const json_t *client = json_object_get(r, "client"), *net = json_object_get(r, "network");
    char netword[64] = "";
    if (net)
        snprintf(netword, sizeof(netword), " (network %.1f MiB)", num(net, "source_sent_bytes") / (1 << 20));
    bool shm = strcmp(str(r, "mode"), "shm") == 0;
    bool never_switched = strcmp(str(r, "mode"), "postcopy") == 0 && strcmp(str(r, "status"), "completed") == 0 &&
                          !json_is_true(json_object_get(r, "postcopy_started"));
    snprintf(out, len,
             "%s %s->%s (%s load): %s%s in %.1f s, downtime %.0f ms (client saw %.0f ms), %.0f MiB sent%s, "
             "%.0f %s; oracles: memory %s, application %s, liveness %s -> %s",
             str(r, "mode"), str(r, "from"), str(r, "to"), str(r, "load"), str(r, "status"),
             never_switched ? " as precopy (converged before the switch)" : "", num(r, "total_time_ms") / 1000,
             num(r, "downtime_ms"), num(client, "max_gap_ms"),
             num(r, "transferred_bytes") / (1 << 20), netword,
             shm ? (double)json_array_size(json_object_get(r, "iterations")) : num(r, "dirty_sync_count"),
             shm ? "sync periods" : "dirty syncs", oracle_word(r, "memory"),
             oracle_word(r, "application"), oracle_word(r, "liveness"),
             strcmp(str(r, "verdict"), "pass") == 0 ? (json_object_get(r, "outcome") ? "PASS (lost, as expected)" : "PASS")
                                                   : "FAIL");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sort_doubles(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
}

void stats_of(double *v, size_t n, struct stat3 *s)
{
    sort_doubles(v, n);
    s->min = v[0];
    s->max = v[n - 1];
    s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

json_t *result_repeat_summary(json_t *const *runs, size_t n)
{
    static const char *const metrics[][2] = {
        { "total_time_ms", NULL }, { "downtime_ms", NULL }, { "transferred_bytes", NULL },
        { "setup_time_ms", NULL }, { "dirty_sync_count", NULL }, { "max_gap_ms", "client" },
    };
    json_t *out = json_object();
    double *v = xcalloc(n ? n : 1, sizeof(*v));
    size_t passed = 0;

    for (size_t i = 0; i < n; i++)
        passed += strcmp(str(runs[i], "verdict"), "pass") == 0;
    json_object_set_new(out, "runs", json_integer((json_int_t)n));
    json_object_set_new(out, "passed", json_integer((json_int_t)passed));
    for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *from = metrics[m][1] ? json_object_get(runs[i], metrics[m][1]) : runs[i];
            json_t *x = json_object_get(from, metrics[m][0]);
            if (json_is_number(x) && strcmp(str(runs[i], "status"), "completed") == 0)
                v[k++] = json_number_value(x);
        }
        if (!k)
            continue;
        struct stat3 s;
        stats_of(v, k, &s);
        json_object_set_new(out, metrics[m][0], json_pack("{s:f, s:f, s:f, s:I}", "median", s.median, "min",
                                                          s.min, "max", s.max, "n", (json_int_t)k));
    }
    free(v);
    return out;
}

/* RESULTS_DIR/<UTC timestamp>-<tag>[-k], created; out gets its path. */
int result_dir_make(const struct config *cfg, const char *tag, char *out, size_t len)
{
    char stamp[32];
    time_t now = time(NULL);
    const char *base = config_get(cfg, "RESULTS_DIR");

    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&now));
    if (mkdir(base, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fmlab: cannot create RESULTS_DIR %s: %s\n", base, strerror(errno));
        return -1;
    }
    for (int k = 1; k < 100; k++) {
        if (k == 1)
            snprintf(out, len, "%s/%s-%s", base, stamp, tag);
        else
            snprintf(out, len, "%s/%s-%s-%d", base, stamp, tag, k);
        if (mkdir(out, 0755) == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    fprintf(stderr, "fmlab: cannot create a result directory under %s: %s\n", base, strerror(errno));
    return -1;
}

int result_write_json(const char *path, json_t *j)
{
    if (json_dump_file(j, path, JSON_INDENT(1) | JSON_REAL_PRECISION(6)) != 0) {
        fprintf(stderr, "fmlab: cannot write %s\n", path);
        return -1;
    }
    return 0;
}
