/*
 * console.c: serial consoles driven through libexpect.
 *
 * Every QEMU fmlab starts puts its serial port on a UNIX socket chardev with a logfile,
 * so QEMU itself keeps a complete console log (even when no one is attached, and after
 * the runner dies). The runner connects to the socket and hands the fd to libexpect
 * (exp_expectl); every wait has a timeout. Commands are framed by printed markers so
 * their output and exit status can be read back exactly, whatever the terminal echoes.
 */
#include "console.h"
#include "clock.h"
#include "sock.h"

#include <errno.h>
#include <stdbool.h>
#include <expect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void init_libexpect(void)
{
    static int done;
    if (done)
        return;
    exp_loguser = 0;          /* the console log is QEMU's logfile, not our stdout */
    exp_match_max = 1 << 16;  /* command output is read from the match buffer */
    done = 1;
}

int console_open(struct console *c, const char *name, const char *sock_path, int timeout_s)
{
    int fd = sock_connect_unix(sock_path, timeout_s);
    if (fd < 0) {
        memset(c, 0, sizeof(*c));
        c->fd = -1;
        return CONSOLE_TIMEOUT;
    }
    return console_open_fd(c, name, fd);
}

int console_open_fd(struct console *c, const char *name, int fd)
{
    init_libexpect();
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->fd = -1;
    /* libexpect only reads descriptors it knows: register the socket (without this,
     * exp_expectl on a foreign fd crashes in libexpect 5.45) */
    if (exp_spawnfd(fd) < 0) {
        close(fd);
        return CONSOLE_ERROR;
    }
    c->fd = fd;
    return CONSOLE_OK;
}

void console_close(struct console *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int console_expect_any(struct console *c, const char *const *regexes, int n, int timeout_s)
{
    struct exp_case cases[9];

    if (n < 1 || n > 8 || c->fd < 0)
        return CONSOLE_ERROR;
    memset(cases, 0, sizeof(cases));
    for (int i = 0; i < n; i++) {
        cases[i].pattern = (char *)regexes[i];
        cases[i].type = exp_regexp;
        cases[i].value = i + 1;
    }
    cases[n].type = exp_end;
    exp_timeout = timeout_s;
    int rc = exp_expectv(c->fd, cases);
    for (int i = 0; i < n; i++)
        free(cases[i].re);    /* libexpect compiled these for us */
    if (rc > 0)
        return rc - 1;
    if (rc == EXP_TIMEOUT)
        return CONSOLE_TIMEOUT;
    return rc == EXP_EOF ? CONSOLE_EOF : CONSOLE_ERROR;
}

int console_expect(struct console *c, const char *regex, int timeout_s)
{
    int rc = console_expect_any(c, &regex, 1, timeout_s);
    return rc >= 0 ? CONSOLE_OK : rc;
}

int console_send(struct console *c, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CONSOLE_EOF;
        text += n;
        len -= (size_t)n;
    }
    return CONSOLE_OK;
}

int console_prepare_shell(struct console *c, int timeout_s)
{
    int status, rc;
    char out[64];

    /* Kernel messages would interleave with command output; long lines must not wrap. */
    rc = console_run(c, "dmesg -n 1; stty -echo cols 4096; export TERM=dumb PAGER=cat SYSTEMD_PAGER=",
                     timeout_s, out, sizeof(out), &status);
    return rc;
}

int console_run(struct console *c, const char *cmd, int timeout_s, char *out, size_t outlen,
                int *status)
{
    char line[8192], begin[64], end[64];
    /* Markers unique in this process and across consoles: the late end marker of a
     * command that timed out cannot pass for another's */
    static unsigned seq;
    unsigned n = seq ? ++seq : (seq = (unsigned)getpid() * 4096u + 1);
    int rc;

    if (out && outlen)
        out[0] = '\0';
    /* The typed text never contains the markers themselves (printf builds them), so an
     * echoing terminal cannot fake a match. A command that does not fit is refused, never
     * cut. */
    if ((size_t)snprintf(line, sizeof(line), "printf '\\n__FMB%%u__\\n' %u; %s; printf '\\n__FME%%u_%%d__\\n' %u $?\n",
                         n, cmd, n) >= sizeof(line))
        return CONSOLE_TOO_LONG;
    snprintf(begin, sizeof(begin), "__FMB%u__\r?\n", n);
    snprintf(end, sizeof(end), "__FME%u_([0-9]+)__", n);
    if ((rc = console_send(c, line)) != CONSOLE_OK)
        return rc;
    if ((rc = console_expect(c, begin, timeout_s)) != CONSOLE_OK)
        return rc;
    if ((rc = console_expect(c, end, timeout_s)) != CONSOLE_OK) {
        if (rc == CONSOLE_TIMEOUT)
            console_send(c, "\003");   /* stop it: it must not read the next command */
        return rc;
    }
    size_t len = (size_t)(exp_match - exp_buffer);
    while (len && (exp_buffer[len - 1] == '\n' || exp_buffer[len - 1] == '\r'))
        len--;
    if (out && outlen) {
        if (len >= outlen)
            len = outlen - 1;
        memcpy(out, exp_buffer, len);
        out[len] = '\0';
    }
    if (status)
        *status = atoi(exp_match + strlen("__FME") + snprintf(NULL, 0, "%u_", n));
    return CONSOLE_OK;
}

const char *console_strerror(int rc)
{
    switch (rc) {
    case CONSOLE_OK: return "ok";
    case CONSOLE_TIMEOUT: return "timed out";
    case CONSOLE_EOF: return "console closed (QEMU exited?)";
    case CONSOLE_TOO_LONG: return "command longer than the console takes (8 KiB)";
    default: return "console error";
    }
}

/* One console line without its ANSI escapes (systemd colours its status) and line ends. */
static void plain_line(const char *from, const char *to, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = from; p < to && n + 1 < outlen; p++) {
        if (*p == '\033') {            /* ESC [ params letter */
            if (p + 1 < to && p[1] == '[')
                for (p += 2; p < to && !((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')); p++)
                    ;
            continue;
        }
        if (*p != '\r' && *p != '\n')
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* Lines that say why a boot is going wrong: the last one is named in the error. */
static bool is_trouble(const char *line)
{
    static const char *const marks[] = { "Timed out waiting for device", "Dependency failed for",
                                         "Failed to start", "FAILED", "Kernel panic", "Unable to mount root",
                                         "emergency mode", "You are in rescue mode", "Give root password" };
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strstr(line, marks[i]))
            return true;
    return false;
}

static bool is_fatal(const char *line)
{
    return strstr(line, "Kernel panic") || strstr(line, "Unable to mount root") ||
           strstr(line, "emergency mode") || strstr(line, "Give root password");
}

/* The boot stage a line shows: 0 kernel, 1 userspace, or -1. */
static int stage_of(const char *line)
{
    if (strstr(line, "Linux version"))
        return 0;
    if (strstr(line, "as init process") || strstr(line, "systemd[1]") || strstr(line, "Welcome to"))
        return 1;
    return -1;
}

static int boot_failed(struct console *c, const char *what, double t0, const char *stage,
                       const char *trouble, char *err, size_t errlen)
{
    printf("[%s] boot %s after %.1f s waiting for %s\n", c->name, what, mono_s() - t0, stage);
    snprintf(err, errlen, "[%s] boot %s after %.1f s while waiting for %s%s%.200s%s", c->name, what,
             mono_s() - t0, stage, trouble[0] ? " (console: \"" : "", trouble, trouble[0] ? "\")" : "");
    return CONSOLE_TIMEOUT;
}

/*
 * Progress, not a fixed wait: the console is read line by line (a line ends at \r or \n,
 * so systemd's "A start job is running" counter counts), every line resets the idle
 * clock, and the boot has failed only when the console has been silent for idle_s, or at
 * the ceiling, or on a line that cannot end well (a panic, emergency mode).
 */
int console_wait_boot(struct console *c, int idle_s, int ceiling_s, double *seconds, char *err,
                      size_t errlen)
{
    static const char *const names[] = { "kernel", "userspace", "ready" };
    const char *const cases[] = { CONSOLE_ROOT_PROMPT, "[^\r\n]*[\r\n]" };
    char line[512], trouble[256] = "";
    double t0 = mono_s(), last_output = t0;
    int reached = -1;

    while (reached < 2) {
        double now = mono_s();
        int idle_left = idle_s - (int)(now - last_output), ceiling_left = ceiling_s - (int)(now - t0);
        int wait = idle_left < ceiling_left ? idle_left : ceiling_left;
        int rc = wait > 0 ? console_expect_any(c, cases, 2, wait) : CONSOLE_TIMEOUT;
        int stage = -1;
        if (rc == CONSOLE_TIMEOUT) {
            char what[96];
            if (mono_s() - t0 >= ceiling_s)
                snprintf(what, sizeof(what), "reached its ceiling of %d s", ceiling_s);
            else
                snprintf(what, sizeof(what), "hung (no console output for %d s)", idle_s);
            return boot_failed(c, what, t0, names[reached + 1], trouble, err, errlen);
        }
        if (rc < 0) {
            boot_failed(c, console_strerror(rc), t0, names[reached + 1], trouble, err, errlen);
            return rc;
        }
        last_output = mono_s();
        if (rc == 0) {
            stage = 2;
        } else {
            plain_line(exp_match, exp_match_end, line, sizeof(line));
            stage = stage_of(line);
            if (is_trouble(line))
                snprintf(trouble, sizeof(trouble), "%.255s", line);
            if (is_fatal(line))
                return boot_failed(c, "failed", t0, names[reached + 1], line, err, errlen);
        }
        for (int s = reached + 1; s <= stage; s++)
            printf("[%s] %s%s (%.1f s)\n", c->name, names[s], s < 2 ? "…" : "", mono_s() - t0);
        if (stage > reached)
            reached = stage;
        fflush(stdout);
    }
    *seconds = mono_s() - t0;
    int rc = console_prepare_shell(c, 30);
    if (rc != CONSOLE_OK)
        snprintf(err, errlen, "[%s] shell setup %s", c->name, console_strerror(rc));
    return rc;
}
