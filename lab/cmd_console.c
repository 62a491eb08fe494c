/*
 * cmd_console.c: `fmlab console HOST`: attach the terminal to a host's serial console.
 * The terminal goes raw; Ctrl-] detaches. QEMU keeps logging the console meanwhile
 * (STATE_DIR/HOST/console.log), attached or not.
 */
#include "fmlab.h"
#include "guest.h"
#include "lab.h"
#include "netns.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

void usage_console(void)
{
    printf("usage: fmlab console HOST|vm\n"
           "Attaches to the serial console of HOST (src, dst, backup) or of the guest (vm,\n"
           "through the lab network). Ctrl-] detaches.\n");
}

static int relay(int sock)
{
    struct pollfd fds[2] = { { .fd = 0, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
    char buf[4096];

    for (;;) {
        if (poll(fds, 2, -1) < 0)
            return 1;
        if (fds[0].revents & POLLIN) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n <= 0 || memchr(buf, 0x1d, (size_t)n))   /* Ctrl-] */
                return 0;
            if (send(sock, buf, (size_t)n, MSG_NOSIGNAL) != n)
                return 1;
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(sock, buf, sizeof(buf));
            if (n <= 0) {
                fprintf(stderr, "\r\n[console closed: the host stopped]\r\n");
                return 1;
            }
            if (write(1, buf, (size_t)n) != n)
                return 1;
        }
    }
}

int cmd_console(int argc, char **argv)
{
    struct config cfg;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct termios saved, raw;

    bool vm = argc > 1 && strcmp(argv[1], "vm") == 0;
    if (argc < 2 || (!vm && !lab_find_host(argv[1]))) {
        fprintf(stderr, "fmlab console: which console? (src, dst, backup, vm)\n");
        return 2;
    }
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    int sock;
    if (vm) {
        /* the guest's serial console listens on its host's lab address (see guest.c):
         * src's, or dst's once a migration moved it there */
        char st[64];
        guest_status(&cfg, config_get(&cfg, "DST_IP"), 1, st, sizeof(st));
        const char *ip = config_get(&cfg, strcmp(st, "running") == 0 ? "DST_IP" : "SRC_IP");
        sock = netns_connect_tcp(LAB_NETNS, ip, (uint16_t)config_get_uint(&cfg, "VM_CONSOLE_PORT"), 3);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s:%s in namespace %s", ip,
                 config_get(&cfg, "VM_CONSOLE_PORT"), LAB_NETNS);
    } else {
        lab_path(&cfg, argv[1], sa.sun_path, sizeof(sa.sun_path) - 16);
        strncat(sa.sun_path, "/console.sock", sizeof(sa.sun_path) - strlen(sa.sun_path) - 1);
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock >= 0 && connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            close(sock);
            sock = -1;
        }
    }
    config_free(&cfg);
    if (sock < 0) {
        fprintf(stderr, "fmlab console: %s is not up, or another session is attached (%s)\n",
                argv[1], sa.sun_path);
        return 1;
    }
    fprintf(stderr, "[attached to %s; Ctrl-] detaches]\r\n", argv[1]);
    bool tty = tcgetattr(0, &saved) == 0;
    if (tty) {
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(0, TCSANOW, &raw);
    }
    if (send(sock, "\r", 1, MSG_NOSIGNAL) != 1)
        fprintf(stderr, "fmlab console: write failed\n");
    int rc = relay(sock);
    if (tty)
        tcsetattr(0, TCSANOW, &saved);
    fprintf(stderr, "\n[detached from %s]\n", argv[1]);
    close(sock);
    return rc;
}
