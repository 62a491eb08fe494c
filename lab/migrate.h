/* migrate.h: one migration of the redis guest between src and dst, run from L0 with the
 * control plane (fmlab-control) on backup; see migrate.c. */
#ifndef FMLAB_MIGRATE_H
#define FMLAB_MIGRATE_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"

struct migrate_opts {
    const char *mode;      /* precopy | postcopy | shm */
    const char *load;      /* redis | memory | idle */
    const char *fault;     /* NULL, dst-kill, link-down, src-kill-after-switch */
    const char *expect;    /* NULL or the status this run must end with */
    long timeout_s, mem_mib, mem_rate, preload, postcopy_delay_ms; /* -1: from config.txt */
    long max_bandwidth, downtime_limit_ms;                          /* -1: from config.txt */
    long postcopy_bandwidth;   /* QEMU's max-postcopy-bandwidth, B/s; -1: unlimited (QEMU's 0) */
    long period_us, write_through_s;                                /* shm; -1: config.txt */
    const char *dirty_tracking;                                     /* shm; NULL: config.txt */
    const char *granularity;                                        /* shm; NULL: config.txt */
    const char *dst_ram;                                            /* shm; NULL: config.txt */
    const char *dst_wait;                                           /* shm on|off; NULL: config.txt */
    long promote_bandwidth;                                         /* shm; -1: config.txt */
    long observe_s;                         /* keep the load this long after the resume */
    const char *oracle_fault;               /* a wrong an oracle must catch (its negative case) */
    const char *postcopy_preempt;           /* on | off, NULL: POSTCOPY_PREEMPT (on, as the study ran) */
};

/* fmlab-control, the control plane, in backup (copied from build/ by scp). */
#define CONTROL_PATH "/usr/local/bin/fmlab-control"
int control_push(const struct config *cfg, char *err, size_t errlen);

/* Migrate the guest from the host it runs on to the other one (src <-> dst), check the
 * oracles, judge the result. Returns the result object (new reference), or NULL with
 * err naming the step that could not run. */
json_t *migrate_once(const struct config *cfg, const struct migrate_opts *o, char *err, size_t errlen);

#endif
