/* guest.h: the L2 redis guest, run by src's QEMU under KVM inside the host. */
#ifndef FMLAB_GUEST_H
#define FMLAB_GUEST_H

#include <stddef.h>

#include "config.h"

#define GUEST_PIDFILE "/run/fmlab-vm.pid"
#define GUEST_CONSOLE_LOG "/var/log/fmlab-vm-console.log"
#define GUEST_HMP_SOCKET "/run/fmlab-vm-hmp.sock"

/* The shell command that starts the guest's QEMU in a host (exposed for unit tests). */
void guest_command(const struct config *cfg, const char *host_ip, char *out, size_t len);
/* Start the guest in src, wait for its prompt, check every redis port from backup and
 * QMP from L0; bounded retries. 0, or -1 with err naming the failed step. */
int guest_up(const struct config *cfg, char *err, size_t errlen);

#endif
