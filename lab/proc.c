/*
 * proc.c: the one way the L0 runner runs another program: posix_spawnp with an argv,
 * waiting through EINTR (Ctrl-C sets lab_interrupted; the child still gets reaped).
 */
#include "proc.h"
#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int proc_run(const char *const *argv)
{
    pid_t pid;
    int status = 0;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Fill out from fd until EOF or the deadline (timeout_ms < 0: none); the rest is drained.
 * Returns false when the deadline passed. */
static bool read_all(int fd, char *out, size_t len, long timeout_ms)
{
    double t0 = mono_ms();
    size_t used = 0;
    bool in_time = true;

    for (;;) {
        long left = timeout_ms - (long)(mono_ms() - t0);
        if (timeout_ms >= 0 && left <= 0) {
            in_time = false;
            break;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int ready = poll(&p, 1, timeout_ms < 0 ? -1 : (int)(left > 1000 ? 1000 : left));
        if (ready < 0 && errno != EINTR)
            break;
        if (ready <= 0)
            continue;
        char sink[4096];
        char *to = used + 1 < len ? out + used : sink;
        size_t room = used + 1 < len ? len - 1 - used : sizeof(sink);
        ssize_t n = read(fd, to, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (to != sink)
            used += (size_t)n;
    }
    out[used] = '\0';
    return in_time;
}

/* argv's output read into out; stderr too when merge, else discarded. In a process group
 * of its own, SIGKILLed when timeout_s (> 0) passes. */
static int capture(const char *const *argv, char *out, size_t len, bool merge, int timeout_s, bool *timed_out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fds[2], status = 0, rc;
    pid_t pid;

    *timed_out = false;
    out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (merge)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    if (!read_all(fds[0], out, len, timeout_s > 0 ? timeout_s * 1000L : -1)) {
        *timed_out = true;
        kill(-pid, SIGKILL);
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && !*timed_out ? WEXITSTATUS(status) : -1;
}

int proc_capture(const char *const *argv, char *out, size_t len)
{
    bool timed_out;
    return capture(argv, out, len, false, 0, &timed_out);
}

int proc_capture_all(const char *const *argv, char *out, size_t len, int timeout_s, bool *timed_out)
{
    return capture(argv, out, len, true, timeout_s, timed_out);
}

bool proc_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[PATH_MAX];

    for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n && snprintf(dir, sizeof(dir), "%.*s/%s", (int)n, p, name) < (int)sizeof(dir) &&
            access(dir, X_OK) == 0)
            return true;
        p = colon ? colon + 1 : NULL;
    }
    return false;
}
