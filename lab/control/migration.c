/*
 * migration.c: one migration of the guest, driven over QMP from backup.
 *
 * Both QEMUs get the same capabilities (postcopy-ram and postcopy-preempt for
 * postcopy) and parameters (max-bandwidth, downtime-limit); the destination was started
 * with -incoming defer and is told to listen with migrate-incoming; the source is told
 * to migrate. Then query-migrate is sampled every 50 ms until the migration ends, one
 * sample per poll and one per dirty-bitmap sync (an iteration). A precopy still active
 * after timeout_s is cancelled ("not-converged"), as is one that moved no byte for
 * stall_s ("stalled"): the guest keeps running on the source, nothing hangs.
 */
#include "control.h"
#include "sock.h"
#include "qmp.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 50
/* After the source stopped: how long the destination's RESUME may take to come */
#define RESUME_WAIT_MS 20000

int qmp_connect(struct qmp *q, const char *ip, unsigned port, int timeout_s, bool oob, char *err, size_t errlen)
{
    int fd = sock_connect_tcp(ip, port, timeout_s);
    if (fd < 0) {
        snprintf(err, errlen, "QMP at %s:%u does not answer", ip, port);
        q->fd = -1;
        q->events = NULL;
        return -1;
    }
    return oob ? qmp_open_fd_oob(q, fd, timeout_s, err, errlen) : qmp_open_fd(q, fd, timeout_s, err, errlen);
}

static int run(struct qmp *q, const char *cmd, json_t *args, char *err, size_t errlen)
{
    json_t *r = qmp_execute(q, cmd, args, 10, err, errlen);
    json_decref(args);
    if (!r)
        return -1;
    json_decref(r);
    return 0;
}

static int prepare(struct qmp *q, const struct control_opts *o, char *err, size_t errlen)
{
    bool post = strcmp(o->mode, "postcopy") == 0;
    json_t *caps = json_pack("[{s:s, s:b}, {s:s, s:b}]", "capability", "postcopy-ram", "state", post,
                             "capability", "postcopy-preempt", "state", post && o->postcopy_preempt);
    if (run(q, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps), err, errlen))
        return -1;
    return run(q, "migrate-set-parameters",
               json_pack("{s:I, s:I, s:I}", "max-bandwidth", (json_int_t)o->max_bandwidth, "downtime-limit",
                         (json_int_t)o->downtime_limit_ms, "max-postcopy-bandwidth",
                         (json_int_t)o->postcopy_bandwidth), err, errlen);
}

static json_int_t ram_field(json_t *mig, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(mig, "ram"), key));
}

struct run_state {
    double t0;
    json_t *samples, *iterations;
    json_int_t last_sync, last_transferred;
    double last_progress, postcopy_at, fault_at;
    double stop_seen, resume_seen;   /* the source's STOP, the destination's RESUME */
    bool cancelled;
    const char *verdict;    /* our name for how it ended, when it is not QEMU's */
    json_t *last_active;    /* the last query-migrate with data: a cancelled or failed
                               migration's own answer has none */
    double paused_at, recover_at;   /* postcopy: paused (by QEMU or us), recovery tried */
    char recover_error[256];
};

static void record(struct run_state *s, json_t *mig, const char *status, double t)
{
    json_int_t sync = ram_field(mig, "dirty-sync-count"), sent = ram_field(mig, "transferred");
    if (!json_object_get(mig, "ram"))
        return;   /* setup, or the end of a failed/cancelled migration: nothing measured */
    json_decref(s->last_active);
    s->last_active = json_incref(mig);
    json_t *sample = json_pack("{s:f, s:s, s:I, s:I, s:I, s:f}", "t_ms", t - s->t0, "status", status,
                               "transferred", sent, "remaining", ram_field(mig, "remaining"),
                               "dirty_pages_rate", ram_field(mig, "dirty-pages-rate"), "mbps",
                               json_real_value(json_object_get(json_object_get(mig, "ram"), "mbps")));
    if (sync != s->last_sync) {
        json_t *it = json_deep_copy(sample);
        json_object_set_new(it, "dirty_sync_count", json_integer(sync));
        json_array_append_new(s->iterations, it);
        if (s->last_sync)
            say("iteration %lld at %.1f s: %lld MiB sent, %lld MiB remaining, %lld dirty pages/s",
                (long long)s->last_sync, (t - s->t0) / 1000, (long long)sent >> 20,
                (long long)ram_field(mig, "remaining") >> 20, (long long)ram_field(mig, "dirty-pages-rate"));
        s->last_sync = sync;
    }
    json_array_append_new(s->samples, sample);
    if (sent != s->last_transferred) {
        s->last_transferred = sent;
        s->last_progress = t;
    }
}

/* What to do after a sample: start postcopy, mark the fault point, give up. */
static void fault_point(struct run_state *s, double t)
{
    s->fault_at = t;
    printf("fault-point transferred=%lld t_ms=%.0f\n", (long long)s->last_transferred, t - s->t0);
    fflush(stdout);
    say("fault point: %lld MiB sent at %.1f s", (long long)s->last_transferred >> 20, (t - s->t0) / 1000);
}

static void act(struct qmp *src, const struct control_opts *o, struct run_state *s, const char *status,
                double t, char *err, size_t errlen)
{
    bool active = strcmp(status, "active") == 0, post = strcmp(o->mode, "postcopy") == 0;
    double elapsed = t - s->t0;

    if (post && active && s->postcopy_at == 0 &&
        ((o->postcopy_delay_ms && elapsed >= o->postcopy_delay_ms) ||
         (!o->postcopy_delay_ms && s->last_sync > (json_int_t)o->postcopy_iterations))) {
        if (run(src, "migrate-start-postcopy", NULL, err, errlen) == 0) {
            s->postcopy_at = t;
            say("postcopy requested at %.1f s", elapsed / 1000);
        }
    }
    /* After the switch means once the destination runs (its RESUME): the source says
     * postcopy-active as soon as it has queued the switch, while the destination still
     * loads device state, and a link cut there leaves a destination that can neither run
     * nor pause (its main thread waits on a page fault before postcopy runs), so it
     * cannot recover. */
    if (o->fault_after_switch && s->fault_at == 0 && strcmp(status, "postcopy-active") == 0 && s->resume_seen) {
        say("switched to postcopy at %.1f s, the destination runs since %.1f s", elapsed / 1000,
            (s->resume_seen - s->t0) / 1000);
        fault_point(s, t);
    }
    if (o->fault_at_bytes && s->fault_at == 0 && active && s->last_transferred >= (json_int_t)o->fault_at_bytes)
        fault_point(s, t);
    /* still precopy (a requested switch to postcopy waits for the link): may give up */
    if (s->cancelled || !active)
        return;
    if (!s->postcopy_at && elapsed > o->timeout_s * 1000.0)
        s->verdict = "not-converged";
    else if (t - s->last_progress > o->stall_s * 1000.0)
        s->verdict = "stalled";
    else
        return;
    say("%s after %.1f s: migrate_cancel, the guest stays on the source", s->verdict, elapsed / 1000);
    if (run(src, "migrate_cancel", NULL, err, errlen) == 0)
        s->cancelled = true;
}

static bool finished(const char *status)
{
    return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
           strcmp(status, "cancelled") == 0;
}

/* Postcopy cannot be cancelled: the guest's pages are split between the hosts. When it
 * stops moving, pause it (migrate-pause), ask L0 to heal the link ("fault-heal" on
 * stdout), and resume it: migrate-recover on the destination, then migrate with
 * resume=true on the source. Returns true when the run should end as postcopy-paused. */
static bool postcopy_trouble(struct qmp *src, struct qmp *dst, const struct control_opts *o, struct run_state *s,
                             const char *status, double t, char *err, size_t errlen)
{
    char uri[128];
    bool paused = strcmp(status, "postcopy-paused") == 0;

    if (!paused && (strcmp(status, "postcopy-active") != 0 || t - s->last_progress < o->stall_s * 1000.0))
        return false;
    if (!paused) {
        say("postcopy moved nothing for %u s: migrate-pause", o->stall_s);
        run(src, "migrate-pause", NULL, err, errlen);
        s->last_progress = t;
        return false;
    }
    if (!s->paused_at) {
        s->paused_at = t;
        say("postcopy paused at %.1f s; asking for the link back", (t - s->t0) / 1000);
        printf("fault-heal\n");
        fflush(stdout);
    }
    if (s->recover_at)
        return t - s->recover_at > 2 * o->stall_s * 1000.0;
    if (t - s->paused_at < 3000)
        return false;   /* give the link a moment */
    snprintf(uri, sizeof(uri), "tcp:%s:%u", o->to_ip, o->migration_port);
    say("recovering: migrate-pause + migrate-recover on the destination (out-of-band), "
        "migrate resume on the source");
    s->recover_at = t;
    for (int i = 0; i < 30; i++) {
        if (i % 5 == 0) {   /* may be paused already; else make it notice the dead channel */
            json_t *p = qmp_execute_oob(dst, "migrate-pause", NULL, 5, err, errlen);
            say("destination migrate-pause: %s", p ? "ok" : err);
            json_decref(p);
        }
        json_t *r = qmp_execute_oob(dst, "migrate-recover", json_pack("{s:s}", "uri", uri), 5, err, errlen);
        if (r) {
            json_decref(r);
            usleep(500000);
            run(src, "migrate", json_pack("{s:s, s:b}", "uri", uri, "resume", 1), err, errlen);
            break;
        }
        say("migrate-recover: %s", err);
        sleep(1);
    }
    snprintf(s->recover_error, sizeof(s->recover_error), "%s", err);
    return false;
}

/* Between two samples: wait for the source's STOP event (the downtime starts), then for
 * the destination's RESUME (it ends), both timed as they arrive here on backup, the same
 * way for every mode. Without a STOP, just the poll interval passes. */
static void watch_stop_resume(struct qmp *src, struct qmp *dst, struct run_state *s)
{
    static const char *const stop[] = { "STOP", NULL }, *const resume[] = { "RESUME", NULL };
    char err[256];

    if (s->stop_seen) {
        usleep(POLL_MS * 1000);
        return;
    }
    json_t *ev = qmp_wait_event(src, stop, POLL_MS, err, sizeof(err));
    if (!ev)
        return;
    s->stop_seen = qmp_event_received_ms(ev);
    json_decref(ev);
    ev = qmp_wait_event(dst, resume, RESUME_WAIT_MS, err, sizeof(err));
    if (ev)
        s->resume_seen = qmp_event_received_ms(ev);
    json_decref(ev);
}

/* Sample until the migration ends; returns the last query-migrate (new reference). */
static json_t *poll_until_done(struct qmp *src, struct qmp *dst, const struct control_opts *o,
                               struct run_state *s, char *err, size_t errlen)
{
    json_t *mig = NULL;

    for (;;) {
        json_decref(mig);
        mig = qmp_execute(src, "query-migrate", NULL, 10, err, errlen);
        if (!mig && s->fault_at) {   /* the fault took the source away: say so */
            s->verdict = "source-lost";
            return json_pack("{s:s}", "status", "source-lost");
        }
        if (!mig)
            return NULL;
        const char *status = json_string_value(json_object_get(mig, "status"));
        double t = mono_ms();
        record(s, mig, status ? status : "?", t);
        if (!status || finished(status))
            return mig;
        if (s->postcopy_at && postcopy_trouble(src, dst, o, s, status, t, err, errlen)) {
            s->verdict = "postcopy-paused";
            return mig;
        }
        if (s->postcopy_at && t - s->t0 > 2 * o->timeout_s * 1000.0) {
            s->verdict = "postcopy-stuck";
            return mig;
        }
        act(src, o, s, status, t, err, errlen);
        watch_stop_resume(src, dst, s);
    }
}

/* One host's view at the end: its status and its query-migrate. */
static json_t *host_view(struct qmp *q, const char *ip)
{
    char status[64], err[256];
    qmp_status(q, status, sizeof(status));
    json_t *mig = q->fd >= 0 ? qmp_execute(q, "query-migrate", NULL, 5, err, sizeof(err)) : NULL;
    return json_pack("{s:s, s:s, s:o}", "ip", ip, "status", status, "query_migrate", mig ? mig : json_null());
}

static int start(struct qmp *src, struct qmp *dst, const struct control_opts *o, char *err, size_t errlen)
{
    char status[64], uri[128];

    qmp_status(src, status, sizeof(status));
    if (strcmp(status, "running") != 0) {
        snprintf(err, errlen, "the source QEMU at %s is %s, not running", o->from_ip, status);
        return -1;
    }
    qmp_status(dst, status, sizeof(status));
    if (strcmp(status, "inmigrate") != 0) {
        snprintf(err, errlen, "the destination QEMU at %s is %s, not inmigrate", o->to_ip, status);
        return -1;
    }
    if (prepare(src, o, err, errlen) || prepare(dst, o, err, errlen))
        return -1;
    snprintf(uri, sizeof(uri), "tcp:%s:%u", o->to_ip, o->migration_port);
    if (run(dst, "migrate-incoming", json_pack("{s:s}", "uri", uri), err, errlen))
        return -1;
    return 0;
}

json_t *migration_run(const struct control_opts *o, struct load *l, char *err, size_t errlen)
{
    struct qmp src, dst;
    struct run_state s = { .samples = json_array(), .iterations = json_array() };
    char uri[128];
    json_t *result = NULL, *mig = NULL;
    struct timespec wall;

    if (qmp_connect(&src, o->from_ip, o->qmp_port, 10, false, err, errlen))
        goto out_arrays;
    /* out-of-band on the destination: in postcopy its main loop can wait on page faults */
    if (qmp_connect(&dst, o->to_ip, o->qmp_port, 30, true, err, errlen))
        goto out_src;
    if (start(&src, &dst, o, err, errlen))
        goto out;
    snprintf(uri, sizeof(uri), "tcp:%s:%u", o->to_ip, o->migration_port);
    clock_gettime(CLOCK_REALTIME, &wall);
    s.t0 = s.last_progress = mono_ms();
    load_mark(l, s.t0);
    say("%s migration %s -> %s triggered", o->mode, o->from_ip, o->to_ip);
    if (run(&src, "migrate", json_pack("{s:s}", "uri", uri), err, errlen))
        goto out;
    mig = poll_until_done(&src, &dst, o, &s, err, errlen);
    if (!mig)
        goto out;
    double end = mono_ms();
    const char *qstatus = json_string_value(json_object_get(mig, "status"));
    const char *desc = json_string_value(json_object_get(mig, "error-desc"));
    json_t *data = json_object_get(mig, "ram") || !s.last_active ? mig : s.last_active;
    result = json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:b}",
                       "status", s.verdict ? s.verdict : qstatus, "qemu_status", qstatus,
                       "trigger_unix_ms", wall.tv_sec * 1000.0 + wall.tv_nsec / 1e6,
                       "observed_total_ms", end - s.t0,
                       "total_time_ms", json_integer_value(json_object_get(data, "total-time")),
                       "downtime_ms", json_integer_value(json_object_get(mig, "downtime")),
                       "setup_time_ms", json_integer_value(json_object_get(data, "setup-time")),
                       "transferred_bytes", ram_field(data, "transferred"),
                       "dirty_sync_count", ram_field(data, "dirty-sync-count"),
                       "postcopy_started", s.postcopy_at > 0);
    json_object_set_new(result, "start_epoch_ms", json_integer(epoch_of(s.t0)));
    json_object_set_new(result, "end_epoch_ms", json_integer(epoch_of(end)));
    if (s.postcopy_at)
        json_object_set_new(result, "postcopy_start_ms", json_real(s.postcopy_at - s.t0));
    if (s.fault_at)
        json_object_set_new(result, "fault_point_ms", json_real(s.fault_at - s.t0));
    if (s.stop_seen && s.resume_seen)
        json_object_set_new(result, "stop_to_running_ms", json_real(s.resume_seen - s.stop_seen));
    if (desc)
        json_object_set_new(result, "error_desc", json_string(desc));
    if (s.paused_at)
        json_object_set_new(result, "postcopy_recovery",
                            json_pack("{s:f, s:f, s:b, s:s}", "paused_at_ms", s.paused_at - s.t0, "recover_at_ms",
                                      s.recover_at ? s.recover_at - s.t0 : 0.0, "recovered",
                                      strcmp(qstatus, "completed") == 0, "error", s.recover_error));
    json_object_set_new(result, "iterations", s.iterations);
    json_object_set_new(result, "samples", s.samples);
    s.iterations = s.samples = NULL;
    json_object_set_new(result, "hosts", json_pack("{s:o, s:o}", "source", host_view(&src, o->from_ip),
                                                   "destination", host_view(&dst, o->to_ip)));
    say("migration ended: %s after %.1f s (QEMU: total %lld ms, downtime %lld ms, %lld MiB)",
        s.verdict ? s.verdict : qstatus, (end - s.t0) / 1000,
        (long long)json_integer_value(json_object_get(data, "total-time")),
        (long long)json_integer_value(json_object_get(mig, "downtime")), (long long)ram_field(data, "transferred") >> 20);
    if (strcmp(o->mode, "postcopy") == 0 && !s.postcopy_at && strcmp(qstatus, "completed") == 0)
        say("precopy converged before postcopy was requested: this run is a precopy run "
            "(a lower --max-bandwidth or --postcopy-delay makes it switch)");
out:
    json_decref(mig);
    qmp_close(&dst);
out_src:
    qmp_close(&src);
out_arrays:
    json_decref(s.samples);
    json_decref(s.iterations);
    json_decref(s.last_active);
    return result;
}
