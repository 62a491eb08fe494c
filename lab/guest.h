/* guest.h: the L2 redis guest, run by src's QEMU under KVM inside the host. */
#ifndef FMLAB_GUEST_H
#define FMLAB_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"

#define GUEST_PIDFILE "/run/fmlab-vm.pid"
/* NET_MODE=ovs: the guest's tap in its host (QEMU makes it, fmlab-ovs-ifup moves it into vmnet) */
#define GUEST_TAP "fmvm0"
/* NET_MODE=ovs-dpdk: the guest QEMU's vhost-user server socket, which OVS-DPDK's port vhu0
 * connects to as a client (fmlab-hostnet names the same path) */
#define GUEST_VHOST_USER_SOCKET "/run/fmlab-vhost-user.sock"
#define GUEST_CONSOLE_LOG "/var/log/fmlab-vm-console.log"
/* The guest QEMU's stderr (-D keeps it open after -daemonize): its errors and exit reason */
#define GUEST_QEMU_LOG "/var/log/fmlab-vm-qemu.log"
#define GUEST_HMP_SOCKET "/run/fmlab-vm-hmp.sock"
/* The guest's identity (QEMU -uuid), the same on src and dst: an shm image names the VM
 * it holds, and a destination refuses an image of another VM. */
#define GUEST_UUID "5f3c9e2a-8b41-4d6e-9a07-c1e2f3a4b5d6"

/* Inside a host: stop the guest's QEMU (SIGTERM, 10 s, then SIGKILL) and forget its
 * pidfile; and kill it at once (a fault the migration tests inject). */
#define GUEST_STOP_SCRIPT                                                                               \
    "p=$(cat " GUEST_PIDFILE " 2>/dev/null) && kill $p; "                                               \
    "for i in $(seq 50); do [ -n \"$p\" ] && [ -e /proc/$p ] || break; sleep 0.2; done; "              \
    "[ -n \"$p\" ] && kill -9 $p 2>/dev/null; rm -f " GUEST_PIDFILE "; true"
#define GUEST_KILL_NOW "kill -9 $(cat " GUEST_PIDFILE ")"

/* The guest QEMU's argv in a host (free with argv_free), and the same as the shell line
 * that starts it over ssh, each word quoted (-1 if out is too small). */
char **guest_argv(const struct config *cfg, const char *host_ip, bool incoming);
int guest_command(const struct config *cfg, const char *host_ip, bool incoming, char *out, size_t len);
/* The guest QEMU's query-status at host_ip (QMP from L0 through the lab namespace), or
 * "absent" when nothing listens there, "gone" when a QEMU accepts but does not answer. */
void guest_status(const struct config *cfg, const char *host_ip, int timeout_s, char *out, size_t len);
/* Run a shell command in the running guest (src or dst, wherever QMP says running) on its
 * serial console, like host_run: CONSOLE_OK with output and exit status, CONSOLE_EOF when
 * no guest runs or its console cannot be reached. */
int guest_run(const struct config *cfg, const char *cmd, int timeout_s, char *out, size_t outlen, int *status);
/* The guest QEMU at host_ip answers a query (no arguments): its "return" (new
 * reference), or NULL when it cannot be reached or refuses the command. */
json_t *guest_query(const struct config *cfg, const char *host_ip, const char *command, int timeout_s);
/* Pause (QMP stop) or resume (cont) the guest QEMU on host. 0, or -1 with err. */
int guest_pause(const struct config *cfg, const char *host, bool pause, char *err, size_t errlen);
/* The guest runs on host (src or dst): QMP there says running and every redis port
 * answers PONG from backup. 0, or -1 with err naming what failed. */
int guest_check(const struct config *cfg, const char *host, char *err, size_t errlen);
/* On host (src or dst): replace any old guest QEMU by one waiting with -incoming defer. */
int guest_start_incoming(const struct config *cfg, const char *host, char *err, size_t errlen);
/* Stop the guest QEMU on host, if any (TERM, then KILL). */
void guest_stop(const struct config *cfg, const char *host);
/* Run one HMP command through the host's HMP socket, the study's socat way. */
int guest_hmp(const struct config *cfg, const char *host, const char *command, char *out, size_t outlen);
/* SHARED_STORAGE/fmlab-guest.img := the guest image's disk, rewritten in place (src and
 * dst keep it open), so a boot never starts from a disk a killed guest left. */
int guest_fresh_disk(const struct config *cfg, char *err, size_t errlen);
/* Start the guest in src, wait for its prompt, check every redis port from backup and
 * QMP from L0; bounded retries. 0, or -1 with err naming the failed step. */
int guest_up(const struct config *cfg, char *err, size_t errlen);

#endif
