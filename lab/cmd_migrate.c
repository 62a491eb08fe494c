/*
 * cmd_migrate.c: `fmlab migrate`: migrate the redis guest between src and dst, check
 * the oracles, and write results/<timestamp>-<mode>/result.json plus a one-line
 * summary per run; --repeat N alternates direction (src->dst, dst->src, ...) and
 * reports median/min/max. Exit 0 only when every run passed.
 */
#include "fmlab.h"
#include "alloc.h"
#include "cgroup.h"
#include "lab.h"
#include "migrate.h"
#include "result.h"
#include "values.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void usage_migrate(void)
{
    printf("usage: fmlab migrate --mode precopy|postcopy|shm [--load redis|memory|idle] [--repeat N]\n"
           "                     [--fault dst-kill|dst-kill-wait|link-down|src-kill-after-switch|src-kill-sync|\n"
           "                              image-header|image-devstate] [--expect STATUS]\n"
           "                     [--timeout S] [--mem-mib N] [--mem-rate PAGES_PER_S] [--preload KEYS]\n"
           "                     [--postcopy-delay MS] [--max-bandwidth BYTES_PER_S] [--downtime-limit MS]\n"
           "                     [--postcopy-bandwidth BYTES_PER_S]\n"
           "                     [--period-us N] [--write-through S] [--dirty-tracking auto|fmsync|stock]\n"
           "                     [--granularity region|page]\n"
           "                     [--dst-ram pool|copy|promote] [--dst-wait on|off] [--promote-bandwidth BYTES_PER_S]\n"
           "                     [--postcopy-preempt on|off] [--observe S] [--oracle-fault stale-page|lost-key|changed-value|\n"
           "                                                changed-digest|two-copies]\n"
           "Migrate the guest from the host it runs on (src or dst) to the other, driven by the\n"
           "control plane on backup; check the memory, application and liveness oracles; write\n"
           "RESULTS_DIR/<timestamp>-<mode>/result.json. Defaults come from config.txt.\n"
           "--expect not-converged: the run passes when precopy cannot converge and the guest\n"
           "stays on its source (e.g. --load memory).\n"
           "--oracle-fault: after the migration, before the oracles look, do one wrong they must\n"
           "catch (a page made stale in the guest; an acked key deleted or changed, or another key\n"
           "changed, in its redis; the source resumed beside the destination): the run must fail,\n"
           "its reasons naming the oracle. The oracles' negative cases (make test-migration).\n");
}

static long number(const char *opt, const char *v, int *bad)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 0) {
        fprintf(stderr, "fmlab migrate: %s wants a non-negative number, not '%s'\n", opt, v);
        *bad = 1;
    }
    return n;
}

static int parse(int argc, char **argv, struct migrate_opts *o, long *repeat)
{
    static const struct option longopts[] = {
        { "mode", 1, 0, 'm' }, { "load", 1, 0, 'l' }, { "repeat", 1, 0, 'n' }, { "fault", 1, 0, 'f' },
        { "expect", 1, 0, 'e' }, { "timeout", 1, 0, 't' }, { "mem-mib", 1, 0, 'M' }, { "mem-rate", 1, 0, 'R' },
        { "preload", 1, 0, 'k' }, { "postcopy-delay", 1, 0, 'D' }, { "max-bandwidth", 1, 0, 'b' },
        { "downtime-limit", 1, 0, 'd' }, { "period-us", 1, 0, 'u' }, { "write-through", 1, 0, 'w' },
        { "dirty-tracking", 1, 0, 'y' }, { "granularity", 1, 0, 'g' }, { "dst-ram", 1, 0, 'r' }, { "dst-wait", 1, 0, 'W' },
        { "promote-bandwidth", 1, 0, 'B' }, { "observe", 1, 0, 'O' }, { "oracle-fault", 1, 0, 'Q' }, { "postcopy-preempt", 1, 0, 'P' },
        { "postcopy-bandwidth", 1, 0, 'c' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 } };
    int c, bad = 0;
    *o = (struct migrate_opts){ .load = "redis", .timeout_s = -1, .mem_mib = -1, .mem_rate = -1, .preload = -1,
                                .postcopy_delay_ms = -1,
                                .max_bandwidth = -1, .downtime_limit_ms = -1, .period_us = -1, .postcopy_bandwidth = -1,
                                .write_through_s = -1, .promote_bandwidth = -1 };
    *repeat = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->mode = optarg; break;
        case 'l': o->load = optarg; break;
        case 'n': *repeat = number("--repeat", optarg, &bad); break;
        case 'f': o->fault = optarg; break;
        case 'e': o->expect = optarg; break;
        case 't': o->timeout_s = number("--timeout", optarg, &bad); break;
        case 'M': o->mem_mib = number("--mem-mib", optarg, &bad); break;
        case 'R': o->mem_rate = number("--mem-rate", optarg, &bad); break;
        case 'k': o->preload = number("--preload", optarg, &bad); break;
        case 'D': o->postcopy_delay_ms = number("--postcopy-delay", optarg, &bad); break;
        case 'b': o->max_bandwidth = number("--max-bandwidth", optarg, &bad); break;
        case 'c': o->postcopy_bandwidth = number("--postcopy-bandwidth", optarg, &bad); break;
        case 'd': o->downtime_limit_ms = number("--downtime-limit", optarg, &bad); break;
        case 'u': o->period_us = number("--period-us", optarg, &bad); break;
        case 'w': o->write_through_s = number("--write-through", optarg, &bad); break;
        case 'y': o->dirty_tracking = optarg; break;
        case 'g': o->granularity = optarg; break;
        case 'r': o->dst_ram = optarg; break;
        case 'W': o->dst_wait = optarg; break;
        case 'B': o->promote_bandwidth = number("--promote-bandwidth", optarg, &bad); break;
        case 'O': o->observe_s = number("--observe", optarg, &bad); break;
        case 'Q': o->oracle_fault = optarg; break;
        case 'P': o->postcopy_preempt = optarg; break;
        case 'h': usage_migrate(); exit(0);
        default: return -1;
        }
    }
    if (!o->mode || !value_in(o->mode, "precopy|postcopy|shm")) {
        fprintf(stderr, "fmlab migrate: --mode must be precopy, postcopy or shm\n");
        return -1;
    }
    if (o->granularity && !value_in(o->granularity, "region|page")) {
        fprintf(stderr, "fmlab migrate: --granularity must be region or page\n");
        return -1;
    }
    if (o->dirty_tracking && !value_in(o->dirty_tracking, "auto|fmsync|stock")) {
        fprintf(stderr, "fmlab migrate: --dirty-tracking must be auto, fmsync or stock\n");
        return -1;
    }
    if (o->dst_ram && !value_in(o->dst_ram, "pool|copy|promote")) {
        fprintf(stderr, "fmlab migrate: --dst-ram must be pool, copy or promote, not '%s'\n", o->dst_ram);
        return -1;
    }
    if (o->dst_wait && !value_in(o->dst_wait, "on|off")) {
        fprintf(stderr, "fmlab migrate: --dst-wait must be on or off, not '%s'\n", o->dst_wait);
        return -1;
    }
    if (strcmp(o->mode, "shm") == 0 && o->period_us == 0) {
        fprintf(stderr, "fmlab migrate: --period-us must be at least 1\n");
        return -1;
    }
    if (o->oracle_fault && !value_in(o->oracle_fault, "stale-page|lost-key|changed-value|changed-digest|two-copies")) {
        fprintf(stderr, "fmlab migrate: --oracle-fault must be stale-page, lost-key, changed-value, changed-digest "
                        "or two-copies, not '%s'\n", o->oracle_fault);
        return -1;
    }
    if (o->postcopy_preempt && !value_in(o->postcopy_preempt, "on|off")) {
        fprintf(stderr, "fmlab migrate: --postcopy-preempt must be on or off, not '%s'\n", o->postcopy_preempt);
        return -1;
    }
    if (!value_in(o->load, "redis|memory|idle")) {
        fprintf(stderr, "fmlab migrate: --load must be redis, memory or idle, not '%s'\n", o->load);
        return -1;
    }
    bool shm = strcmp(o->mode, "shm") == 0;
    if (o->fault && !value_in(o->fault, shm ? "dst-kill|dst-kill-wait|src-kill-sync|image-header|image-devstate"
                                          : "dst-kill|link-down|src-kill-after-switch")) {
        fprintf(stderr, "fmlab migrate: --fault must be %s with --mode %s, not '%s'\n",
                shm ? "dst-kill, dst-kill-wait, src-kill-sync, image-header or image-devstate"
                    : "dst-kill, link-down or src-kill-after-switch", o->mode, o->fault);
        return -1;
    }
    if (o->fault && strcmp(o->fault, "src-kill-after-switch") == 0 && strcmp(o->mode, "postcopy") != 0) {
        fprintf(stderr, "fmlab migrate: --fault src-kill-after-switch needs --mode postcopy\n");
        return -1;
    }
    if (*repeat < 1 || (o->mem_mib == 0)) {
        fprintf(stderr, "fmlab migrate: --repeat and --mem-mib must be at least 1\n");
        return -1;
    }
    return bad ? -1 : 0;
}

static void print_stats(json_t *sum)
{
    const char *key;
    json_t *v;
    printf("[migrate] %lld of %lld runs passed\n", (long long)json_integer_value(json_object_get(sum, "passed")),
           (long long)json_integer_value(json_object_get(sum, "runs")));
    json_object_foreach(sum, key, v) {
        if (json_is_object(v))
            printf("[migrate]   %-18s median %.1f  min %.1f  max %.1f  (n=%lld)\n", key,
                   json_number_value(json_object_get(v, "median")), json_number_value(json_object_get(v, "min")),
                   json_number_value(json_object_get(v, "max")), (long long)json_integer_value(json_object_get(v, "n")));
    }
}

/* One run: migrate, write result.json, print the summary. 0 if it passed. */
static int run_one(const struct config *cfg, const struct migrate_opts *o, json_t **out)
{
    char err[1024], dir[PATH_MAX / 2], path[PATH_MAX], line[1024];

    *out = NULL;
    json_t *r = migrate_once(cfg, o, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "fmlab migrate: %s\n", err);
        return 1;
    }
    if (result_dir_make(cfg, o->mode, dir, sizeof(dir)) == 0) {
        snprintf(path, sizeof(path), "%s/result.json", dir);
        if (result_write_json(path, r) == 0)
            json_object_set_new(r, "result_file", json_string(path));
    }
    result_summary(r, line, sizeof(line));
    printf("[migrate] %s\n", line);
    json_t *reasons = json_object_get(r, "reasons");
    for (size_t i = 0; i < json_array_size(reasons); i++)
        printf("[migrate]   because: %s\n", json_string_value(json_array_get(reasons, i)));
    printf("[migrate] result: %s\n", json_string_value(json_object_get(r, "result_file")) ?: "(not written)");
    fflush(stdout);
    *out = r;
    return strcmp(json_string_value(json_object_get(r, "verdict")) ?: "", "pass") == 0 ? 0 : 1;
}

int cmd_migrate(int argc, char **argv)
{
    struct migrate_opts o;
    struct config cfg;
    char err[512], dir[PATH_MAX / 2], path[PATH_MAX];
    long repeat;

    if (parse(argc, argv, &o, &repeat) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* progress lines as they happen, also into a pipe */
    lab_catch_signals();
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    int lock = lab_lock(&cfg, err, sizeof(err));
    if (lock < 0) {
        fprintf(stderr, "fmlab migrate: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    /* the ssh to the controller belongs to the lab: down kills it if we are SIGKILLed */
    if (lab_cgroup_join(false, err, sizeof(err)) < 0)
        fprintf(stderr, "fmlab migrate: warning: %s\n", err);
    json_t **runs = xcalloc((size_t)repeat, sizeof(*runs));
    int failed = 0;
    size_t done = 0;
    for (long i = 0; i < repeat && !lab_interrupted; i++) {
        if (repeat > 1)
            printf("[migrate] run %ld of %ld\n", i + 1, repeat);
        failed |= run_one(&cfg, &o, &runs[done]);
        if (!runs[done])
            break;   /* the lab is not in a state to go on */
        done++;
    }
    if (repeat > 1 && done > 0) {
        json_t *sum = result_repeat_summary(runs, done);
        print_stats(sum);
        char tag[64];
        snprintf(tag, sizeof(tag), "%s-x%ld", o.mode, repeat);
        if (result_dir_make(&cfg, tag, dir, sizeof(dir)) == 0) {
            snprintf(path, sizeof(path), "%s/summary.json", dir);
            json_t *files = json_array();
            for (size_t i = 0; i < done; i++)
                json_array_append(files, json_object_get(runs[i], "result_file"));
            json_object_set_new(sum, "results", files);
            if (result_write_json(path, sum) == 0)
                printf("[migrate] summary: %s\n", path);
        }
        json_decref(sum);
    }
    for (size_t i = 0; i < done; i++)
        json_decref(runs[i]);
    free(runs);
    close(lock);
    config_free(&cfg);
    return lab_interrupted ? 130 : failed || done < (size_t)repeat ? 1 : 0;
}
