/*
 * framework.c: the lab under the migration cases: TAP lines, fmlab run as an argv (its
 * output kept per case), the lab made ready between cases, result.json read by path.
 */
#include "framework.h"
#include "clock.h"
#include "proc.h"
#include "tap.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORDS 48

bool tap(struct lab *l, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vline(ok, fmt, ap);
    va_end(ap);
    l->assertions++;
    if (!ok) {
        l->failures++;
        l->case_failed = true;
    }
    return ok;
}

void note(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* argv = fmlab, then the words of ap up to NULL. */
static int collect_words(struct lab *l, const char **argv, va_list ap)
{
    int n = 0;
    argv[n++] = l->fmlab;
    for (const char *w; n < MAX_WORDS - 1 && (w = va_arg(ap, const char *));)
        argv[n++] = w;
    argv[n] = NULL;
    return n;
}

int fmlab_capture(struct lab *l, char *out, size_t len, int timeout_s, ...)
{
    const char *argv[MAX_WORDS];
    bool timed_out = false;
    va_list ap;
    va_start(ap, timeout_s);
    collect_words(l, argv, ap);
    va_end(ap);
    int rc = proc_capture_all(argv, out, len, timeout_s, &timed_out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = '\0';
    return rc;
}

bool lab_config(struct lab *l, const char *key, char *out, size_t len)
{
    return fmlab_capture(l, out, len, 30, "config", "get", key, NULL) == 0 && out[0];
}

json_t *lab_status(struct lab *l)
{
    static char out[1 << 16];
    json_error_t jerr;
    fmlab_capture(l, out, sizeof(out), 120, "status", "--json", NULL);
    return json_loads(out, 0, &jerr);
}

static bool guest_running(struct lab *l, char *host, size_t len)
{
    json_t *st = lab_status(l);
    bool running = strcmp(jstr(st, "guest.state"), "running") == 0;
    snprintf(host, len, "%s", jstr(st, "guest.host"));
    json_decref(st);
    return running;
}

bool lab_redis_answers(struct lab *l)
{
    char port[16], cmd[128], out[256];
    if (!lab_config(l, "REDIS_BASE_PORT", port, sizeof(port)))
        return false;
    /* a shell line for backup from a port number the config parser validated */
    snprintf(cmd, sizeof(cmd), "timeout 20 redis-cli -h vm -p %d ping", atoi(port));
    return fmlab_capture(l, out, sizeof(out), 60, "exec", "backup", "--", cmd, NULL) == 0 &&
           strcmp(out, "PONG") == 0;
}

/* The first line of a console that says how a kernel died, or NULL. */
static const char *kernel_death(const char *console)
{
    static const char *const marks[] = { "Kernel panic", "BUG:", "Oops", "soft lockup", "hung_task", NULL };
    const char *first = NULL;
    for (int i = 0; marks[i]; i++) {
        const char *at = strstr(console, marks[i]);
        if (at && (!first || at < first))
            first = at;
    }
    if (!first)
        return NULL;
    while (first > console && first[-1] != '\n')
        first--;
    return first;
}

/* The end of the guest's console, before a restore rolls the hosts' disks back; what
 * its kernel said if it died (a panic, an oops), or that it said nothing (a hang). */
static void keep_console(struct lab *l, const char *host)
{
    static char out[1 << 16];
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/guest-console-%.0f.log", l->logs, epoch_ms());
    fmlab_capture(l, out, sizeof(out), 60, "exec", host, "--", "tail -n 300 /var/log/fmlab-vm-console.log", NULL);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(out, f);
        fclose(f);
    }
    note("the guest runs on %s but redis does not answer from backup (its console: %s)", host, path);
    const char *death = kernel_death(out);
    if (death)
        note("the guest's kernel: %.*s", (int)strcspn(death, "\r\n"), death);
    else
        note("the guest's kernel printed no panic or oops: a hang, or its network or redis stopped");
}

bool lab_ready(struct lab *l)
{
    char host[32], out[1 << 14];
    if (guest_running(l, host, sizeof(host))) {
        if (lab_redis_answers(l))
            return true;
        keep_console(l, host);
    }
    note("the lab is not up (or the guest is not running or not answering): fmlab down, fmlab up");
    fmlab_capture(l, out, sizeof(out), 600, "down", NULL);
    double t0 = mono_s();
    int rc = fmlab_capture(l, out, sizeof(out), 3600, "up", NULL);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        note("  %s", line);
    note("fmlab up: exit %d in %.0f s", rc, mono_s() - t0);
    return rc == 0;
}

bool lab_guest_back(struct lab *l)
{
    char out[1 << 14], host[32];
    return fmlab_capture(l, out, sizeof(out), 1800, "up", "--guest-only", NULL) == 0 &&
           guest_running(l, host, sizeof(host));
}

/* Start argv with stdin from /dev/null (fmlab reads it), stdout and stderr into a pipe.
 * own_group: in a process group of its own, so that a SIGINT sent to it reaches all of
 * fmlab as a Ctrl-C in a terminal does; else in ours, so that the user's Ctrl-C on the
 * test reaches the migration too. Returns the pid, -1. */
static pid_t spawn_piped(const char *const *argv, int *out_fd, bool own_group)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return -1;
    }
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        dup2(p[1], STDOUT_FILENO), dup2(p[1], STDERR_FILENO);
        close(p[0]), close(p[1]);
        freopen("/dev/null", "r", stdin);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (own_group)
        setpgid(pid, pid);
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

/* Copy what fd says into log (and as "#   " comments when echo) until it closes;
 * SIGINT to group pid after interrupt_after_s (> 0). */
static void pump(int fd, FILE *log, bool echo, pid_t pid, int interrupt_after_s)
{
    char buf[4096];
    bool at_line_start = true, interrupted = false;
    double t0 = mono_s();
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ready = poll(&pfd, 1, 200);
        if (interrupt_after_s > 0 && !interrupted && mono_s() - t0 >= interrupt_after_s) {
            kill(-pid, SIGINT);
            interrupted = true;
        }
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        fwrite(buf, 1, n, log);
        for (ssize_t i = 0; echo && i < n; i++) {
            if (at_line_start)
                fputs("#   ", stdout);
            putchar(buf[i]);
            at_line_start = buf[i] == '\n';
        }
        fflush(stdout);
    }
    if (echo && !at_line_start)
        putchar('\n');
}

/* "[migrate] result: PATH" in the log: the last one. */
static void find_result(struct run *r)
{
    char line[PATH_MAX + 64];
    static const char tag[] = "[migrate] result: ";
    FILE *f = fopen(r->log, "r");
    r->result_path[0] = '\0';
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, tag, sizeof(tag) - 1) == 0) {
            size_t n = strcspn(line + sizeof(tag) - 1, "\n");
            if (n < sizeof(r->result_path)) {
                memcpy(r->result_path, line + sizeof(tag) - 1, n);
                r->result_path[n] = '\0';
            }
        }
    if (f)
        fclose(f);
    json_error_t jerr;
    r->result = r->result_path[0] ? json_load_file(r->result_path, 0, &jerr) : NULL;
}

void run_migrate(struct lab *l, struct run *r, const char *name, const char *const *args, int interrupt_after_s)
{
    const char *argv[MAX_WORDS];
    int n = 0, fd;
    memset(r, 0, sizeof(*r));
    r->name = name;
    argv[n++] = l->fmlab, argv[n++] = "migrate";
    for (; args && *args && n < MAX_WORDS - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    printf("# %s: fmlab", name);
    for (int i = 1; i < n; i++)
        printf(" %s", argv[i]);
    printf(interrupt_after_s > 0 ? ", Ctrl-C (SIGINT) after %d s\n" : "\n", interrupt_after_s);
    fflush(stdout);
    if (snprintf(r->log, sizeof(r->log), "%.3000s/%.200s.log", l->logs, name) >= (int)sizeof(r->log))
        r->log[0] = '\0';
    FILE *log = fopen(r->log, "w");
    double t0 = mono_s();
    pid_t pid = log ? spawn_piped(argv, &fd, interrupt_after_s > 0) : -1;
    r->rc = -1;
    if (pid > 0) {
        int status;
        pump(fd, log, interrupt_after_s <= 0, pid, interrupt_after_s);
        close(fd);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (log)
        fclose(log);
    r->seconds = mono_s() - t0;
    find_result(r);
}

void run_free(struct run *r)
{
    json_decref(r->result);
    r->result = NULL;
}

void case_end(struct lab *l, const struct run *r)
{
    if (l->case_failed && r)
        note("%s failed: its log %s, its result %s", r->name, r->log[0] ? r->log : "(none)",
             r->result_path[0] ? r->result_path : "(none written)");
    l->case_failed = false;
}

json_t *jat(const json_t *root, const char *path)
{
    char key[128];
    const json_t *j = root;
    while (j && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return (json_t *)j;
}

double jnum(const json_t *root, const char *path)
{
    json_t *j = jat(root, path);
    return json_is_number(j) ? json_number_value(j) : NAN;
}

double jnum_or(const json_t *root, const char *path, double otherwise)
{
    json_t *j = jat(root, path);
    return json_is_number(j) ? json_number_value(j) : otherwise;
}

const char *jstr(const json_t *root, const char *path)
{
    const char *s = json_string_value(jat(root, path));
    return s ? s : "";
}

bool jtrue(const json_t *root, const char *path)
{
    return json_is_true(jat(root, path));
}

size_t jlen(const json_t *root, const char *path)
{
    return json_array_size(jat(root, path));
}

bool matches(const char *s, const char *re)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool m = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return m;
}
