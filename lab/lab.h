/* lab.h: the lab's fixed names (hosts, namespace, bridge, pool) and its state directory. */
#ifndef FMLAB_LAB_H
#define FMLAB_LAB_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define LAB_NETNS "fmlab"
#define LAB_BRIDGE "fmlab0"      /* the lab network: hosts' eth0, L0's address */
#define LAB_VM_BRIDGE "fmlab1"   /* the guests' network: hosts' eth1, no L0 address */
#define LAB_POOL_PATH "/dev/shm/fmlab-cxl-pool"
#define LAB_GUEST_DISK "fmlab-guest.img"   /* in SHARED_STORAGE */
#define LAB_GUEST_MOUNT "/mnt/fmlab-guest" /* in hosts: STATE_DIR/share over 9p, read-only */
#define LAB_SHARE "share"   /* STATE_DIR/share: the guest's kernel(s) and initrd, linked at up */
#define LAB_N_HOSTS 3

struct lab_host {
    const char *name;       /* src, dst, backup */
    const char *ip_key;     /* its address in config.txt */
    const char *cpuset_key; /* L0 cores it is pinned to, or NULL */
    bool guest_disk;        /* attached to the shared guest disk */
};

extern const struct lab_host lab_hosts[LAB_N_HOSTS];
const struct lab_host *lab_find_host(const char *name);

/* STATE_DIR/<name> (host dirs) or STATE_DIR/<file>. */
void lab_path(const struct config *cfg, const char *name, char *out, size_t len);
/* Take the lab's lock (one up/down at a time). Returns an fd to keep open, or -1 with
 * err naming the holder. */
int lab_lock(const struct config *cfg, char *err, size_t errlen);
/* KEY's value in STATE_DIR/lab.state (accel=, started=, restored_from=), "" if absent. */
/* STATE_DIR/lab.state for the lab coming up: its accelerator, start time, NET_MODE and
 * the snapshot it is restored from (NULL: booted). */
void lab_state_write(const struct config *cfg, const char *accel, const char *restored_from);
void lab_state_value(const struct config *cfg, const char *key, char *out, size_t len);
/* The kernel the guest boots (GUEST_KERNEL=lab: the lab's bzImage, no initrd), at L0. */
void lab_guest_kernel(const struct config *cfg, char *out, size_t len);
/* The lab's SSH private key (CACHE_DIR/keys/lab_ed25519; .pub beside it). */
void lab_ssh_key(const struct config *cfg, char *out, size_t len);
/* ssh/scp into the lab network as root with the lab's key, host keys checked against
 * STATE_DIR/known_hosts (up makes a host key per host and lab and hands it in by fw_cfg).
 * Fills argv with the prefix (pointing into *paths) and returns its length. */
struct lab_ssh_paths {
    char key[PATH_MAX];
    char known[PATH_MAX + 32];
};
int lab_ssh_prefix(const struct config *cfg, const char *tool, struct lab_ssh_paths *paths, const char **argv);
/* Whether the lab's network namespace exists (ip netns keeps it as /run/netns/NAME). */
bool lab_netns_exists(void);
/* Set by SIGINT/SIGTERM once lab_catch_signals() ran: long steps (boots, retries,
 * migrations) check it and stop, so Ctrl-C means "stop and clean up", never "retry". */
extern volatile sig_atomic_t lab_interrupted;
void lab_catch_signals(void);
/* Directory holding this fmlab checkout (netsetup/ and images are found from it). */
const char *lab_repo_dir(void);

#endif
