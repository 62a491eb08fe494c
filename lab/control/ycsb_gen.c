/*
 * ycsb_gen.c: the decisions of a YCSB client, as YCSB's CoreWorkload makes them.
 *
 * Workloads A-F with their published mixes; keys "user<FNV-64 hash of the record number>"
 * (insertorder=hashed); requests by YCSB's generators: uniform; zipfian = Gray et al.'s
 * algorithm (theta 0.99) over 10^10 items, its draw scrambled by FNV-64 onto the records
 * plus the room inserts may need (ScrambledZipfianGenerator); latest = the newest record
 * minus a zipfian draw over the records (SkewedLatestGenerator). A run only chooses
 * records whose insert was acknowledged. No I/O here, so tests/unit checks the numbers.
 */
#include "ycsb_gen.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

const char *const ycsb_op_names[YCSB_N_OPS] = { "READ", "UPDATE", "INSERT", "SCAN", "READ-MODIFY-WRITE" };

/*                                        read  update insert scan  rmw      distribution */
static const struct ycsb_workload workloads[] = {
    { 'a', { 0.50, 0.50, 0, 0, 0 }, YCSB_ZIPFIAN, 100 },    /* update heavy */
    { 'b', { 0.95, 0.05, 0, 0, 0 }, YCSB_ZIPFIAN, 100 },    /* read mostly */
    { 'c', { 1.00, 0, 0, 0, 0 }, YCSB_ZIPFIAN, 100 },       /* read only */
    { 'd', { 0.95, 0, 0.05, 0, 0 }, YCSB_LATEST, 100 },     /* read latest */
    { 'e', { 0, 0, 0.05, 0.95, 0 }, YCSB_ZIPFIAN, 100 },    /* short ranges */
    { 'f', { 0.50, 0, 0, 0, 0.50 }, YCSB_ZIPFIAN, 100 },    /* read-modify-write */
};

#define ZIPF_THETA 0.99
#define SCRAMBLE_ITEMS 10000000000ULL   /* ScrambledZipfianGenerator's ITEM_COUNT */
#define SCRAMBLE_ZETAN 26.46902820178302 /* zeta(10^10, 0.99), YCSB's precomputed value */

const struct ycsb_workload *ycsb_workload(const char *name)
{
    if (!name || strlen(name) != 1)
        return NULL;
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
        if (workloads[i].name == tolower((unsigned char)name[0]))
            return &workloads[i];
    return NULL;
}

uint64_t ycsb_rand(struct ycsb_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double ycsb_rand01(struct ycsb_rng *r)
{
    return (double)(ycsb_rand(r) >> 11) * (1.0 / 9007199254740992.0);
}

int64_t ycsb_fnv64(int64_t v)
{
    uint64_t h = 0xcbf29ce484222325ULL, val = (uint64_t)v;
    for (int i = 0; i < 8; i++) {
        h ^= val & 0xff;
        h *= 1099511628211ULL;
        val >>= 8;
    }
    int64_t s = (int64_t)h;
    return s < 0 ? (s == INT64_MIN ? INT64_MAX : -s) : s;   /* Math.abs, without its overflow */
}

void ycsb_key(uint64_t keynum, char *out, size_t len)
{
    snprintf(out, len, "user%lld", (long long)ycsb_fnv64((int64_t)keynum));
}

int32_t ycsb_java_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = 31 * h + (unsigned char)*s;
    return (int32_t)h;
}

static double zeta(uint64_t from, uint64_t to, double theta, double sum)
{
    for (uint64_t i = from; i < to; i++)
        sum += 1.0 / pow((double)(i + 1), theta);
    return sum;
}

static void zipf_set_eta(struct ycsb_zipf *z)
{
    z->eta = (1 - pow(2.0 / (double)z->items, 1 - z->theta)) / (1 - z->zeta2 / z->zetan);
}

void ycsb_zipf_init(struct ycsb_zipf *z, uint64_t items, double theta)
{
    z->items = items;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zeta2 = zeta(0, 2, theta, 0);
    z->zetan = items == SCRAMBLE_ITEMS && theta == ZIPF_THETA ? SCRAMBLE_ZETAN : zeta(0, items, theta, 0);
    zipf_set_eta(z);
}

uint64_t ycsb_zipf_next(struct ycsb_zipf *z, struct ycsb_rng *r, uint64_t items)
{
    if (items > z->items) {   /* the range grew (inserts): extend zeta, not recompute it */
        z->zetan = zeta(z->items, items, z->theta, z->zetan);
        z->items = items;
        zipf_set_eta(z);
    }
    double u = ycsb_rand01(r), uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < 1.0 + pow(0.5, z->theta))
        return 1;
    uint64_t v = (uint64_t)((double)z->items * pow(z->eta * u - z->eta + 1, z->alpha));
    return v < z->items ? v : z->items - 1;
}

void ycsb_plan_init(struct ycsb_plan *p, const struct ycsb_workload *w, uint64_t records, uint64_t operations)
{
    memset(p, 0, sizeof(*p));
    p->w = w;
    p->records = records;
    atomic_store(&p->next_insert, records);
    atomic_store(&p->acked, records);
    double sum = 0;
    for (int op = 0; op < YCSB_N_OPS; op++)
        p->cumulative[op] = sum += w->proportion[op];
    if (w->dist == YCSB_ZIPFIAN)
        ycsb_zipf_init(&p->zipf, SCRAMBLE_ITEMS, ZIPF_THETA);
    else if (w->dist == YCSB_LATEST)
        ycsb_zipf_init(&p->zipf, records, ZIPF_THETA);
    /* scrambled zipfian spreads over the records and the keys inserts may add (twice
     * the expected number, as CoreWorkload sizes it) */
    p->scramble_range = records + (uint64_t)((double)operations * w->proportion[YCSB_INSERT] * 2.0) + 1;
    pthread_mutex_init(&p->lock, NULL);
}

enum ycsb_op ycsb_next_op(const struct ycsb_plan *p, struct ycsb_rng *r)
{
    double u = ycsb_rand01(r) * p->cumulative[YCSB_N_OPS - 1];
    for (int op = 0; op < YCSB_N_OPS; op++)
        if (u < p->cumulative[op])
            return (enum ycsb_op)op;
    return YCSB_READ;
}

uint64_t ycsb_next_keynum(struct ycsb_plan *p, struct ycsb_rng *r)
{
    uint64_t acked = atomic_load(&p->acked), k;
    switch (p->w->dist) {
    case YCSB_LATEST:   /* the newest record minus a zipfian draw: recent ones are hot */
        pthread_mutex_lock(&p->lock);
        k = acked - 1 - ycsb_zipf_next(&p->zipf, r, acked);
        pthread_mutex_unlock(&p->lock);
        return k;
    case YCSB_ZIPFIAN:
        do
            k = (uint64_t)ycsb_fnv64((int64_t)ycsb_zipf_next(&p->zipf, r, 0)) % p->scramble_range;
        while (k >= acked);   /* a key not inserted (yet): draw again, as YCSB does */
        return k;
    default:
        return ycsb_rand(r) % acked;
    }
}

uint64_t ycsb_insert_keynum(struct ycsb_plan *p)
{
    return atomic_fetch_add(&p->next_insert, 1);
}

void ycsb_insert_done(struct ycsb_plan *p, uint64_t keynum)
{
    pthread_mutex_lock(&p->lock);
    const uint64_t window = sizeof(p->done) / sizeof(p->done[0]);
    p->done[keynum % window] = true;
    uint64_t a = atomic_load(&p->acked);
    while (p->done[a % window]) {
        p->done[a % window] = false;
        a++;
    }
    atomic_store(&p->acked, a);
    pthread_mutex_unlock(&p->lock);
}

unsigned ycsb_scan_length(const struct ycsb_plan *p, struct ycsb_rng *r)
{
    return 1 + (unsigned)(ycsb_rand(r) % p->w->max_scan);
}

void ycsb_value(struct ycsb_rng *r, char *out)
{
    for (int i = 0; i < YCSB_FIELD_LEN; i += 8) {
        uint64_t x = ycsb_rand(r);
        for (int j = 0; j < 8 && i + j < YCSB_FIELD_LEN; j++, x >>= 8)
            out[i + j] = (char)(' ' + (x & 0xff) % 95);   /* printable, like RandomByteIterator */
    }
    out[YCSB_FIELD_LEN] = '\0';
}
