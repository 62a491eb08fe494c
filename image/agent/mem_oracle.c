/*
 * mem_oracle.c: the pattern writer and page verifier of the memory oracle (see the
 * header for the idea). Kept free of the agent's networking so the unit tests at L0
 * exercise exactly the code the guest runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mem_oracle.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MEM_MAGIC 0x666d6c61626d656dull   /* "fmlabmem" */
#define WORDS (MEM_PAGE_SIZE / sizeof(uint64_t))
#define HEAD_WORDS 4                       /* magic, index, gen, sum */

static uint64_t body_word(uint64_t index, uint64_t gen, uint64_t k)
{
    uint64_t x = (index << 24) ^ (gen << 1) ^ (k * 0x9e3779b97f4a7c15ull);
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ull;
}

void mem_oracle_write_page(unsigned char *page, uint64_t index, uint64_t gen)
{
    uint64_t *w = (uint64_t *)(void *)page, sum = 0;

    for (uint64_t k = HEAD_WORDS; k < WORDS; k++) {
        w[k] = body_word(index, gen, k);
        sum += w[k];
    }
    w[0] = MEM_MAGIC;
    w[1] = index;
    w[2] = gen;
    w[3] = sum;
}

int mem_oracle_init(struct mem_oracle *m, size_t pages, unsigned rate)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->region = mmap(NULL, pages * MEM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m->region == MAP_FAILED) {
        m->region = NULL;
        return -1;
    }
    m->pages = pages;
    m->rate = rate;
    for (size_t i = 0; i < pages; i++)
        mem_oracle_write_page(m->region + i * MEM_PAGE_SIZE, i, 1);
    m->gen = 2;
    m->pos = 0;
    return 0;
}

/* Is the page index of generation gen, whole? Header and sum only: the writer's check
 * costs a read of the page, not the body's recomputation. */
static bool page_holds(const unsigned char *page, uint64_t index, uint64_t gen)
{
    const uint64_t *w = (const uint64_t *)(const void *)page;
    uint64_t sum = 0;

    if (w[0] != MEM_MAGIC || w[1] != index || w[2] != gen)
        return false;
    for (uint64_t k = HEAD_WORDS; k < WORDS; k++)
        sum += w[k];
    return sum == w[3];
}

void mem_oracle_step(struct mem_oracle *m)
{
    if (!page_holds(m->region + m->pos * MEM_PAGE_SIZE, m->pos, m->gen - 1))
        m->found++;
    mem_oracle_write_page(m->region + m->pos * MEM_PAGE_SIZE, m->pos, m->gen);
    m->writes++;
    if (++m->pos == m->pages) {
        m->pos = 0;
        m->gen++;
    }
}

static void sleep_until(struct timespec *t, long add_ns)
{
    t->tv_nsec += add_ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL);
}

/* The writer: pages in batches of rate/100 every 10 ms, or flat out when rate is 0. */
static void *writer_main(void *arg)
{
    struct mem_oracle *m = arg;
    struct timespec tick;
    unsigned batch = m->rate ? (m->rate + 99) / 100 : 256;

    clock_gettime(CLOCK_MONOTONIC, &tick);
    for (;;) {
        for (unsigned i = 0; i < batch; i++) {
            pthread_mutex_lock(&m->lock);
            if (m->stop) {
                pthread_mutex_unlock(&m->lock);
                return NULL;
            }
            if (!m->paused)
                mem_oracle_step(m);
            pthread_mutex_unlock(&m->lock);
        }
        if (m->rate || m->paused)
            sleep_until(&tick, 10000000L);
    }
}

void mem_oracle_pause(struct mem_oracle *m, bool paused)
{
    pthread_mutex_lock(&m->lock);
    m->paused = paused;
    pthread_mutex_unlock(&m->lock);
}

int mem_oracle_start(struct mem_oracle *m)
{
    m->stop = false;
    if (pthread_create(&m->writer, NULL, writer_main, m) != 0)
        return -1;
    m->running = true;
    return 0;
}

void mem_oracle_stop(struct mem_oracle *m)
{
    if (m->running) {
        pthread_mutex_lock(&m->lock);
        m->stop = true;
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->writer, NULL);
        m->running = false;
    }
    if (m->region)
        munmap(m->region, m->pages * MEM_PAGE_SIZE);
    m->region = NULL;
    m->pages = 0;
}

void mem_oracle_check_locked(const struct mem_oracle *m, struct mem_report *r)
{
    memset(r, 0, sizeof(*r));
    r->pages = m->pages;
    r->gen = m->gen;
    r->pos = m->pos;
    r->writes = m->writes;
    r->found = m->found;
    for (size_t i = 0; i < m->pages; i++) {
        const uint64_t *w = (const uint64_t *)(const void *)(m->region + i * MEM_PAGE_SIZE);
        uint64_t want_gen = i < m->pos ? m->gen : m->gen - 1, sum = 0;
        if (w[0] != MEM_MAGIC || w[1] != i) {
            r->misplaced++;
            continue;
        }
        int torn = 0;
        for (uint64_t k = HEAD_WORDS; k < WORDS; k++) {
            torn |= w[k] != body_word(i, w[2], k);
            sum += w[k];
        }
        if (torn || sum != w[3])
            r->torn++;
        else if (w[2] != want_gen)
            r->stale++;
    }
}

void mem_oracle_check(struct mem_oracle *m, struct mem_report *r)
{
    pthread_mutex_lock(&m->lock);
    mem_oracle_check_locked(m, r);
    pthread_mutex_unlock(&m->lock);
}
