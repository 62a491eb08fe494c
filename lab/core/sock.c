/*
 * sock.c: one way to connect to what the lab starts. QEMU creates its sockets a moment
 * after it starts, and a guest's ports open late in its boot, so every connect retries
 * until a deadline instead of failing on the first refusal.
 */
#include "sock.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* One connect that gives up at the deadline (a peer that drops the SYN would otherwise
 * hold a blocking connect for the kernel's two minutes). 0, or -1. */
static int connect_until(int fd, const struct sockaddr *sa, socklen_t len, double deadline)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, sa, len);
    if (rc < 0 && errno == EINPROGRESS) {
        for (;;) {
            double left = deadline - mono_ms();
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int n = left > 0 ? poll(&p, 1, (int)left + 1) : 0;
            if (n < 0 && errno == EINTR)
                continue;
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            rc = n > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0 ? 0 : -1;
            break;
        }
    }
    if (rc == 0 && fcntl(fd, F_SETFL, flags) < 0)
        rc = -1;
    return rc;
}

int sock_connect_retry(int (*new_socket)(void *ctx), void *ctx, const struct sockaddr *sa,
                       socklen_t len, int timeout_s, int retry_ms)
{
    double deadline = mono_ms() + timeout_s * 1000.0;

    for (;;) {
        int fd = new_socket(ctx);
        if (fd < 0)
            return -1;
        if (connect_until(fd, sa, len, deadline) == 0)
            return fd;
        close(fd);
        if (mono_ms() + retry_ms >= deadline)
            return -1;
        usleep((useconds_t)retry_ms * 1000);
    }
}

static int new_tcp_socket(void *ctx)
{
    (void)ctx;
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int sock_connect_tcp(const char *ip, unsigned port, int timeout_s)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (port > 65535 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return -1;
    return sock_connect_retry(new_tcp_socket, NULL, (struct sockaddr *)&sa, sizeof(sa), timeout_s, 200);
}

static int new_unix_socket(void *ctx)
{
    (void)ctx;
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int sock_connect_unix(const char *path, int timeout_s)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    return sock_connect_retry(new_unix_socket, NULL, (struct sockaddr *)&sa, sizeof(sa), timeout_s, 100);
}
