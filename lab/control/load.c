/*
 * load.c: the application oracle's redis client (hiredis), run on backup.
 *
 * Before the migration it loads preload_keys keys "pre:<i>" and takes DEBUG DIGEST.
 * During it, a thread writes numbered keys "mig:<n>" back to back (load redis) or
 * pings every 10 ms (other loads) and timestamps every reply: the longest gap between
 * two successful replies is the downtime the client observed. A key is "acked" once
 * redis answered OK, "maybe" when the request went out and no answer came (a timeout,
 * a dropped connection). Afterwards every acked key must be present with its value, no
 * key may appear that was never sent, and once the mig: keys are deleted the dataset's
 * digest must equal the one taken before.
 */
#include "control.h"
#include "alloc.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KEY_NONE, KEY_MAYBE, KEY_ACKED };
#define BATCH 500
#define BUCKET_MS 100
#define MAX_BUCKETS 36000   /* an hour */

struct load {
    const struct control_opts *o;
    bool writes;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    unsigned char *state;      /* per mig: key */
    uint64_t next, cap, ok, errors, reconnects;
    double t0, last_ok, max_gap, max_gap_at;
    uint32_t *ok_per_bucket;   /* successful replies per BUCKET_MS since t0 */
    size_t n_buckets;
    char digest_before[64];
};

static void value_of(const char *prefix, uint64_t n, char *buf, size_t len)
{
    int k = snprintf(buf, len, "%s:%llu:", prefix, (unsigned long long)n);
    for (size_t i = (size_t)k; i + 1 < len && i < 63; i++)
        buf[i] = (char)('a' + (n + i) % 26);
    buf[len - 1 < 63 ? len - 1 : 63] = '\0';
}

/* Commands time out after cmd_s: short while migrating (a timed-out request is a gap the
 * client observed), long when verifying (a freshly migrated nested guest is slow). */
static redisContext *connect_redis(const struct control_opts *o, int timeout_ms, int cmd_s)
{
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(o->vm_ip, (int)o->redis_port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    struct timeval cmd_tv = { .tv_sec = cmd_s };
    if (c)
        redisSetTimeout(c, cmd_tv);
    return c;
}

static void note_ok(struct load *l)
{
    double t = mono_ms();
    pthread_mutex_lock(&l->lock);
    if (l->t0 > 0 && l->last_ok > 0 && t >= l->t0 && t - l->last_ok > l->max_gap) {
        l->max_gap = t - l->last_ok;
        l->max_gap_at = l->last_ok - l->t0;
    }
    l->last_ok = t;
    l->ok++;
    if (l->t0 > 0 && t >= l->t0) {
        size_t b = (size_t)((t - l->t0) / BUCKET_MS);
        if (b < MAX_BUCKETS && b >= l->n_buckets) {
            size_t n = b + 1 > 2 * l->n_buckets ? b + 1 : 2 * l->n_buckets;
            uint32_t *grown = xrealloc(l->ok_per_bucket, n * sizeof(*grown));
            memset(grown + l->n_buckets, 0, (n - l->n_buckets) * sizeof(*grown));
            l->ok_per_bucket = grown;
            l->n_buckets = n;
        }
        if (b < l->n_buckets)
            l->ok_per_bucket[b]++;
    }
    pthread_mutex_unlock(&l->lock);
}

double load_ops_per_s(struct load *l, double from_ms, double to_ms)
{
    double sum = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t b = 0; b < l->n_buckets; b++) {
        double start = l->t0 + (double)b * BUCKET_MS;
        if (start >= from_ms && start + BUCKET_MS <= to_ms)
            sum += l->ok_per_bucket[b];
    }
    pthread_mutex_unlock(&l->lock);
    return to_ms > from_ms ? sum * 1000.0 / (to_ms - from_ms) : 0;
}

/* One request: a numbered SET (load redis) or a PING. Returns false if c is now dead. */
static bool one_request(struct load *l, redisContext *c)
{
    char val[64];
    redisReply *r;
    uint64_t n = 0;

    if (l->writes) {
        pthread_mutex_lock(&l->lock);
        if (l->next == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 65536;
            l->state = xrealloc(l->state, l->cap);
        }
        n = l->next++;
        l->state[n] = KEY_MAYBE;
        pthread_mutex_unlock(&l->lock);
        value_of("mig", n, val, sizeof(val));
        r = redisCommand(c, "SET mig:%llu %s", (unsigned long long)n, val);
    } else {
        r = redisCommand(c, "PING");
    }
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (ok) {
        if (l->writes)
            l->state[n] = KEY_ACKED;   /* only this thread writes states until it is joined */
        note_ok(l);
    } else {
        l->errors++;
    }
    if (r)
        freeReplyObject(r);
    return !c->err;
}

static void *client_main(void *arg)
{
    struct load *l = arg;
    redisContext *c = NULL;

    while (!atomic_load(&l->stop)) {
        if (!c && !(c = connect_redis(l->o, 1000, 2))) {
            usleep(50000);
            continue;
        }
        if (!one_request(l, c)) {
            redisFree(c);
            c = NULL;
            l->reconnects++;
        }
        if (!l->writes)
            usleep(10000);
    }
    if (c)
        redisFree(c);
    return NULL;
}

/* Run a pipeline of count commands made by fmt with i = first..first+count-1. */
static int pipeline(redisContext *c, const char *fmt, const char *prefix, uint64_t first, uint64_t count,
                    bool with_value, redisReply **replies)
{
    char val[64];
    for (uint64_t i = first; i < first + count; i++) {
        value_of(prefix, i, val, sizeof(val));
        if (with_value)
            redisAppendCommand(c, fmt, prefix, (unsigned long long)i, val);
        else
            redisAppendCommand(c, fmt, prefix, (unsigned long long)i);
    }
    for (uint64_t i = 0; i < count; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK)
            return -1;
        if (replies)
            replies[i] = r;
        else
            freeReplyObject(r);
    }
    return 0;
}

static int digest(redisContext *c, char *out, size_t len)
{
    redisReply *r = redisCommand(c, "DEBUG DIGEST");
    int ok = r && r->type == REDIS_REPLY_STATUS;
    snprintf(out, len, "%s", ok ? r->str : (r && r->str ? r->str : "no reply"));
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

static long long dbsize(redisContext *c)
{
    redisReply *r = redisCommand(c, "DBSIZE");
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return n;
}

struct load *load_start(const struct control_opts *o, char *err, size_t errlen)
{
    redisContext *c = connect_redis(o, 10000, 60);
    if (!c) {
        snprintf(err, errlen, "redis at %s:%u does not answer", o->vm_ip, o->redis_port);
        return NULL;
    }
    struct load *l = xcalloc(1, sizeof(*l));
    l->o = o;
    l->writes = strcmp(o->load, "redis") == 0;
    pthread_mutex_init(&l->lock, NULL);
    redisReply *r = redisCommand(c, "FLUSHALL");
    bool flushed = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!flushed) {
        snprintf(err, errlen, "redis FLUSHALL failed: %s", c->err ? c->errstr : "an error reply");
        goto fail;
    }
    for (uint64_t i = 0; i < o->preload_keys; i += BATCH) {
        uint64_t n = o->preload_keys - i < BATCH ? o->preload_keys - i : BATCH;
        if (pipeline(c, "SET %s:%llu %s", "pre", i, n, true, NULL)) {
            snprintf(err, errlen, "preloading redis failed at key %llu: %s", (unsigned long long)i,
                     c->err ? c->errstr : "?");
            goto fail;
        }
    }
    if (dbsize(c) != (long long)o->preload_keys || digest(c, l->digest_before, sizeof(l->digest_before))) {
        snprintf(err, errlen, "redis after preload: DBSIZE %lld (want %u), DEBUG DIGEST: %s", dbsize(c),
                 o->preload_keys, l->digest_before);
        goto fail;
    }
    redisFree(c);
    say("redis: %u keys loaded, digest %.16s...", o->preload_keys, l->digest_before);
    if (pthread_create(&l->thread, NULL, client_main, l) == 0)
        return l;
    snprintf(err, errlen, "cannot start the client thread");
    c = NULL;
fail:
    if (c)
        redisFree(c);
    free(l);
    return NULL;
}

void load_mark(struct load *l, double t0_ms)
{
    pthread_mutex_lock(&l->lock);
    l->t0 = t0_ms;
    pthread_mutex_unlock(&l->lock);
}

bool load_wait_served(struct load *l, double settle_ms, int timeout_s)
{
    double deadline = mono_ms() + timeout_s * 1000.0, start = mono_ms();
    while (mono_ms() < deadline) {
        pthread_mutex_lock(&l->lock);
        double last = l->last_ok;
        pthread_mutex_unlock(&l->lock);
        if (last > start + settle_ms)
            return true;
        usleep(50000);
    }
    return false;
}

void load_stop(struct load *l)
{
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
}

struct verify {
    uint64_t acked, lost, wrong, maybe, maybe_present, first_bad;
};

/* Check every mig: key against what the client was told. */
static int verify_keys(struct load *l, redisContext *c, struct verify *v)
{
    redisReply *rep[BATCH];
    char val[64];

    memset(v, 0, sizeof(*v));
    v->first_bad = UINT64_MAX;
    for (uint64_t i = 0; i < l->next; i += BATCH) {
        uint64_t n = l->next - i < BATCH ? l->next - i : BATCH;
        if (pipeline(c, "GET %s:%llu", "mig", i, n, false, rep))
            return -1;
        for (uint64_t j = 0; j < n; j++) {
            uint64_t k = i + j;
            bool present = rep[j]->type == REDIS_REPLY_STRING;
            value_of("mig", k, val, sizeof(val));
            if (l->state[k] == KEY_ACKED) {
                v->acked++;
                if (!present || strcmp(rep[j]->str, val) != 0) {
                    present ? v->wrong++ : v->lost++;
                    if (v->first_bad == UINT64_MAX)
                        v->first_bad = k;
                }
            } else {
                v->maybe++;
                v->maybe_present += present;
            }
            freeReplyObject(rep[j]);
        }
    }
    return 0;
}

int load_sabotage(struct load *l, const char *how)
{
    uint64_t k = 0;
    while (k < l->next && l->state[k] != KEY_ACKED)
        k++;
    redisContext *c = connect_redis(l->o, 10000, 60);
    redisReply *r = NULL;
    if (!c)
        return -1;
    if (strcmp(how, "changed-digest") == 0)
        r = redisCommand(c, "SET pre:0 %s", "changed");
    else if (k < l->next && strcmp(how, "lost-key") == 0)
        r = redisCommand(c, "DEL mig:%llu", (unsigned long long)k);
    else if (k < l->next && strcmp(how, "changed-value") == 0)
        r = redisCommand(c, "SET mig:%llu %s", (unsigned long long)k, "changed");
    int rc = r && r->type != REDIS_REPLY_ERROR ? 0 : -1;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

json_t *load_finish(struct load *l, json_t **client)
{
    struct verify v = { 0 };
    char after[64] = "not taken";
    long long size = -1, size_after_del = -1;
    const char *problem = NULL;
    redisContext *c = connect_redis(l->o, 10000, 60);

    if (!c)
        problem = "redis does not answer after the migration";
    else if (verify_keys(l, c, &v))
        problem = "reading the mig: keys back failed";
    else {
        size = dbsize(c);
        for (uint64_t i = 0; i < l->next && !problem; i += BATCH)
            if (pipeline(c, "DEL %s:%llu", "mig", i, l->next - i < BATCH ? l->next - i : BATCH, false, NULL))
                problem = "deleting the mig: keys failed";
        size_after_del = dbsize(c);
        if (!problem && digest(c, after, sizeof(after)))
            problem = "DEBUG DIGEST failed";
    }
    long long want = (long long)(l->o->preload_keys + v.acked + v.maybe_present);
    bool pass = !problem && v.lost == 0 && v.wrong == 0 && size == want &&
                strcmp(after, l->digest_before) == 0;
    json_t *app = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "pass", pass,
                            "preloaded_keys", (json_int_t)l->o->preload_keys, "acked_keys", (json_int_t)v.acked,
                            "lost_keys", (json_int_t)v.lost, "wrong_values", (json_int_t)v.wrong,
                            "unacked_keys", (json_int_t)v.maybe, "unacked_present", (json_int_t)v.maybe_present,
                            "dbsize", (json_int_t)size, "digest_before", l->digest_before, "digest_after", after);
    json_object_set_new(app, "dbsize_expected", json_integer(want));
    json_object_set_new(app, "dbsize_after_delete", json_integer(size_after_del));
    if (v.first_bad != UINT64_MAX)
        json_object_set_new(app, "first_bad_key", json_integer((json_int_t)v.first_bad));
    if (problem)
        json_object_set_new(app, "error", json_string(problem));
    if (!pass)
        json_object_set_new(app, "reason", problem ? json_string(problem)
                                                   : json_sprintf("%llu lost keys, %llu wrong values, dbsize %lld "
                                                                  "(expected %lld), digest %s",
                                                                  (unsigned long long)v.lost, (unsigned long long)v.wrong,
                                                                  size, want, strcmp(after, l->digest_before) ? "differs" : "same"));
    *client = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f}", "requests", l->writes ? "SET mig:<n>" : "PING",
                        "ok_replies", (json_int_t)l->ok, "errors", (json_int_t)l->errors,
                        "reconnects", (json_int_t)l->reconnects, "max_gap_ms", l->max_gap,
                        "max_gap_at_ms", l->max_gap_at);
    json_t *timeline = json_array();
    for (size_t b = 0; b < l->n_buckets; b++)
        json_array_append_new(timeline, json_integer(l->ok_per_bucket[b]));
    json_object_set_new(*client, "ok_per_100ms", timeline);
    if (c)
        redisFree(c);
    free(l->ok_per_bucket);
    free(l->state);
    free(l);
    return app;
}
