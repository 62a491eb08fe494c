/*
 * test_qmp.c: the QMP client's wire behaviour (lab/core/qmp.c) over a socketpair: commands
 * carry ids, a late answer to an earlier command is skipped, events are kept, OOB is
 * negotiated only when offered and asked for. Real QEMUs are driven by the E2E tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp.h"

static void put(int fd, const char *line)
{
    assert_true(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
}

/* Read one request line from the client and return its parsed object. */
static json_t *get(int fd)
{
    char buf[4096];
    size_t n = 0;
    while (n < sizeof(buf) - 1 && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
        n++;
    buf[n] = '\0';
    return json_loads(buf, 0, NULL);
}

/* A client connected to a fake server that offers OOB; returns the server's end and
 * the client's qmp_capabilities request in *caps (unless caps is NULL). */
static int connect_pair(struct qmp *q, int oob, json_t **caps)
{
    int sv[2];
    char err[256];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    put(sv[1], "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\n"
             "{\"return\": {}, \"id\": \"fmlab-0\"}\n");
    int rc = oob ? qmp_open_fd_oob(q, sv[0], 5, err, sizeof(err)) : qmp_open_fd(q, sv[0], 5, err, sizeof(err));
    assert_int_equal(rc, 0);
    json_t *req = get(sv[1]);
    if (caps)
        *caps = req;
    else
        json_decref(req);
    return sv[1];
}

static void ids_match_replies(void **state)
{
    (void)state;
    struct qmp q;
    char err[256];
    json_t *caps;
    int server = connect_pair(&q, 0, &caps);
    assert_null(json_object_get(caps, "arguments"));   /* OOB not asked for */
    assert_int_equal(q.oob, 0);
    json_decref(caps);
    /* a stale reply (fmlab-0 again), an event, then the real one */
    put(server, "{\"return\": {\"status\": \"stale\"}, \"id\": \"fmlab-0\"}\n"
               "{\"event\": \"STOP\", \"timestamp\": {}}\n"
               "{\"return\": {\"status\": \"running\"}, \"id\": \"fmlab-1\"}\n");
    json_t *r = qmp_execute(&q, "query-status", NULL, 5, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "running");
    assert_int_equal(json_array_size(q.events), 1);
    json_t *req = get(server);
    assert_string_equal(json_string_value(json_object_get(req, "id")), "fmlab-1");
    json_decref(req), json_decref(r);
    qmp_close(&q);
    close(server);
}

/* qmp_wait_event: an event received earlier is found first; a late reply and other
 * events are passed over (the others kept); nothing that matches -> NULL after the timeout. */
static void wait_event_finds_kept_and_new_events(void **state)
{
    (void)state;
    struct qmp q;
    char err[256];
    int server = connect_pair(&q, 0, NULL);
    static const char *const done[] = { "SHM_MIGRATE_IMAGE_COMPLETE", "SHM_MIGRATE_FAILED", NULL };
    static const char *const loaded[] = { "SHM_MIGRATE_LOADED", NULL };

    put(server, "{\"event\": \"SHM_MIGRATE_LOADED\", \"data\": {\"running\": true}}\n"
               "{\"return\": {}, \"id\": \"fmlab-1\"}\n");
    json_decref(qmp_execute(&q, "cont", NULL, 5, err, sizeof(err)));
    json_decref(get(server));
    put(server, "{\"return\": {}, \"id\": \"fmlab-0\"}\n"
               "{\"event\": \"SHM_MIGRATE_PRECOPY_DONE\", \"data\": {}}\n"
               "{\"event\": \"SHM_MIGRATE_FAILED\", \"data\": {\"error\": \"boom\"}}\n");
    json_t *ev = qmp_wait_event(&q, done, 5000, err, sizeof(err));
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "event")), "SHM_MIGRATE_FAILED");
    json_decref(ev);
    ev = qmp_wait_event(&q, loaded, 5000, err, sizeof(err));   /* kept from before */
    assert_non_null(ev);
    assert_true(json_is_true(json_object_get(json_object_get(ev, "data"), "running")));
    json_decref(ev);
    assert_int_equal(json_array_size(q.events), 1);          /* PRECOPY_DONE stays */
    assert_null(qmp_wait_event(&q, loaded, 200, err, sizeof(err)));
    assert_non_null(strstr(err, "timed out"));
    qmp_close(&q);
    close(server);
}

/* qmp_wait_event_any: the event of whichever connection has it, with *which; an event
 * that is not waited for is still read (and stamped) as it arrives; a closed connection
 * is reported with its index; nothing -> NULL, *which -1, after the timeout. */
static void wait_event_any_reads_both_connections(void **state)
{
    (void)state;
    struct qmp a, b;
    char err[256];
    json_t *caps;
    int sa = connect_pair(&a, 0, &caps);
    json_decref(caps);
    int sb = connect_pair(&b, 0, &caps);
    json_decref(caps);
    struct qmp *const qs[2] = { &a, &b };
    static const char *const loaded[] = { "SHM_MIGRATE_LOADED", NULL };
    int which = 7;

    put(sa, "{\"event\": \"STOP\"}\n");
    put(sb, "{\"event\": \"SHM_MIGRATE_LOADED\", \"data\": {\"running\": true}}\n");
    json_t *ev = qmp_wait_event_any(qs, 2, loaded, 5000, &which, err, sizeof(err));
    assert_non_null(ev);
    assert_int_equal(which, 1);
    assert_true(qmp_event_received_ms(ev) > 0);
    json_decref(ev);

    assert_null(qmp_wait_event_any(qs, 2, loaded, 200, &which, err, sizeof(err)));
    assert_int_equal(which, -1);
    assert_non_null(strstr(err, "timed out"));
    assert_int_equal(json_array_size(a.events), 1);          /* STOP was read, and kept */
    assert_true(qmp_event_received_ms(json_array_get(a.events, 0)) > 0);

    close(sa);
    assert_null(qmp_wait_event_any(qs, 2, loaded, 5000, &which, err, sizeof(err)));
    assert_int_equal(which, 0);
    assert_non_null(strstr(err, "closed"));
    qmp_close(&a);
    qmp_close(&b);
    close(sb);
}

static void oob_is_negotiated_when_asked(void **state)
{
    (void)state;
    struct qmp q;
    char err[256];
    json_t *caps;
    int server = connect_pair(&q, 1, &caps);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(caps, "arguments"), "enable"), 0)), "oob");
    json_decref(caps);
    put(server, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"not paused\"}, \"id\": \"fmlab-1\"}\n");
    assert_null(qmp_execute_oob(&q, "migrate-recover", NULL, 5, err, sizeof(err)));
    assert_string_equal(err, "QMP migrate-recover: not paused");
    json_t *req = get(server);
    assert_string_equal(json_string_value(json_object_get(req, "exec-oob")), "migrate-recover");
    json_decref(req);
    qmp_close(&q);
    close(server);
}

/* getfd: the fd arrives at the server as SCM_RIGHTS with the command, and works there. */
static void getfd_passes_the_fd(void **state)
{
    (void)state;
    struct qmp q;
    char err[256], buf[4096], cbuf[CMSG_SPACE(sizeof(int))];
    json_t *caps;
    int server = connect_pair(&q, 0, &caps), pipefd[2];
    json_decref(caps);
    assert_int_equal(pipe(pipefd), 0);
    put(server, "{\"return\": {}, \"id\": \"fmlab-1\"}\n");
    assert_int_equal(qmp_pass_fd(&q, pipefd[1], "snap", 5, err, sizeof(err)), 0);
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
    ssize_t n = recvmsg(server, &msg, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"execute\":\"getfd\""));
    assert_non_null(strstr(buf, "\"fdname\":\"snap\""));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof(int));
    assert_int_equal(write(got, "x", 1), 1);
    assert_int_equal(read(pipefd[0], buf, 1), 1);
    assert_int_equal(buf[0], 'x');
    close(got), close(pipefd[0]), close(pipefd[1]);
    /* a refused getfd is an error naming the command */
    put(server, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no fd\"}, \"id\": \"fmlab-2\"}\n");
    assert_int_equal(qmp_pass_fd(&q, 0, "snap", 5, err, sizeof(err)), -1);
    assert_string_equal(err, "QMP getfd: no fd");
    qmp_close(&q);
    close(server);
}

struct writer { int fd; char *text; };

static void *write_all(void *arg)
{
    struct writer *w = arg;
    size_t len = strlen(w->text), off = 0;
    while (off < len) {
        ssize_t n = write(w->fd, w->text + off, len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    return NULL;
}

/* query-shm-migrate with 1000 periods of history is ~80 KiB on one line: a reply of
 * 300 KiB is read whole (the buffer grows; a 64 KiB one refused it mid-sweep). */
static void long_replies_are_read(void **state)
{
    (void)state;
    struct qmp q;
    char err[256];
    int server = connect_pair(&q, 0, NULL);
    size_t n = 300 * 1024;
    struct writer w = { server, malloc(n + 64) };
    int k = sprintf(w.text, "{\"return\": {\"history\": \"");
    memset(w.text + k, 'x', n);
    strcpy(w.text + k + n, "\"}, \"id\": \"fmlab-1\"}\n");
    pthread_t t;
    pthread_create(&t, NULL, write_all, &w);
    json_t *r = qmp_execute(&q, "query-shm-migrate", NULL, 5, err, sizeof(err));
    pthread_join(t, NULL);
    assert_non_null(r);
    assert_int_equal(strlen(json_string_value(json_object_get(r, "history"))), n);
    json_decref(r);
    free(w.text);
    qmp_close(&q);
    close(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(getfd_passes_the_fd),
        cmocka_unit_test(ids_match_replies),
        cmocka_unit_test(long_replies_are_read),
        cmocka_unit_test(wait_event_finds_kept_and_new_events),
        cmocka_unit_test(wait_event_any_reads_both_connections),
        cmocka_unit_test(oob_is_negotiated_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
