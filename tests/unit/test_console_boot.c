/* test_console_boot.c: boots are judged by console progress (console_wait_boot).
 *
 * A child process plays the console: it writes a scripted boot with pauses into one end
 * of a socketpair, the runner's code reads the other end through libexpect, as it reads
 * a QEMU console socket. Checked: a boot that keeps printing may take longer than the
 * idle limit; silence for the idle limit fails and names the stage; the console's last
 * line about a failed unit is named in the error; a panic fails at once, long before
 * any limit; the hard ceiling holds even while the console keeps printing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console.h"

struct beat {
    int pause_ms;       /* before writing text */
    const char *text;
};

static pid_t player;

/* After its script the player answers the runner's framed commands like a shell whose
 * every command succeeds (console_run's markers, see console.c), nothing else. */
static void answer_commands(int fd)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
        buf[n] = '\0';
        const char *mark = strstr(buf, "__FMB%u__\\n' ");
        if (!mark)
            continue;
        unsigned seq = (unsigned)atoi(mark + strlen("__FMB%u__\\n' "));
        dprintf(fd, "\r\n__FMB%u__\r\n\r\n__FME%u_0__\r\n", seq, seq);
    }
}

/* A console that plays script[], then answers commands until killed. */
static void open_scripted(struct console *c, const struct beat *script, int n)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    player = fork();
    assert_true(player >= 0);
    if (player == 0) {
        close(sv[0]);
        for (int i = 0; i < n; i++) {
            usleep((useconds_t)script[i].pause_ms * 1000);
            if (write(sv[1], script[i].text, strlen(script[i].text)) < 0)
                _exit(1);
        }
        answer_commands(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    assert_int_equal(console_open_fd(c, "t", sv[0]), CONSOLE_OK);
}

static void close_scripted(struct console *c)
{
    console_close(c);
    kill(player, SIGKILL);
    waitpid(player, NULL, 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slow_but_steady_boot_succeeds(void **state)
{
    (void)state;
    /* 4.5 s in all, never 2 s silent: an idle limit of 2 s must not fire */
    static const struct beat boot[] = {
        { 100, "[    0.000000] Linux version 6.12\r\n" }, { 1200, "probing...\r\n" },
        { 1200, "Welcome to Debian\r\n" }, { 1000, "[  OK  ] Started x.service\r\n" },
        { 1000, "root@src:~# " },
    };
    struct console c;
    char err[512] = "";
    double secs = 0;
    open_scripted(&c, boot, 5);
    int rc = console_wait_boot(&c, 2, 30, &secs, err, sizeof(err));
    assert_int_equal(rc, CONSOLE_OK);
    assert_true(secs >= 4.0 && secs < 8.0);
    assert_string_equal(err, "");
    close_scripted(&c);
}

static void silence_fails_and_names_stage_and_unit(void **state)
{
    (void)state;
    static const struct beat boot[] = {
        { 50, "[    0.000000] Linux version 6.12\r\n" }, { 50, "Welcome to Debian\r\n" },
        { 50, "\033[0;1;31mTimed out waiting for device dev-ttyS0.device\033[0m - /dev/ttyS0.\r\n" },
        { 50, "[DEPEND] Dependency failed for serial-getty@ttyS0.service\r\n" },
    };
    struct console c;
    char err[512] = "";
    double secs = 0, t0 = now_s();
    open_scripted(&c, boot, 4);
    int rc = console_wait_boot(&c, 2, 30, &secs, err, sizeof(err));
    double took = now_s() - t0;
    assert_int_equal(rc, CONSOLE_TIMEOUT);
    assert_true(took >= 2.0 && took < 6.0);
    assert_non_null(strstr(err, "hung (no console output for 2 s)"));
    assert_non_null(strstr(err, "waiting for ready"));
    assert_non_null(strstr(err, "Dependency failed for serial-getty@ttyS0.service"));
    assert_null(strstr(err, "\033"));
    close_scripted(&c);
}

static void panic_fails_at_once(void **state)
{
    (void)state;
    static const struct beat boot[] = {
        { 50, "[    0.000000] Linux version 6.12\r\n" },
        { 50, "[    1.0] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n" },
    };
    struct console c;
    char err[512] = "";
    double secs = 0, t0 = now_s();
    open_scripted(&c, boot, 2);
    int rc = console_wait_boot(&c, 20, 60, &secs, err, sizeof(err));
    assert_int_equal(rc, CONSOLE_TIMEOUT);
    assert_true(now_s() - t0 < 3.0);
    assert_non_null(strstr(err, "failed"));
    assert_non_null(strstr(err, "waiting for userspace"));
    assert_non_null(strstr(err, "Kernel panic"));
    close_scripted(&c);
}

static void ceiling_holds_while_printing(void **state)
{
    (void)state;
    static struct beat boot[40];
    for (int i = 0; i < 40; i++)
        boot[i] = (struct beat){ 200, "still probing\r\n" };
    struct console c;
    char err[512] = "";
    double secs = 0, t0 = now_s();
    open_scripted(&c, boot, 40);
    int rc = console_wait_boot(&c, 2, 3, &secs, err, sizeof(err));
    double took = now_s() - t0;
    assert_int_equal(rc, CONSOLE_TIMEOUT);
    assert_true(took >= 3.0 && took < 6.0);
    assert_non_null(strstr(err, "reached its ceiling of 3 s"));
    assert_non_null(strstr(err, "waiting for kernel"));
    close_scripted(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slow_but_steady_boot_succeeds),
        cmocka_unit_test(silence_fails_and_names_stage_and_unit),
        cmocka_unit_test(panic_fails_at_once),
        cmocka_unit_test(ceiling_holds_while_printing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
