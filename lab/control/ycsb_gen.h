/*
 * ycsb_gen.h: YCSB's core workloads as numbers, with no I/O: the six workloads' mixes and
 * distributions, the key and request generators, and the next operation. What a YCSB
 * client decides; ycsb.c does it against redis.
 */
#ifndef FMLAB_YCSB_GEN_H
#define FMLAB_YCSB_GEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ycsb_op { YCSB_READ, YCSB_UPDATE, YCSB_INSERT, YCSB_SCAN, YCSB_RMW, YCSB_N_OPS };
enum ycsb_dist { YCSB_UNIFORM, YCSB_ZIPFIAN, YCSB_LATEST };

extern const char *const ycsb_op_names[YCSB_N_OPS];   /* READ, UPDATE, ... as YCSB prints */

/* One core workload (YCSB's workloads/workload[a-f] files and CoreWorkload's defaults). */
struct ycsb_workload {
    char name;                          /* 'a' .. 'f' */
    double proportion[YCSB_N_OPS];      /* read, update, insert, scan, read-modify-write */
    enum ycsb_dist dist;                /* requestdistribution */
    unsigned max_scan;                  /* maxscanlength (scan length uniform in 1..max) */
};
/* The workload named a..f (case-insensitive), or NULL. */
const struct ycsb_workload *ycsb_workload(const char *name);

#define YCSB_FIELDS 10         /* fieldcount */
#define YCSB_FIELD_LEN 100     /* fieldlength */

/* A per-thread random source (splitmix64). */
struct ycsb_rng { uint64_t s; };
uint64_t ycsb_rand(struct ycsb_rng *r);
double ycsb_rand01(struct ycsb_rng *r);   /* [0, 1) */

/* YCSB's FNV-1 64-bit hash of a long (eight octets, low first), made non-negative. */
int64_t ycsb_fnv64(int64_t v);
/* The key of record keynum: "user" + its hash (insertorder=hashed). */
void ycsb_key(uint64_t keynum, char *out, size_t len);
/* Java's String.hashCode of the key: the score of the redis binding's scan index. */
int32_t ycsb_java_hash(const char *s);

/* Gray et al.'s zipfian over [0, items) with constant theta (0.99 in YCSB). */
struct ycsb_zipf {
    uint64_t items;
    double theta, alpha, zetan, zeta2, eta;
};
void ycsb_zipf_init(struct ycsb_zipf *z, uint64_t items, double theta);
/* A draw; popular items are the small numbers. Grows the range to items (as YCSB's
 * nextLong(itemcount) does for the latest distribution). */
uint64_t ycsb_zipf_next(struct ycsb_zipf *z, struct ycsb_rng *r, uint64_t items);

/* What a run decides, shared by its threads: the key chooser of the workload and the
 * insert sequence (inserts take the next number; a key is chosen only once acknowledged). */
struct ycsb_plan {
    const struct ycsb_workload *w;
    uint64_t records;              /* recordcount (loaded) */
    struct ycsb_zipf zipf;         /* zipfian: scrambled over 10^10 items; latest: over the keys */
    uint64_t scramble_range;       /* zipfian: records + twice the inserts expected, + 1 */
    _Atomic uint64_t next_insert;  /* the next keynum an insert takes */
    _Atomic uint64_t acked;        /* every keynum below this was inserted */
    double cumulative[YCSB_N_OPS];
    pthread_mutex_t lock;          /* the acknowledgement window and the latest zipfian */
    bool done[65536];              /* inserts finished above acked (at most this many in flight) */
};
void ycsb_plan_init(struct ycsb_plan *p, const struct ycsb_workload *w, uint64_t records, uint64_t operations);
enum ycsb_op ycsb_next_op(const struct ycsb_plan *p, struct ycsb_rng *r);
/* The record a read, update, scan or read-modify-write goes to (always one inserted). */
uint64_t ycsb_next_keynum(struct ycsb_plan *p, struct ycsb_rng *r);
/* An insert's keynum, and its acknowledgement once the insert is done. */
uint64_t ycsb_insert_keynum(struct ycsb_plan *p);
void ycsb_insert_done(struct ycsb_plan *p, uint64_t keynum);
/* A scan's length (uniform in 1..max_scan). */
unsigned ycsb_scan_length(const struct ycsb_plan *p, struct ycsb_rng *r);
/* A field value: YCSB_FIELD_LEN printable bytes (out has room for them and a NUL). */
void ycsb_value(struct ycsb_rng *r, char *out);

#endif
