/*
 * cmd_ycsb.c: `fmlab ycsb --workload a..f`: YCSB's core workloads against the guest's
 * redis instances (one per vCPU), run by the control plane on backup (fmlab-control ycsb,
 * lab/control/ycsb.c) the way the study ran YCSB from its client machine. Streams YCSB's
 * summary as it comes and keeps the whole result (per operation, per second) in
 * RESULTS_DIR/<time>-ycsb-<w>/result.json. Records, operations and threads come from
 * config.txt (YCSB_*) unless given.
 */
#include "cgroup.h"
#include "fmlab.h"
#include "host.h"
#include "lab.h"
#include "migrate.h"
#include "proc.h"
#include "result.h"

#include <getopt.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define REMOTE_JSON "/tmp/fmlab-ycsb.json"
#define REMOTE_TIMELINE "/tmp/fmlab-ycsb-timeline.csv"

void usage_ycsb(void)
{
    printf("usage: fmlab ycsb --workload a|b|c|d|e|f [--phase load|run|both] [--records N]\n"
           "                  [--operations N] [--threads N] [--max-seconds S] [--timeline]\n"
           "                  [--port N] [--store redis|memcached]\n"
           "Runs YCSB workload W (YCSB's mixes and distributions, 10 fields of 100 bytes) from\n"
           "backup against the guest's redis instances: load (insert the records), run (the\n"
           "operations), or both (default). Prints YCSB's summary; the result goes to\n"
           "RESULTS_DIR/<time>-ycsb-<w>/result.json. Defaults: YCSB_RECORDS, YCSB_OPERATIONS,\n"
           "YCSB_THREADS in config.txt. --timeline also keeps every request of the run phase\n"
           "(ms since the run began, operation, latency, ok) in timeline.csv beside it: what\n"
           "fmlab plot draws, with the window of a migration.json put in the same folder.\n"
           "--port N: one redis instance on port N instead of the guest's GUEST_VCPUS ones from\n"
           "REDIS_BASE_PORT (make bench: a redis of its own beside the one fmlab migrate checks).\n"
           "--store memcached drives the guest's memcached instances (MEMCACHED_BASE_PORT) the way\n"
           "YCSB's memcached binding does (no scans: workload e is refused; a load first\n"
           "empties them with flush_all, since YCSB's add refuses a key that exists).\n");
}

struct ycsb_cli {
    const char *workload, *phase, *store;
    long records, operations, threads, max_seconds, port;
    bool timeline;
};

static int parse(int argc, char **argv, struct ycsb_cli *o)
{
    static const struct option longopts[] = {
        { "workload", 1, 0, 'w' }, { "phase", 1, 0, 'p' }, { "records", 1, 0, 'n' },
        { "operations", 1, 0, 'o' }, { "threads", 1, 0, 't' }, { "max-seconds", 1, 0, 's' },
        { "timeline", 0, 0, 'l' }, { "port", 1, 0, 'P' }, { "store", 1, 0, 'S' }, { 0, 0, 0, 0 } };
    *o = (struct ycsb_cli){ .phase = "both", .store = "redis", .records = -1, .operations = -1, .threads = -1, .max_seconds = 0 };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        long v = optarg ? strtol(optarg, &end, 10) : 0;
        if (c != 'w' && c != 'p' && c != 'l' && c != 'S' && (!end || *end || v <= 0)) {
            fprintf(stderr, "fmlab ycsb: %s needs a positive number, not '%s'\n", argv[optind - 1], optarg ? optarg : "");
            return -1;
        }
        switch (c) {
        case 'w': o->workload = optarg; break;
        case 'p': o->phase = optarg; break;
        case 'n': o->records = v; break;
        case 'o': o->operations = v; break;
        case 't': o->threads = v; break;
        case 's': o->max_seconds = v; break;
        case 'l': o->timeline = true; break;
        case 'P': o->port = v; break;
        case 'S': o->store = optarg; break;
        default: return -1;
        }
    }
    if (!o->workload || strlen(o->workload) != 1 || !strchr("abcdefABCDEF", o->workload[0])) {
        fprintf(stderr, "fmlab ycsb: --workload is one of a, b, c, d, e, f\n");
        return -1;
    }
    if (strcmp(o->store, "redis") && strcmp(o->store, "memcached")) {
        fprintf(stderr, "fmlab ycsb: --store is redis or memcached, not '%s'\n", o->store);
        return -1;
    }
    if (strcmp(o->store, "memcached") == 0 && tolower((unsigned char)o->workload[0]) == 'e') {
        fprintf(stderr, "fmlab ycsb: workload e scans; memcached (and YCSB's binding for it) has no scans\n");
        return -1;
    }
    if (o->port > 65535) {
        fprintf(stderr, "fmlab ycsb: --port %ld is not a TCP port\n", o->port);
        return -1;
    }
    if (strcmp(o->phase, "load") && strcmp(o->phase, "run") && strcmp(o->phase, "both")) {
        fprintf(stderr, "fmlab ycsb: --phase is load, run or both, not '%s'\n", o->phase);
        return -1;
    }
    return 0;
}

/* The controller's command line on backup: numbers and names checked above, nothing a
 * shell would read differently. */
static void remote_command(const struct config *cfg, const struct ycsb_cli *o, char *out, size_t len)
{
    long records = o->records > 0 ? o->records : (long)config_get_uint(cfg, "YCSB_RECORDS");
    long ops = o->operations > 0 ? o->operations : (long)config_get_uint(cfg, "YCSB_OPERATIONS");
    long threads = o->threads > 0 ? o->threads : (long)config_get_uint(cfg, "YCSB_THREADS");
    char port[24], instances[24];
    const char *base = strcmp(o->store, "memcached") == 0 ? "MEMCACHED_BASE_PORT" : "REDIS_BASE_PORT";
    snprintf(port, sizeof(port), "%ld", o->port ? o->port : (long)config_get_uint(cfg, base));
    snprintf(instances, sizeof(instances), "%s", o->port ? "1" : config_get(cfg, "GUEST_VCPUS"));
    snprintf(out, len, CONTROL_PATH " ycsb --workload %c --phase %s --store %s --vm %s --port %s --instances %s "
             "--threads %ld --records %ld --operations %ld --max-seconds %ld --json " REMOTE_JSON "%s 2>&1",
             o->workload[0], o->phase, o->store, config_get(cfg, "VM_IP"), port, instances, threads, records, ops, o->max_seconds,
             o->timeline ? " --timeline " REMOTE_TIMELINE : "");
}

/* backup's per-request timeline into dir/timeline.csv. */
static int keep_timeline(const struct config *cfg, const char *dir)
{
    size_t cap = 64 << 20;
    char path[PATH_MAX], *out = malloc(cap);
    int status = -1;
    if (!out || host_run(cfg, "backup", "cat " REMOTE_TIMELINE, 120, out, cap, &status) != 0 || status != 0) {
        fprintf(stderr, "fmlab ycsb: no timeline on backup (%s)\n", REMOTE_TIMELINE);
        free(out);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    FILE *f = fopen(path, "w");
    int rc = f && fputs(out, f) >= 0 ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc != 0 || strlen(out) + 1 >= cap)
        fprintf(stderr, "fmlab ycsb: %s: %s\n", path, rc ? "cannot write it" : "cut at 64 MiB");
    free(out);
    return rc;
}

/* backup's result.json into RESULTS_DIR. */
static int keep_result(const struct config *cfg, const struct ycsb_cli *o)
{
    char tag[16], dir[PATH_MAX / 2], path[PATH_MAX], *out = malloc(16 << 20);
    int status = -1;
    if (!out || host_run(cfg, "backup", "cat " REMOTE_JSON, 60, out, 16 << 20, &status) != 0 || status != 0) {
        fprintf(stderr, "fmlab ycsb: no result on backup (%s)\n", REMOTE_JSON);
        free(out);
        return -1;
    }
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    snprintf(tag, sizeof(tag), "ycsb-%s%c", strcmp(o->store, "memcached") == 0 ? "mc-" : "", o->workload[0]);
    int rc = !j || result_dir_make(cfg, tag, dir, sizeof(dir)) != 0 ? -1 : 0;
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/result.json", dir);
        rc = result_write_json(path, j);
        if (rc == 0 && o->timeline)
            rc = keep_timeline(cfg, dir);
        if (rc == 0)
            printf("[ycsb] result: %s\n", path);
    }
    json_decref(j);
    return rc;
}

int cmd_ycsb(int argc, char **argv)
{
    struct config cfg;
    struct ycsb_cli o;
    struct host_ssh s;
    char err[512], cmd[1024];

    if (parse(argc, argv, &o))
        return 2;
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    if (lab_cgroup_join(false, err, sizeof(err)) < 0)   /* its ssh belongs to the lab */
        fprintf(stderr, "fmlab ycsb: warning: %s\n", err);
    if (control_push(&cfg, err, sizeof(err))) {
        fprintf(stderr, "fmlab ycsb: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    remote_command(&cfg, &o, cmd, sizeof(cmd));
    host_ssh_argv(&cfg, lab_find_host("backup"), cmd, 24 * 3600, &s);
    fflush(stdout);
    int rc = proc_run(s.argv);
    host_ssh_free(&s);
    if (rc != 0)
        fprintf(stderr, "fmlab ycsb: the workload on backup failed (exit %d)\n", rc);
    else if (keep_result(&cfg, &o) != 0)
        rc = 1;
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
