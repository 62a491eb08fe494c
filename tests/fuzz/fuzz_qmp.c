/*
 * fuzz_qmp.c: libFuzzer on the QMP reader (lab/core/qmp.c) as a QEMU would feed it: the
 * input is everything the "server" sends (greeting, replies, events, garbage), written
 * into a socket pair whose far end then stops sending (it still takes what the client
 * writes, so that a command's reply is read). The client opens the connection,
 * runs one command and waits for an event: it must fail cleanly (an error, never a
 * crash, overflow, leak or hang: every read ends at the peer's EOF).
 * Corpus: tests/fuzz/corpus/qmp (a real greeting and reply, events, split lines).
 */
#include "qmp.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    char err[256];
    if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 0;
    int sndbuf = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (write(sv[1], data, size) != (ssize_t)size) {
        close(sv[0]), close(sv[1]);
        return 0;
    }
    shutdown(sv[1], SHUT_WR);
    /* the parser alone, on the first line */
    const char *nl = memchr(data, '\n', size);
    json_decref(qmp_parse_line((const char *)data, nl ? (size_t)(nl - (const char *)data) : size, err, sizeof(err)));
    struct qmp q;
    if (qmp_open_fd(&q, sv[0], 1, err, sizeof(err)) == 0) {
        json_decref(qmp_execute(&q, "query-status", NULL, 1, err, sizeof(err)));
        static const char *const names[] = { "STOP", "RESUME", NULL };
        json_decref(qmp_wait_event(&q, names, 10, err, sizeof(err)));
        qmp_close(&q);
    }
    close(sv[1]);
    return 0;
}
