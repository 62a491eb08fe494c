/* sock.h: connecting to the lab's sockets, retrying while the other side starts. */
#ifndef FMLAB_SOCK_H
#define FMLAB_SOCK_H

#include <sys/socket.h>

/* Connect a socket made by new_socket(ctx) to sa, retrying every retry_ms until
 * timeout_s. Returns the connected fd or -1. */
int sock_connect_retry(int (*new_socket)(void *ctx), void *ctx, const struct sockaddr *sa,
                       socklen_t len, int timeout_s, int retry_ms);
/* A TCP connection to ip (dotted quad):port, retrying every 200 ms until timeout_s
 * (a QEMU, the agent or a server in the guest still starting). fd or -1. */
int sock_connect_tcp(const char *ip, unsigned port, int timeout_s);
/* A UNIX stream socket at path (QEMU's QMP and console sockets). */
int sock_connect_unix(const char *path, int timeout_s);

#endif
