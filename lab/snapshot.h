/* snapshot.h: a running lab saved to CACHE_DIR/snapshots/NAME and restored into a fresh one. */
#ifndef FMLAB_SNAPSHOT_H
#define FMLAB_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

#define SNAPSHOT_AUTO_PREFIX "auto-"   /* auto-KEY: what `fmlab up` saves and restores */
#define SNAPSHOT_KEEP_AUTO 2           /* newest auto snapshots kept (other inputs) */

struct snapshot_info {
    char key[32];       /* hash of the inputs it was made from */
    char accel[16];     /* what the hosts ran under */
    char guest[16];     /* where the guest ran: src, dst or none */
    long created;       /* seconds since 1970 */
    double save_s;      /* how long the save took (hosts stopped) */
};

/* NAME is [A-Za-z0-9._-], 1..64 characters, not starting with '.'. 0, or -1 with err. */
int snapshot_name_check(const char *name, char *err, size_t errlen);
/* The hash of everything that shapes the lab under accel ("tcg"/"kvm"): every host's
 * QEMU command line, the guest's, and the identity (size, mtime) of every image, kernel,
 * key and of the L0 QEMU. 16 hex digits in out. 0, or -1 with err (missing input). */
int snapshot_key(const struct config *cfg, const char *accel, char *out, size_t len, char *err, size_t errlen);
/* Read NAME's manifest. 0, or -1 with err ("no snapshot NAME", "unreadable"). */
int snapshot_read(const struct config *cfg, const char *name, struct snapshot_info *info, char *err, size_t errlen);
/* Can NAME be restored with the current inputs? 0 (info filled), or -1 with err. */
int snapshot_usable(const struct config *cfg, const char *name, struct snapshot_info *info, char *err, size_t errlen);
/* Save the running lab as NAME (replacing an older NAME). The hosts are stopped for the
 * save and resumed after it, also when it fails. 0, or -1 with err. */
int snapshot_save(const struct config *cfg, const char *name, char *err, size_t errlen);
/* Save the running lab as auto-KEY and keep only the newest SNAPSHOT_KEEP_AUTO auto ones. */
int snapshot_save_auto(const struct config *cfg, char *err, size_t errlen);
/* Into a lab whose network is up and whose share is made (cmd_up.c): the snapshot's
 * files, the three hosts loaded from their states and resumed together, the share
 * mounted again, the guest checked (redis PONG from backup, QMP running). 0, or -1 with
 * err; the caller tears down what was started. */
int snapshot_restore(const struct config *cfg, const char *name, const struct snapshot_info *info,
                     char *err, size_t errlen);
/* `fmlab snapshot list` and the status lines: name, inputs, age, size, guest. */
void snapshot_list(const struct config *cfg, FILE *out);
int snapshot_remove(const struct config *cfg, const char *name, char *err, size_t errlen);
/* The snapshot of the current inputs for `fmlab up` (auto-KEY), in out. */
int snapshot_auto_name(const struct config *cfg, const char *accel, char *out, size_t len, char *err, size_t errlen);

#endif
