/*
 * shm.c: one shm (fmsync) migration of the guest through the CXL pool, driven over QMP
 * from backup, as in the study: backup tells src to sync the guest's RAM into the image
 * on the pool (shm-migrate), lets it write through for the chosen duration, triggers
 * the switchover, waits until the image is complete, and starts the guest on dst from
 * the image (migrate-incoming-shm). Only these control messages cross the network.
 *
 * Timestamps are backup's (one clock for both hosts): switchover request, "precopy
 * done" and "image complete" (the source's events, as they arrive), the incoming
 * command, and the destination loaded and running (its SHM_MIGRATE_LOADED); the source's
 * STOP and the destination's RESUME. QEMU's own numbers (query-shm-migrate on both
 * sides: per-period dirty pages and copy time, final pass, load time) go in as well.
 *
 * Faults (--shm-fault): the fault points of dst-kill (the destination loading),
 * dst-kill-wait (the destination waiting for the image, before the switchover) and
 * src-kill-sync (the source writing through) are printed for L0 to act on; the image
 * corruptions (image-header, image-devstate) are done here, through backup's own view of
 * the pool. When the destination did not take the guest, the source is resumed.
 */
#include "control.h"
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SAMPLE_MS 50
/* src-kill-sync: the fault point, this long into the write-through */
#define SRC_KILL_AFTER_MS 2000
/* Offsets in the image header (qemu/README.md): iterations (checksummed), devstate_offset */
#define HDR_ITERATIONS 128
#define HDR_DEVSTATE_OFFSET 104

static bool fault_is(const struct control_opts *o, const char *name)
{
    return o->shm_fault && strcmp(o->shm_fault, name) == 0;
}

/* dst-wait, unless a fault needs the image complete before the destination is told of
 * it (the image corruptions) or the destination killed while it loads (dst-kill). */
static bool dst_waits(const struct control_opts *o)
{
    return o->dst_wait && !fault_is(o, "dst-kill") && !fault_is(o, "image-header") && !fault_is(o, "image-devstate");
}

static void fault_point(double t0)
{
    printf("fault-point t_ms=%.0f\n", mono_ms() - t0);
    fflush(stdout);
}

struct shm_times {
    double start, syncing, switchover, precopy_done, image_complete, incoming, resumed, promoted, fault;
    double stop_seen, resume_seen;   /* the source's STOP and the destination's RESUME events */
};

static json_t *query(struct qmp *q, char *err, size_t errlen)
{
    return qmp_execute(q, "query-shm-migrate", NULL, 10, err, errlen);
}

static const char *phase_of(json_t *info)
{
    return json_string_value(json_object_get(info, "phase")) ?: "?";
}

/* One sample of the sync: phase, iteration, last period's dirty pages and copy time. */
json_t *shm_sample(json_t *info, double t0)
{
    return json_pack("{s:f, s:s, s:O?, s:O?, s:O?, s:O?}", "t_ms", mono_ms() - t0, "phase", phase_of(info),
                     "iterations", json_object_get(info, "iterations"),
                     "last_dirty_pages", json_object_get(info, "last-dirty-pages"),
                     "last_copy_us", json_object_get(info, "last-copy-us"),
                     "bytes_copied", json_object_get(info, "bytes-copied"));
}

static void sample(json_t *samples, json_t *info, double t0)
{
    json_array_append_new(samples, shm_sample(info, t0));
}

/* Write-through: wait for the first full copy, then let the sync run write_through_s. */
static int write_through(struct qmp *src, const struct control_opts *o, struct shm_times *t, json_t *samples,
                         char *err, size_t errlen)
{
    double last_sample = 0;
    for (;;) {
        json_t *info = query(src, err, errlen);
        if (!info)
            return -1;
        double now = mono_ms();
        const char *phase = phase_of(info);
        if (now - last_sample >= SAMPLE_MS)
            sample(samples, info, t->start), last_sample = now;
        if (strcmp(phase, "failed") == 0) {
            snprintf(err, errlen, "shm sync failed on the source: %s",
                     json_string_value(json_object_get(info, "error")) ?: "no reason given");
            json_decref(info);
            return -1;
        }
        if (!t->syncing && strcmp(phase, "syncing") == 0) {
            t->syncing = now;
            say("first copy done after %.1f s (%lld ms in QEMU); writing through for %u s", (now - t->start) / 1000,
                (long long)json_integer_value(json_object_get(info, "first-copy-us")) / 1000, o->write_through_s);
        }
        json_decref(info);
        if (t->syncing && fault_is(o, "src-kill-sync") && !t->fault && now - t->syncing >= SRC_KILL_AFTER_MS) {
            t->fault = now;
            say("fault point: the source is killed while it writes through");
            fault_point(t->start);
        }
        if (t->syncing && now - t->syncing >= o->write_through_s * 1000.0)
            return 0;
        if (!t->syncing && now - t->start > o->timeout_s * 1000.0) {
            snprintf(err, errlen, "the first copy into the image did not end within %u s", o->timeout_s);
            return -1;
        }
        usleep(SAMPLE_MS * 1000);
    }
}

/* Milliseconds left of the run's timeout since t0 (ms), at least 1. */
static int left_ms(const struct control_opts *o, double t0)
{
    double left = o->timeout_s * 1000.0 - (mono_ms() - t0);
    return left < 1 ? 1 : (int)left;
}

static const char *event_error(json_t *ev)
{
    return json_string_value(json_object_get(json_object_get(ev, "data"), "error")) ?: "no reason given";
}

/* migrate-incoming-shm's arguments for this run. */
static json_t *incoming_args(const struct control_opts *o)
{
    json_t *args = json_pack("{s:s, s:s}", "path", o->shm_path, "dst-ram", o->dst_ram);
    if (o->run_id)
        json_object_set_new(args, "run-id", json_string(o->run_id));
    if (strcmp(o->dst_ram, "promote") == 0)
        json_object_set_new(args, "promote-bandwidth", json_integer((json_int_t)o->promote_bandwidth));
    return args;
}

/* One of the source's events after the switchover request, noted when it arrived:
 * 1 go on, 0 the image is complete, -1 the switchover failed (err). */
static int source_event(json_t *ev, struct shm_times *t, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(ev, "event"));
    double now = qmp_event_received_ms(ev);
    if (strcmp(name, "SHM_MIGRATE_PRECOPY_DONE") == 0) {
        t->precopy_done = now;
    } else if (strcmp(name, "STOP") == 0) {
        t->stop_seen = now;
    } else if (strcmp(name, "SHM_MIGRATE_IMAGE_COMPLETE") == 0) {
        t->image_complete = now;
        if (!t->precopy_done)
            t->precopy_done = now;
        return 0;
    } else if (strcmp(name, "SHM_MIGRATE_FAILED") == 0) {
        snprintf(err, errlen, "switchover failed on the source: %s", event_error(ev));
        return -1;
    }
    return 1;
}

/* One of the destination's events while it loads: 1 go on, 0 loaded and running,
 * -1 it failed or did not resume the guest (err). */
static int destination_event(json_t *ev, struct shm_times *t, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(ev, "event"));
    double now = qmp_event_received_ms(ev);
    if (strcmp(name, "RESUME") == 0) {
        t->resume_seen = now;
        return 1;
    }
    if (strcmp(name, "SHM_MIGRATE_FAILED") == 0) {
        snprintf(err, errlen, "the destination failed to load the image: %s", event_error(ev));
        return -1;
    }
    if (strcmp(name, "SHM_MIGRATE_LOADED") != 0)
        return 1;
    if (!json_is_true(json_object_get(json_object_get(ev, "data"), "running"))) {
        snprintf(err, errlen, "the destination loaded the image but did not resume the guest");
        return -1;
    }
    t->resumed = now;
    return 0;
}

/* The events of q named in names, each handed to handle until it says 0 (done) or -1
 * (failed, err set); the run's timeout, counted from since, fails it: "WHAT within N s
 * of SINCE_WHAT (why)". */
static int follow(struct qmp *q, const char *const *names, int (*handle)(json_t *, struct shm_times *, char *, size_t),
                  const struct control_opts *o, struct shm_times *t, double since, const char *what,
                  const char *since_what, char *err, size_t errlen)
{
    for (;;) {
        char why[256];
        json_t *ev = qmp_wait_event(q, names, left_ms(o, since), why, sizeof(why));
        if (!ev) {
            snprintf(err, errlen, "%s within %u s of %s (%.100s)", what, o->timeout_s, since_what, why);
            return -1;
        }
        int rc = handle(ev, t, err, errlen);
        json_decref(ev);
        if (rc <= 0)
            return rc;
    }
}

static const char *const source_events[] = { "SHM_MIGRATE_PRECOPY_DONE", "SHM_MIGRATE_IMAGE_COMPLETE",
                                              "SHM_MIGRATE_FAILED", "STOP", NULL };
static const char *const destination_events[] = { "SHM_MIGRATE_LOADED", "SHM_MIGRATE_FAILED", "RESUME", NULL };

/* After the switchover request: wait for the source's events, noting when each arrives
 * (blocking on the QMP socket, so the handoff to dst starts the moment the image is
 * complete). */
static int until_image_complete(struct qmp *src, const struct control_opts *o, struct shm_times *t, char *err,
                                size_t errlen)
{
    return follow(src, source_events, source_event, o, t, t->switchover,
                  "the image was not complete", "the switchover request", err, errlen);
}

/* The destination waits for the image (dst-wait): it checks the syncing image and maps
 * it (pool) now, before the switchover is requested, and loads the moment the source
 * marks it complete; no command crosses the network in the downtime. */
static int stage_destination(struct qmp *dst, const struct control_opts *o, struct shm_times *t, char *err,
                             size_t errlen)
{
    json_t *args = incoming_args(o);
    json_object_set_new(args, "wait-ms", json_integer((json_int_t)o->timeout_s * 1000));
    t->incoming = mono_ms();
    json_t *r = qmp_execute(dst, "migrate-incoming-shm", args, 60, err, errlen);
    json_decref(args);
    json_decref(r);
    return r ? 0 : -1;
}

/* dst-kill-wait: the fault point, then wait until L0 has killed the waiting destination
 * (its QMP connection closes), so that the switchover happens without it. */
static void destination_killed(struct qmp *dst, const struct control_opts *o, struct shm_times *t)
{
    static const char *const none[] = { "FMLAB_NO_SUCH_EVENT", NULL };
    char why[256];
    t->fault = mono_ms();
    say("fault point: the destination is killed while it waits for the image");
    fault_point(t->start);
    json_decref(qmp_wait_event(dst, none, (int)o->timeout_s * 1000, why, sizeof(why)));
    say("the destination is gone (%s)", why);
}

/* dst-wait, after the switchover request: both hosts' events as they arrive, until the
 * destination runs the guest. A destination that fails still lets the source finish
 * (its image complete), so that the caller can resume it. */
static int until_loaded(struct qmp *src, struct qmp *dst, const struct control_opts *o, struct shm_times *t,
                        char *err, size_t errlen)
{
    static const char *const names[] = { "SHM_MIGRATE_PRECOPY_DONE", "SHM_MIGRATE_IMAGE_COMPLETE",
                                         "SHM_MIGRATE_FAILED", "STOP", "SHM_MIGRATE_LOADED", "RESUME", NULL };
    struct qmp *const qs[2] = { src, dst };
    bool source_done = false, dst_failed = false;
    for (;;) {
        char why[256];
        int which = -1, rc;
        json_t *ev = qmp_wait_event_any(qs, 2, names, left_ms(o, t->switchover), &which, why, sizeof(why));
        if (!ev && which == 1 && !source_done) {
            /* the destination is gone: the source still finishes, then can be resumed */
            snprintf(err, errlen, "the destination was lost (%s)", why);
            until_image_complete(src, o, t, why, sizeof(why));
            return -1;
        }
        if (!ev) {
            if (!dst_failed)
                snprintf(err, errlen, "%s %u s after the switchover request (%s)",
                         which == 0 ? "the source was lost" : which == 1 ? "the destination was lost"
                                                                         : "the guest did not run on dst",
                         o->timeout_s, why);
            return -1;
        }
        if (which == 0) {
            rc = source_event(ev, t, err, errlen);   /* 1 for what it does not track (RESUME) */
            source_done = rc <= 0;
            if (rc < 0)
                dst_failed = true;   /* nothing for the destination to load */
        } else {
            rc = destination_event(ev, t, dst_failed ? why : err, dst_failed ? sizeof(why) : errlen);
            dst_failed = dst_failed || rc < 0;
        }
        json_decref(ev);
        if (which == 1 && rc == 0)
            return 0;
        if (dst_failed && source_done)
            return -1;
    }
}

/* Start the destination from the image and wait for its SHM_MIGRATE_LOADED (running). */
static int incoming(struct qmp *dst, const struct control_opts *o, struct shm_times *t, char *err, size_t errlen)
{
    t->incoming = mono_ms();
    json_t *args = incoming_args(o);
    json_t *r = qmp_execute(dst, "migrate-incoming-shm", args, 60, err, errlen);
    json_decref(args);
    if (!r)
        return -1;
    json_decref(r);
    if (fault_is(o, "dst-kill")) {
        t->fault = mono_ms();
        say("fault point: the destination is killed while it loads the image");
        fault_point(t->start);
    }
    return follow(dst, destination_events, destination_event, o, t, t->incoming,
                  "the destination did not load the image", "migrate-incoming-shm", err, errlen);
}

/* After the resume: with dst-ram promote, wait until every page is local (the
 * destination's SHM_MIGRATE_PROMOTED); then keep the load running until observe_s after
 * the resume, and note the client's throughput over that window. */
static void after_resume(struct qmp *dst, const struct control_opts *o, struct load *l, struct shm_times *t,
                         json_t *result)
{
    static const char *const names[] = { "SHM_MIGRATE_PROMOTED", NULL };
    if (strcmp(o->dst_ram, "promote") == 0) {
        char why[256];
        json_t *ev = qmp_wait_event(dst, names, left_ms(o, t->resumed), why, sizeof(why));
        if (ev) {
            t->promoted = qmp_event_received_ms(ev);
            json_object_set_new(result, "promote_ms", json_real(t->promoted - t->resumed));
            json_decref(ev);
        } else {
            say("promotion did not end within %u s of the resume (%s)", o->timeout_s, why);
        }
    }
    if (!o->observe_s)
        return;
    double end = t->resumed + o->observe_s * 1000.0;
    while (mono_ms() < end)
        usleep(50000);
    json_object_set_new(result, "observe_s", json_integer(o->observe_s));
    json_object_set_new(result, "dst_ops_per_s", json_real(load_ops_per_s(l, t->resumed, end)));
    json_object_set_new(result, "src_ops_per_s_before",
                        json_real(load_ops_per_s(l, t->switchover - o->observe_s * 1000.0, t->switchover)));
}

/* image-header / image-devstate: flip one byte of the complete image in the pool (backup
 * maps the same device), after the switchover and before the destination loads it. */
static int corrupt_image(const struct control_opts *o, char *err, size_t errlen)
{
    const size_t len = 2 << 20;   /* device-dax maps in 2 MiB units */
    int fd = open(o->shm_path, O_RDWR);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s to corrupt it: %s", o->shm_path, strerror(errno));
        return -1;
    }
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s to corrupt it: %s", o->shm_path, strerror(errno));
        return -1;
    }
    uint64_t off = HDR_ITERATIONS;
    if (fault_is(o, "image-devstate")) {
        memcpy(&off, p + HDR_DEVSTATE_OFFSET, sizeof(off));   /* little endian, as the host */
        off += 16;
    }
    if (off < len)
        p[off] ^= 0x5a;
    say("fault: byte %llu of the image flipped (%s)", (unsigned long long)off, o->shm_fault);
    munmap(p, len);
    return off < len ? 0 : -1;
}

/* The destination did not take the guest: resume the source, unless a copy runs on the
 * destination after all. Notes what happened in result. */
static void resume_source(struct qmp *src, struct qmp *dst, json_t *result)
{
    char st_dst[64], st_src[64], err[256];
    qmp_status(dst, st_dst, sizeof(st_dst));
    if (strcmp(st_dst, "running") == 0) {
        say("the destination runs the guest: the source is not resumed");
        json_object_set_new(result, "source_resumed", json_false());
        return;
    }
    json_t *r = qmp_execute(src, "cont", NULL, 30, err, sizeof(err));
    json_decref(r);
    qmp_status(src, st_src, sizeof(st_src));
    bool ok = strcmp(st_src, "running") == 0;
    say("source resumed: %s (destination %s)", ok ? "yes" : err, st_dst);
    json_object_set_new(result, "source_resumed", json_boolean(ok));
}

/* src-kill-sync: the source died while writing through. Its image must stay "syncing"
 * and be refused by the destination; the guest is lost. */
static json_t *source_lost(struct qmp *dst, const struct control_opts *o, struct shm_times *t, const char *why)
{
    char refusal[512] = "";
    json_t *args = incoming_args(o);
    json_t *r = qmp_execute(dst, "migrate-incoming-shm", args, 60, refusal, sizeof(refusal));
    json_decref(args);
    if (r) {
        json_decref(r);
        snprintf(refusal, sizeof(refusal), "accepted (it should not have been)");
    }
    say("source lost (%s); the destination, offered the image: %s", why, refusal);
    json_t *res = json_pack("{s:s, s:s, s:s, s:f}", "status", "source-lost", "error_desc", why, "dst_refusal", refusal,
                            "fault_point_ms", t->fault - t->start);
    return res;
}

static json_t *shm_result(const struct shm_times *t, json_t *src_info, json_t *dst_info, const char *status,
                          const char *error)
{
    double end = t->resumed ? t->resumed : mono_ms();
    json_t *r = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:b}", "status", status, "qemu_status",
                          src_info ? phase_of(src_info) : "?", "observed_total_ms", end - t->switchover,
                          "write_through_ms", t->switchover && t->syncing ? t->switchover - t->syncing : 0.0,
                          "first_copy_ms", t->syncing ? t->syncing - t->start : 0.0,
                          "precopy_ms", t->precopy_done ? t->precopy_done - t->switchover : 0.0,
                          "total_time_ms", (json_int_t)(t->resumed ? t->resumed - t->switchover : 0),
                          "downtime_ms", (json_int_t)(t->resumed && t->precopy_done ? t->resumed - t->precopy_done : 0),
                          "transferred_bytes", (json_int_t)0, "postcopy_started", 0);
    if (t->resumed && t->incoming < t->image_complete)   /* dst-wait: from the image complete */
        json_object_set_new(r, "load_ms", json_real(t->resumed - t->image_complete));
    else if (t->resumed)
        json_object_set_new(r, "load_ms", json_real(t->resumed - t->incoming));
    if (t->image_complete)
        json_object_set_new(r, "image_complete_ms", json_real(t->image_complete - t->switchover));
    json_object_set_new(r, "start_epoch_ms", json_integer(epoch_of(t->start)));
    if (t->switchover)
        json_object_set_new(r, "switchover_epoch_ms", json_integer(epoch_of(t->switchover)));
    json_object_set_new(r, "end_epoch_ms", json_integer(epoch_of(end)));
    if (error)
        json_object_set_new(r, "error_desc", json_string(error));
    json_object_set_new(r, "shm", json_pack("{s:O?, s:O?}", "source", src_info, "destination", dst_info));
    json_t *its = json_object_get(src_info, "iteration-history");
    json_object_set_new(r, "iterations", its ? json_incref(its) : json_array());
    return r;
}

json_t *shm_migration_run(const struct control_opts *o, struct load *l, char *err, size_t errlen)
{
    struct qmp src, dst;
    struct shm_times t = { 0 };
    json_t *samples = json_array(), *result = NULL, *src_info = NULL, *dst_info = NULL;
    char status[64], why[512] = "";

    if (qmp_connect(&src, o->from_ip, o->qmp_port, 10, false, err, errlen))
        goto out_samples;
    if (qmp_connect(&dst, o->to_ip, o->qmp_port, 30, false, err, errlen))
        goto out_src;
    qmp_status(&src, status, sizeof(status));
    if (strcmp(status, "running") != 0) {
        snprintf(err, errlen, "the source QEMU at %s is %s, not running", o->from_ip, status);
        goto out;
    }
    qmp_status(&dst, status, sizeof(status));
    if (strcmp(status, "inmigrate") != 0) {
        snprintf(err, errlen, "the destination QEMU at %s is %s, not inmigrate", o->to_ip, status);
        goto out;
    }
    json_t *args = json_pack("{s:s, s:I, s:I, s:s, s:s}", "path", o->shm_path, "size", (json_int_t)o->shm_size,
                             "period-us", (json_int_t)o->period_us, "dirty-tracking", o->dirty_tracking,
                             "granularity", o->granularity);
    if (o->run_id)
        json_object_set_new(args, "run-id", json_string(o->run_id));
    t.start = mono_ms();
    load_mark(l, t.start);
    say("shm migration %s -> %s: syncing into %s every %u us (dirty tracking: %s, %s while running)", o->from_ip,
        o->to_ip, o->shm_path, o->period_us, o->dirty_tracking, o->granularity);
    json_t *r = qmp_execute(&src, "shm-migrate", args, 10, err, errlen);
    json_decref(args);
    if (!r)
        goto out;
    json_decref(r);
    if (write_through(&src, o, &t, samples, err, errlen)) {
        if (t.fault) {   /* src-kill-sync */
            result = source_lost(&dst, o, &t, err);
            json_object_set_new(result, "samples", samples);
            samples = NULL;
        }
        goto out;
    }
    json_array_clear(src.events);
    bool wait = dst_waits(o);
    if (wait && stage_destination(&dst, o, &t, err, errlen))
        goto out;
    if (fault_is(o, "dst-kill-wait"))
        destination_killed(&dst, o, &t);
    t.switchover = mono_ms();
    say("switchover requested%s", wait ? " (the destination waits for the image)" : "");
    r = qmp_execute(&src, "shm-migrate-switchover", NULL, 10, err, errlen);
    if (!r)
        goto out;
    json_decref(r);
    if (wait ? until_loaded(&src, &dst, o, &t, why, sizeof(why)) == 0
             : until_image_complete(&src, o, &t, why, sizeof(why)) == 0 &&
                   (!fault_is(o, "image-header") && !fault_is(o, "image-devstate") ? 0
                                                                                 : corrupt_image(o, why, sizeof(why))) == 0 &&
                   incoming(&dst, o, &t, why, sizeof(why)) == 0)
        say("destination running: precopy done %.0f ms, image complete %.0f ms, resumed %.0f ms after the request",
            t.precopy_done - t.switchover, t.image_complete - t.switchover, t.resumed - t.switchover);
    else
        say("shm migration failed: %s", why);
    json_t *after = json_object();
    if (t.resumed)
        after_resume(&dst, o, l, &t, after);
    else if (t.image_complete)
        resume_source(&src, &dst, after);
    if (t.fault)
        json_object_set_new(after, "fault_point_ms", json_real(t.fault - t.start));
    src_info = query(&src, err, errlen);
    dst_info = query(&dst, err, errlen);
    result = shm_result(&t, src_info, dst_info, t.resumed ? "completed" : "failed", why[0] ? why : NULL);
    json_object_update(result, after);
    json_decref(after);
    json_object_set_new(result, "dst_ram", json_string(o->dst_ram));
    if (o->run_id)
        json_object_set_new(result, "run_id", json_string(o->run_id));
    json_object_set_new(result, "dst_wait", json_boolean(wait));
    if (t.image_complete && t.incoming && !wait)
        json_object_set_new(result, "handoff_ms", json_real(t.incoming - t.image_complete));
    if (t.stop_seen && t.resume_seen)
        json_object_set_new(result, "stop_to_running_ms", json_real(t.resume_seen - t.stop_seen));
    json_object_set_new(result, "samples", samples);
    samples = NULL;
out:
    json_decref(src_info);
    json_decref(dst_info);
    qmp_close(&dst);
out_src:
    qmp_close(&src);
out_samples:
    json_decref(samples);
    return result;
}
