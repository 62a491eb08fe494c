/* qmp.h: a QMP client (JSON through jansson) for every QEMU the lab starts. */
#ifndef FMLAB_QMP_H
#define FMLAB_QMP_H

#include <jansson.h>
#include <stddef.h>

/* A message may be as long as QMP_MAX_MESSAGE: query-shm-migrate's history of 1000
 * periods is ~80 KiB, query-migrate's a few KiB; more is a broken server. */
#define QMP_MAX_MESSAGE (16u << 20)

struct qmp {
    int fd;
    char *buf;          /* grows from 64 KiB as long messages arrive */
    size_t used, cap;
    json_t *events;     /* events received while waiting for replies, each with "received_ms"
                           (CLOCK_MONOTONIC when read off the socket) */
    unsigned next_id;   /* every command carries an id; replies are matched by it */
    int oob;            /* out-of-band execution negotiated (qmp_open_fd_oob) */
};

/* Connect (retrying until timeout_s), read the greeting, negotiate capabilities. */
int qmp_open(struct qmp *q, const char *sock_path, int timeout_s, char *err, size_t errlen);
/* The same over an already connected socket (TCP into the lab network); takes fd. */
int qmp_open_fd(struct qmp *q, int fd, int timeout_s, char *err, size_t errlen);
/* Like qmp_open_fd, and enable out-of-band commands when the server offers them: a
 * destination QEMU whose main loop waits on postcopy page faults still answers those. */
int qmp_open_fd_oob(struct qmp *q, int fd, int timeout_s, char *err, size_t errlen);
void qmp_close(struct qmp *q);
/* Run a command; returns the "return" value (new reference) or NULL with err filled.
 * args may be NULL; it is not stolen. */
json_t *qmp_execute(struct qmp *q, const char *command, json_t *args, int timeout_s,
                    char *err, size_t errlen);
/* Hand fd to QEMU under name (QMP getfd, the fd sent as SCM_RIGHTS over the UNIX
 * socket), for "fd:name" migration URIs. 0, or -1 with err. */
int qmp_pass_fd(struct qmp *q, int fd, const char *name, int timeout_s, char *err, size_t errlen);
/* Run an allow-oob command (migrate-pause, migrate-recover) with exec-oob; falls back
 * to qmp_execute when OOB was not negotiated. */
json_t *qmp_execute_oob(struct qmp *q, const char *command, json_t *args, int timeout_s,
                        char *err, size_t errlen);
/* Wait for the first event whose name is in names (NULL-terminated), among those already
 * received and those still to come; returns it (new reference, removed from q->events),
 * or NULL with err after timeout_ms. Replies to earlier commands that come late are dropped. */
json_t *qmp_wait_event(struct qmp *q, const char *const *names, int timeout_ms, char *err, size_t errlen);
/* qmp_wait_event on up to QMP_WAIT_MAX connections at once (no command pending on any):
 * the first event named in names on any of them, *which = its index; NULL with err on
 * timeout (*which = -1) or when connection *which failed. Every object is read as soon
 * as it arrives, so each event's "received_ms" is its own arrival, whichever it waits for. */
#define QMP_WAIT_MAX 4
json_t *qmp_wait_event_any(struct qmp *const *qs, int n, const char *const *names, int timeout_ms,
                           int *which, char *err, size_t errlen);
/* When an event was read off the socket (CLOCK_MONOTONIC, ms). */
double qmp_event_received_ms(const json_t *ev);
/* Split one received line into a JSON object (exposed for unit tests). */
json_t *qmp_parse_line(const char *line, size_t len, char *err, size_t errlen);

/* query-status's "status" within 5 s, or "gone" when QEMU does not answer (or q has no
 * connection). */
void qmp_status(struct qmp *q, char *out, size_t len);

#endif
