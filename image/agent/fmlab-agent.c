/*
 * fmlab-agent: the lab's agent inside the L2 guest.
 *
 * It owns the guest side of the migration checks. Today it announces its version on
 * the console (the boot smoke test waits for that line) and answers a line protocol on
 * TCP port fmlab.agent_port (kernel command line, default 7777):
 *   version  -> "fmlab-agent <version>"
 *   uptime   -> seconds since the agent started (advances only where the guest runs)
 *   mem start MIB RATE -> start the memory oracle's writer over MIB MiB, RATE pages/s
 *                         (0: as fast as it can): "ok pages=N"
 *   mem stat   -> "pages=N gen=G pos=P writes=W" (writes advances only where it runs)
 *   mem check  -> verify every page: "pages=N bad=B torn=T stale=S misplaced=M found=F
 *                 gen=G pos=P writes=W"; found: pages the writer found bad before it
 *                 rewrote them (since mem start); bad (all four) must be 0 after any migration
 *   mem corrupt I stale|torn -> hold the writer and damage page I on purpose (proves
 *                 the check can fail); mem resume lets the writer go on
 *   mem stop   -> stop the writer and free the region
 * Built by image/build.sh inside the project's build root (with mem_oracle.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mem_oracle.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "version.h"

static struct mem_oracle oracle;

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

static void mem_report_line(char *out, size_t len, const struct mem_report *r)
{
    snprintf(out, len, "pages=%zu bad=%zu torn=%zu stale=%zu misplaced=%zu found=%zu gen=%" PRIu64
             " pos=%" PRIu64 " writes=%" PRIu64 "\n", r->pages, r->torn + r->stale + r->misplaced + r->found,
             r->torn, r->stale, r->misplaced, r->found, r->gen, r->pos, r->writes);
}

static void mem_corrupt(char *out, size_t len, unsigned long page, const char *how)
{
    if (page >= oracle.pages) {
        snprintf(out, len, "error page %lu out of range\n", page);
        return;
    }
    pthread_mutex_lock(&oracle.lock);
    oracle.paused = true;
    unsigned char *p = oracle.region + page * MEM_PAGE_SIZE;
    if (strcmp(how, "torn") == 0)
        p[MEM_PAGE_SIZE - 1] ^= 0x5a;
    else   /* stale: the page as it was two generations ago */
        mem_oracle_write_page(p, page, oracle.gen > 2 ? oracle.gen - 2 : 0);
    pthread_mutex_unlock(&oracle.lock);
    snprintf(out, len, "ok writer held (mem resume)\n");
}

static void answer_mem(char *out, size_t len, const char *args)
{
    unsigned long mib, rate, page;
    char how[16];
    struct mem_report r;

    if (sscanf(args, "start %lu %lu", &mib, &rate) == 2) {
        mem_oracle_stop(&oracle);
        if (mib == 0 || mem_oracle_init(&oracle, mib * (1024 * 1024 / MEM_PAGE_SIZE), (unsigned)rate) ||
            mem_oracle_start(&oracle))
            snprintf(out, len, "error cannot start the writer over %lu MiB: %s\n", mib, strerror(errno));
        else
            snprintf(out, len, "ok pages=%zu\n", oracle.pages);
    } else if (!oracle.region) {
        snprintf(out, len, "error the memory oracle is not running (mem start MIB RATE)\n");
    } else if (strcmp(args, "stat") == 0) {
        pthread_mutex_lock(&oracle.lock);
        snprintf(out, len, "pages=%zu gen=%" PRIu64 " pos=%" PRIu64 " writes=%" PRIu64 "\n",
                 oracle.pages, oracle.gen, oracle.pos, oracle.writes);
        pthread_mutex_unlock(&oracle.lock);
    } else if (strcmp(args, "check") == 0) {
        mem_oracle_check(&oracle, &r);
        mem_report_line(out, len, &r);
    } else if (sscanf(args, "corrupt %lu %15s", &page, how) == 2) {
        mem_corrupt(out, len, page, how);
    } else if (strcmp(args, "resume") == 0) {
        mem_oracle_pause(&oracle, false);
        snprintf(out, len, "ok\n");
    } else if (strcmp(args, "stop") == 0) {
        mem_oracle_stop(&oracle);
        snprintf(out, len, "ok\n");
    } else {
        snprintf(out, len, "error unknown mem command '%.64s'\n", args);
    }
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
    } else if (strncmp(line, "mem ", 4) == 0) {
        answer_mem(out, sizeof(out), line + 4);
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
