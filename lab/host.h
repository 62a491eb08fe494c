/* host.h: the QEMU an L1 host (src, dst, backup) runs as at L0, built from config.txt. */
#ifndef FMLAB_HOST_H
#define FMLAB_HOST_H

#include "config.h"
#include "lab.h"
#include "vm.h"

#define HOST_MAX_EXTRA 64

/* In a host: mount the guest image share (STATE_DIR/share over 9p) / unmount it. QEMU
 * refuses to migrate (or snapshot) a host while its 9p export is mounted. */
#define HOST_SHARE_MOUNT "mkdir -p " LAB_GUEST_MOUNT " && { mountpoint -q " LAB_GUEST_MOUNT " || mount -t 9p -o " \
    "trans=virtio,version=9p2000.L,ro fmlab-guest " LAB_GUEST_MOUNT "; } && test -r " LAB_GUEST_MOUNT "/vmlinuz"
#define HOST_SHARE_UMOUNT "! mountpoint -q " LAB_GUEST_MOUNT " || umount " LAB_GUEST_MOUNT

struct host_spec {
    struct vm_spec vm;
    char qemu[PATH_MAX];      /* the L0 QEMU (host_l0_qemu) */
    char run_dir[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX], disk[PATH_MAX];
    char overlay[PATH_MAX];   /* STATE_DIR/<host>/disk.qcow2: the host's writes, on disk */
    char append[2048], machine[64], mem_extra[64];
    char *extra_store[HOST_MAX_EXTRA];
    const char *extra[HOST_MAX_EXTRA + 1];
    int n_extra;
    bool extra_overflow;   /* an argument did not fit: the host must not start */
};

/* The L0 QEMU the hosts run in (config L0_QEMU): patched, CACHE_DIR/l0-qemu/current/bin/
 * qemu-system-x86_64 (make l0-qemu: bookworm's 7.2 + qemu/l0-patches), or debian, the
 * first qemu-system-x86_64 in PATH (the bare name when there is none). */
void host_l0_qemu(const struct config *cfg, char *out, size_t len);
/* Fill hs for host h; accel is "kvm" or "tcg". Returns 0, or -1 with err naming what is
 * missing (and which make target builds it). Free with host_spec_free. */
int host_spec_build(const struct config *cfg, const struct lab_host *h, const char *accel,
                    struct host_spec *hs, char *err, size_t errlen);
void host_spec_free(struct host_spec *hs);
/* A fresh qcow2 overlay hs->overlay on the read-only host image hs->disk (qemu-img). A
 * file, not snapshot=on, so a snapshot of the lab (snapshot.c) can keep the host's disk. */
int host_fresh_overlay(const struct host_spec *hs, char *err, size_t errlen);
/* STATE_DIR/<host>/ssh_host_ed25519_key: the host's SSH key, made per lab at L0. */
void host_key_path(const struct config *cfg, const struct lab_host *h, char *out, size_t len);
/* Readiness: eth0 addressed, eth1 on the guests' network (netns vmnet or backup's route), guest share mounted, NUMA node 1 CPU-less
 * memory, kvm_amd loaded and /dev/kvm running guest code (fmlab-kvmcheck), sshd listening. 0, or -1 with err naming the failed step. */
int host_check_ready(const struct config *cfg, const struct lab_host *h, struct vm *vm,
                     char *err, size_t errlen);
/* Run a shell command in host over ssh (the serial console is for the boot and for
 * people): CONSOLE_OK with its output (stdout and stderr, cut at outlen) and exit status,
 * CONSOLE_TIMEOUT after timeout_s (the host ends it too), CONSOLE_EOF if ssh cannot reach
 * the host. */
int host_run(const struct config *cfg, const char *host, const char *cmd, int timeout_s,
             char *out, size_t outlen, int *status);
/* The ssh argv (through the lab namespace and the host's control master in
 * STATE_DIR/<host>/ssh.ctl) that runs cmd in h, ended there after timeout_s. */
struct host_ssh {
    struct lab_ssh_paths paths;
    char ctl_path[PATH_MAX / 2], ctl[PATH_MAX], dest[64];
    char *remote;
    const char *argv[48];
};
int host_ssh_argv(const struct config *cfg, const struct lab_host *h, const char *cmd, int timeout_s,
                  struct host_ssh *s);
void host_ssh_free(struct host_ssh *s);/* The host's kernel command line (exposed for unit tests). */
void host_append(const struct config *cfg, const struct lab_host *h, char *out, size_t len);

#endif
