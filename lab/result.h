/* result.h: judging one migration's result.json, its one-line summary, and the
 * median/min/max of repeated runs. Pure functions over jansson objects (unit-tested). */
#ifndef FMLAB_RESULT_H
#define FMLAB_RESULT_H

#include <jansson.h>
#include "config.h"
#include <stdbool.h>
#include <stddef.h>

struct stat3 {
    double median, min, max;
};

/* The statuses a run may end with: "completed" unless a fault or --expect says
 * otherwise ("failed|stalled" for a link cut during precopy, ...). A postcopy whose
 * link was cut must pause and then recover: "completed". */
const char *result_expected_status(const char *mode, const char *fault, const char *expect);
/* Is status one of the '|'-separated names in expected? */
bool result_status_matches(const char *expected, const char *status);
/* Whether the fault must lose the guest: the source killed after postcopy's switch (the
 * destination waits for pages that can never arrive) or during shm's write-through (the
 * image is never complete). */
bool result_expects_lost(const char *mode, const char *fault);
/* Set "expected_status", "verdict" ("pass"/"fail") and "reasons" in r; true if pass.
 * With expect_lost the oracles must show the guest lost (its writer advances nowhere),
 * and "outcome" says "lost, as expected"; otherwise all three oracles must pass. */
bool result_judge(json_t *r, const char *expected, bool expect_lost);
/* "precopy src->dst: completed in 7.2 s, downtime 120 ms (client 450 ms), ... PASS" */
void result_summary(const json_t *r, char *out, size_t len);
/* Median, min and max of n values (n > 0); v is sorted in place. */
void stats_of(double *v, size_t n, struct stat3 *s);
/* v in ascending order. */
void sort_doubles(double *v, size_t n);
/* {"runs": n, "passed": k, "<metric>": {"median","min","max"}, ...} over completed runs. */
json_t *result_repeat_summary(json_t *const *runs, size_t n);

/* RESULTS_DIR/<UTC timestamp>-<tag>[-k], created; out gets its path. 0, or -1 (said). */
int result_dir_make(const struct config *cfg, const char *tag, char *out, size_t len);
/* j as indented JSON at path. 0, or -1 (said). */
int result_write_json(const char *path, json_t *j);

#endif
