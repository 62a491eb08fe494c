/*
 * test_ycsb_memcached.c: YCSB's memcached binding (lab/control/ycsb_memcached.c) against a
 * scripted server on loopback: what it sends (add/replace of "usertable-" keys with JSON
 * records, get), how it reads memcached's replies (STORED, NOT_STORED, VALUE..END, a
 * miss, server errors, a value that arrives a byte at a time), and that a closed
 * connection is reported as lost while a refusal is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ycsb_db.h"

/* The scripted server: one connection; for each request, the next reply (NULL: close). */
struct server {
    int listen_fd;
    unsigned port;
    const char *const *replies;
    bool trickle;              /* send replies one byte at a time */
    char got[8192];            /* every request as received */
    size_t got_len;
    pthread_t thread;
};

/* One request: a line, and for add/replace the data block after it. */
static bool read_request(int fd, struct server *s)
{
    size_t start = s->got_len, need_data = 0;
    char c;
    while (read(fd, &c, 1) == 1 && s->got_len < sizeof(s->got) - 1) {
        s->got[s->got_len++] = c;
        if (c != '\n')
            continue;
        if (!need_data) {
            unsigned flags, exp;
            size_t bytes;
            char verb[16], key[128];
            if (sscanf(s->got + start, "%15s %127s %u %u %zu", verb, key, &flags, &exp, &bytes) == 5)
                need_data = bytes + 2;
            else
                return true;
        }
        if (need_data)
            break;
    }
    while (need_data && read(fd, &c, 1) == 1 && s->got_len < sizeof(s->got) - 1) {
        s->got[s->got_len++] = c;
        need_data--;
    }
    s->got[s->got_len] = '\0';
    return need_data == 0 && s->got_len > start;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    for (const char *const *r = s->replies; fd >= 0 && *r; r++) {
        if (!read_request(fd, s))
            break;
        size_t n = strlen(*r);
        for (size_t i = 0; i < n; i += s->trickle ? 1 : n) {
            if (write(fd, *r + i, s->trickle ? 1 : n) < 0)
                break;
            if (s->trickle)
                usleep(200);
        }
    }
    if (fd >= 0) {
        read_request(fd, s);   /* take the last request, then close: the connection is gone */
        close(fd);
    }
    return NULL;
}

static void start(struct server *s, const char *const *replies, bool trickle)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    memset(s, 0, sizeof(*s));
    s->replies = replies;
    s->trickle = trickle;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->listen_fd, 1), 0);
    getsockname(s->listen_fd, (struct sockaddr *)&sa, &len);
    s->port = ntohs(sa.sin_port);
    pthread_create(&s->thread, NULL, serve, s);
}

static void stop(struct server *s, void *conn)
{
    ycsb_memcached.close(conn);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

static void insert_adds_a_json_record(void **state)
{
    (void)state;
    static const char *const replies[] = { "STORED\r\n", "NOT_STORED\r\n", NULL };
    struct server s;
    char values[YCSB_FIELDS][YCSB_FIELD_LEN + 1];
    bool gone = true;
    for (int f = 0; f < YCSB_FIELDS; f++)
        snprintf(values[f], sizeof(values[f]), "%0100d", f);
    values[3][0] = '"';   /* JSON must quote it */
    start(&s, replies, false);
    void *c = ycsb_memcached.connect("127.0.0.1", s.port);
    assert_non_null(c);
    assert_true(ycsb_memcached.insert(c, "user42", (const char (*)[YCSB_FIELD_LEN + 1])values, &gone));
    assert_false(gone);
    assert_false(ycsb_memcached.insert(c, "user42", (const char (*)[YCSB_FIELD_LEN + 1])values, &gone));
    assert_false(gone);   /* refused (the key exists), not lost */
    stop(&s, c);
    size_t bytes;
    assert_int_equal(sscanf(s.got, "add usertable-user42 0 0 %zu\r\n", &bytes), 1);
    const char *data = strstr(s.got, "\r\n") + 2;
    json_t *j = json_loadb(data, bytes, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), YCSB_FIELDS);
    assert_string_equal(json_string_value(json_object_get(j, "field3")), values[3]);
    assert_memory_equal(data + bytes, "\r\n", 2);
    json_decref(j);
}

static void update_replaces_with_the_one_field(void **state)
{
    (void)state;
    static const char *const replies[] = { "STORED\r\n", "NOT_STORED\r\n", NULL };
    struct server s;
    bool gone = true;
    start(&s, replies, false);
    void *c = ycsb_memcached.connect("127.0.0.1", s.port);
    assert_true(ycsb_memcached.update(c, "user7", 3, "abc", &gone));
    assert_false(ycsb_memcached.update(c, "user8", 0, "x", &gone));   /* no such key */
    assert_false(gone);
    stop(&s, c);
    assert_non_null(strstr(s.got, "replace usertable-user7 0 0 16\r\n{\"field3\":\"abc\"}\r\n"));
}

static void reads_hits_misses_and_errors(void **state)
{
    (void)state;
    static const char *const replies[] = { "VALUE usertable-user1 0 5\r\nhe\r\no\r\nEND\r\n", "END\r\n",
                                           "SERVER_ERROR out of memory\r\n", NULL };
    for (int trickle = 0; trickle < 2; trickle++) {
        struct server s;
        bool gone = true;
        start(&s, replies, trickle);
        void *c = ycsb_memcached.connect("127.0.0.1", s.port);
        assert_true(ycsb_memcached.read(c, "user1", &gone));    /* a value with \r\n inside */
        assert_false(gone);
        assert_true(ycsb_memcached.read(c, "user2", &gone));    /* a miss is not a failure */
        assert_false(ycsb_memcached.read(c, "user3", &gone));
        assert_false(gone);
        assert_false(ycsb_memcached.read(c, "user4", &gone));   /* the server closed */
        assert_true(gone);
        stop(&s, c);
        assert_non_null(strstr(s.got, "get usertable-user1\r\nget usertable-user2\r\n"));
    }
}

static void scans_are_not_there(void **state)
{
    (void)state;
    bool gone = true;
    assert_false(ycsb_memcached.scans);
    assert_false(ycsb_memcached.scan(NULL, "user1", 10, &gone));
    assert_false(gone);
    assert_ptr_equal(ycsb_db_named("memcached"), &ycsb_memcached);
    assert_ptr_equal(ycsb_db_named("redis"), &ycsb_redis);
    assert_null(ycsb_db_named("mongodb"));
}

static void nothing_listening(void **state)
{
    (void)state;
    struct server s;
    static const char *const none[] = { NULL };
    start(&s, none, false);
    unsigned port = s.port;
    pthread_cancel(s.thread);
    pthread_join(s.thread, NULL);
    close(s.listen_fd);
    assert_null(ycsb_memcached.connect("127.0.0.1", port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_adds_a_json_record),
        cmocka_unit_test(update_replaces_with_the_one_field),
        cmocka_unit_test(reads_hits_misses_and_errors),
        cmocka_unit_test(scans_are_not_there),
        cmocka_unit_test(nothing_listening),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
