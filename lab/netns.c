/*
 * netns.c: reach the lab network (namespace "fmlab", no route out) from the runner.
 *
 * A socket belongs to the network namespace it was created in. So the runner switches
 * its thread into the lab namespace just long enough to create the socket, switches
 * back, and connects: the connection runs inside the lab network while the runner stays
 * where it was. No process is started and nothing is routed out of the namespace.
 */
#include "netns.h"
#include "sock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int socket_in_netns(const char *netns)
{
    char path[256];
    snprintf(path, sizeof(path), "/run/netns/%s", netns);
    int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    int fd = -1;

    if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (setns(self, CLONE_NEWNET) != 0) {   /* cannot happen; never stay inside */
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    if (self >= 0)
        close(self);
    if (target >= 0)
        close(target);
    return fd;
}

static int new_socket_in_netns(void *netns)
{
    return socket_in_netns(netns);
}

int netns_connect_tcp(const char *netns, const char *ip, uint16_t port, int timeout_s)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return -1;
    return sock_connect_retry(new_socket_in_netns, (void *)netns, (struct sockaddr *)&sa, sizeof(sa),
                              timeout_s, 1000);
}
