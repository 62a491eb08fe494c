/*
 * ycsb_redis.c: YCSB's redis binding. A record is a hash of ten 100-byte fields (HSET)
 * plus its entry in the sorted set "_indices" scored by the key's Java hash (ZADD); a
 * read is HGETALL, an update HSET of one field, a scan ZRANGEBYSCORE from the start
 * key's score then HGETALL of each key.
 */
#include "ycsb_db.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#define INDEX_KEY "_indices"

static void *redis_connect(const char *ip, unsigned port)
{
    struct timeval connect = { .tv_sec = 10 }, cmd = { .tv_sec = 30 };
    redisContext *c = redisConnectWithTimeout(ip, (int)port, connect);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, cmd);
    return c;
}

static void redis_close(void *conn)
{
    redisFree(conn);
}

/* One command; true if redis answered without an error (and with type want, if >= 0). */
static bool command(void *conn, int argc, const char **argv, int want, bool *gone)
{
    redisReply *r = redisCommandArgv(conn, argc, argv, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR && (want < 0 || r->type == want);
    *gone = !r;   /* timeout or reset: the context cannot be used again */
    freeReplyObject(r);
    return ok;
}

static bool redis_insert(void *conn, const char *key, const char values[YCSB_FIELDS][YCSB_FIELD_LEN + 1],
                         bool *gone)
{
    char score[16], names[YCSB_FIELDS][8];
    const char *argv[2 + 2 * YCSB_FIELDS] = { "HSET", key };
    for (int f = 0; f < YCSB_FIELDS; f++) {
        snprintf(names[f], sizeof(names[f]), "field%d", f);
        argv[2 + 2 * f] = names[f];
        argv[3 + 2 * f] = values[f];
    }
    snprintf(score, sizeof(score), "%d", (int)ycsb_java_hash(key));
    const char *zadd[] = { "ZADD", INDEX_KEY, score, key };
    return command(conn, 2 + 2 * YCSB_FIELDS, argv, -1, gone) && command(conn, 4, zadd, -1, gone);
}

static bool redis_read(void *conn, const char *key, bool *gone)
{
    const char *argv[] = { "HGETALL", key };
    return command(conn, 2, argv, -1, gone);
}

static bool redis_update(void *conn, const char *key, int field, const char *value, bool *gone)
{
    char name[8];
    snprintf(name, sizeof(name), "field%d", field);
    const char *argv[] = { "HSET", key, name, value };
    return command(conn, 4, argv, -1, gone);
}

static bool redis_scan(void *conn, const char *start_key, unsigned count, bool *gone)
{
    char score[16], n[16];
    snprintf(score, sizeof(score), "%d", (int)ycsb_java_hash(start_key));
    snprintf(n, sizeof(n), "%u", count);
    const char *argv[] = { "ZRANGEBYSCORE", INDEX_KEY, score, "+inf", "LIMIT", "0", n };
    redisReply *r = redisCommandArgv(conn, 7, argv, NULL);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    *gone = !r;
    for (size_t k = 0; ok && k < r->elements; k++)
        ok = redis_read(conn, r->element[k]->str, gone);
    freeReplyObject(r);
    return ok;
}

const struct ycsb_db ycsb_redis = { "redis", true, redis_connect, redis_close, redis_insert, redis_read,
                                    redis_update, redis_scan, NULL };
