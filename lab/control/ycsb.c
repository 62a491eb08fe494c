/*
 * ycsb.c: `fmlab-control ycsb`, a YCSB client for the guest's redis (or memcached)
 * instances, run on backup (the study ran YCSB against one redis per vCPU).
 *
 * It does what ycsb_gen.c decides through a binding (ycsb_db.h: ycsb_redis.c does what
 * YCSB's redis binding does, ycsb_memcached.c its memcached binding); a read-modify-write
 * is a read then an update, timed as one. Records are spread over the instances by record
 * number. Each thread does one request at a time (closed loop, no target rate) and times
 * it on CLOCK_MONOTONIC; a failed request counts as an error with its latency, and the
 * thread reconnects when the connection is lost. Prints YCSB's summary ([OVERALL],
 * [READ], ... lines) on stdout, progress every 10 s on stderr, and with --json/--timeline
 * the numbers per second and every request (time, operation, latency, ok) for a
 * migration's window. SIGTERM ends the current phase early and still reports it.
 */
#include "control.h"
#include "values.h"
#include "alloc.h"
#include "ycsb_db.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECONDS 36000

struct ycsb_opts {
    const struct ycsb_workload *w;
    const struct ycsb_db *db;
    const char *vm_ip, *json_path, *timeline_path;
    unsigned port, instances, threads;
    uint64_t records, operations;
    unsigned max_seconds;   /* 0: until the operations are done */
    bool load, run;
};

struct sample { uint32_t t_ms, latency_us; uint8_t op, ok; };

/* SIGTERM/SIGINT end the phase early, with its summary: a caller stops a run that only
 * has to span another program's window (the shm-sync overhead sweep). */
static volatile sig_atomic_t stop_requested;
static void request_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct lat { uint32_t *us; size_t n, cap; uint64_t errors; };

struct worker {
    struct ycsb_run *run;
    pthread_t thread;
    unsigned id;
    struct ycsb_rng rng;
    void **conn;                    /* one per instance */
    struct lat lat[YCSB_N_OPS];
    struct sample *timeline;
    size_t n_timeline, cap_timeline;
    uint64_t from, count;           /* load: records from, from+threads, ...; run: operations */
};

struct ycsb_run {
    const struct ycsb_opts *o;
    struct ycsb_plan plan;
    double t0;
    _Atomic uint64_t done;
    _Atomic uint32_t per_second[MAX_SECONDS];
    bool loading;
};

/* The connection to keynum's instance, made if there is none. */
static void *conn_for(struct worker *w, uint64_t keynum)
{
    const struct ycsb_opts *o = w->run->o;
    unsigned i = (unsigned)(keynum % o->instances);
    if (!w->conn[i])
        w->conn[i] = o->db->connect(o->vm_ip, o->port + i);
    return w->conn[i];
}

/* After a request on keynum's instance: a lost connection is closed, made again next time. */
static bool done_on(struct worker *w, uint64_t keynum, bool ok, bool gone)
{
    unsigned i = (unsigned)(keynum % w->run->o->instances);
    if (gone) {
        w->run->o->db->close(w->conn[i]);
        w->conn[i] = NULL;
    }
    return ok;
}

static bool do_insert(struct worker *w, uint64_t keynum)
{
    char key[32], values[YCSB_FIELDS][YCSB_FIELD_LEN + 1];
    bool gone = false;
    void *c = conn_for(w, keynum);
    ycsb_key(keynum, key, sizeof(key));
    for (int f = 0; f < YCSB_FIELDS; f++)
        ycsb_value(&w->rng, values[f]);
    return c && done_on(w, keynum, w->run->o->db->insert(c, key, (const char (*)[YCSB_FIELD_LEN + 1])values, &gone),
                        gone);
}

static bool do_read(struct worker *w, uint64_t keynum)
{
    char key[32];
    bool gone = false;
    void *c = conn_for(w, keynum);
    ycsb_key(keynum, key, sizeof(key));
    return c && done_on(w, keynum, w->run->o->db->read(c, key, &gone), gone);
}

static bool do_update(struct worker *w, uint64_t keynum)
{
    char key[32], value[YCSB_FIELD_LEN + 1];
    bool gone = false;
    void *c = conn_for(w, keynum);
    int field = (int)(ycsb_rand(&w->rng) % YCSB_FIELDS);
    ycsb_key(keynum, key, sizeof(key));
    ycsb_value(&w->rng, value);
    return c && done_on(w, keynum, w->run->o->db->update(c, key, field, value, &gone), gone);
}

/* On the start key's instance: its index holds only its own records, the range is theirs. */
static bool do_scan(struct worker *w, uint64_t keynum)
{
    char key[32];
    bool gone = false;
    void *c = conn_for(w, keynum);
    unsigned count = ycsb_scan_length(&w->run->plan, &w->rng);
    ycsb_key(keynum, key, sizeof(key));
    return c && done_on(w, keynum, w->run->o->db->scan(c, key, count, &gone), gone);
}

static void note(struct worker *w, enum ycsb_op op, double start_ms, bool ok)
{
    double end = mono_ms();
    struct lat *l = &w->lat[op];
    uint32_t us = (uint32_t)((end - start_ms) * 1000.0);
    if (l->n == l->cap)
        l->us = xrealloc(l->us, (l->cap = l->cap ? 2 * l->cap : 4096) * sizeof(*l->us));
    l->us[l->n++] = us;
    l->errors += !ok;
    size_t second = (size_t)((end - w->run->t0) / 1000.0);
    if (second < MAX_SECONDS)
        atomic_fetch_add(&w->run->per_second[second], 1);
    atomic_fetch_add(&w->run->done, 1);
    if (w->run->o->timeline_path && !w->run->loading) {
        if (w->n_timeline == w->cap_timeline)
            w->timeline = xrealloc(w->timeline, (w->cap_timeline = w->cap_timeline ? 2 * w->cap_timeline : 4096) *
                                                    sizeof(*w->timeline));
        w->timeline[w->n_timeline++] = (struct sample){ (uint32_t)(start_ms - w->run->t0), us, (uint8_t)op, ok };
    }
}

static void one_operation(struct worker *w)
{
    struct ycsb_plan *p = &w->run->plan;
    enum ycsb_op op = ycsb_next_op(p, &w->rng);
    double start = mono_ms();
    bool ok;
    if (op == YCSB_INSERT) {
        uint64_t k = ycsb_insert_keynum(p);
        ok = do_insert(w, k);
        ycsb_insert_done(p, k);   /* acknowledged either way: YCSB's counter moves on too */
    } else {
        uint64_t k = ycsb_next_keynum(p, &w->rng);
        switch (op) {
        case YCSB_READ: ok = do_read(w, k); break;
        case YCSB_UPDATE: ok = do_update(w, k); break;
        case YCSB_SCAN: ok = do_scan(w, k); break;
        default: ok = do_read(w, k) && do_update(w, k); break;   /* read-modify-write */
        }
    }
    note(w, op, start, ok);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct ycsb_opts *o = w->run->o;
    for (uint64_t i = 0; i < w->count && !stop_requested; i++) {
        if (o->max_seconds && mono_ms() - w->run->t0 > o->max_seconds * 1000.0)
            break;
        if (w->run->loading) {
            double start = mono_ms();
            note(w, YCSB_INSERT, start, do_insert(w, w->from + i * o->threads));
        } else {
            one_operation(w);
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One operation's latencies over every thread, sorted: YCSB's per-operation lines and a
 * JSON object. NULL when no thread did it. */
static json_t *op_summary(struct worker *ws, unsigned n, enum ycsb_op op, const char *phase)
{
    struct lat all = { 0 };
    for (unsigned t = 0; t < n; t++)
        all.n += ws[t].lat[op].n, all.errors += ws[t].lat[op].errors;
    if (!all.n)
        return NULL;
    all.us = xmalloc(all.n * sizeof(*all.us));
    size_t at = 0;
    double sum = 0;
    for (unsigned t = 0; t < n; t++) {
        memcpy(all.us + at, ws[t].lat[op].us, ws[t].lat[op].n * sizeof(*all.us));
        at += ws[t].lat[op].n;
    }
    qsort(all.us, all.n, sizeof(*all.us), cmp_u32);
    for (size_t i = 0; i < all.n; i++)
        sum += all.us[i];
#define PCT(p) all.us[(size_t)((double)(all.n - 1) * (p) / 100.0)]
    const char *name = ycsb_op_names[op];
    printf("[%s%s], Operations, %zu\n", name, phase, all.n);
    printf("[%s%s], AverageLatency(us), %.1f\n", name, phase, sum / (double)all.n);
    printf("[%s%s], MinLatency(us), %u\n", name, phase, all.us[0]);
    printf("[%s%s], MaxLatency(us), %u\n", name, phase, all.us[all.n - 1]);
    printf("[%s%s], 50thPercentileLatency(us), %u\n", name, phase, PCT(50));
    printf("[%s%s], 95thPercentileLatency(us), %u\n", name, phase, PCT(95));
    printf("[%s%s], 99thPercentileLatency(us), %u\n", name, phase, PCT(99));
    printf("[%s%s], Return=OK, %llu\n", name, phase, (unsigned long long)(all.n - all.errors));
    if (all.errors)
        printf("[%s%s], Return=ERROR, %llu\n", name, phase, (unsigned long long)all.errors);
    json_t *j = json_pack("{s:I, s:f, s:i, s:i, s:i, s:i, s:i, s:I}", "operations", (json_int_t)all.n,
                          "avg_us", sum / (double)all.n, "min_us", (int)all.us[0], "max_us", (int)all.us[all.n - 1],
                          "p50_us", (int)PCT(50), "p95_us", (int)PCT(95), "p99_us", (int)PCT(99),
                          "errors", (json_int_t)all.errors);
#undef PCT
    free(all.us);
    return j;
}

static void *progress_main(void *arg)
{
    struct ycsb_run *run = arg;
    uint64_t last = 0;
    for (unsigned s = 10;; s += 10) {
        while (mono_ms() - run->t0 < s * 1000.0)
            if (atomic_load(&run->done) == UINT64_MAX)
                return NULL;
            else
                usleep(100 * 1000);
        uint64_t done = atomic_load(&run->done);
        say("ycsb %s: %u sec: %llu operations; %.1f current ops/sec", run->loading ? "load" : "run", s,
            (unsigned long long)done, (double)(done - last) / 10.0);
        last = done;
    }
}

/* Write the run's every request (ms since the run started, operation, latency, ok). */
static int write_timeline(const char *path, struct worker *ws, unsigned n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "t_ms,op,latency_us,ok\n");
    for (unsigned t = 0; t < n; t++)
        for (size_t i = 0; i < ws[t].n_timeline; i++) {
            const struct sample *s = &ws[t].timeline[i];
            fprintf(f, "%u,%s,%u,%u\n", s->t_ms, ycsb_op_names[s->op], s->latency_us, s->ok);
        }
    return fclose(f);
}

/* Before a load into a store that cannot overwrite: empty every instance. */
static int clear_instances(const struct ycsb_opts *o)
{
    for (unsigned i = 0; o->db->clear && i < o->instances; i++) {
        void *conn = o->db->connect(o->vm_ip, o->port + i);
        bool ok = conn && o->db->clear(conn);
        if (conn)
            o->db->close(conn);
        if (!ok) {
            say("ycsb: cannot empty the %s at %s:%u before the load", o->db->name, o->vm_ip, o->port + i);
            return -1;
        }
    }
    return 0;
}

/* One phase (load or run) with every thread; its summary as JSON. */
static json_t *phase(struct ycsb_run *run, bool loading)
{
    const struct ycsb_opts *o = run->o;
    unsigned n = o->threads;
    struct worker *ws = xcalloc(n, sizeof(*ws));
    pthread_t progress;

    run->loading = loading;
    atomic_store(&run->done, 0);
    for (size_t s = 0; s < MAX_SECONDS; s++)
        atomic_store(&run->per_second[s], 0);
    run->t0 = mono_ms();
    double t0_epoch = epoch_ms();
    uint64_t total = loading ? o->records : o->operations;
    for (unsigned t = 0; t < n; t++) {
        ws[t] = (struct worker){ .run = run, .id = t, .rng = { 0x5eed0000ULL + t * 7919ULL + loading } };
        ws[t].conn = xcalloc(o->instances, sizeof(*ws[t].conn));
        ws[t].from = t;
        ws[t].count = loading ? (total > t ? (total - t + n - 1) / n : 0) : total / n + (t < total % n);
        pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]);
    }
    pthread_create(&progress, NULL, progress_main, run);
    for (unsigned t = 0; t < n; t++)
        pthread_join(ws[t].thread, NULL);
    double ms = mono_ms() - run->t0;
    uint64_t done = atomic_exchange(&run->done, UINT64_MAX);
    pthread_join(progress, NULL);

    const char *tag = loading ? "-LOAD" : "";
    printf("[OVERALL%s], RunTime(ms), %.0f\n", tag, ms);
    printf("[OVERALL%s], Throughput(ops/sec), %.1f\n", tag, (double)done / (ms / 1000.0));
    json_t *ops = json_object(), *seconds = json_array();
    for (int op = 0; op < YCSB_N_OPS; op++) {
        json_t *s = op_summary(ws, n, (enum ycsb_op)op, tag);
        if (s)
            json_object_set_new(ops, ycsb_op_names[op], s);
    }
    for (size_t s = 0; s < MAX_SECONDS && s <= (size_t)(ms / 1000.0); s++)
        json_array_append_new(seconds, json_integer(atomic_load(&run->per_second[s])));
    if (!loading && o->timeline_path && write_timeline(o->timeline_path, ws, n) != 0)
        say("ycsb: cannot write the timeline %s", o->timeline_path);
    for (unsigned t = 0; t < n; t++) {
        for (unsigned i = 0; i < o->instances; i++)
            if (ws[t].conn[i])
                o->db->close(ws[t].conn[i]);
        free(ws[t].conn);
        for (int op = 0; op < YCSB_N_OPS; op++)
            free(ws[t].lat[op].us);
        free(ws[t].timeline);
    }
    free(ws);
    return json_pack("{s:I, s:I, s:f, s:f, s:o, s:o}", "start_epoch_ms", (json_int_t)t0_epoch, "operations", (json_int_t)done, "runtime_ms", ms,
                     "throughput_ops_s", (double)done / (ms / 1000.0), "per_operation", ops, "ops_per_second", seconds);
}

static void ycsb_usage(void)
{
    fprintf(stderr, "usage: fmlab-control ycsb --workload a|b|c|d|e|f --phase load|run|both --vm IP\n"
                    "         [--store redis|memcached] --port BASE --instances N --threads N --records N\n"
                    "         --operations N\n"
                    "         [--max-seconds S] [--json FILE] [--timeline FILE]\n");
}

static int ycsb_parse(int argc, char **argv, struct ycsb_opts *o)
{
    static const struct option longopts[] = {
        { "workload", 1, 0, 'w' }, { "phase", 1, 0, 'p' }, { "vm", 1, 0, 'v' }, { "port", 1, 0, 'r' },
        { "redis-port", 1, 0, 'r' }, { "store", 1, 0, 'S' },
        { "instances", 1, 0, 'i' }, { "threads", 1, 0, 't' }, { "records", 1, 0, 'n' },
        { "operations", 1, 0, 'o' }, { "max-seconds", 1, 0, 's' }, { "json", 1, 0, 'j' },
        { "timeline", 1, 0, 'l' }, { 0, 0, 0, 0 } };
    static const char required[] = "wpvritno";   /* no defaults: L0 passes every value */
    bool seen[128] = { false };
    int c;
    *o = (struct ycsb_opts){ .db = &ycsb_redis };
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;
        seen[c & 127] = true;
        switch (c) {
        case 'w': o->w = ycsb_workload(optarg); break;
        case 'p':
            o->load = value_in(optarg, "load|both");
            o->run = value_in(optarg, "run|both");
            if (!o->load && !o->run)
                return -1;
            break;
        case 'v': o->vm_ip = optarg; break;
        case 'r': o->port = (unsigned)v; break;
        case 'S':
            if (!(o->db = ycsb_db_named(optarg))) {
                fprintf(stderr, "fmlab-control ycsb: --store is redis or memcached, not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'i': o->instances = (unsigned)v; break;
        case 't': o->threads = (unsigned)v; break;
        case 'n': o->records = v; break;
        case 'o': o->operations = v; break;
        case 's': o->max_seconds = (unsigned)v; break;
        case 'j': o->json_path = optarg; break;
        case 'l': o->timeline_path = optarg; break;
        default: return -1;
        }
    }
    for (const char *r = required; *r; r++)
        if (!seen[(int)*r]) {
            for (const struct option *l = longopts; l->name; l++)
                if (l->val == *r)
                    fprintf(stderr, "fmlab-control ycsb: --%s is required\n", l->name);
            return -1;
        }
    if (o->w && o->w->proportion[YCSB_SCAN] > 0 && !o->db->scans) {
        fprintf(stderr, "fmlab-control ycsb: workload %c scans, and YCSB's %s binding has no scans\n", o->w->name,
                o->db->name);
        return -1;
    }
    if (!o->w || !o->instances || !o->threads || !o->records || !o->port || o->threads > 256) {
        fprintf(stderr, "fmlab-control ycsb: --workload is one of a-f; instances, threads (at most 256), records, port > 0\n");
        return -1;
    }
    return 0;
}

int ycsb_main(int argc, char **argv)
{
    static struct ycsb_run run;
    struct ycsb_opts o;
    if (ycsb_parse(argc, argv, &o) != 0) {
        ycsb_usage();
        return 2;
    }
    run.o = &o;
    struct sigaction sa = { .sa_handler = request_stop, .sa_flags = SA_RESTART };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    ycsb_plan_init(&run.plan, o.w, o.records, o.operations);
    say("ycsb: workload %c, %llu records, %llu operations, %u threads over %u %s instance(s) at %s:%u+",
        o.w->name, (unsigned long long)o.records, (unsigned long long)o.operations, o.threads, o.instances,
        o.db->name, o.vm_ip, o.port);
    static const char *const dists[] = { "uniform", "zipfian", "latest" };
    char name[2] = { o.w->name, '\0' };
    json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:s}", "workload", name, "store", o.db->name,
                            "records", (json_int_t)o.records, "operations", (json_int_t)o.operations,
                            "threads", (int)o.threads, "instances", (int)o.instances, "field_count", YCSB_FIELDS,
                            "field_length", YCSB_FIELD_LEN, "request_distribution", dists[o.w->dist]);
    if (o.load && clear_instances(&o) != 0) {
        json_decref(out);
        return 1;
    }
    if (o.load)
        json_object_set_new(out, "load", phase(&run, true));
    if (o.run)
        json_object_set_new(out, "run", phase(&run, false));
    int rc = 0;
    if (o.json_path && json_dump_file(out, o.json_path, JSON_INDENT(1)) != 0) {
        say("ycsb: cannot write %s", o.json_path);
        rc = 1;
    }
    json_decref(out);
    return rc;
}
