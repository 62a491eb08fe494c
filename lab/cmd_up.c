/*
 * cmd_up.c: `fmlab up`, bring the lab's src, dst and backup hosts up.
 *
 * Order: lock, check inputs (images, root, a lab already up), pick the accelerator,
 * network namespace + bridge + taps, CXL pool file, shared guest disk, then boot the
 * three hosts in parallel (one worker process each: boot with bounded retry, readiness),
 * then make the pool a devdax device in every host. Everything started is recorded in
 * STATE_DIR as it is started, so `fmlab down` can undo it even if this process is
 * SIGKILLed; on failure or Ctrl-C, up tears down what it started and keeps the logs.
 */
#include "accel.h"
#include "clock.h"
#include "cgroup.h"
#include "fmlab.h"
#include "guest.h"
#include "host.h"
#include "files.h"
#include "lab.h"
#include "proc.h"
#include "snapshot.h"
#include "teardown.h"
#include "tsc.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

extern char **environ;

void usage_up(void)
{
    printf("usage: fmlab up [--boot | --from NAME | --no-guest | --guest-only]\n"
           "Boots the lab's hosts src, dst and backup (L1 QEMUs at L0) in parallel, with\n"
           "emulated CXL (NUMA node 1 + a shared pool device) and the lab network, waits\n"
           "until each is ready, then boots the redis guest inside src (not with --no-guest)\n"
           "and checks redis from backup. Logs: STATE_DIR/<host>/console.log. Undo: fmlab down.\n"
           "With LAB_SNAPSHOT=auto, up restores the snapshot of the current inputs (auto-KEY)\n"
           "instead when there is one, and saves it after a boot when there is none.\n"
           "--boot: boot, neither restore nor save. --from NAME: restore snapshot NAME\n"
           "(fmlab snapshot); one that does not restore is reported and the lab boots.\n"
           "--guest-only: the hosts are up; stop any guest QEMU in src and dst and boot the\n"
           "guest afresh in src (after a migration that lost it, e.g. a broken postcopy).\n");
}

/* HOST_ACCEL=auto: KVM only if /dev/kvm boots a stock kernel (see accel.c). */
static const char *choose_accel(const struct config *cfg)
{
    const char *want = config_get(cfg, "HOST_ACCEL");
    char kernel[PATH_MAX], dir[PATH_MAX], detail[512];

    if (strcmp(want, "auto") != 0)
        return want;
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        return "tcg";
    snprintf(kernel, sizeof(kernel), "%s/images/host/vmlinuz", config_get(cfg, "CACHE_DIR"));
    lab_path(cfg, "accel-probe", dir, sizeof(dir));
    bool hw = accel_boots_kernel("kvm", kernel, dir, 20, detail, sizeof(detail));
    printf("[lab] /dev/kvm: %s -> %s\n", detail, hw ? "kvm" : "tcg");
    return hw ? "kvm" : "tcg";
}

static int check_inputs(const struct config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX];
    pid_t pids[8];

    if (lab_find_qemus(cfg, pids, 8) > 0) {
        snprintf(err, errlen, "a lab is already up (QEMU pid %d): see fmlab status, or fmlab down", (int)pids[0]);
        return -1;
    }
    const char *images[] = { "guest/vmlinuz", "guest/initrd.img", "guest/disk.img" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/images/%s", config_get(cfg, "CACHE_DIR"), images[i]);
        if (access(path, R_OK) != 0) {
            snprintf(err, errlen, "missing %.600s (build it: make image)", path);
            return -1;
        }
    }
    lab_guest_kernel(cfg, path, sizeof(path));
    if (strcmp(config_get(cfg, "GUEST_KERNEL"), "lab") == 0 && access(path, R_OK) != 0) {
        snprintf(err, errlen, "missing %.600s, the guest's kernel (build it: make kernel, or GUEST_KERNEL=debian)", path);
        return -1;
    }
    if (lab_netns_exists()) {
        snprintf(err, errlen, "network namespace '%s' exists from an earlier lab: run fmlab down", LAB_NETNS);
        return -1;
    }
    return 0;
}

static int network_up(const struct config *cfg, char *err, size_t errlen)
{
    char script[PATH_MAX], addr[64];
    snprintf(script, sizeof(script), "%s/netsetup/bridge.sh", lab_repo_dir());
    snprintf(addr, sizeof(addr), "%s/%s", config_get(cfg, "L0_IP"), config_get(cfg, "LAB_NET_PREFIX"));
    const char *argv[] = { script, "up", LAB_NETNS, LAB_BRIDGE, addr, LAB_VM_BRIDGE, "fmlab-src", "fmlab-dst",
                           "fmlab-backup", NULL };
    int rc = proc_run(argv);
    if (rc != 0) {
        snprintf(err, errlen, "network setup failed (%.1000s up, exit %d)", script, rc);
        return -1;
    }
    printf("[lab] network: namespace %s, lab bridge %s (%s/%s, taps fmlab-src fmlab-dst fmlab-backup), "
           "guests' bridge %s (taps fmlab-*-vm)\n", LAB_NETNS, LAB_BRIDGE, config_get(cfg, "L0_IP"),
           config_get(cfg, "LAB_NET_PREFIX"), LAB_VM_BRIDGE);
    return 0;
}

static int keygen(const char *path, const char *comment, char *err, size_t errlen)
{
    const char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path, NULL };
    char pub[PATH_MAX + 8];
    snprintf(pub, sizeof(pub), "%s.pub", path);
    unlink(path);
    unlink(pub);
    if (proc_run(argv) == 0)
        return 0;
    snprintf(err, errlen, "ssh-keygen could not make %.1000s", path);
    return -1;
}

/* The lab's SSH keys, made at L0 where it costs nothing: root's key pair once per cache
 * dir (hosts get its public half by fw_cfg), and a fresh Ed25519 host key per host and
 * lab (handed in by fw_cfg, so no host generates keys while it boots), listed in
 * STATE_DIR/known_hosts so every ssh into the lab checks the host it reaches. */
static int ssh_keys_up(const struct config *cfg, char *err, size_t errlen)
{
    char key[PATH_MAX], dir[PATH_MAX], known[PATH_MAX], line[512];

    lab_ssh_key(cfg, key, sizeof(key));
    snprintf(dir, sizeof(dir), "%s", key);
    *strrchr(dir, '/') = '\0';
    if (access(key, R_OK) != 0 && (files_mkdir_p(dir) < 0 || keygen(key, "fmlab-lab", err, errlen)))
        return -1;
    lab_path(cfg, "known_hosts", known, sizeof(known));
    FILE *out = fopen(known, "w");
    if (!out) {
        snprintf(err, errlen, "cannot write %.1000s: %s", known, strerror(errno));
        return -1;
    }
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        const struct lab_host *h = &lab_hosts[i];
        char comment[64];
        host_key_path(cfg, h, key, sizeof(key));
        snprintf(comment, sizeof(comment), "fmlab-%s", h->name);
        lab_path(cfg, h->name, dir, sizeof(dir));
        mkdir(dir, 0700);
        if (keygen(key, comment, err, errlen)) {
            fclose(out);
            return -1;
        }
        strncat(key, ".pub", sizeof(key) - strlen(key) - 1);
        FILE *pub = fopen(key, "r");
        if (!pub || !fgets(line, sizeof(line), pub)) {
            snprintf(err, errlen, "cannot read %.1000s", key);
            if (pub)
                fclose(pub);
            fclose(out);
            return -1;
        }
        fclose(pub);
        fprintf(out, "%s,%s %s", config_get(cfg, h->ip_key), h->name, line);
    }
    return fclose(out) == 0 ? 0 : -1;
}

/* STATE_DIR/share, mounted by every host at LAB_GUEST_MOUNT: the guest image's kernel
 * and initrd, and the lab kernel the guest boots with GUEST_KERNEL=lab. */
static int share_up(const struct config *cfg, char *err, size_t errlen)
{
    char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX + 16];
    const char *names[] = { "vmlinuz", "initrd.img" };

    lab_path(cfg, LAB_SHARE, dir, sizeof(dir));
    if (files_mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create %.1000s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        snprintf(from, sizeof(from), "%s/images/guest/%s", config_get(cfg, "CACHE_DIR"), names[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, names[i]);
        if (files_link_or_copy(from, to, err, errlen))
            return -1;
    }
    lab_guest_kernel(cfg, from, sizeof(from));
    snprintf(to, sizeof(to), "%s/bzImage", dir);
    if (access(from, R_OK) == 0)
        return files_link_or_copy(from, to, err, errlen);
    unlink(to);
    return 0;
}

static int storage_up(const struct config *cfg, char *err, size_t errlen)
{
    if (ssh_keys_up(cfg, err, errlen))
        return -1;
    /* The pool is a sparse tmpfs file: hosts that touch a page tmpfs has no room for
     * die of SIGBUS, so the room is checked before anything boots */
    uint64_t want = config_get_size(cfg, "CXL_POOL_SIZE");
    struct statvfs vfs;
    char dir[] = LAB_POOL_PATH;
    *strrchr(dir, '/') = '\0';
    struct stat old;
    uint64_t reusable = stat(LAB_POOL_PATH, &old) == 0 ? (uint64_t)old.st_blocks * 512 : 0;
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize + reusable < want) {
        snprintf(err, errlen, "%s has %llu MiB free, the CXL pool needs CXL_POOL_SIZE=%s: free memory there or "
                 "lower CXL_POOL_SIZE", dir,
                 (unsigned long long)(((uint64_t)vfs.f_bavail * vfs.f_frsize + reusable) >> 20),
                 config_get(cfg, "CXL_POOL_SIZE"));
        return -1;
    }
    int fd = open(LAB_POOL_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)config_get_size(cfg, "CXL_POOL_SIZE")) < 0) {
        snprintf(err, errlen, "cannot create the CXL pool %s: %s", LAB_POOL_PATH, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    if (share_up(cfg, err, errlen) || guest_fresh_disk(cfg, err, errlen))
        return -1;
    printf("[lab] CXL pool %s (%s), shared guest disk %s/%s\n", LAB_POOL_PATH,
           config_get(cfg, "CXL_POOL_SIZE"), config_get(cfg, "SHARED_STORAGE"), LAB_GUEST_DISK);
    return 0;
}

/* Worker process for one boot attempt of one host: boot, check readiness, record the
 * result in STATE_DIR/<host>/ready or /error. */
static void boot_worker(const struct config *cfg, const struct lab_host *h, const char *accel, int attempt)
{
    struct host_spec hs = { 0 };
    struct vm vm = { .con.fd = -1, .qmp.fd = -1 };
    char err[1024] = "", path[PATH_MAX];
    double secs = 0;

    /* die with the runner: a SIGKILLed `fmlab up` must not leave workers that could
     * start a QEMU after `fmlab down` has run */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    double t0 = mono_s();
    bool ok = host_spec_build(cfg, h, accel, &hs, err, sizeof(err)) == 0 &&
              host_fresh_overlay(&hs, err, sizeof(err)) == 0 &&
              vm_start(&vm, &hs.vm, err, sizeof(err)) == 0 &&
              vm_wait_boot(&vm, (int)config_get_uint(cfg, "BOOT_IDLE_TIMEOUT"),
                           (int)config_get_uint(cfg, "BOOT_TIMEOUT"), &secs, err, sizeof(err)) == 0 &&
              host_check_ready(cfg, h, &vm, err, sizeof(err)) == 0;
    if (!ok)
        vm_stop(&vm);
    double total = mono_s() - t0;
    lab_path(cfg, h->name, path, sizeof(path));
    strncat(path, ok ? "/ready" : "/error", sizeof(path) - strlen(path) - 1);
    FILE *f = fopen(path, "w");
    if (f) {
        if (ok)
            fprintf(f, "boot_s=%.1f ready_s=%.1f retries=%d\n", secs, total, attempt);
        else
            fprintf(f, "%s\n", err);
        fclose(f);
    }
    if (ok)
        printf("[%s] ready: kvm_amd, /dev/kvm runs guest code, NUMA node 1 = CXL (%.1f s, %d retries)\n",
               h->name, total, attempt);
    else
        printf("[%s] attempt %d failed: %s\n", h->name, attempt + 1, err);
    fflush(stdout);
    /* leave QEMU running: it lives in its own session, down finds it by its pidfile */
    console_close(&vm.con);
    host_spec_free(&hs);
    _exit(ok ? 0 : 1);
}

static void clear_result(const struct config *cfg, const struct lab_host *h)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    lab_path(cfg, h->name, dir, sizeof(dir));
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/ready", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/error", dir);
    unlink(path);
}

/* Start a worker for each host in want[] (at once), wait for them all; want[i] is left
 * true for the hosts that failed. false if interrupted. */
static bool boot_round(const struct config *cfg, const char *accel, bool want[LAB_N_HOSTS], int attempt)
{
    pid_t workers[LAB_N_HOSTS] = { 0 };

    fflush(stdout);
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        if (!want[i])
            continue;
        clear_result(cfg, &lab_hosts[i]);
        workers[i] = fork();
        if (workers[i] == 0)
            boot_worker(cfg, &lab_hosts[i], accel, attempt);
    }
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        int status = 0;
        if (workers[i] <= 0)
            continue;
        while (waitpid(workers[i], &status, 0) < 0 && errno == EINTR) {
            if (lab_interrupted)
                for (int j = 0; j < LAB_N_HOSTS; j++)
                    if (workers[j] > 0)
                        kill(workers[j], SIGTERM);
        }
        want[i] = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return !lab_interrupted;
}

/* Boot all hosts in parallel; a retry does not repeat the load that made a boot fail: the
 * hosts that did not come up are booted again one at a time, beside the idle ones that
 * did. Returns the number that failed (or -1 if interrupted). */
static int boot_hosts(const struct config *cfg, const char *accel)
{
    bool failed[LAB_N_HOSTS] = { true, true, true };
    int retries = (int)config_get_uint(cfg, "BOOT_RETRIES"), left = LAB_N_HOSTS;

    if (!boot_round(cfg, accel, failed, 0))
        return -1;
    for (int attempt = 1; attempt <= retries; attempt++) {
        left = 0;
        for (int i = 0; i < LAB_N_HOSTS; i++)
            left += failed[i];
        if (!left)
            return 0;
        printf("[lab] retry %d of %d: booting %d host%s one at a time (%s)\n", attempt, retries, left,
               left == 1 ? "" : "s", attempt == 1 ? "in parallel they did not come up" : "again");
        for (int i = 0; i < LAB_N_HOSTS; i++) {
            bool one[LAB_N_HOSTS] = { false };
            if (!failed[i])
                continue;
            one[i] = true;
            if (!boot_round(cfg, accel, one, attempt))
                return -1;
            failed[i] = one[i];
        }
    }
    left = 0;
    for (int i = 0; i < LAB_N_HOSTS; i++)
        left += failed[i];
    return left;
}

/* Name each failed host, its error and the end of its console log. */
static void report_failures(const struct config *cfg)
{
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char dir[PATH_MAX], path[PATH_MAX + 16], line[1024];
        lab_path(cfg, lab_hosts[i].name, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/error", dir);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(line, sizeof(line), f))
            fprintf(stderr, "fmlab up: host %s did not come up: %s", lab_hosts[i].name, line);
        fclose(f);
        fprintf(stderr, "--- last 20 lines of %s/console.log ---\n", dir);
        vm_print_console_tail(dir, 20, stderr);
    }
}

/* The pool NVDIMM becomes devdax (a DAX device, never a page allocator's memory). src
 * writes the devdax info block into the shared pool; dst and backup re-read it.
 * --map=mem: each host keeps its page metadata (struct pages) for the device in its own
 * RAM. The default (--map=dev) puts it inside the namespace, that is inside the pool that
 * all three hosts share, and three kernels would write their struct pages over each other. */
static int pool_setup(const struct config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        const struct lab_host *h = &lab_hosts[i];
        char out[2048];
        int status = -1;
        const char *cmd = i == 0
            ? "ndctl create-namespace --force --reconfig=namespace0.0 --mode=devdax --map=mem --align=2M >/dev/null && test -c /dev/dax0.0"
            : "{ test -c /dev/dax0.0 || { ndctl disable-namespace namespace0.0 && ndctl enable-namespace namespace0.0; }; } >/dev/null && test -c /dev/dax0.0";
        int rc = host_run(cfg, h->name, cmd, (int)config_get_uint(cfg, "CMD_TIMEOUT"), out, sizeof(out), &status);
        if (rc != CONSOLE_OK || status != 0) {
            snprintf(err, errlen, "[%s] CXL pool as /dev/dax0.0: %s, exit %d: %.300s", h->name,
                     console_strerror(rc), status, out);
            return -1;
        }
    }
    printf("[lab] CXL pool is /dev/dax0.0 (devdax, NUMA node 1) in src, dst and backup\n");
    return 0;
}

static void print_summary(const struct config *cfg, double secs)
{
    printf("\n%-7s %-12s %-9s %-10s %-8s %s\n", "host", "address", "boot s", "ready s", "retries", "console log");
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char dir[PATH_MAX], path[PATH_MAX + 16];
        double boot = 0, ready = 0;
        int retries = 0;
        lab_path(cfg, lab_hosts[i].name, dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/ready", dir);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "boot_s=%lf ready_s=%lf retries=%d", &boot, &ready, &retries) != 3)
                boot = ready = 0;
            fclose(f);
        }
        printf("%-7s %-12s %-9.1f %-10.1f %-8d %s/console.log\n", lab_hosts[i].name,
               config_get(cfg, lab_hosts[i].ip_key), boot, ready, retries, dir);
    }
    char path[PATH_MAX];
    lab_path(cfg, "vm.ready", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (f) {
        double boot = 0;
        int retries = 0;
        if (fscanf(f, "boot_s=%lf retries=%d", &boot, &retries) == 2)
            printf("%-7s %-12s %-9.1f %-10s %-8d src:%s\n", "vm", config_get(cfg, "VM_IP"), boot, "-", retries,
                   GUEST_CONSOLE_LOG);
        fclose(f);
    }
    char from[128];
    lab_state_value(cfg, "restored_from", from, sizeof(from));
    if (from[0])
        printf("(restored from snapshot '%s': the boot times above are those of the boot it was saved after)\n", from);
    printf("\nlab up in %.1f s. fmlab status shows it; fmlab down stops it.\n", secs);
}

static int bring_up(const struct config *cfg, bool with_guest, char *err, size_t errlen)
{
    const char *accel = choose_accel(cfg);

    printf("[lab] hosts run under %s%s%s; L0's TSC runs at %lu kHz (tsc_early_khz)\n", accel,
           strcmp(accel, "tcg") ? "" : " with -cpu ", strcmp(accel, "tcg") ? "" : config_get(cfg, "HOST_CPU"),
           l0_tsc_khz());
    lab_state_write(cfg, accel, NULL);
    if (network_up(cfg, err, errlen) || storage_up(cfg, err, errlen))
        return -1;
    int failed = boot_hosts(cfg, accel);
    if (failed < 0) {
        snprintf(err, errlen, "interrupted");
        return -1;
    }
    if (failed) {
        report_failures(cfg);
        snprintf(err, errlen, "%d host%s did not come up (logs kept in %s)", failed,
                 failed == 1 ? "" : "s", config_get(cfg, "STATE_DIR"));
        return -1;
    }
    if (lab_interrupted || pool_setup(cfg, err, errlen))
        return lab_interrupted ? (snprintf(err, errlen, "interrupted"), -1) : -1;
    return with_guest && !lab_interrupted ? guest_up(cfg, err, errlen) : 0;
}

/* fmlab up --guest-only: hosts stay, the guest is booted afresh in src. */
static int guest_only(const struct config *cfg)
{
    char err[2048];
    int lock = lab_lock(cfg, err, sizeof(err));
    if (lock < 0) {
        fprintf(stderr, "fmlab up: %s\n", err);
        return 1;
    }
    guest_stop(cfg, "src");
    guest_stop(cfg, "dst");
    int rc = guest_up(cfg, err, sizeof(err));
    if (rc)
        fprintf(stderr, "fmlab up --guest-only: %s\n", err);
    close(lock);
    return rc ? 1 : 0;
}

struct up_options {
    bool with_guest, only_guest, boot_only;
    const char *from;
};

static int parse_options(int argc, char **argv, struct up_options *o)
{
    *o = (struct up_options){ .with_guest = true };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-guest") == 0)
            o->with_guest = false;
        else if (strcmp(argv[i], "--guest-only") == 0)
            o->only_guest = true;
        else if (strcmp(argv[i], "--boot") == 0)
            o->boot_only = true;
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            o->from = argv[++i];
        else if (strcmp(argv[i], "--from") == 0) {
            fprintf(stderr, "fmlab up: --from needs a snapshot NAME (fmlab snapshot list)\n");
            return -1;
        } else {
            fprintf(stderr, "fmlab up: unknown option '%s' (--boot, --from NAME, --no-guest, --guest-only)\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* LAB_SNAPSHOT=auto applies to this up: a full up with the guest, no --boot, no --from. */
static bool auto_snapshots(const struct config *cfg, const struct up_options *o)
{
    return o->with_guest && !o->boot_only && !o->from && strcmp(config_get(cfg, "LAB_SNAPSHOT"), "auto") == 0;
}

/* The snapshot up restores: --from NAME, or auto-KEY of the current inputs (LAB_SNAPSHOT=auto)
 * when it exists. false: boot (a snapshot that cannot be restored is reported first). */
static bool pick_snapshot(const struct config *cfg, const struct up_options *o, char *name, size_t len,
                          struct snapshot_info *info)
{
    char err[2048];
    const char *want = config_get(cfg, "HOST_ACCEL");
    const char *accels[] = { strcmp(want, "auto") == 0 ? "tcg" : want, strcmp(want, "auto") == 0 ? "kvm" : NULL };

    if (!o->from && !auto_snapshots(cfg, o))
        return false;
    if (o->boot_only || !o->with_guest)
        return false;
    if (o->from)
        snprintf(name, len, "%s", o->from);
    for (int i = 0; !o->from && i < 2 && accels[i]; i++) {
        if (snapshot_auto_name(cfg, accels[i], name, len, err, sizeof(err)) == 0 &&
            snapshot_read(cfg, name, info, err, sizeof(err)) == 0)
            break;
        name[0] = '\0';
    }
    if (!name[0]) {
        printf("[lab] no snapshot of these inputs yet: booting (then saving one)\n");
        return false;
    }
    if (snapshot_usable(cfg, name, info, err, sizeof(err)) == 0)
        return true;
    fprintf(stderr, "fmlab up: %s; booting instead\n", err);
    return false;
}

static int restore_up(const struct config *cfg, const char *name, const struct snapshot_info *info, char *err,
                      size_t errlen)
{
    printf("[lab] restoring snapshot '%s' (hosts under %s, guest on %s)\n", name, info->accel, info->guest);
    if (files_mkdir_p(config_get(cfg, "SHARED_STORAGE")) < 0) {
        snprintf(err, errlen, "cannot create SHARED_STORAGE %.1000s: %s", config_get(cfg, "SHARED_STORAGE"),
                 strerror(errno));
        return -1;
    }
    if (network_up(cfg, err, errlen) || share_up(cfg, err, errlen))
        return -1;
    return snapshot_restore(cfg, name, info, err, errlen);
}

/* Restore if there is a snapshot to restore, else (or when it fails) boot; after a boot
 * with LAB_SNAPSHOT=auto, save auto-KEY for the next up. */
static int up(const struct config *cfg, const struct up_options *o, char *err, size_t errlen)
{
    struct snapshot_info info;
    char name[128] = "";

    if (pick_snapshot(cfg, o, name, sizeof(name), &info)) {
        if (restore_up(cfg, name, &info, err, errlen) == 0)
            return 0;
        if (lab_interrupted)
            return -1;
        fprintf(stderr, "fmlab up: snapshot '%s' did not restore: %s; booting instead\n", name, err);
        lab_teardown(cfg, false);
    }
    if (bring_up(cfg, o->with_guest, err, errlen))
        return -1;
    if (auto_snapshots(cfg, o) && snapshot_save_auto(cfg, err, errlen)) {
        if (lab_interrupted)
            return -1;
        fprintf(stderr, "fmlab up: warning: the lab is up, but no snapshot was saved: %s\n", err);
    }
    return 0;
}

int cmd_up(int argc, char **argv)
{
    struct config cfg;
    struct up_options o;
    char err[2048];

    if (parse_options(argc, argv, &o))
        return 2;
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    if (o.only_guest) {
        if (lab_cgroup_join(false, err, sizeof(err)) < 0)   /* its ssh masters are the lab's */
            fprintf(stderr, "fmlab up: warning: %s\n", err);
        int rc = guest_only(&cfg);
        config_free(&cfg);
        return rc;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "fmlab up: must run as root (it creates a network namespace, taps and a bridge)\n");
        config_free(&cfg);
        return 1;
    }
    int lock = lab_lock(&cfg, err, sizeof(err));
    struct snapshot_info info;
    if (lock < 0 || check_inputs(&cfg, err, sizeof(err)) < 0 ||
        (o.from && snapshot_read(&cfg, o.from, &info, err, sizeof(err)) < 0)) {
        fprintf(stderr, "fmlab up: %s\n", err);
        if (lock >= 0)
            close(lock);
        config_free(&cfg);
        return 1;
    }
    if (lab_cgroup_join(true, err, sizeof(err)) < 0) {   /* before anything is started */
        fprintf(stderr, "fmlab up: %s\n", err);
        close(lock);
        config_free(&cfg);
        return 1;
    }
    lab_catch_signals();
    double t0 = mono_s();
    int rc = up(&cfg, &o, err, sizeof(err));
    if (rc == 0) {
        print_summary(&cfg, mono_s() - t0);
    } else {
        fprintf(stderr, "fmlab up: %s; taking down what was started\n", err);
        lab_teardown(&cfg, false);
    }
    close(lock);
    config_free(&cfg);
    return rc == 0 ? 0 : lab_interrupted ? 130 : 1;
}
