/*
 * qmp.c: QMP, the QEMU Machine Protocol, spoken over a UNIX socket with jansson.
 *
 * One JSON object per line. Replies carry "return" or "error"; asynchronous "event"
 * objects may arrive in between and are kept in q->events for whoever waits on them.
 */
#include "qmp.h"
#include "sock.h"
#include "alloc.h"
#include "clock.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

json_t *qmp_parse_line(const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);

    if (!obj) {
        snprintf(err, errlen, "QMP: bad JSON: %s", jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        snprintf(err, errlen, "QMP: expected a JSON object");
        return NULL;
    }
    return obj;
}

/* An event as it is read off the socket: stamped with mono_ms() in "received_ms", then
 * kept in q->events. */
static void keep_event(struct qmp *q, json_t *ev)
{
    json_object_set_new(ev, "received_ms", json_real(mono_ms()));
    json_array_append_new(q->events, ev);
}

/* The next object of the lines already read: 1 with *obj, 0 if no whole line is
 * buffered, -1 with err (bad JSON, or a line longer than the buffer). */
static int buffered_object(struct qmp *q, json_t **obj, char *err, size_t errlen)
{
    char *nl = q->used ? memchr(q->buf, '\n', q->used) : NULL;
    if (!nl) {
        if (q->used < QMP_MAX_MESSAGE)
            return 0;
        snprintf(err, errlen, "QMP: message longer than %u bytes", QMP_MAX_MESSAGE);
        return -1;
    }
    size_t len = (size_t)(nl - q->buf) + 1;
    *obj = qmp_parse_line(q->buf, len, err, errlen);
    memmove(q->buf, q->buf + len, q->used - len);
    q->used -= len;
    return *obj ? 1 : -1;
}

/* Read what the socket has (it was readable): 0, or -1 with err when it closed. */
static int fill(struct qmp *q, char *err, size_t errlen)
{
    ssize_t n;
    if (q->used == q->cap) {   /* a line longer than the buffer: grow it (bounded above) */
        q->cap = q->cap ? 2 * q->cap : 65536;
        q->buf = xrealloc(q->buf, q->cap);
    }
    do
        n = read(q->fd, q->buf + q->used, q->cap - q->used);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        snprintf(err, errlen, "QMP: connection closed (QEMU exited?)");
        return -1;
    }
    q->used += (size_t)n;
    return 0;
}

/* Read the next JSON object, waiting at most until deadline (mono_ms()). */
static json_t *read_object(struct qmp *q, double deadline, char *err, size_t errlen)
{
    for (;;) {
        json_t *obj = NULL;
        int rc = buffered_object(q, &obj, err, errlen);
        if (rc)
            return rc > 0 ? obj : NULL;
        double left = deadline - mono_ms();
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        if (left <= 0) {
            snprintf(err, errlen, "QMP: no answer (timed out)");
            return NULL;
        }
        rc = poll(&p, 1, (int)left + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0) {
            snprintf(err, errlen, "QMP: no answer (timed out)");
            return NULL;
        }
        if (fill(q, err, errlen))
            return NULL;
    }
}

/* Send obj and a newline; with pass_fd >= 0 the fd rides along as SCM_RIGHTS (getfd). */
static int send_object(struct qmp *q, json_t *obj, int pass_fd)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        return -1;
    size_t len = strlen(text);
    struct iovec iov = { .iov_base = text, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass_fd >= 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    /* MSG_NOSIGNAL: a QEMU that already exited must be an error, not a SIGPIPE. */
    int rc = (sendmsg(q->fd, &msg, MSG_NOSIGNAL) == (ssize_t)len &&
              send(q->fd, "\n", 1, MSG_NOSIGNAL) == 1) ? 0 : -1;
    free(text);
    return rc;
}

static json_t *execute(struct qmp *q, const char *verb, const char *command, json_t *args, int pass_fd,
                       int timeout_s, char *err, size_t errlen)
{
    char id[32];
    snprintf(id, sizeof(id), "fmlab-%u", q->next_id++);
    json_t *req = json_pack("{s:s, s:s}", verb, command, "id", id);
    if (args)
        json_object_set(req, "arguments", args);
    int rc = send_object(q, req, pass_fd);
    json_decref(req);
    if (rc < 0) {
        snprintf(err, errlen, "QMP: cannot send '%s'", command);
        return NULL;
    }
    double deadline = mono_ms() + timeout_s * 1000.0;
    for (;;) {
        json_t *obj = read_object(q, deadline, err, errlen);
        if (!obj)
            return NULL;
        if (json_object_get(obj, "event")) {
            keep_event(q, obj);
            continue;
        }
        const char *got = json_string_value(json_object_get(obj, "id"));
        if (got && strcmp(got, id) != 0) {
            json_decref(obj);   /* the late answer to a command that timed out */
            continue;
        }
        json_t *ret = json_object_get(obj, "return");
        if (ret) {
            json_incref(ret);
            json_decref(obj);
            return ret;
        }
        json_t *e = json_object_get(obj, "error");
        snprintf(err, errlen, "QMP %s: %s", command,
                 e ? json_string_value(json_object_get(e, "desc")) ?: "an error without a description"
                   : "unexpected reply");
        json_decref(obj);
        return NULL;
    }
}

double qmp_event_received_ms(const json_t *ev)
{
    return json_number_value(json_object_get(ev, "received_ms"));
}

static bool event_named(json_t *ev, const char *const *names)
{
    const char *name = json_string_value(json_object_get(ev, "event"));
    for (; name && *names; names++)
        if (strcmp(name, *names) == 0)
            return true;
    return false;
}

/* A kept event of q named in names, removed from q->events (new reference), or NULL. */
static json_t *take_event(struct qmp *q, const char *const *names)
{
    size_t i;
    json_t *ev;
    json_array_foreach(q->events, i, ev) {
        if (event_named(ev, names)) {
            json_incref(ev);
            json_array_remove(q->events, i);
            return ev;
        }
    }
    return NULL;
}

json_t *qmp_wait_event(struct qmp *q, const char *const *names, int timeout_ms, char *err, size_t errlen)
{
    double deadline = mono_ms() + timeout_ms;
    for (;;) {
        json_t *ev = take_event(q, names);
        if (ev)
            return ev;
        json_t *obj = read_object(q, deadline, err, errlen);
        if (!obj)
            return NULL;
        if (json_object_get(obj, "event"))
            keep_event(q, obj);
        else
            json_decref(obj);
    }
}

json_t *qmp_wait_event_any(struct qmp *const *qs, int n, const char *const *names, int timeout_ms,
                           int *which, char *err, size_t errlen)
{
    double deadline = mono_ms() + timeout_ms;
    struct pollfd p[QMP_WAIT_MAX];
    if (n < 1 || n > QMP_WAIT_MAX) {
        snprintf(err, errlen, "QMP: cannot wait on %d connections", n);
        return NULL;
    }
    for (;;) {
        bool progress = false;
        for (int i = 0; i < n; i++) {
            json_t *ev = take_event(qs[i], names), *obj = NULL;
            if (ev) {
                *which = i;
                return ev;
            }
            int rc = buffered_object(qs[i], &obj, err, errlen);
            if (rc < 0) {
                *which = i;
                return NULL;
            }
            if (rc > 0) {   /* every object is read as it comes: events are stamped on time */
                progress = true;
                if (json_object_get(obj, "event"))
                    keep_event(qs[i], obj);
                else
                    json_decref(obj);
            }
        }
        if (progress)
            continue;
        double left = deadline - mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "QMP: no event (timed out)");
            *which = -1;
            return NULL;
        }
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = qs[i]->fd, .events = POLLIN };
        if (poll(p, (nfds_t)n, (int)left + 1) < 0 && errno != EINTR) {
            snprintf(err, errlen, "QMP: poll: %s", strerror(errno));
            *which = -1;
            return NULL;
        }
        for (int i = 0; i < n; i++)
            if (p[i].revents && fill(qs[i], err, errlen)) {
                *which = i;
                return NULL;
            }
    }
}

json_t *qmp_execute(struct qmp *q, const char *command, json_t *args, int timeout_s,
                    char *err, size_t errlen)
{
    return execute(q, "execute", command, args, -1, timeout_s, err, errlen);
}

int qmp_pass_fd(struct qmp *q, int fd, const char *name, int timeout_s, char *err, size_t errlen)
{
    json_t *args = json_pack("{s:s}", "fdname", name);
    json_t *ret = execute(q, "execute", "getfd", args, fd, timeout_s, err, errlen);
    json_decref(args);
    json_decref(ret);
    return ret ? 0 : -1;
}

json_t *qmp_execute_oob(struct qmp *q, const char *command, json_t *args, int timeout_s,
                        char *err, size_t errlen)
{
    return execute(q, q->oob ? "exec-oob" : "execute", command, args, -1, timeout_s, err, errlen);
}

int qmp_open(struct qmp *q, const char *sock_path, int timeout_s, char *err, size_t errlen)
{
    int fd = sock_connect_unix(sock_path, timeout_s);
    if (fd < 0) {
        memset(q, 0, sizeof(*q));
        q->fd = -1;
        snprintf(err, errlen, "QMP: cannot connect to %s", sock_path);
        return -1;
    }
    return qmp_open_fd(q, fd, timeout_s, err, errlen);
}

static int open_fd(struct qmp *q, int fd, int timeout_s, bool want_oob, char *err, size_t errlen)
{
    memset(q, 0, sizeof(*q));
    q->events = json_array();
    q->fd = fd;
    json_t *greeting = read_object(q, mono_ms() + timeout_s * 1000.0, err, errlen);
    if (!greeting || !json_object_get(greeting, "QMP")) {
        json_decref(greeting);
        if (greeting)
            snprintf(err, errlen, "QMP: the server did not greet");
        qmp_close(q);
        return -1;
    }
    json_t *caps = json_object_get(json_object_get(greeting, "QMP"), "capabilities"), *c;
    size_t i;
    json_array_foreach(caps, i, c)
        q->oob |= want_oob && json_is_string(c) && strcmp(json_string_value(c), "oob") == 0;
    json_decref(greeting);
    json_t *args = q->oob ? json_pack("{s:[s]}", "enable", "oob") : NULL;
    json_t *ret = qmp_execute(q, "qmp_capabilities", args, timeout_s, err, errlen);
    json_decref(args);
    if (!ret) {
        qmp_close(q);
        return -1;
    }
    json_decref(ret);
    return 0;
}

int qmp_open_fd(struct qmp *q, int fd, int timeout_s, char *err, size_t errlen)
{
    return open_fd(q, fd, timeout_s, false, err, errlen);
}

int qmp_open_fd_oob(struct qmp *q, int fd, int timeout_s, char *err, size_t errlen)
{
    return open_fd(q, fd, timeout_s, true, err, errlen);
}

void qmp_close(struct qmp *q)
{
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
    json_decref(q->events);
    q->events = NULL;
    free(q->buf);
    q->buf = NULL;
    q->used = q->cap = 0;
}

void qmp_status(struct qmp *q, char *out, size_t len)
{
    char err[256];
    json_t *st = q->fd >= 0 ? qmp_execute(q, "query-status", NULL, 5, err, sizeof(err)) : NULL;
    const char *s = st ? json_string_value(json_object_get(st, "status")) : NULL;
    snprintf(out, len, "%s", s ? s : "gone");
    json_decref(st);
}
