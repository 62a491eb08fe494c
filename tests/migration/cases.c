/*
 * cases.c: the migration matrix as one table. Each row is a case: mode, load, fault,
 * the outcome it must end in, and the assertions that judge it; main.c runs the rows
 * CASES selects, each on a lab whose guest runs (a case that lost it is followed by
 * `fmlab up --guest-only` or a restore of the lab's snapshot). The few cases that are not
 * one migration (Ctrl-C, the agent's own oracle, YCSB, the stock-kernel lab) are rows
 * with their own function, below the table's helpers.
 */
#include "cases.h"
#include "clock.h"
#include "guest.h"
#include "qmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- the cases' own assertions ---------------------------------------------------- */

static void postcopy_ran(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, jtrue(r->result, "postcopy_started") && jnum(r->result, "hosts.source.query_migrate.ram.postcopy-bytes") > 0,
        "%s: postcopy really ran", r->name);
}

static void postcopy_recovered(struct lab *l, struct run *r, const struct mcase *c)
{
    postcopy_ran(l, r, c);
    tap(l, jnum(r->result, "fault_point_ms") > 0 && jnum(r->result, "postcopy_recovery.paused_at_ms") > 0 &&
           jtrue(r->result, "postcopy_recovery.recovered"),
        "%s: the link was cut after the switch, postcopy paused, recovered (%s)", r->name,
        jstr(r->result, "postcopy_recovery.error"));
    tap(l, strcmp(jstr(r->result, "parameters.postcopy-preempt"), c->arg) == 0,
        "%s: postcopy-preempt was %s", r->name, c->arg);
}

static void source_died_after_switch(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, jnum(r->result, "fault_point_ms") > 0 && matches(jstr(r->result, "status"), "^(source-lost|postcopy-paused|failed)$"),
        "%s: the source died after the switch", r->name);
}

static void fault_mid_migration(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, jnum(r->result, "fault_point_ms") > 0, "%s: fault injected mid-migration", r->name);
}

static void source_resumed(struct lab *l, struct run *r, const struct mcase *c)
{
    tap(l, jtrue(r->result, "source_resumed") && (!c->arg || matches(jstr(r->result, "error_desc"), c->arg)),
        "%s: source resumed%s%s", r->name, c->arg ? ", error says: " : "", c->arg ? c->arg : "");
}

static void ran_from_image(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, jnum(r->result, "shm.source.ram-in-place") >= lab_guest_bytes(l) &&
           jnum(r->result, "shm.source.bytes-copied") < 16777216,
        "%s: the source ran from the image, its RAM was in place (< 16 MiB copied)", r->name);
}

static void granularity(struct lab *l, struct run *r, const struct mcase *c)
{
    const char *g = case_option(c, "--granularity");
    tap(l, strcmp(jstr(r->result, "shm.source.granularity"), g) == 0 &&
           strcmp(jstr(r->result, "parameters.granularity"), g) == 0,
        "%s: the passes while the guest ran collected %ss", r->name, g);
}

static void told_after_image(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, json_is_false(jat(r->result, "dst_wait")) && jnum(r->result, "handoff_ms") >= 0 &&
           jnum_or(r->result, "shm.destination.wait-us", 0) == 0,
        "%s: the destination was told after the image was complete", r->name);
}

static void image_refused(struct lab *l, struct run *r, const struct mcase *c)
{
    (void)c;
    tap(l, strcmp(jstr(r->result, "status"), "source-lost") == 0 &&
           matches(jstr(r->result, "dst_refusal"), "not complete \\(state syncing\\)"),
        "%s: source lost, the image (still syncing) refused by the destination", r->name);
}

/* --- cases that are not one migration -------------------------------------------- */

static void precopy_after_restore(struct lab *l, const struct mcase *c);
static void interrupted(struct lab *l, const struct mcase *c);
static void agent_memory_oracle(struct lab *l, const struct mcase *c);
static void ycsb(struct lab *l, const struct mcase *c);
static void guest_runs_after(struct lab *l, const struct mcase *c);
static void host_paused(struct lab *l, const struct mcase *c);
static void shm_stock_kernel(struct lab *l, const struct mcase *c);

/* A row: name, mode, load, fault (NULL: none), expected outcome; then what it adds. */
#define ROW(n, m, ld, f, e) .name = n, .mode = m, .load = ld, .fault = f, .expect = e
#define OPTS(...) .args = { __VA_ARGS__, NULL }
/* precopy at 16 MiB/s: a postcopy row's first pass outlasts its --postcopy-delay */
#define PRECOPY_CAP "--max-bandwidth", "16777216"

const struct mcase migration_cases[] = {
    { ROW("precopy-idle", "precopy", "idle", NULL, EXPECT_COMPLETED) },
    { ROW("precopy-redis", "precopy", "redis", NULL, EXPECT_COMPLETED), .checks = CK_ACKED },
    /* Every postcopy row caps precopy's bandwidth (not postcopy's) so that the first pass
     * cannot end before the switch is requested: uncapped, a fast machine sent the ~105 MiB
     * a restored guest holds in 2.1 s and completed as precopy (CI, 2026-12-04). */
    { ROW("postcopy-redis", "postcopy", "redis", NULL, EXPECT_COMPLETED), OPTS(PRECOPY_CAP), .checks = CK_ACKED,
      .more = postcopy_ran },
    /* nested dirty tracking throttles the writer to ~12 MiB/s, below what the link
     * carries: cap the bandwidth under that so the guest really outruns it */
    { ROW("non-convergence", "precopy", "memory", NULL, EXPECT_NOT_CONVERGED),
      OPTS("--max-bandwidth", "8388608", "--timeout", "90", "--expect", "not-converged") },
    /* the guest's pages that were never sent die with the source; postcopy's own transfer
     * capped at 8 MiB/s so that it still runs when the kill lands (uncapped, a guest just
     * restored has its remaining ~170 MiB over in a second or two and survives) */
    { ROW("postcopy-src-kill", "postcopy", "redis", "src-kill-after-switch", EXPECT_LOST),
      OPTS(PRECOPY_CAP, "--postcopy-delay", "2000", "--postcopy-bandwidth", "8388608"),
      .more = source_died_after_switch },
    /* the link cut once the destination runs: postcopy pauses, L0 heals the link, the
     * controller recovers it (migrate-recover), with and without the preempt channel */
    { ROW("postcopy-link-down", "postcopy", "redis", "link-down", EXPECT_COMPLETED),
      OPTS(PRECOPY_CAP, "--postcopy-delay", "2000", "--postcopy-preempt", "on"), .checks = CK_ACKED,
      .more = postcopy_recovered, .arg = "on" },
    { ROW("postcopy-link-down-nopreempt", "postcopy", "redis", "link-down", EXPECT_COMPLETED),
      OPTS(PRECOPY_CAP, "--postcopy-delay", "2000", "--postcopy-preempt", "off"), .checks = CK_ACKED,
      .more = postcopy_recovered, .arg = "off" },
    { ROW("dst-kill", "precopy", "redis", "dst-kill", EXPECT_STAYED), .more = fault_mid_migration },
    { ROW("precopy-link-down", "precopy", "redis", "link-down", EXPECT_STAYED), .more = fault_mid_migration },
    { .name = "precopy-after-restore", .custom = precopy_after_restore },
    /* shm through the CXL pool: each destination RAM mode in both directions */
    { ROW("shm-pool", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "pool"),
      .checks = CK_ACKED | CK_SHM | CK_DST_RAM, .needs = NEEDS_SHM_QEMU },
    /* back through the same image: the guest runs from it, its RAM is in place there */
    { ROW("shm-pool-back", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "pool", "--dirty-tracking", "stock"),
      .checks = CK_SHM | CK_DST_RAM, .more = ran_from_image, .needs = NEEDS_SHM_QEMU },
    { ROW("shm-promote", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "promote"),
      .checks = CK_SHM | CK_DST_RAM, .needs = NEEDS_SHM_QEMU },
    { ROW("shm-promote-back", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "promote"),
      .checks = CK_SHM | CK_DST_RAM, .needs = NEEDS_SHM_QEMU },
    /* fmsync collecting 4 KiB pages (the default) or 2 MiB regions while the guest runs:
     * the memory oracle is what says no write between two passes was lost */
    { ROW("shm-page", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "copy", "--granularity", "page"),
      .checks = CK_SHM | CK_DST_RAM, .more = granularity, .needs = NEEDS_SHM_QEMU },
    { ROW("shm-region", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "copy", "--granularity", "region"),
      .checks = CK_SHM | CK_DST_RAM, .more = granularity, .needs = NEEDS_SHM_QEMU },
    { ROW("shm-copy", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "copy"),
      .checks = CK_SHM | CK_DST_RAM, .needs = NEEDS_SHM_QEMU },
    { ROW("shm-copy-back", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "copy"),
      .checks = CK_SHM | CK_DST_RAM, .needs = NEEDS_SHM_QEMU },
    /* shm faults: the destination dies while it loads (copy: a second or more) */
    { ROW("shm-dst-kill", "shm", "redis", "dst-kill", EXPECT_STAYED), OPTS("--dst-ram", "copy"),
      .more = source_resumed, .needs = NEEDS_SHM_QEMU },
    /* ... or while it waits for the image: nobody takes the image, the source resumes */
    { ROW("shm-dst-kill-wait", "shm", "redis", "dst-kill-wait", EXPECT_STAYED), OPTS("--dst-ram", "pool"),
      .more = source_resumed, .arg = "destination was lost", .needs = NEEDS_SHM_QEMU },
    { ROW("shm-pool-nowait", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--dst-ram", "pool", "--dst-wait", "off"),
      .checks = CK_SHM, .more = told_after_image, .needs = NEEDS_SHM_QEMU },
    /* the complete image corrupted in the pool before the destination loads it */
    { ROW("shm-image-header", "shm", "redis", "image-header", EXPECT_STAYED),
      .more = source_resumed, .arg = "bad checksum", .needs = NEEDS_SHM_QEMU },
    { ROW("shm-image-devstate", "shm", "redis", "image-devstate", EXPECT_STAYED),
      .more = source_resumed, .arg = "bad checksum", .needs = NEEDS_SHM_QEMU },
    /* the source dies while it writes through: the image stays "syncing", refused */
    { ROW("shm-src-kill-sync", "shm", "redis", "src-kill-sync", EXPECT_LOST),
      .more = image_refused, .needs = NEEDS_SHM_QEMU },
    /* Ctrl-C at different phases of each mode: exactly one live guest after it */
    { ROW("int-precopy-iterating", "precopy", "redis", NULL, EXPECT_COMPLETED),
      .interrupt_after_s = 4, .custom = interrupted },
    { ROW("int-postcopy-switched", "postcopy", "redis", NULL, EXPECT_COMPLETED),
      OPTS(PRECOPY_CAP, "--postcopy-delay", "2000"), .interrupt_after_s = 12, .custom = interrupted },
    { ROW("int-shm-syncing", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--write-through", "20"),
      .needs = NEEDS_SHM_QEMU, .interrupt_after_s = 16, .custom = interrupted },
    { ROW("int-shm-switchover", "shm", "redis", NULL, EXPECT_COMPLETED), OPTS("--write-through", "5"),
      .needs = NEEDS_SHM_QEMU, .interrupt_after_s = 20, .custom = interrupted },
    /* the memory oracle is not vacuous, asked directly in the running guest */
    { .name = "memory-oracle-negative", .custom = agent_memory_oracle },
    /* every oracle fails through the real migration path, with its own reason: after a
     * precopy and before the oracles look, fmlab-control does one wrong */
    { ROW("oracle-neg-stale-page", "precopy", "redis", NULL, EXPECT_ORACLE_FAILS),
      OPTS("--oracle-fault", "stale-page"), .arg = "memory oracle failed: 1 bad pages" },
    { ROW("oracle-neg-lost-key", "precopy", "redis", NULL, EXPECT_ORACLE_FAILS),
      OPTS("--oracle-fault", "lost-key"), .arg = "application oracle failed: 1 lost keys" },
    { ROW("oracle-neg-changed-value", "precopy", "redis", NULL, EXPECT_ORACLE_FAILS),
      OPTS("--oracle-fault", "changed-value"), .arg = "application oracle failed: 0 lost keys, 1 wrong values" },
    { ROW("oracle-neg-changed-digest", "precopy", "redis", NULL, EXPECT_ORACLE_FAILS),
      OPTS("--oracle-fault", "changed-digest"),
      .arg = "application oracle failed: 0 lost keys, 0 wrong values, .*digest differs" },
    { ROW("oracle-neg-two-copies", "precopy", "redis", NULL, EXPECT_ORACLE_FAILS),
      OPTS("--oracle-fault", "two-copies"), .arg = "liveness oracle failed: two copies run" },
    { .name = "ycsb", .custom = ycsb },
    /* the guest's host paused and resumed at L0 (QMP stop, cont) again and again: the
     * guest must answer after each batch; Debian's L0 QEMU 7.2 (L0_QEMU=debian) delivers
     * an interrupt the host injects twice and its guest hangs or panics (qemu/l0-patches) */
    { .name = "host-pause", .custom = host_paused },
    { .name = "guest-runs-after", .custom = guest_runs_after },
    /* last: it takes the lab down and boots it on Debian's kernel */
    { ROW("shm-stock-kernel", "shm", "redis", NULL, EXPECT_COMPLETED), .arg = "kvm-dirty-log",
      .needs = NEEDS_SHM_QEMU | NEEDS_FMSYNC_KERNEL, .custom = shm_stock_kernel },
};
const size_t migration_case_count = sizeof(migration_cases) / sizeof(migration_cases[0]);

/* --- the functions of the cases that are not one migration ----------------------- */

/* fmlab migrate --mode M --load L [--fault F] OPTIONS... as the words after "migrate". */
static void case_words(const struct mcase *c, const char **w, size_t max)
{
    size_t n = 0;
    w[n++] = "--mode", w[n++] = c->mode, w[n++] = "--load", w[n++] = c->load;
    if (c->fault)
        w[n++] = "--fault", w[n++] = c->fault;
    for (int i = 0; c->args[i] && n < max - 1; i++)
        w[n++] = c->args[i];
    w[n] = NULL;
}

/* One precopy that must complete and pass every oracle, named name. */
static void precopy_passes(struct lab *l, const char *name)
{
    static const struct mcase precopy = { ROW("precopy", "precopy", "redis", NULL, EXPECT_COMPLETED) };
    static const char *const words[] = { "--mode", "precopy", "--load", "redis", NULL };
    struct run r;
    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", name);
    run_migrate(l, &r, name, words, 0);
    tap(l, r.rc == 0, "%s: fmlab migrate exits 0 (%.0f s)", name, r.seconds);
    check_common(l, &r, &precopy);
    check_completed(l, &r);
    case_end(l, &r);
    run_free(&r);
}

/* The guest's QEMU killed (the guest lost on purpose): the next case starts from a
 * restore of the lab's snapshot (a reset, not a reboot) and must pass every oracle. */
static void precopy_after_restore(struct lab *l, const struct mcase *c)
{
    char out[4096], snapshot[64];
    json_t *st = lab_status(l);
    const char *host = jstr(st, "guest.host");
    note("lost guest: its QEMU on %s is killed; the case starts from a restored lab", host);
    if (*host)
        fmlab_capture(l, out, sizeof(out), 60, "exec", host, "--", GUEST_KILL_NOW, NULL);
    json_decref(st);
    precopy_passes(l, c->name);
    if (lab_config(l, "LAB_SNAPSHOT", snapshot, sizeof(snapshot)) && strcmp(snapshot, "auto") == 0) {
        st = lab_status(l);
        tap(l, strncmp(jstr(st, "restored_from"), "auto-", 5) == 0,
            "the lost guest's lab was restored from snapshot %s, not rebooted", jstr(st, "restored_from"));
        json_decref(st);
    }
}

/* Ctrl-C on fmlab migrate: the phase hit is timing-dependent; what is checked holds for
 * any: exactly one live guest, no controller left on backup, a precopy after it passes. */
static void interrupted(struct lab *l, const struct mcase *c)
{
    const char *words[32];
    char out[4096], after[96];
    struct run r;
    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", c->name);
    case_words(c, words, 32);
    run_migrate(l, &r, c->name, words, c->interrupt_after_s);
    json_t *st = lab_status(l);
    tap(l, strcmp(jstr(st, "guest.state"), "running") == 0 && strcmp(jstr(st, "guest.other_host"), "running") != 0,
        "%s: after Ctrl-C exactly one live guest (on %s, the other host's copy: %s)", c->name,
        jstr(st, "guest.host"), jstr(st, "guest.other_host"));
    json_decref(st);
    fmlab_capture(l, out, sizeof(out), 60, "exec", "backup", "--", "pgrep -x fmlab-control", NULL);
    tap(l, out[0] == '\0', "%s: no fmlab-control left on backup", c->name);
    case_end(l, &r);
    run_free(&r);
    snprintf(after, sizeof(after), "%s-after", c->name);
    precopy_passes(l, after);
}

/* The agent's memory oracle catches a page made stale in the running guest, also one
 * the writer rewrote before the check (a migration's lost page is rewritten within one
 * sweep, seconds): the writer verifies each page before it rewrites it. */
static void agent_memory_oracle(struct lab *l, const struct mcase *c)
{
    static const char *const expected[] = { "pages=1024 bad=1 torn=0 stale=1 ",
                                             "pages=1024 bad=1 torn=0 stale=0 misplaced=0 found=1" };
    static const char *const what[] = { "memory oracle catches a stale page in the guest",
                                        "memory oracle catches a stale page that the writer rewrote before the check" };
    char out[4096];
    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", c->name);
    for (int i = 0; i < 2; i++) {
        if (i == 0)
            fmlab_capture(l, out, sizeof(out), 300, "agent", "mem start 4 0", "mem corrupt 7 stale", "mem check",
                          "mem stop", NULL);
        else   /* the writer runs on for two seconds (half a sweep) before the check */
            fmlab_capture(l, out, sizeof(out), 300, "agent", "mem start 4 0", "mem corrupt 7 stale", "mem resume",
                          "sleep 2", "mem check", "mem stop", NULL);
        bool caught = strstr(out, expected[i]) != NULL;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
            note("  agent: %s", line);
        tap(l, caught, "%s", what[i]);
    }
    case_end(l, NULL);
}

/* YCSB from backup: workload d (reads of the latest records + inserts) loads, runs, and
 * every operation is answered; a workload YCSB does not have is one line. */
static void ycsb(struct lab *l, const struct mcase *c)
{
    static char out[1 << 16];
    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", c->name);
    int rc = fmlab_capture(l, out, sizeof(out), 900, "ycsb", "--workload", "d", "--records", "1000", "--operations",
                           "2000", "--threads", "2", NULL);
    const char *tag = strstr(out, "[ycsb] result: ");
    char path[PATH_MAX] = "";
    if (tag)
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(tag + 15, "\n"), tag + 15);
    json_error_t jerr;
    json_t *j = path[0] ? json_load_file(path, 0, &jerr) : NULL;
    tap(l, rc == 0, "ycsb d: load and run finished (exit %d)", rc);
    tap(l, jnum(j, "load.operations") == 1000 && jnum(j, "run.operations") == 2000 &&
           jnum(j, "run.per_operation.READ.errors") == 0 && jnum(j, "run.per_operation.INSERT.operations") > 0 &&
           jnum(j, "run.throughput_ops_s") > 0,
        "ycsb d: 1000 records loaded, 2000 operations run, reads and inserts, no error (%s)", path);
    json_decref(j);
    rc = fmlab_capture(l, out, sizeof(out), 60, "ycsb", "--workload", "g", NULL);
    tap(l, rc == 2 && strcmp(out, "fmlab ycsb: --workload is one of a, b, c, d, e, f") == 0,
        "ycsb: an unknown workload is one line (%s)", out);
    case_end(l, NULL);
}

/* Pause the host that runs the guest at L0 HOST_PAUSE_ROUNDS times (default 300) in
 * batches of 50, stopped 50 ms and running 100-400 ms each time (a lab's host paused by a
 * snapshot or a debugger, as often as a test could), while backup flood-pings the guest
 * (each packet an interrupt the host injects into the guest) and the other host floods
 * the guest's host (interrupts L0 raises in it, each a kick of its vCPU); redis in the
 * guest must answer after every batch. Every stop is followed by a cont, whatever
 * happens. Without the load Debian's L0 QEMU passed 300 rounds. */
static bool pause_batch(const char *qmp_path, int rounds, unsigned *seed, char *err, size_t errlen)
{
    struct qmp q;
    if (qmp_open(&q, qmp_path, 10, err, errlen))
        return false;
    bool ok = true;
    for (int i = 0; i < rounds && ok; i++) {
        json_t *r = qmp_execute(&q, "stop", NULL, 10, err, errlen);
        ok = r != NULL;
        json_decref(r);
        usleep(50 * 1000);
        char cont_err[256];
        r = qmp_execute(&q, "cont", NULL, 10, cont_err, sizeof(cont_err));
        if (!r && ok)
            snprintf(err, errlen, "cont: %s", cont_err);
        ok = ok && r != NULL;
        json_decref(r);
        usleep((100 + rand_r(seed) % 300) * 1000u);
    }
    qmp_close(&q);
    return ok;
}

static void host_paused(struct lab *l, const struct mcase *c)
{
    char state[PATH_MAX / 2], qmp_path[PATH_MAX], l0[16], err[512] = "";
    const char *env = getenv("HOST_PAUSE_ROUNDS");
    int total = env && atoi(env) > 0 ? atoi(env) : 300, done = 0;
    unsigned seed = (unsigned)time(NULL);

    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", c->name);
    json_t *st = lab_status(l);
    char host[32];
    snprintf(host, sizeof(host), "%s", jstr(st, "guest.host"));
    json_decref(st);
    if (!lab_config(l, "STATE_DIR", state, sizeof(state)) || !lab_config(l, "L0_QEMU", l0, sizeof(l0)) || !*host) {
        tap(l, false, "%s: STATE_DIR, L0_QEMU and the guest's host known", c->name);
        return;
    }
    snprintf(qmp_path, sizeof(qmp_path), "%s/%s/qmp.sock", state, host);
    bool answers = true, paused = true, pinged = true;
    double t0 = mono_s();
    while (done < total && answers && paused) {
        int n = total - done < 50 ? total - done : 50;
        /* the batch's load, ending by itself (ping's deadline -w): backup floods the
         * guest, the other host floods the guest's host */
        const char *from[2] = { "backup", strcmp(host, "src") == 0 ? "dst" : "src" }, *to[2] = { "vm", host };
        pid_t load[2];
        for (int k = 0; k < 2; k++) {
            if ((load[k] = fork()) == 0) {
                char out[4096], cmd[64];
                snprintf(cmd, sizeof(cmd), "ping -q -f -w %d %s", n * 3 / 10 + 3, to[k]);
                _exit(fmlab_capture(l, out, sizeof(out), 120, "exec", from[k], "--", cmd, NULL) == 0 ? 0 : 1);
            }
        }
        paused = pause_batch(qmp_path, n, &seed, err, sizeof(err));
        for (int k = 0; k < 2; k++) {
            int load_status = -1;
            if (load[k] > 0)
                waitpid(load[k], &load_status, 0);
            pinged = pinged && load[k] > 0 && WIFEXITED(load_status) && WEXITSTATUS(load_status) == 0;
        }
        done += n;
        answers = paused && lab_redis_answers(l);
    }
    note("%s: %d rounds of stop 50 ms / cont 100-400 ms on %s at L0 (L0_QEMU=%s) in %.0f s", c->name, done,
         host, l0, mono_s() - t0);
    tap(l, paused, "%s: L0's QMP paused and resumed %s %d times%s%s", c->name, host, done, *err ? ": " : "", err);
    tap(l, pinged || !answers, "%s: backup flood-pinged the guest, the other host the guest's host, through the pauses", c->name);
    tap(l, answers, "%s: redis in the guest answers after every 50 pauses of its host (%d of %d rounds)",
        c->name, done, total);
    if (!answers)   /* what the guest's kernel said, and a lab for the next case */
        lab_ready(l);
    case_end(l, NULL);
}

/* After the cases before it, whatever they did, the guest runs. */
static void guest_runs_after(struct lab *l, const struct mcase *c)
{
    json_t *st = lab_status(l);
    tap(l, strcmp(jstr(st, "guest.state"), "running") == 0, "%s: the guest still runs after the matrix", c->name);
    json_decref(st);
    case_end(l, NULL);
}

/* shm on a lab whose hosts boot the host image's Debian kernel (KVM without
 * KVM_CAP_FMSYNC): auto tracking falls back to KVM's dirty log and the guest arrives
 * whole. The lab is left down. */
static void shm_stock_kernel(struct lab *l, const struct mcase *c)
{
    static char out[1 << 16];
    const char *words[32];
    struct run r;
    note("shm on a stock kernel: fmlab down, then fmlab up with HOST_KERNEL=debian");
    fmlab_capture(l, out, sizeof(out), 600, "down", NULL);
    setenv("FMLAB_HOST_KERNEL", "debian", 1);
    if (tap(l, fmlab_capture(l, out, sizeof(out), 3600, "up", NULL) == 0, "stock-kernel lab up")) {
        case_words(c, words, 32);
        run_migrate(l, &r, c->name, words, 0);
        tap(l, r.rc == 0, "%s: fmlab migrate exits 0 (%.0f s)", c->name, r.seconds);
        check_common(l, &r, c);
        check_shm(l, &r, c);
        check_acked(l, &r);
        case_end(l, &r);
        run_free(&r);
    }
    fmlab_capture(l, out, sizeof(out), 600, "down", NULL);
    unsetenv("FMLAB_HOST_KERNEL");
    note("the lab is down (it last ran the stock kernel); make lab-up brings it back");
}

/* --- one row that is one migration ------------------------------------------------ */

void case_run(struct lab *l, const struct mcase *c)
{
    const char *words[32];
    struct run r;
    if (c->custom) {
        c->custom(l, c);
        return;
    }
    tap(l, lab_ready(l), "%s: a lab with a running guest (fmlab up)", c->name);
    case_words(c, words, 32);
    run_migrate(l, &r, c->name, words, 0);
    int want_rc = c->expect == EXPECT_ORACLE_FAILS ? 1 : 0;
    tap(l, r.rc == want_rc, "%s: fmlab migrate exits %d (got %d, %.0f s)", c->name, want_rc, r.rc, r.seconds);
    tap(l, r.result != NULL, "%s: result.json written", c->name);
    switch (c->expect) {
    case EXPECT_COMPLETED:
        check_common(l, &r, c);
        if (!(c->checks & CK_SHM))
            check_completed(l, &r);
        break;
    case EXPECT_STAYED:
        check_common(l, &r, c);
        check_stayed(l, &r, c);
        break;
    case EXPECT_NOT_CONVERGED:
        check_common(l, &r, c);
        check_not_converged(l, &r);
        break;
    case EXPECT_LOST:
        break;   /* below, after the case's own assertions: it boots the guest again */
    case EXPECT_ORACLE_FAILS:
        check_oracle_fails(l, &r, c->arg);
        break;
    }
    if (c->checks & CK_ACKED)
        check_acked(l, &r);
    if (c->checks & CK_SHM)
        check_shm(l, &r, c);
    if (c->checks & CK_DST_RAM)
        check_dst_ram(l, &r, c);
    if (c->more)
        c->more(l, &r, c);
    if (c->expect == EXPECT_LOST)
        check_lost(l, &r);
    case_end(l, &r);
    run_free(&r);
}
