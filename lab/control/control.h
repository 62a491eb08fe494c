/*
 * control.h: fmlab-control, the lab's control plane. It runs on the backup host (like the
 * study's controller) and drives one migration of the redis guest over QMP: it sets the
 * capabilities and parameters on both QEMUs, triggers and timestamps the migration,
 * samples query-migrate, starts postcopy when asked, gives up on a migration that does
 * not converge, and checks the three oracles (memory, application, liveness). It prints
 * progress on stderr and one "result {json}" line on stdout. Built statically at L0 and
 * copied into backup by `fmlab migrate`.
 */
#ifndef FMLAB_CONTROL_H
#define FMLAB_CONTROL_H

#include "clock.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control_opts {
    const char *mode;          /* precopy | postcopy | shm */
    const char *load;          /* redis | memory | idle */
    const char *from_ip, *to_ip, *vm_ip;
    unsigned qmp_port, migration_port, redis_port, agent_port;
    uint64_t max_bandwidth;    /* bytes/s */
    uint64_t postcopy_bandwidth;   /* bytes/s while postcopy runs; 0: unlimited */
    unsigned downtime_limit_ms;
    unsigned postcopy_delay_ms, postcopy_iterations;
    bool postcopy_preempt;
    unsigned timeout_s;        /* give up (migrate_cancel) on a migration still active */
    unsigned stall_s;          /* cancel when nothing moved for this long */
    unsigned mem_mib, mem_rate;   /* memory oracle region and its write rate (pages/s) */
    unsigned preload_keys;
    uint64_t fault_at_bytes;   /* print "fault-point" once this much was sent (0: never) */
    bool fault_after_switch;   /* print "fault-point" right after postcopy started */
    /* shm: the image on the CXL pool, its size, the sync period, the write-through time */
    const char *shm_path, *dirty_tracking;   /* auto | fmsync | stock */
    const char *granularity;                 /* region | page: fmsync while running */
    const char *dst_ram;                     /* the destination's RAM: pool | copy */
    const char *run_id;                      /* UUID: dst loads only this run's image */
    bool dst_wait;                           /* dst gets the image before the switchover, waits */
    uint64_t promote_bandwidth;              /* dst-ram promote: background copy cap, B/s */
    unsigned observe_s;                      /* keep the load this long after the resume */
    const char *shm_fault;                   /* NULL, dst-kill, src-kill-sync, image-header|devstate */
    const char *oracle_fault;                /* a wrong the oracles must catch, done after the
                                                migration: stale-page | lost-key | changed-value |
                                                changed-digest | two-copies */
    uint64_t shm_size;
    unsigned period_us, write_through_s;
};

/* `fmlab-control ycsb ...` (ycsb.c): YCSB's core workloads against the guest's redis. */
int ycsb_main(int argc, char **argv);
/* `fmlab-control agent IP PORT REQUEST...` (agent.c): requests to the guest's agent. */
int agent_main(int argc, char **argv);
/* `fmlab-control shm-sync ...` (sync.c): the shm sync alone for a while, then cancelled. */
int sync_main(int argc, char **argv);
/* One sample of a running shm sync (query-shm-migrate's answer) at now - t0 ms. */
json_t *shm_sample(json_t *info, double t0);
/* The size of the shm image at path (devdax size from sysfs, else the file's); 0 if unknown. */
uint64_t image_size(const char *path);
/* Say what failed and print a failed "result {json}" line; returns 1. */
int control_fail(const char *what, const char *err);
/* A mono_ms() time as integer wall-clock ms: the clock the figures line results up on
 * (ycsb's per-request timeline and a migration's window, both taken on backup). */
json_int_t epoch_of(double mono);

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* agent.c: a TCP connection to ip:port, retrying until timeout_s; fd or -1. */
/* agent.c: the guest agent's line protocol (memory oracle). */
int agent_call(const char *ip, unsigned port, const char *cmd, char *reply, size_t len, int timeout_s);
/* Parse "key=value" out of an agent reply; -1 when absent. */
long long agent_field(const char *reply, const char *key);

/* load.c: the redis client (preload, numbered writes during migration, verification). */
struct load;
struct load *load_start(const struct control_opts *o, char *err, size_t errlen);
void load_mark(struct load *l, double t0_ms);      /* the migration starts now */
/* For the oracles' negative cases: delete the first acked key (lost-key), change its
 * value (changed-value), or change a preloaded key only (changed-digest). 0, or -1. */
int load_sabotage(struct load *l, const char *how);
/* Successful replies per second in [from_ms, to_ms] (whole 100 ms buckets since the mark). */
double load_ops_per_s(struct load *l, double from_ms, double to_ms);
void load_stop(struct load *l);
/* Wait until the client has had replies again for settle_ms (bounded by timeout_s). */
bool load_wait_served(struct load *l, double settle_ms, int timeout_s);
/* Verify every acknowledged key and the preloaded dataset's digest; fills the
 * "application" oracle and the client's own numbers. Frees l. */
json_t *load_finish(struct load *l, json_t **client);

/* migration.c: one migration over QMP; returns the result object (oracles not yet in). */
struct qmp;
int qmp_connect(struct qmp *q, const char *ip, unsigned port, int timeout_s, bool oob, char *err, size_t errlen);
json_t *migration_run(const struct control_opts *o, struct load *l, char *err, size_t errlen);
/* shm.c: one shm (fmsync) migration through the CXL pool image; same result shape. */
json_t *shm_migration_run(const struct control_opts *o, struct load *l, char *err, size_t errlen);

#endif
