/*
 * lab.c: what identifies one lab on this machine: its hosts, the state directory where
 * everything it started is recorded (so `fmlab down` works after any crash), and the
 * lock that keeps two `fmlab up`/`down` from running at once.
 */
#include "lab.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

volatile sig_atomic_t lab_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    lab_interrupted = 1;
}

void lab_catch_signals(void)
{
    struct sigaction sa = { .sa_handler = on_interrupt };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

const struct lab_host lab_hosts[LAB_N_HOSTS] = {
    { "src", "SRC_IP", "SRC_CPUSET", true },
    { "dst", "DST_IP", "DST_CPUSET", true },
    { "backup", "BACKUP_IP", NULL, false },
};

const struct lab_host *lab_find_host(const char *name)
{
    for (int i = 0; i < LAB_N_HOSTS; i++)
        if (strcmp(lab_hosts[i].name, name) == 0)
            return &lab_hosts[i];
    return NULL;
}

void lab_path(const struct config *cfg, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", config_get(cfg, "STATE_DIR"), name);
}

int lab_lock(const struct config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX], holder[32] = "?";

    if (files_mkdir_p(config_get(cfg, "STATE_DIR")) < 0) {
        snprintf(err, errlen, "cannot create STATE_DIR %s: %s", config_get(cfg, "STATE_DIR"), strerror(errno));
        return -1;
    }
    lab_path(cfg, "lock", path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        snprintf(err, errlen, "another fmlab up, down or migrate holds the lab lock %s (pid %s)", path, holder);
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) == 0)
        dprintf(fd, "%d\n", (int)getpid());
    return fd;
}

void lab_state_write(const struct config *cfg, const char *accel, const char *restored_from)
{
    char path[PATH_MAX];
    lab_path(cfg, "lab.state", path, sizeof(path));
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "accel=%s\nstarted=%ld\nnet_mode=%s\n", accel, (long)time(NULL), config_get(cfg, "NET_MODE"));
        if (restored_from)
            fprintf(f, "restored_from=%s\n", restored_from);
        fclose(f);
    }
}

void lab_state_value(const struct config *cfg, const char *key, char *out, size_t len)
{
    char path[PATH_MAX], line[512];
    size_t n = strlen(key);
    out[0] = '\0';
    lab_path(cfg, "lab.state", path, sizeof(path));
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, n) == 0 && line[n] == '=') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, len, "%s", line + n + 1);
            break;
        }
    }
    if (f)
        fclose(f);
}

void lab_guest_kernel(const struct config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s/kernel/current/bzImage", config_get(cfg, "CACHE_DIR"));
}

void lab_ssh_key(const struct config *cfg, char *out, size_t len)
{
    snprintf(out, len, "%s/keys/lab_ed25519", config_get(cfg, "CACHE_DIR"));
}

int lab_ssh_prefix(const struct config *cfg, const char *tool, struct lab_ssh_paths *paths, const char **argv)
{
    char known[PATH_MAX];
    lab_ssh_key(cfg, paths->key, sizeof(paths->key));
    lab_path(cfg, "known_hosts", known, sizeof(known));
    snprintf(paths->known, sizeof(paths->known), "UserKnownHostsFile=%s", known);
    const char *pre[] = { "ip", "netns", "exec", LAB_NETNS, tool, "-i", paths->key, "-o", "StrictHostKeyChecking=yes",
                          "-o", paths->known, "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10" };
    memcpy(argv, pre, sizeof(pre));
    return (int)(sizeof(pre) / sizeof(pre[0]));
}

bool lab_netns_exists(void)
{
    return access("/run/netns/" LAB_NETNS, F_OK) == 0;
}

const char *lab_repo_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("FMLAB_REPO");

    if (env && *env)
        return env;
    if (!dir[0]) {
        /* build/fmlab -> the checkout is the parent of build/ */
        ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
        dir[n > 0 ? n : 0] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
        }
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof(probe), "%s/netsetup/bridge.sh", dir);
        if (access(probe, X_OK) != 0)
            snprintf(dir, sizeof(dir), ".");
    }
    return dir;
}
