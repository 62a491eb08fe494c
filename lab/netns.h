/* netns.h: TCP connections from the runner into the lab's network namespace. */
#ifndef FMLAB_NETNS_H
#define FMLAB_NETNS_H

#include <stdint.h>

/* Connect to ip:port as seen from network namespace `netns`, retrying until timeout_s.
 * Returns a connected socket fd or -1. The calling thread stays in its own namespace. */
int netns_connect_tcp(const char *netns, const char *ip, uint16_t port, int timeout_s);

#endif
