/*
 * sync.c: `fmlab-control shm-sync`: keep the guest's shm image current for a while, with
 * no migration after it, and report what each period cost: the write-through overhead
 * the study measured (its sweep: throughput with the sync every 1, 50, 100, 500 ms).
 *
 * It starts the sync on the QEMU that runs the guest (shm-migrate), waits for the first
 * full copy, lets it write through for --seconds while sampling query-shm-migrate, then
 * cancels it (shm-migrate-cancel: the guest keeps running where it is, nothing moves).
 * The workload runs beside it (fmlab-control ycsb); the caller lines the two up by time.
 * Prints one "result {json}" line: first copy, the write-through window, and per sample
 * the iteration, dirty pages and copy time of the last period and the bytes copied.
 */
#include "control.h"
#include "qmp.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYNC_SAMPLE_MS 100

/* A sync left running would write the guest through for ever: a signal (the caller's
 * Ctrl-C, its ssh going away, pkill) ends the window early, and the sync is cancelled
 * like at the end of any window. */
static volatile sig_atomic_t stop_signal;

static void request_stop(int sig)
{
    stop_signal = sig;
}

static void cancel_on_signals(void)
{
    struct sigaction sa = { .sa_handler = request_stop };   /* no SA_RESTART: waits end early */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a closed stdout must not end us before the cancel */
}

struct sync_opts {
    const char *ip, *shm_path, *dirty_tracking, *granularity;
    unsigned qmp_port, period_us, seconds, timeout_s;
};

static int sync_parse(int argc, char **argv, struct sync_opts *o)
{
    static const struct option longopts[] = {
        { "from", 1, 0, 'f' }, { "qmp-port", 1, 0, 'q' }, { "shm-path", 1, 0, 'x' }, { "period-us", 1, 0, 'u' },
        { "dirty-tracking", 1, 0, 'y' }, { "seconds", 1, 0, 's' }, { "timeout", 1, 0, 'T' },
        { "granularity", 1, 0, 'g' }, { 0, 0, 0, 0 } };
    static const char required[] = "fqxuysT";   /* no defaults: L0 passes every value */
    bool seen[128] = { false };
    int c;
    *o = (struct sync_opts){ 0 };
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        unsigned v = optarg ? (unsigned)strtoul(optarg, NULL, 10) : 0;
        seen[c & 127] = true;
        switch (c) {
        case 'f': o->ip = optarg; break;
        case 'q': o->qmp_port = v; break;
        case 'x': o->shm_path = optarg; break;
        case 'u': o->period_us = v; break;
        case 'y': o->dirty_tracking = optarg; break;
        case 'g': o->granularity = optarg; break;
        case 's': o->seconds = v; break;
        case 'T': o->timeout_s = v; break;
        default: return -1;
        }
    }
    for (const char *r = required; *r; r++)
        if (!seen[(int)*r])
            return -1;
    return o->period_us && o->seconds && o->timeout_s ? 0 : -1;
}

/* Sample until the write-through window is over; the window's start (ms) in *syncing. */
static int sample_sync(struct qmp *q, const struct sync_opts *o, double t0, double *syncing, json_t *samples,
                       char *err, size_t errlen)
{
    for (;;) {
        if (stop_signal) {
            snprintf(err, errlen, "stopped by signal %d (the sync is cancelled)", (int)stop_signal);
            return -1;
        }
        json_t *info = qmp_execute(q, "query-shm-migrate", NULL, 10, err, errlen);
        if (!info)
            return -1;
        const char *phase = json_string_value(json_object_get(info, "phase")) ?: "?";
        double now = mono_ms();
        if (strcmp(phase, "failed") == 0) {
            snprintf(err, errlen, "the sync failed: %s", json_string_value(json_object_get(info, "error")) ?: "?");
            json_decref(info);
            return -1;
        }
        if (!*syncing && strcmp(phase, "syncing") == 0) {
            *syncing = now;
            say("shm-sync: first copy done after %.1f s; writing through for %u s", (now - t0) / 1000, o->seconds);
        }
        json_array_append_new(samples, shm_sample(info, t0));
        json_decref(info);
        if (*syncing && now - *syncing >= o->seconds * 1000.0)
            return 0;
        if (!*syncing && now - t0 > o->timeout_s * 1000.0) {
            snprintf(err, errlen, "the first copy did not end within %u s", o->timeout_s);
            return -1;
        }
        usleep(SYNC_SAMPLE_MS * 1000);
    }
}

int sync_main(int argc, char **argv)
{
    struct sync_opts o;
    struct qmp q;
    char err[512] = "";
    if (sync_parse(argc, argv, &o)) {
        fprintf(stderr, "usage: fmlab-control shm-sync --from IP --qmp-port N --shm-path P --period-us N\n"
                        "         --dirty-tracking auto|fmsync|stock [--granularity region|page] --seconds S\n"
                        "         --timeout S\n");
        return 2;
    }
    if (qmp_connect(&q, o.ip, o.qmp_port, 10, false, err, sizeof(err)))
        return control_fail("QMP", err);
    cancel_on_signals();
    json_t *args = json_pack("{s:s, s:I, s:I, s:s}", "path", o.shm_path, "size", (json_int_t)image_size(o.shm_path),
                             "period-us", (json_int_t)o.period_us, "dirty-tracking", o.dirty_tracking);
    if (o.granularity)
        json_object_set_new(args, "granularity", json_string(o.granularity));
    double t0 = mono_ms(), syncing = 0, t0_epoch = epoch_ms();
    json_t *samples = json_array();
    json_t *r = qmp_execute(&q, "shm-migrate", args, 10, err, sizeof(err));
    json_decref(args);
    int rc = r ? sample_sync(&q, &o, t0, &syncing, samples, err, sizeof(err)) : -1;
    json_decref(r);
    double end = mono_ms();
    char cancel_err[256];
    json_t *cancelled = qmp_execute(&q, "shm-migrate-cancel", NULL, 10, cancel_err, sizeof(cancel_err));
    qmp_close(&q);
    /* a connection that failed mid-window (what broke the window) cannot cancel: a new one */
    if (!cancelled && qmp_connect(&q, o.ip, o.qmp_port, 10, false, cancel_err, sizeof(cancel_err)) == 0) {
        cancelled = qmp_execute(&q, "shm-migrate-cancel", NULL, 10, cancel_err, sizeof(cancel_err));
        qmp_close(&q);
    }
    if (!cancelled)
        say("shm-sync: cancelling the sync on %s failed: %s", o.ip, cancel_err);
    json_decref(cancelled);
    if (rc) {
        json_decref(samples);
        return control_fail("shm-sync", err);
    }
    json_t *out = json_pack("{s:s, s:b, s:i, s:s, s:s, s:I, s:f, s:f, s:f, s:o}", "status", "completed", "pass", 1,
                            "period_us", (int)o.period_us, "dirty_tracking", o.dirty_tracking,
                            "granularity", o.granularity ? o.granularity : "region",
                            "start_epoch_ms", (json_int_t)t0_epoch,
                            "first_copy_ms", syncing - t0, "write_through_start_ms", syncing - t0,
                            "write_through_ms", end - syncing, "samples", samples);
    char *text = json_dumps(out, JSON_COMPACT);
    printf("result %s\n", text);
    free(text);
    json_decref(out);
    return 0;
}
