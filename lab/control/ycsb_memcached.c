/*
 * ycsb_memcached.c: YCSB's memcached binding over memcached's text protocol. As the
 * binding does it: the key is "usertable-" + the record's key; a record is one JSON
 * object of its fields; insert is "add" (an existing key is a failure), read is "get"
 * (a miss is not), update is "replace" with a JSON object of only the updated field (the
 * binding replaces the whole value: later reads get that one field), scans are not
 * implemented (workload E is refused).
 */
#include "ycsb_db.h"
#include "alloc.h"
#include "sock.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TABLE "usertable"

struct mc {
    int fd;
    size_t off, have;
    char buf[8192];
};

static void *mc_connect(const char *ip, unsigned port)
{
    struct timeval t = { .tv_sec = 30 };
    int fd = sock_connect_tcp(ip, port, 10);
    if (fd < 0)
        return NULL;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof(t));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof(t));
    /* like YCSB's client (spymemcached, Nagle off): a request is never held back
     * waiting for the ACK of the one before it (40 ms each with delayed ACKs) */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct mc *m = xcalloc(1, sizeof(*m));
    m->fd = fd;
    return m;
}

static void mc_close(void *conn)
{
    struct mc *m = conn;
    if (m) {
        close(m->fd);
        free(m);
    }
}

static bool fill(struct mc *m)
{
    if (m->off > 0) {
        memmove(m->buf, m->buf + m->off, m->have - m->off);
        m->have -= m->off;
        m->off = 0;
    }
    if (m->have == sizeof(m->buf))
        return false;
    ssize_t n = read(m->fd, m->buf + m->have, sizeof(m->buf) - m->have);
    if (n <= 0)
        return false;
    m->have += (size_t)n;
    return true;
}

/* The next reply line without its \r\n, in line; false when the connection failed. */
static bool read_line(struct mc *m, char *line, size_t len)
{
    for (;;) {
        char *end = memmem(m->buf + m->off, m->have - m->off, "\r\n", 2);
        if (end) {
            size_t n = (size_t)(end - (m->buf + m->off));
            snprintf(line, len, "%.*s", (int)(n < len ? n : len - 1), m->buf + m->off);
            m->off += n + 2;
            return true;
        }
        if (!fill(m))
            return false;
    }
}

/* Skip n bytes of a value and its \r\n. */
static bool skip(struct mc *m, size_t n)
{
    n += 2;
    while (n) {
        if (m->off == m->have && !fill(m))
            return false;
        size_t k = m->have - m->off < n ? m->have - m->off : n;
        m->off += k, n -= k;
    }
    return true;
}

static bool send_all(struct mc *m, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(m->fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        s += n, len -= (size_t)n;
    }
    return true;
}

/* add/replace KEY with the JSON of the fields: STORED is success. */
static bool store(struct mc *m, const char *verb, const char *key, json_t *fields, bool *gone)
{
    char *value = json_dumps(fields, JSON_COMPACT);
    char line[128];
    /* one request, one send: the command line, the data block and its end */
    char *req = xasprintf("%s " TABLE "-%s 0 0 %zu\r\n%s\r\n", verb, key, strlen(value), value);
    *gone = !send_all(m, req, strlen(req)) || !read_line(m, line, sizeof(line));
    free(req);
    free(value);
    json_decref(fields);
    return !*gone && strcmp(line, "STORED") == 0;
}

static bool mc_insert(void *conn, const char *key, const char values[YCSB_FIELDS][YCSB_FIELD_LEN + 1], bool *gone)
{
    json_t *fields = json_object();
    char name[8];
    for (int f = 0; f < YCSB_FIELDS; f++) {
        snprintf(name, sizeof(name), "field%d", f);
        json_object_set_new(fields, name, json_string(values[f]));
    }
    return store(conn, "add", key, fields, gone);
}

static bool mc_update(void *conn, const char *key, int field, const char *value, bool *gone)
{
    char name[8];
    snprintf(name, sizeof(name), "field%d", field);
    return store(conn, "replace", key, json_pack("{s:s}", name, value), gone);
}

/* get KEY: a value or none, then END; a miss is a success, as in the binding. */
static bool mc_read(void *conn, const char *key, bool *gone)
{
    struct mc *m = conn;
    char req[128], line[256];
    int n = snprintf(req, sizeof(req), "get " TABLE "-%s\r\n", key);
    *gone = !send_all(m, req, (size_t)n);
    while (!*gone) {
        size_t bytes;
        unsigned flags;
        char name[200];
        if (!read_line(m, line, sizeof(line)))
            break;
        if (strcmp(line, "END") == 0)
            return true;
        if (sscanf(line, "VALUE %199s %u %zu", name, &flags, &bytes) != 3)
            return false;   /* ERROR, SERVER_ERROR ...: the connection still works */
        if (!skip(m, bytes))
            break;
    }
    *gone = true;
    return false;
}

static bool mc_scan(void *conn, const char *start_key, unsigned count, bool *gone)
{
    (void)conn, (void)start_key, (void)count;
    *gone = false;
    return false;
}

/* flush_all: OK. */
static bool mc_clear(void *conn)
{
    struct mc *m = conn;
    char line[128];
    return send_all(m, "flush_all\r\n", 11) && read_line(m, line, sizeof(line)) && strcmp(line, "OK") == 0;
}

const struct ycsb_db ycsb_memcached = { "memcached", false, mc_connect, mc_close, mc_insert, mc_read,
                                        mc_update, mc_scan, mc_clear };
