/* teardown.h: stop everything a lab started, from what its state directory records. */
#ifndef FMLAB_TEARDOWN_H
#define FMLAB_TEARDOWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* PIDs of QEMU processes this lab started (their command line names STATE_DIR).
 * Returns how many were found (up to max). */
int lab_find_qemus(const struct config *cfg, pid_t *pids, int max);
/* Stop hosts (QMP quit, then SIGTERM, then SIGKILL), remove the network namespace (and
 * with it the bridge and taps), the pool file (unless keep_pool), the shared guest disk
 * copy, pidfiles and sockets. Console logs stay. Idempotent; prints what it did.
 * Returns the number of things that could not be removed. */
int lab_teardown(const struct config *cfg, bool keep_pool);

#endif
