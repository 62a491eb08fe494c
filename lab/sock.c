/*
 * sock.c: one way to connect to what the lab starts. QEMU creates its sockets a moment
 * after it starts, and a guest's ports open late in its boot, so every connect retries
 * until a deadline instead of failing on the first refusal.
 */
#include "sock.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int sock_connect_retry(int (*new_socket)(void *ctx), void *ctx, const struct sockaddr *sa,
                       socklen_t len, int timeout_s, int retry_ms)
{
    time_t deadline = time(NULL) + timeout_s;

    for (;;) {
        int fd = new_socket(ctx);
        if (fd < 0)
            return -1;
        if (connect(fd, sa, len) == 0)
            return fd;
        close(fd);
        if (time(NULL) >= deadline)
            return -1;
        usleep((useconds_t)retry_ms * 1000);
    }
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
