/*
 * agent.c: talking to fmlab-agent in the guest (image/agent) over its line protocol,
 * One connection per call: the agent serves one client at a time and a call must not
 * hold it while the guest migrates.
 */
#include "control.h"
#include "sock.h"
#include "values.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* On failure without a reply from the agent, reply says why (no connection, no reply in
 * time) so the caller's one-line error names the cause. */
int agent_call(const char *ip, unsigned port, const char *cmd, char *reply, size_t len, int timeout_s)
{
    size_t used = 0;
    double start = mono_ms();
    int fd = sock_connect_tcp(ip, port, timeout_s);

    reply[0] = '\0';
    if (fd < 0) {
        snprintf(reply, len, "error no connection to the agent at %s:%u within %d s", ip, port, timeout_s);
        return -1;
    }
    if (dprintf(fd, "%s\n", cmd) < 0) {
        close(fd);
        snprintf(reply, len, "error the agent at %s:%u closed the connection", ip, port);
        return -1;
    }
    double deadline = start + timeout_s * 1000.0;
    while (used + 1 < len && !memchr(reply, '\n', used)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left = (int)(deadline - mono_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = read(fd, reply + used, len - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        reply[used] = '\0';
    }
    close(fd);
    char *nl = strchr(reply, '\n');
    if (!nl) {
        snprintf(reply, len, "error no reply to '%.40s' from the agent at %s:%u after %.1f s", cmd, ip, port,
                 (mono_ms() - start) / 1000.0);
        return -1;
    }
    *nl = '\0';
    return strncmp(reply, "error", 5) == 0 ? -1 : 0;
}

long long agent_field(const char *reply, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = reply; (p = strstr(p, key)); p += klen) {
        if ((p == reply || p[-1] == ' ') && p[klen] == '=')
            return strtoll(p + klen + 1, NULL, 10);
    }
    return -1;
}

/* `fmlab-control agent IP PORT REQUEST...`: each request to the agent in turn, its reply
 * printed ("sleep N" waits N seconds instead). 1 if a request got no reply. */
int agent_main(int argc, char **argv)
{
    char reply[512];
    uint16_t port;
    uint32_t addr;

    if (argc < 4 || !parse_ipv4(argv[1], &addr) || !parse_port(argv[2], &port)) {
        fprintf(stderr, "usage: fmlab-control agent IP PORT REQUEST...\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "sleep ", 6) == 0) {
            sleep((unsigned)atoi(argv[i] + 6));
            continue;
        }
        int rc = agent_call(argv[1], port, argv[i], reply, sizeof(reply), 60);
        printf("%s\n", reply);
        if (rc != 0)
            return 1;
    }
    return 0;
}
