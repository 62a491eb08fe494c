/*
 * fmlab-agent: the lab's agent inside the L2 guest.
 *
 * It owns the guest side of the migration checks. Today it announces its version on
 * the console (the boot smoke test waits for that line) and answers a line protocol on
 * TCP port fmlab.agent_port (kernel command line, default 7777):
 *   version  -> "fmlab-agent <version>"
 *   uptime   -> seconds since the agent started (advances only where the guest runs)
 * The memory oracle (pattern writer and page verifier) is added here by the migration
 * issue. Built by image/build.sh inside the project's build root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define AGENT_VERSION "0.1.0"

static int agent_port(void)
{
    char buf[4096];
    int port = 7777;
    FILE *f = fopen("/proc/cmdline", "r");

    if (!f)
        return port;
    if (fgets(buf, sizeof(buf), f)) {
        const char *p = strstr(buf, "fmlab.agent_port=");
        if (p)
            port = atoi(p + strlen("fmlab.agent_port="));
    }
    fclose(f);
    return port > 0 && port < 65536 ? port : 7777;
}

static int listen_on(int port)
{
    int one = 1, fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                               .sin6_addr = IN6ADDR_ANY_INIT };

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void answer(int fd, const char *line, const struct timespec *start)
{
    char out[256];
    struct timespec now;

    if (strcmp(line, "version") == 0) {
        snprintf(out, sizeof(out), "fmlab-agent %s\n", AGENT_VERSION);
    } else if (strcmp(line, "uptime") == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        snprintf(out, sizeof(out), "%.3f\n", (double)(now.tv_sec - start->tv_sec) +
                                              (double)(now.tv_nsec - start->tv_nsec) / 1e9);
    } else {
        snprintf(out, sizeof(out), "error unknown command '%.64s'\n", line);
    }
    if (write(fd, out, strlen(out)) < 0)
        return;
}

static void serve(int client, const struct timespec *start)
{
    char buf[512];
    size_t used = 0;
    struct timeval tv = { .tv_sec = 30 };

    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (;;) {
        ssize_t n = read(client, buf + used, sizeof(buf) - 1 - used);
        if (n <= 0)
            return;
        used += (size_t)n;
        buf[used] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = '\0';
            if (nl > buf && nl[-1] == '\r')
                nl[-1] = '\0';
            answer(client, buf, start);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used + 1);
        }
        if (used == sizeof(buf) - 1)
            return;   /* a line longer than we accept */
    }
}

int main(void)
{
    struct timespec start;
    int port = agent_port();

    signal(SIGPIPE, SIG_IGN);
    clock_gettime(CLOCK_MONOTONIC, &start);
    int fd = listen_on(port);
    if (fd < 0) {
        fprintf(stderr, "fmlab-agent: cannot listen on port %d: %s\n", port, strerror(errno));
        return 1;
    }
    printf("fmlab-agent %s ready (port %d)\n", AGENT_VERSION, port);
    fflush(stdout);
    for (;;) {
        int client = accept(fd, NULL, NULL);
        if (client < 0)
            continue;
        serve(client, &start);
        close(client);
    }
}
