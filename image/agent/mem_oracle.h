/*
 * mem_oracle.h: the memory oracle of the migration checks (guest side).
 *
 * A writer thread sweeps a region page by page, generation after generation. Every page
 * carries its index and generation in a header and a body derived from both, so a page
 * is self-describing: a body that does not match its header is torn. The writer's own
 * position (generation, next page) lives in the same guest memory, so after a migration
 * every page before the position must hold the current generation and every page after it
 * the previous one: an older page is stale (a dirty page the migration lost). This is
 * QEMU migration-test's idea with a checksum per page. The writer also verifies each
 * page just before it rewrites it and keeps count of the bad ones it finds, so a page
 * that a migration lost is still reported when the writer rewrote it before the check. Compiled into fmlab-agent (in the
 * guest) and into the unit tests (at L0).
 */
#ifndef FMLAB_MEM_ORACLE_H
#define FMLAB_MEM_ORACLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_PAGE_SIZE 4096u

struct mem_oracle {
    pthread_mutex_t lock;
    pthread_t writer;
    bool running, stop, paused;
    unsigned char *region;
    size_t pages;
    uint64_t gen, pos, writes;   /* writer state: next page pos of generation gen */
    size_t found;                /* pages the writer found bad before it rewrote them */
    unsigned rate;               /* pages per second, 0 = as fast as it can */
};

struct mem_report {
    size_t pages, torn, stale, misplaced, found;
    uint64_t gen, pos, writes;
};

/* Fill every page with generation 1 (lock held by the caller or not yet shared). */
int mem_oracle_init(struct mem_oracle *m, size_t pages, unsigned rate);
/* Start / stop the writer thread (stop also frees the region). */
int mem_oracle_start(struct mem_oracle *m);
void mem_oracle_stop(struct mem_oracle *m);
/* Hold / release the writer between pages (tests damage a page while it is held). */
void mem_oracle_pause(struct mem_oracle *m, bool paused);
/* Verify page pos (it must hold generation gen - 1), write it as generation gen and
 * advance (one step of the writer). */
void mem_oracle_step(struct mem_oracle *m);
/* Check every page against the writer's position; the writer waits meanwhile. */
void mem_oracle_check(struct mem_oracle *m, struct mem_report *r);
/* Check without locking (the caller holds the lock or owns m). */
void mem_oracle_check_locked(const struct mem_oracle *m, struct mem_report *r);
/* Write page i as generation gen (tests use it to make a stale or torn page). */
void mem_oracle_write_page(unsigned char *page, uint64_t index, uint64_t gen);

#endif
