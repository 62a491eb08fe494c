/*
 * cases.h: one migration case as a row of the table in cases.c: what runs (mode, load,
 * fault, further options), what it must end as (the expected outcome), and which groups
 * of assertions (checks.c) judge its result.json.
 */
#ifndef FMLAB_TEST_MIGRATION_CASES_H
#define FMLAB_TEST_MIGRATION_CASES_H

#include "framework.h"

enum expect {
    EXPECT_COMPLETED,       /* the guest moved, every oracle passes */
    EXPECT_STAYED,          /* failed (a fault), the guest runs on its source, oracles pass */
    EXPECT_NOT_CONVERGED,   /* cancelled at the timeout, the guest runs on its source */
    EXPECT_LOST,            /* the fault lost the guest: the run passes for it */
    EXPECT_ORACLE_FAILS,    /* --oracle-fault: the run fails, caught by the oracle in .arg */
};

/* Further groups of assertions (checks.c), beside the expected outcome's own. */
enum {
    CK_ACKED = 1 << 0,      /* keys were written during the migration, every acked one present */
    CK_SHM = 1 << 1,        /* completed through the pool, RAM not on the network */
    CK_DST_RAM = 1 << 2,    /* the destination's RAM went where --dst-ram says */
};

/* Which lab a case needs. */
enum { NEEDS_SHM_QEMU = 1 << 0, NEEDS_FMSYNC_KERNEL = 1 << 1 };

struct mcase;
typedef void case_fn(struct lab *l, struct run *r, const struct mcase *c);

struct mcase {
    const char *name;
    const char *mode, *load, *fault;   /* fault: NULL for none */
    enum expect expect;
    const char *args[10];              /* further fmlab migrate options */
    unsigned checks;                   /* CK_* */
    case_fn *more;                     /* the case's own assertions, or NULL */
    const char *arg;                   /* what `more` or the expectation needs */
    unsigned needs;                    /* NEEDS_* */
    int interrupt_after_s;             /* > 0: Ctrl-C after this long (cases.c) */
    /* a case that is not one migration: runs instead of all the above */
    void (*custom)(struct lab *l, const struct mcase *c);
};

extern const struct mcase migration_cases[];
extern const size_t migration_case_count;

/* checks.c: the assertion groups, each one TAP line per assertion, named after r->name. */
void check_common(struct lab *l, struct run *r, const struct mcase *c);
void check_completed(struct lab *l, struct run *r);
void check_stayed(struct lab *l, struct run *r, const struct mcase *c);
void check_not_converged(struct lab *l, struct run *r);
void check_lost(struct lab *l, struct run *r);
void check_oracle_fails(struct lab *l, struct run *r, const char *reason_pattern);
void check_acked(struct lab *l, struct run *r);
void check_shm(struct lab *l, struct run *r, const struct mcase *c);
void check_dst_ram(struct lab *l, struct run *r, const struct mcase *c);
/* GUEST_MEM in bytes. */
double lab_guest_bytes(struct lab *l);
/* Run one row: its migration and every assertion its expectation and checks name. */
void case_run(struct lab *l, const struct mcase *c);
/* The value after option name in c->args, or NULL. */
const char *case_option(const struct mcase *c, const char *name);

#endif
