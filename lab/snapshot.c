/*
 * snapshot.c: a running lab saved to disk, and restored into a fresh lab in seconds.
 *
 * A lab is more than its inputs: the RAM and device state of the three L1 QEMUs (with
 * the L2 guest running inside src), each host's disk overlay, the CXL pool, the shared
 * guest disk, and the per-lab files in STATE_DIR (host keys, known_hosts, readiness).
 * save stops the three hosts together (QMP stop), streams each QEMU's state into a file
 * by a migration to an fd handed over QMP (getfd: no shell, no copy through us), copies
 * the disks and the pool while nothing runs, and resumes the lab. The pool is a share=on
 * file every host maps: x-ignore-shared keeps it out of the three streams and it is
 * copied once. QEMU refuses to migrate a host whose 9p share is mounted, so hosts
 * unmount it around the save. restore starts each QEMU on the same command line with
 * -S -incoming defer, loads its stream and resumes the three together; under TCG the
 * hosts' clocks stop with the VM and continue from the save, as after a pause.
 * A snapshot is keyed by a hash of everything that shapes the lab (snapshot_key): one
 * made from other inputs is never restored.
 */
#include "snapshot.h"
#include "argv.h"
#include "clock.h"
#include "fmlab.h"
#include "files.h"
#include "guest.h"
#include "host.h"
#include "lab.h"
#include "teardown.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define SNAPSHOT_FORMAT "fmlab-snapshot-3"
#define SNAPSHOT_TIMEOUT_S 600

/* STATE_DIR files a restored lab needs, relative to STATE_DIR ("*" = each host's dir) */
static const char *const state_files[] = {
    "known_hosts", "vm.ready", "*/ready", "*/ssh_host_ed25519_key", "*/ssh_host_ed25519_key.pub",
};

static void snapshot_dir(const struct config *cfg, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/snapshots/%s", config_get(cfg, "CACHE_DIR"), name);
}

int snapshot_name_check(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    bool ok = n >= 1 && n <= 64 && name[0] != '.' && strspn(name,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
    if (!ok)
        snprintf(err, errlen, "snapshot name '%.80s': use 1-64 of A-Z a-z 0-9 . _ - (not starting with '.')", name);
    return ok ? 0 : -1;
}

/* ---- the key ------------------------------------------------------------------------ */

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= c[i];
        *h *= 1099511628211ull;
    }
}

static void fnv_str(uint64_t *h, const char *s)
{
    fnv(h, s, strlen(s) + 1);
}

/* A file's identity: path, size, mtime (rebuilt images and kernels are new files). */
static int fnv_file(uint64_t *h, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "missing %.1000s", path);
        return -1;
    }
    fnv_str(h, path);
    fnv(h, &st.st_size, sizeof(st.st_size));
    fnv(h, &st.st_mtim.tv_sec, sizeof(st.st_mtim.tv_sec));
    fnv(h, &st.st_mtim.tv_nsec, sizeof(st.st_mtim.tv_nsec));
    return 0;
}

static int key_of_hosts(const struct config *cfg, const char *accel, uint64_t *h, char *err, size_t errlen)
{
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        struct host_spec hs;
        if (host_spec_build(cfg, &lab_hosts[i], accel, &hs, err, errlen))
            return -1;
        char **argv = vm_build_argv(&hs.vm);
        for (char **a = argv; *a; a++) {
            /* L0's TSC rate is measured at every up (tsc.c) and may differ in the last
             * digit; a restored host keeps the rate it booted with */
            char *tsc = strstr(*a, " tsc_early_khz=");
            fnv(h, *a, tsc ? (size_t)(tsc - *a) : strlen(*a) + 1);
        }
        argv_free(argv);
        int rc = fnv_file(h, hs.kernel, err, errlen) || fnv_file(h, hs.disk, err, errlen);
        if (rc == 0 && hs.vm.initrd)
            rc = fnv_file(h, hs.vm.initrd, err, errlen);
        host_spec_free(&hs);
        if (rc)
            return -1;
    }
    return 0;
}

int snapshot_key(const struct config *cfg, const char *accel, char *out, size_t len, char *err, size_t errlen)
{
    uint64_t h = 14695981039346656037ull;
    char path[PATH_MAX], cmd[4096];
    const char *guest_files[] = { "vmlinuz", "initrd.img", "disk.img" };

    fnv_str(&h, SNAPSHOT_FORMAT);
    fnv_str(&h, FMLAB_VERSION);
    if (key_of_hosts(cfg, accel, &h, err, errlen))
        return -1;
    guest_command(cfg, config_get(cfg, "SRC_IP"), false, cmd, sizeof(cmd));
    fnv_str(&h, cmd);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/images/guest/%s", config_get(cfg, "CACHE_DIR"), guest_files[i]);
        if (fnv_file(&h, path, err, errlen))
            return -1;
    }
    lab_guest_kernel(cfg, path, sizeof(path));
    if (strcmp(config_get(cfg, "GUEST_KERNEL"), "lab") == 0 && fnv_file(&h, path, err, errlen))
        return -1;
    lab_ssh_key(cfg, path, sizeof(path));
    strncat(path, ".pub", sizeof(path) - strlen(path) - 1);
    if (fnv_file(&h, path, err, errlen))
        return -1;
    host_l0_qemu(cfg, path, sizeof(path));
    if (fnv_file(&h, path, err, errlen))
        return -1;
    snprintf(out, len, "%016llx", (unsigned long long)h);
    return 0;
}

int snapshot_auto_name(const struct config *cfg, const char *accel, char *out, size_t len, char *err, size_t errlen)
{
    char key[32];
    if (snapshot_key(cfg, accel, key, sizeof(key), err, errlen))
        return -1;
    snprintf(out, len, SNAPSHOT_AUTO_PREFIX "%s", key);
    return 0;
}

/* ---- the manifest ------------------------------------------------------------------- */

int snapshot_read(const struct config *cfg, const char *name, struct snapshot_info *info, char *err, size_t errlen)
{
    char path[PATH_MAX], line[256], format[64] = "";

    memset(info, 0, sizeof(*info));
    if (snapshot_name_check(name, err, errlen))
        return -1;
    snapshot_dir(cfg, name, path, sizeof(path));
    strncat(path, "/manifest", sizeof(path) - strlen(path) - 1);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "no snapshot '%s' (fmlab snapshot list shows them)", name);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        sscanf(line, "format=%63s", format);
        sscanf(line, "key=%31s", info->key);
        sscanf(line, "accel=%15s", info->accel);
        sscanf(line, "guest=%15s", info->guest);
        sscanf(line, "created=%ld", &info->created);
        sscanf(line, "save_s=%lf", &info->save_s);
    }
    fclose(f);
    if (strcmp(format, SNAPSHOT_FORMAT) != 0 || !info->key[0] || !info->accel[0]) {
        snprintf(err, errlen, "snapshot '%s': manifest %.1000s is not an %s manifest", name, path, SNAPSHOT_FORMAT);
        return -1;
    }
    return 0;
}

int snapshot_usable(const struct config *cfg, const char *name, struct snapshot_info *info, char *err, size_t errlen)
{
    char key[32];
    if (snapshot_read(cfg, name, info, err, errlen))
        return -1;
    const char *want = config_get(cfg, "HOST_ACCEL");
    if (strcmp(want, "auto") != 0 && strcmp(want, info->accel) != 0) {
        snprintf(err, errlen, "snapshot '%s' ran its hosts under %s, HOST_ACCEL is %s", name, info->accel, want);
        return -1;
    }
    if (snapshot_key(cfg, info->accel, key, sizeof(key), err, errlen))
        return -1;
    if (strcmp(key, info->key) != 0) {
        snprintf(err, errlen, "snapshot '%s' was made from other inputs (key %s, now %s: an image, kernel, "
                 "QEMU or config key that shapes the lab changed)", name, info->key, key);
        return -1;
    }
    return 0;
}

/* ---- the three hosts' QEMUs, together ------------------------------------------------ */

struct lab_qmps {
    struct qmp q[LAB_N_HOSTS];
    bool open[LAB_N_HOSTS];
};

static int qmps_open(const struct config *cfg, struct lab_qmps *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char sock[PATH_MAX];
        lab_path(cfg, lab_hosts[i].name, sock, sizeof(sock));
        strncat(sock, "/qmp.sock", sizeof(sock) - strlen(sock) - 1);
        if (qmp_open(&l->q[i], sock, 5, err, errlen))
            return -1;
        l->open[i] = true;
    }
    return 0;
}

static void qmps_close(struct lab_qmps *l)
{
    for (int i = 0; i < LAB_N_HOSTS; i++)
        if (l->open[i])
            qmp_close(&l->q[i]);
    memset(l->open, 0, sizeof(l->open));
}

/* One argument-less command (stop, cont) on every host, back to back. */
static int qmps_all(struct lab_qmps *l, const char *command, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char e[256];
        json_t *ret = qmp_execute(&l->q[i], command, NULL, 30, e, sizeof(e));
        if (!ret && !rc) {
            snprintf(err, errlen, "[%s] %s", lab_hosts[i].name, e);
            rc = -1;
        }
        json_decref(ret);
    }
    return rc;
}

static int on_all_hosts(const struct config *cfg, const char *what, const char *cmd, char *err, size_t errlen)
{
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char out[1024];
        int status = -1;
        int rc = host_run(cfg, lab_hosts[i].name, cmd, (int)config_get_uint(cfg, "CMD_TIMEOUT"), out,
                          sizeof(out), &status);
        if (rc != CONSOLE_OK || status != 0) {
            snprintf(err, errlen, "[%s] %s: %s, exit %d: %.300s", lab_hosts[i].name, what,
                     console_strerror(rc), status, out);
            return -1;
        }
    }
    return 0;
}

static int execute(struct qmp *q, const char *host, const char *command, json_t *args, char *err, size_t errlen)
{
    char e[512];
    json_t *ret = qmp_execute(q, command, args, 30, e, sizeof(e));
    json_decref(args);
    if (ret) {
        json_decref(ret);
        return 0;
    }
    snprintf(err, errlen, "[%s] %s", host, e);
    return -1;
}

/* Start streaming a host's state to (out) or from file, through an fd QEMU gets by getfd.
 * The pool (share=on) stays out of the stream: x-ignore-shared, on both sides. */
static int stream_start(struct qmp *q, const char *host, const char *file, bool out, char *err, size_t errlen)
{
    int fd = open(file, out ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "[%s] cannot open %.1000s: %s", host, file, strerror(errno));
        return -1;
    }
    char e[512];
    int rc = execute(q, host, "migrate-set-capabilities", json_pack("{s:[{s:s, s:b}]}", "capabilities",
                     "capability", "x-ignore-shared", "state", 1), err, errlen);
    /* stopped hosts: no downtime to respect, no reason to throttle the stream */
    if (rc == 0 && out)
        rc = execute(q, host, "migrate-set-parameters", json_pack("{s:I, s:I}", "max-bandwidth",
                     (json_int_t)100000000000ll, "downtime-limit", (json_int_t)60000), err, errlen);
    if (rc == 0 && qmp_pass_fd(q, fd, "fmlab-snapshot", 30, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "[%s] %s", host, e);
        rc = -1;
    }
    close(fd);
    if (rc == 0)
        rc = execute(q, host, out ? "migrate" : "migrate-incoming", json_pack("{s:s}", "uri", "fd:fmlab-snapshot"),
                     err, errlen);
    return rc;
}

/* Wait until a host's outgoing stream completed (query-migrate) or, incoming, until the
 * state is loaded (with -S the VM then waits, "paused"). */
static int stream_wait(const struct config *cfg, struct qmp *q, const char *host, bool out, double deadline,
                       char *err, size_t errlen)
{
    while (mono_s() < deadline && !lab_interrupted) {
        char e[512];
        json_t *st = qmp_execute(q, out ? "query-migrate" : "query-status", NULL, 30, e, sizeof(e));
        if (!st && !out) {   /* a QEMU whose state does not load exits */
            char dir[PATH_MAX], last[512];
            lab_path(cfg, host, dir, sizeof(dir));
            vm_last_log_line(dir, last, sizeof(last));
            snprintf(err, errlen, "[%s] QEMU exited while loading its state: %.300s (%.1000s/qemu.log)", host, last, dir);
            return -1;
        }
        if (!st) {
            snprintf(err, errlen, "[%s] %s", host, e);
            return -1;
        }
        const char *s = json_string_value(json_object_get(st, "status"));
        char status[64], desc[256];
        snprintf(status, sizeof(status), "%s", s ? s : "none");
        snprintf(desc, sizeof(desc), "%s", json_string_value(json_object_get(st, "error-desc")) ?: "");
        json_decref(st);
        if (strcmp(status, out ? "completed" : "paused") == 0)
            return 0;
        bool going = out ? strcmp(status, "active") == 0 || strcmp(status, "setup") == 0 ||
                               strcmp(status, "device") == 0
                         : strcmp(status, "inmigrate") == 0;
        if (!going) {
            snprintf(err, errlen, "[%s] %s state: %s %s", host, out ? "saving the" : "loading the", status, desc);
            return -1;
        }
        usleep(100 * 1000);
    }
    snprintf(err, errlen, "[%s] %s", host, lab_interrupted ? "interrupted" : "state stream timed out");
    return -1;
}

/* All hosts at once: start every stream, then wait for each. */
static int streams(const struct config *cfg, struct lab_qmps *l, const char *dir, bool out, char *err, size_t errlen)
{
    char file[PATH_MAX];
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        snprintf(file, sizeof(file), "%.3000s/%s.vmstate", dir, lab_hosts[i].name);
        if (stream_start(&l->q[i], lab_hosts[i].name, file, out, err, errlen))
            return -1;
    }
    double deadline = mono_s() + SNAPSHOT_TIMEOUT_S;
    for (int i = 0; i < LAB_N_HOSTS; i++)
        if (stream_wait(cfg, &l->q[i], lab_hosts[i].name, out, deadline, err, errlen))
            return -1;
    return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

static unsigned long long tree_bytes;

static int add_bytes(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)flag, (void)ftw;
    tree_bytes += (unsigned long long)st->st_blocks * 512;
    return 0;
}

static unsigned long long dir_bytes(const char *dir)
{
    tree_bytes = 0;
    nftw(dir, add_bytes, 16, FTW_PHYS);
    return tree_bytes;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT ? -1 : 0;
}

/* What the snapshot keeps besides the states: (lab path, name in the snapshot). */
struct copy_pair {
    char lab[PATH_MAX], snap[PATH_MAX];
    bool optional;
};

static int copy_pairs(const struct config *cfg, const char *dir, struct copy_pair *p, int max)
{
    int n = 0;
    snprintf(p[n].lab, PATH_MAX, "%s", LAB_POOL_PATH);
    snprintf(p[n++].snap, PATH_MAX, "%.3000s/pool", dir);
    snprintf(p[n].lab, PATH_MAX, "%.2000s/%s", config_get(cfg, "SHARED_STORAGE"), LAB_GUEST_DISK);
    snprintf(p[n++].snap, PATH_MAX, "%.3000s/guest-disk.img", dir);
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        lab_path(cfg, lab_hosts[i].name, p[n].lab, PATH_MAX);
        strncat(p[n].lab, "/disk.qcow2", PATH_MAX - strlen(p[n].lab) - 1);
        snprintf(p[n++].snap, PATH_MAX, "%.3000s/%s.qcow2", dir, lab_hosts[i].name);
    }
    for (size_t f = 0; f < sizeof(state_files) / sizeof(state_files[0]); f++) {
        bool each = state_files[f][0] == '*';
        for (int i = 0; i < (each ? LAB_N_HOSTS : 1) && n < max; i++) {
            char rel[256];
            snprintf(rel, sizeof(rel), "%s%s", each ? lab_hosts[i].name : "", state_files[f] + each);
            lab_path(cfg, rel, p[n].lab, PATH_MAX);
            snprintf(p[n].snap, PATH_MAX, "%.3000s/state/%s", dir, rel);
            p[n++].optional = true;
        }
    }
    return n;
}

static int copy_files(const struct config *cfg, const char *dir, bool save, char *err, size_t errlen)
{
    struct copy_pair pairs[32];
    char sub[PATH_MAX];
    int n = copy_pairs(cfg, dir, pairs, 32);

    for (int i = 0; i < LAB_N_HOSTS; i++) {
        if (save)
            snprintf(sub, sizeof(sub), "%.3000s/state/%s", dir, lab_hosts[i].name);
        else
            lab_path(cfg, lab_hosts[i].name, sub, sizeof(sub));
        if (files_mkdir_p(sub) < 0) {
            snprintf(err, errlen, "cannot create %.1000s: %s", sub, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        const char *from = save ? pairs[i].lab : pairs[i].snap, *to = save ? pairs[i].snap : pairs[i].lab;
        if (pairs[i].optional && access(from, R_OK) != 0) {
            unlink(to);
            continue;
        }
        if (files_copy_sparse(from, to, err, errlen))
            return -1;
    }
    return 0;
}

/* ---- save ------------------------------------------------------------------------------ */

static unsigned long long allocated(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned long long)st.st_blocks * 512 : 0;
}

/* The states are at most the hosts' RAM; disks and pool as much as they hold now. */
static int check_space(const struct config *cfg, const char *dir, char *err, size_t errlen)
{
    struct copy_pair pairs[32];
    struct statvfs vfs;
    unsigned long long need = 1ull << 30;
    int n = copy_pairs(cfg, dir, pairs, 32);

    for (int i = 0; i < n; i++)
        need += allocated(pairs[i].lab);
    need += LAB_N_HOSTS * (config_get_size(cfg, "HOST_MEM") + config_get_size(cfg, "HOST_CXL_MEM"));
    if (statvfs(dir, &vfs) == 0 && (unsigned long long)vfs.f_bavail * vfs.f_frsize < need) {
        snprintf(err, errlen, "not enough space for a snapshot in %.1000s: up to %.1f GiB needed, %.1f GiB free",
                 dir, (double)need / (1 << 30), (double)vfs.f_bavail * (double)vfs.f_frsize / (1 << 30));
        return -1;
    }
    return 0;
}

static void guest_location(const struct config *cfg, char *out, size_t len)
{
    const char *hosts[] = { "src", "dst" };
    snprintf(out, len, "none");
    for (int i = 0; i < 2; i++) {
        char status[64];
        guest_status(cfg, config_get(cfg, lab_find_host(hosts[i])->ip_key), 5, status, sizeof(status));
        if (strcmp(status, "running") == 0) {
            snprintf(out, len, "%s", hosts[i]);
            return;
        }
    }
}

static int write_manifest(const char *dir, const struct snapshot_info *info, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%.3000s/manifest", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %.1000s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "format=%s\nkey=%s\naccel=%s\nguest=%s\ncreated=%ld\nsave_s=%.1f\n", SNAPSHOT_FORMAT,
            info->key, info->accel, info->guest, info->created, info->save_s);
    return fclose(f) == 0 ? 0 : -1;
}

/* Before the hosts stop: the guest paused, so no host vCPU is inside it (QEMU 7.2 saves
 * a TCG vCPU in SVM guest mode but refuses to load it: "vCPU set in guest-mode
 * inconsistent with migrated kernel nested state", a check meant for KVM's nested
 * state), and the 9p share unmounted (it blocks migration while mounted). */
static int quiesce(const struct config *cfg, const struct snapshot_info *info, char *err, size_t errlen)
{
    char e[512];
    bool guest = strcmp(info->guest, "none") != 0;
    if (guest && guest_pause(cfg, info->guest, true, err, errlen))
        return -1;
    if (on_all_hosts(cfg, "unmount the guest share (9p blocks migration)", HOST_SHARE_UMOUNT, err, errlen) == 0)
        return 0;
    if (guest)
        guest_pause(cfg, info->guest, false, e, sizeof(e));
    return -1;
}

/* Once the hosts run again: the share mounted, the guest resumed. */
static int unquiesce(const struct config *cfg, const struct snapshot_info *info, char *err, size_t errlen)
{
    char e[512];
    int rc = on_all_hosts(cfg, "mount the guest share", HOST_SHARE_MOUNT, err, errlen);
    if (strcmp(info->guest, "none") != 0 && guest_pause(cfg, info->guest, false, rc ? e : err, rc ? sizeof(e) : errlen))
        rc = -1;
    return rc;
}

/* With the hosts stopped: their states, then the files. */
static int save_stopped(const struct config *cfg, struct lab_qmps *l, const char *tmp, char *err, size_t errlen)
{
    double t0 = mono_s();
    if (streams(cfg, l, tmp, true, err, errlen))
        return -1;
    double t1 = mono_s();
    if (copy_files(cfg, tmp, true, err, errlen))
        return -1;
    printf("[snapshot] host states %.1f s, disks and pool %.1f s\n", t1 - t0, mono_s() - t1);
    return 0;
}

/* The new snapshot replaces an older one of the same name only once it is complete. */
static int publish(const char *tmp, const char *dir, char *err, size_t errlen)
{
    char old[PATH_MAX + 32];
    snprintf(old, sizeof(old), "%s.old-%d", dir, (int)getpid());
    if (access(dir, F_OK) == 0 && rename(dir, old) < 0) {
        snprintf(err, errlen, "cannot replace %.1000s: %s", dir, strerror(errno));
        return -1;
    }
    if (rename(tmp, dir) < 0) {
        snprintf(err, errlen, "cannot rename %.1000s: %s", tmp, strerror(errno));
        return -1;
    }
    rm_rf(old);
    return 0;
}

int snapshot_save(const struct config *cfg, const char *name, char *err, size_t errlen)
{
    struct snapshot_info info = { .created = (long)time(NULL) };
    struct lab_qmps l;
    char dir[PATH_MAX], tmp[PATH_MAX + 32], e[1024];

    if (snapshot_name_check(name, err, errlen))
        return -1;
    lab_state_value(cfg, "accel", info.accel, sizeof(info.accel));
    pid_t pids[8];
    if (!info.accel[0] || lab_find_qemus(cfg, pids, 8) != LAB_N_HOSTS) {
        snprintf(err, errlen, "no lab is up to save (fmlab status; fmlab up)");
        return -1;
    }
    if (snapshot_key(cfg, info.accel, info.key, sizeof(info.key), err, errlen))
        return -1;
    guest_location(cfg, info.guest, sizeof(info.guest));
    snapshot_dir(cfg, name, dir, sizeof(dir));
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dir, (int)getpid());
    if (files_mkdir_p(tmp) < 0) {
        snprintf(err, errlen, "cannot create %.1000s: %s", tmp, strerror(errno));
        return -1;
    }
    if (check_space(cfg, tmp, err, errlen) || qmps_open(cfg, &l, err, errlen) || quiesce(cfg, &info, err, errlen)) {
        qmps_close(&l);
        rm_rf(tmp);
        return -1;
    }
    double t0 = mono_s();
    int rc = qmps_all(&l, "stop", err, errlen);
    if (rc == 0)
        rc = save_stopped(cfg, &l, tmp, err, errlen);
    if (rc)   /* a stream still running would leave its host "postmigrate" after cont */
        qmps_all(&l, "migrate_cancel", e, sizeof(e));
    info.save_s = mono_s() - t0;
    /* the lab goes on whatever happened: a failed save must not cost the running lab */
    if (qmps_all(&l, "cont", e, sizeof(e)) && rc == 0)
        rc = -1, snprintf(err, errlen, "%s", e);
    qmps_close(&l);
    if (unquiesce(cfg, &info, e, sizeof(e)) && rc == 0)
        rc = -1, snprintf(err, errlen, "%s", e);
    if (rc == 0)
        rc = write_manifest(tmp, &info, err, errlen) || publish(tmp, dir, err, errlen) ? -1 : 0;
    if (rc) {
        rm_rf(tmp);
        return -1;
    }
    printf("[snapshot] saved '%s' in %.1f s (hosts stopped), %.2f GiB, key %s, guest on %s: %s\n", name,
           info.save_s, (double)dir_bytes(dir) / (1 << 30), info.key, info.guest, dir);
    return 0;
}

static int newer_first(const struct dirent **a, const struct dirent **b);
static const char *sort_root;

/* Keep the newest `keep` auto snapshots (restores touch them). */
static void prune_auto(const struct config *cfg, int keep)
{
    char root[PATH_MAX], err[256];
    struct dirent **names;
    snapshot_dir(cfg, "", root, sizeof(root));
    sort_root = root;
    int n = scandir(root, &names, NULL, newer_first);
    for (int i = 0, kept = 0; i < n; i++) {
        if (strncmp(names[i]->d_name, SNAPSHOT_AUTO_PREFIX, strlen(SNAPSHOT_AUTO_PREFIX)) == 0 &&
            !strchr(names[i]->d_name, '.') && ++kept > keep && snapshot_remove(cfg, names[i]->d_name, err, sizeof(err)) == 0)
            printf("[snapshot] removed '%s' (older inputs; %d auto snapshots are kept)\n", names[i]->d_name, keep);
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

int snapshot_save_auto(const struct config *cfg, char *err, size_t errlen)
{
    char accel[16], name[64];
    lab_state_value(cfg, "accel", accel, sizeof(accel));
    if (snapshot_auto_name(cfg, accel, name, sizeof(name), err, errlen) || snapshot_save(cfg, name, err, errlen))
        return -1;
    prune_auto(cfg, SNAPSHOT_KEEP_AUTO);
    return 0;
}

/* ---- restore ---------------------------------------------------------------------------- */

/* Each host's QEMU on its usual command line, waiting for its state (-S -incoming defer). */
static int start_incoming(const struct config *cfg, const char *accel, struct lab_qmps *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        struct host_spec hs;
        struct vm vm;
        if (host_spec_build(cfg, &lab_hosts[i], accel, &hs, err, errlen))
            return -1;
        hs.vm.incoming = true;
        int rc = vm_start(&vm, &hs.vm, err, errlen);
        host_spec_free(&hs);
        if (rc)
            return -1;
        console_close(&vm.con);
        if (!vm.qmp_open) {
            snprintf(err, errlen, "[%s] QMP did not answer", lab_hosts[i].name);
            return -1;
        }
        l->q[i] = vm.qmp;
        l->open[i] = true;
    }
    return 0;
}

int snapshot_restore(const struct config *cfg, const char *name, const struct snapshot_info *info,
                     char *err, size_t errlen)
{
    struct lab_qmps l;
    char dir[PATH_MAX];
    double t0 = mono_s();

    snapshot_dir(cfg, name, dir, sizeof(dir));
    lab_state_write(cfg, info->accel, name);
    if (copy_files(cfg, dir, false, err, errlen))
        return -1;
    double t1 = mono_s();
    int rc = start_incoming(cfg, info->accel, &l, err, errlen);
    if (rc == 0)
        rc = streams(cfg, &l, dir, false, err, errlen);
    double t2 = mono_s();
    if (rc == 0)
        rc = qmps_all(&l, "cont", err, errlen);
    qmps_close(&l);
    if (rc || unquiesce(cfg, info, err, errlen))
        return -1;
    double t3 = mono_s();
    if (strcmp(info->guest, "none") != 0 && guest_check(cfg, info->guest, err, errlen))
        return -1;
    utimensat(AT_FDCWD, dir, NULL, 0);   /* most recently used: kept by prune_auto */
    printf("[snapshot] restored '%s': files %.1f s, host states %.1f s, share + resume %.1f s, guest on %s "
           "checked %.1f s\n", name, t1 - t0, t2 - t1, t3 - t2, info->guest, mono_s() - t3);
    return 0;
}

/* ---- list, remove ------------------------------------------------------------------------- */

static int newer_first(const struct dirent **a, const struct dirent **b)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    struct stat sa = { 0 }, sb = { 0 };
    snprintf(pa, sizeof(pa), "%.3000s/%s", sort_root, (*a)->d_name);
    snprintf(pb, sizeof(pb), "%.3000s/%s", sort_root, (*b)->d_name);
    stat(pa, &sa);
    stat(pb, &sb);
    return sa.st_mtime < sb.st_mtime ? 1 : sa.st_mtime > sb.st_mtime ? -1 : 0;
}

void snapshot_list(const struct config *cfg, FILE *out)
{
    char root[PATH_MAX], path[PATH_MAX], err[512], key[32] = "";
    struct dirent **names;
    snapshot_dir(cfg, "", root, sizeof(root));
    sort_root = root;
    int n = scandir(root, &names, NULL, newer_first), shown = 0;
    for (int i = 0; i < n; i++) {
        struct snapshot_info info;
        const char *name = names[i]->d_name;
        if (name[0] != '.' && !strchr(name, '.') && snapshot_read(cfg, name, &info, err, sizeof(err)) == 0) {
            if (!key[0] && snapshot_key(cfg, info.accel, key, sizeof(key), err, sizeof(err)))
                snprintf(key, sizeof(key), "?");
            snprintf(path, sizeof(path), "%.3000s%s", root, name);
            fprintf(out, "%-24s %-14s %6.2f GiB  saved %4.1f s  guest on %-4s  %s\n", name,
                    strcmp(key, info.key) == 0 ? "current inputs" : "other inputs",
                    (double)dir_bytes(path) / (1 << 30), info.save_s, info.guest, path);
            shown++;
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
    if (!shown)
        fprintf(out, "no snapshots in %s (fmlab snapshot save NAME, or fmlab up makes auto-KEY)\n", root);
}

int snapshot_remove(const struct config *cfg, const char *name, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (snapshot_name_check(name, err, errlen))
        return -1;
    snapshot_dir(cfg, name, dir, sizeof(dir));
    if (access(dir, F_OK) != 0) {
        snprintf(err, errlen, "no snapshot '%s' in %.1000s", name, dir);
        return -1;
    }
    if (rm_rf(dir) < 0) {
        snprintf(err, errlen, "cannot remove %.1000s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}
