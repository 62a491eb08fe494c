/*
 * teardown.c: take a lab down, whatever state it was left in.
 *
 * Nothing here trusts memory: the runner may have been SIGKILLed mid-`up`. QEMUs are
 * found by their pidfiles and, in case a pidfile was not written yet, by scanning /proc
 * for QEMU processes whose command line names this lab's STATE_DIR, so only processes
 * this lab started are ever signalled. What is left after that (an ssh of a SIGKILLed
 * `fmlab migrate`, a network setup cut short) dies with the lab's cgroup (cgroup.c).
 * Deleting the namespace removes the bridges and the taps inside it. Every step is
 * idempotent.
 */
#include "teardown.h"
#include "cgroup.h"
#include "lab.h"
#include "proc.h"
#include "qmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Does process pid run a QEMU whose command line mentions needle? */
static bool is_lab_qemu(pid_t pid, const char *needle)
{
    char path[64], buf[16384];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* the process must be QEMU itself (argv[0]), not a command that merely names it */
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    if (strncmp(base, "qemu-system", 11) != 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

int lab_find_qemus(const struct config *cfg, pid_t *pids, int max)
{
    char needle[PATH_MAX];
    int n = 0;
    DIR *d = opendir("/proc");

    snprintf(needle, sizeof(needle), "%s/", config_get(cfg, "STATE_DIR"));
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && pid != getpid() && is_lab_qemu(pid, needle))
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}

static bool gone(pid_t pid, int wait_ms)
{
    for (int t = 0; t <= wait_ms; t += 100) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* Ask politely over QMP, then signal. */
static bool stop_qemu(const char *run_dir, pid_t pid)
{
    char sock[PATH_MAX], err[256];
    struct qmp q;

    snprintf(sock, sizeof(sock), "%s/qmp.sock", run_dir);
    if (run_dir[0] && qmp_open(&q, sock, 1, err, sizeof(err)) == 0) {
        json_decref(qmp_execute(&q, "quit", NULL, 3, err, sizeof(err)));
        qmp_close(&q);
        if (gone(pid, 5000))
            return true;
    }
    kill(pid, SIGTERM);
    if (gone(pid, 5000))
        return true;
    kill(pid, SIGKILL);
    return gone(pid, 5000);
}

/* Which host directory does this QEMU belong to? ("" if none matches). */
static void run_dir_of(const struct config *cfg, pid_t pid, char *out, size_t len)
{
    out[0] = '\0';
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        char dir[PATH_MAX], needle[PATH_MAX + 16];
        lab_path(cfg, lab_hosts[i].name, dir, sizeof(dir));
        snprintf(needle, sizeof(needle), "%s/qmp.sock", dir);
        if (is_lab_qemu(pid, needle)) {
            snprintf(out, len, "%s", dir);
            return;
        }
    }
}

static int remove_file(const char *path, const char *what)
{
    if (unlink(path) == 0) {
        printf("down: removed %s %s\n", what, path);
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    fprintf(stderr, "down: cannot remove %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

int lab_teardown(const struct config *cfg, bool keep_pool)
{
    pid_t pids[64];
    int failures = 0, n = lab_find_qemus(cfg, pids, 64);
    char path[PATH_MAX], dir[PATH_MAX];

    for (int i = 0; i < n; i++) {
        run_dir_of(cfg, pids[i], dir, sizeof(dir));
        bool ok = stop_qemu(dir, pids[i]);
        printf("down: %s QEMU pid %d%s\n", ok ? "stopped" : "could not stop", (int)pids[i],
               dir[0] ? strrchr(dir, '/') : "");
        failures += !ok;
    }
    int killed = 0;
    if (lab_cgroup_kill(10000, &killed) < 0)
        failures++, fprintf(stderr, "down: could not empty and remove the lab's cgroup %s\n", LAB_CGROUP);
    else if (killed)
        printf("down: killed %d process%s left in the lab's cgroup %s\n", killed, killed == 1 ? "" : "es", LAB_CGROUP);
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        lab_path(cfg, lab_hosts[i].name, dir, sizeof(dir));
        const char *files[] = { "qemu.pid", "qmp.sock", "console.sock", "ssh.ctl", "ready", "disk.qcow2" };
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
            snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
            unlink(path);
        }
    }
    if (lab_netns_exists()) {
        snprintf(path, sizeof(path), "%s/netsetup/bridge.sh", lab_repo_dir());
        const char *argv[] = { path, "down", LAB_NETNS, NULL };
        if (proc_run(argv) == 0)
            printf("down: removed network namespace %s (bridges %s %s, taps)\n", LAB_NETNS, LAB_BRIDGE, LAB_VM_BRIDGE);
        else
            failures++, fprintf(stderr, "down: could not remove network namespace %s\n", LAB_NETNS);
    }
    if (!keep_pool)
        failures += remove_file(LAB_POOL_PATH, "CXL pool");
    snprintf(path, sizeof(path), "%s/%s", config_get(cfg, "SHARED_STORAGE"), LAB_GUEST_DISK);
    failures += remove_file(path, "shared guest disk");
    lab_path(cfg, "lab.state", path, sizeof(path));
    unlink(path);
    lab_path(cfg, "vm.ready", path, sizeof(path));
    unlink(path);
    return failures;
}
