/*
 * ycsb_db.h: YCSB's bindings, one per kind of server: how a record is stored, read,
 * updated and scanned on one connection to one instance, the way YCSB's own binding for
 * that server does it. ycsb.c owns the threads, the timing and the summary.
 */
#ifndef FMLAB_YCSB_DB_H
#define FMLAB_YCSB_DB_H

#include "ycsb_gen.h"

#include <stdbool.h>

struct ycsb_db {
    const char *name;   /* what --store names */
    bool scans;         /* workload E needs them; YCSB's memcached binding has none */
    /* A connection to the instance at ip:port (10 s to connect, 30 s per reply), or NULL. */
    void *(*connect)(const char *ip, unsigned port);
    void (*close)(void *conn);
    /* Each true if the server did it. On false, *gone says the connection is lost (the
     * caller closes it; the next request connects again). */
    bool (*insert)(void *conn, const char *key, const char values[YCSB_FIELDS][YCSB_FIELD_LEN + 1], bool *gone);
    bool (*read)(void *conn, const char *key, bool *gone);
    bool (*update)(void *conn, const char *key, int field, const char *value, bool *gone);
    bool (*scan)(void *conn, const char *start_key, unsigned count, bool *gone);
    /* Empty the instance before a load, or NULL when a load overwrites what is there
     * (redis: HSET; memcached: YCSB inserts with add, which refuses a key that exists). */
    bool (*clear)(void *conn);
};

extern const struct ycsb_db ycsb_redis, ycsb_memcached;
/* The binding named name, or NULL. */
const struct ycsb_db *ycsb_db_named(const char *name);

#endif
