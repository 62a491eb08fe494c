/*
 * cgroup.c: the lab's cgroup (v2), which holds every process the lab starts at L0.
 *
 * `fmlab up` and `fmlab migrate` move themselves into LAB_CGROUP before they start
 * anything, so the hosts' QEMUs, the network setup and the ssh that drives the controller
 * on backup are in it, and so is whatever they leave behind when the runner is SIGKILLed.
 * `fmlab down` first stops the QEMUs politely (teardown.c), then kills what is left with
 * cgroup.kill and removes the cgroup: it cannot miss a process of the lab, and it never
 * signals a process by a pid that may by now belong to someone else. Membership is also
 * how teardown checks a pid before it signals it.
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
static int cgroup2_mount(char *out, size_t len)
{
    char line[4096];
    FILE *f = fopen("/proc/self/mountinfo", "re");
    int rc = -1;
    if (!f)
        return -1;
    while (rc < 0 && fgets(line, sizeof(line), f)) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        char mnt[PATH_MAX];
        const char *sep = strstr(line, " - ");
        if (sep && strncmp(sep + 3, "cgroup2 ", 8) == 0 &&
            sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && (size_t)snprintf(out, len, "%s", mnt) < len)
            rc = 0;
    }
    fclose(f);
    return rc;
}

int lab_cgroup_dir(char *out, size_t len)
{
    char mnt[PATH_MAX];
    if (cgroup2_mount(mnt, sizeof(mnt)))
        return -1;
    return (size_t)snprintf(out, len, "%s/%s", mnt, LAB_CGROUP) < len ? 0 : -1;
}

static int write_file(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

int lab_cgroup_join(bool create, char *err, size_t errlen)
{
    char dir[PATH_MAX], pid[32];
    if (lab_cgroup_dir(dir, sizeof(dir))) {
        snprintf(err, errlen, "no cgroup v2 mount in /proc/self/mountinfo (the lab keeps its processes in one cgroup)");
        return -1;
    }
    if (!create && access(dir, F_OK) != 0)
        return 1;
    if (create && mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the lab's cgroup %.3000s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (write_file(dir, "cgroup.procs", pid)) {
        snprintf(err, errlen, "cannot enter the lab's cgroup %.3000s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

bool lab_cgroup_holds(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    FILE *f = fopen(path, "re");
    bool in = false;
    if (!f)
        return false;
    while (!in && fgets(line, sizeof(line), f))
        in = strcmp(line, "0::/" LAB_CGROUP "\n") == 0;   /* the v2 line: hierarchy 0 */
    fclose(f);
    return in;
}

/* The pids in the cgroup, at most max; -1 if it does not exist. */
static int members(const char *dir, pid_t *pids, int max)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    int n = 0, pid;
    if (!f)
        return -1;
    while (fscanf(f, "%d", &pid) == 1)
        if (n < max)
            pids[n++] = (pid_t)pid;
    fclose(f);
    return n;
}

int lab_cgroup_kill(int wait_ms, int *killed)
{
    char dir[PATH_MAX], root[PATH_MAX], pid[32];
    pid_t pids[256];

    *killed = 0;
    if (lab_cgroup_dir(dir, sizeof(dir)) || access(dir, F_OK) != 0)
        return 0;   /* no lab cgroup: nothing to kill */
    /* the caller (an `up` cleaning up after itself) must not kill itself */
    if (lab_cgroup_holds(getpid()) && cgroup2_mount(root, sizeof(root)) == 0) {
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        write_file(root, "cgroup.procs", pid);
    }
    int n = members(dir, pids, 256);
    if (n > 0) {
        *killed = n;
        if (write_file(dir, "cgroup.kill", "1") < 0)
            return -1;
    }
    for (int t = 0; t <= wait_ms; t += 50) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        usleep(50 * 1000);   /* EBUSY until the last killed process is reaped */
    }
    return -1;
}
