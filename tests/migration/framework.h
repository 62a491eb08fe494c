/*
 * framework.h: what every migration case stands on, apart from the cases themselves
 * (cases.c): a lab whose guest runs and answers (brought up or restored from its
 * snapshot when it does not), one `fmlab migrate` run with its log kept, the result.json
 * it wrote read with jansson, and TAP output (one line per assertion; a failed case
 * prints where its log and result are). Everything runs `fmlab` as an argv.
 */
#ifndef FMLAB_TEST_MIGRATION_FRAMEWORK_H
#define FMLAB_TEST_MIGRATION_FRAMEWORK_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct lab {
    const char *fmlab;          /* path of the runner */
    char logs[PATH_MAX];        /* RESULTS_DIR/test-migration-<time>: one log per case */
    int assertions, failures;
    bool case_failed;           /* the current case has a "not ok" */
};

/* One `fmlab migrate` (or another fmlab command a case runs and judges). */
struct run {
    const char *name;
    int rc;                     /* exit status, -1 if it could not run */
    double seconds;
    char log[PATH_MAX];         /* its whole output */
    char result_path[PATH_MAX]; /* "[migrate] result: PATH", "" if none */
    json_t *result;             /* result.json, NULL if none or unreadable */
};

/* TAP: "ok - ..." or "not ok - ..."; counts both. Returns ok. */
bool tap(struct lab *l, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "# ..." */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run fmlab with the NULL-terminated words after it; its stdout (and stderr) into out.
 * Exit status, or -1. */
int fmlab_capture(struct lab *l, char *out, size_t len, int timeout_s, ...) __attribute__((sentinel));
/* A config value (fmlab config get KEY) into out; false if there is none. */
bool lab_config(struct lab *l, const char *key, char *out, size_t len);
/* fmlab status --json, parsed (NULL if the runner said nothing parsable). */
json_t *lab_status(struct lab *l);
/* redis in the guest answers PING from backup (redis-cli there, within 20 s). */
bool lab_redis_answers(struct lab *l);
/* The guest runs and redis answers PONG from backup; else fmlab down + fmlab up (a
 * restore of the lab's snapshot when it has one), after keeping the end of the guest's
 * console in the case logs. */
bool lab_ready(struct lab *l);
/* fmlab up --guest-only, then the guest must be running. */
bool lab_guest_back(struct lab *l);

/* fmlab migrate ARGS (NULL-terminated) for case name: output streamed as comments and
 * kept in the case's log, result.json read. interrupt_after_s > 0: SIGINT to its process
 * group after that many seconds (Ctrl-C), output only in the log. */
void run_migrate(struct lab *l, struct run *r, const char *name, const char *const *args, int interrupt_after_s);
void run_free(struct run *r);
/* After a case: if it had a "not ok", where its log and result are. */
void case_end(struct lab *l, const struct run *r);

/* result.json by dotted path ("oracles.memory.pass", keys may hold '-'). */
json_t *jat(const json_t *root, const char *path);
double jnum(const json_t *root, const char *path);          /* NAN if not a number */
double jnum_or(const json_t *root, const char *path, double otherwise);
const char *jstr(const json_t *root, const char *path);     /* "" if not a string */
bool jtrue(const json_t *root, const char *path);           /* exactly true */
size_t jlen(const json_t *root, const char *path);          /* array size, 0 if none */
/* Whether s matches the POSIX extended regex re. */
bool matches(const char *s, const char *re);

#endif
