/*
 * checks.c: the groups of assertions a migration's result.json is judged by: what every
 * run must record, what each expected outcome means (completed, stayed on its source,
 * not converged, lost, caught by an oracle), and what an shm run adds (through the pool,
 * RAM where the destination mode says). One TAP line per assertion.
 */
#include "cases.h"
#include "result.h"
#include "values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB16 16777216.0

/* The lab's settings the assertions compare with (read once). */
static const char *setting(struct lab *l, const char *key)
{
    static struct { const char *key; char value[64]; } cache[8];
    for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]); i++) {
        if (cache[i].key && strcmp(cache[i].key, key) == 0)
            return cache[i].value;
        if (!cache[i].key) {
            lab_config(l, key, cache[i].value, sizeof(cache[i].value));
            cache[i].key = key;
            return cache[i].value;
        }
    }
    return "";
}

double lab_guest_bytes(struct lab *l)
{
    uint64_t b = 0;
    parse_size(setting(l, "GUEST_MEM"), &b);
    return (double)b;
}

const char *case_option(const struct mcase *c, const char *name)
{
    for (int i = 0; c->args[i]; i++)
        if (strcmp(c->args[i], name) == 0)
            return c->args[i + 1];
    return NULL;
}

static bool streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

void check_common(struct lab *l, struct run *r, const struct mcase *c)
{
    const json_t *j = r->result;
    const char *bw = case_option(c, "--max-bandwidth");
    bw = bw ? bw : setting(l, "MIGRATE_MAX_BANDWIDTH");
    tap(l, jtrue(j, "oracles.memory.pass") && jtrue(j, "oracles.application.pass") &&
           jtrue(j, "oracles.liveness.pass") && streq(jstr(j, "verdict"), "pass"),
        "%s: all three oracles pass", r->name);
    tap(l, jnum(j, "oracles.memory.pages") > 0 && jnum(j, "oracles.memory.bad_pages") == 0,
        "%s: memory oracle checked every page, none bad", r->name);
    tap(l, jat(j, "oracles.application.digest_before") &&
           streq(jstr(j, "oracles.application.digest_before"), jstr(j, "oracles.application.digest_after")),
        "%s: digest before == digest after", r->name);
    tap(l, jlen(j, "samples") > 0 && jlen(j, "iterations") > 0, "%s: samples and per-iteration records", r->name);
    tap(l, streq(jstr(j, "parameters.max-bandwidth"), bw) &&
           streq(jstr(j, "parameters.downtime-limit"), setting(l, "MIGRATE_DOWNTIME_LIMIT_MS")),
        "%s: parameters recorded (max-bandwidth %s)", r->name, bw);
}

void check_completed(struct lab *l, struct run *r)
{
    const json_t *j = r->result;
    tap(l, streq(jstr(j, "status"), "completed") && streq(jstr(j, "oracles.liveness.destination_status"), "running") &&
           matches(jstr(j, "oracles.liveness.source_status"), "postmigrate|gone"),
        "%s: completed, guest moved", r->name);
    tap(l, jnum(j, "total_time_ms") > 0 && jnum(j, "downtime_ms") > 0 && jnum(j, "transferred_bytes") > 0 &&
           jnum(j, "dirty_sync_count") >= 1,
        "%s: QEMU's numbers (total, downtime, bytes, syncs)", r->name);
    tap(l, jnum(j, "client.max_gap_ms") > 0 &&
           jnum(j, "oracles.liveness.writes_after") > jnum(j, "oracles.liveness.writes_before"),
        "%s: the client saw a gap, writes advanced on the destination", r->name);
    tap(l, matches(jstr(j, "hmp_info_migrate_source"), "Migration status: completed"),
        "%s: the study's HMP view (socat) says completed", r->name);
}

/* A fault made the migration fail (the status the fault should give: result.c): the
 * guest runs on its source, the other side does not. */
void check_stayed(struct lab *l, struct run *r, const struct mcase *c)
{
    const json_t *j = r->result;
    const char *want = result_expected_status(c->mode, c->fault, NULL);
    tap(l, result_status_matches(want, jstr(j, "status")) && streq(jstr(j, "oracles.liveness.source_status"), "running") &&
           !streq(jstr(j, "oracles.liveness.destination_status"), "running"),
        "%s: %s, guest on its source (status %s)", r->name, want, jstr(j, "status"));
}

void check_not_converged(struct lab *l, struct run *r)
{
    const json_t *j = r->result;
    tap(l, streq(jstr(j, "status"), "not-converged") && streq(jstr(j, "qemu_status"), "cancelled") &&
           streq(jstr(j, "oracles.liveness.expected_on"), "source") &&
           streq(jstr(j, "oracles.liveness.source_status"), "running"),
        "%s: not-converged, cancelled, guest still on its source", r->name);
}

/* The fault lost the guest and the run passes for it: the oracles show its writer
 * advanced nowhere. Then the guest is booted again for the next case. */
void check_lost(struct lab *l, struct run *r)
{
    const json_t *j = r->result;
    tap(l, streq(jstr(j, "verdict"), "pass") && streq(jstr(j, "outcome"), "lost, as expected") &&
           json_is_false(jat(j, "oracles.liveness.pass")) &&
           jnum(j, "oracles.liveness.writes_after") <= jnum(j, "oracles.liveness.writes_before"),
        "%s: the guest is lost, as expected (its writer advanced nowhere)", r->name);
    tap(l, lab_guest_back(l), "%s: fmlab up --guest-only brings the guest back", r->name);
}

void check_oracle_fails(struct lab *l, struct run *r, const char *reason_pattern)
{
    const json_t *j = r->result;
    bool caught = false;
    size_t i;
    json_t *reason;
    json_array_foreach(jat(j, "reasons"), i, reason)
        caught |= matches(json_string_value(reason) ? json_string_value(reason) : "", reason_pattern);
    tap(l, streq(jstr(j, "verdict"), "fail") && jtrue(j, "oracle_fault.done") && caught,
        "%s: the run fails, caught by: %s", r->name, reason_pattern);
}

void check_acked(struct lab *l, struct run *r)
{
    const json_t *j = r->result;
    tap(l, jnum(j, "oracles.application.acked_keys") > 0 && jnum(j, "oracles.application.lost_keys") == 0 &&
           jnum(j, "oracles.application.wrong_values") == 0,
        "%s: keys written during migration, every acked key present", r->name);
}

static bool every_iteration_has(const json_t *j, const char *a, const char *b)
{
    size_t i;
    json_t *it;
    json_array_foreach(jat(j, "iterations"), i, it)
        if (!json_object_get(it, a) || !json_object_get(it, b))
            return false;
    return jlen(j, "iterations") > 0;
}

void check_shm(struct lab *l, struct run *r, const struct mcase *c)
{
    const json_t *j = r->result;
    const char *t = case_option(c, "--dirty-tracking");
    const char *tracking = c->arg ? c->arg : t && streq(t, "stock") ? "kvm-dirty-log" : "fmsync";
    tap(l, streq(jstr(j, "status"), "completed") && streq(jstr(j, "oracles.liveness.destination_status"), "running"),
        "%s: completed through the pool, guest moved", r->name);
    tap(l, streq(jstr(j, "shm.source.dirty-tracking"), tracking), "%s: dirty tracking was %s", r->name, tracking);
    tap(l, every_iteration_has(j, "dirty-pages", "copy-us"),
        "%s: write-through periods with dirty pages and copy times", r->name);
    tap(l, jnum(j, "precopy_ms") > 0 && jnum(j, "downtime_ms") > 0 && jnum(j, "total_time_ms") >= jnum(j, "downtime_ms") &&
           jnum(j, "load_ms") > 0,
        "%s: precopy, downtime, total and load times measured", r->name);
    /* what crosses the network while RAM goes through the pool: control messages, ssh and
     * the redis client's own traffic; precopy of the same guest sends ~110 MiB or more */
    tap(l, jnum(j, "network.source_sent_bytes") < MIB16, "%s: RAM did not cross the network (source sent %.1f MiB)",
        r->name, jnum(j, "network.source_sent_bytes") / 1048576);
}

void check_dst_ram(struct lab *l, struct run *r, const struct mcase *c)
{
    const json_t *j = r->result;
    const char *mode = case_option(c, "--dst-ram");
    double guest = lab_guest_bytes(l);
    if (streq(mode, "pool")) {
        tap(l, streq(jstr(j, "dst_ram"), "pool") && streq(jstr(j, "shm.destination.dst-ram"), "pool") &&
               jnum(j, "shm.destination.ram-mapped") >= guest,
            "%s: dst-ram pool, guest RAM mapped in place from the image", r->name);
        tap(l, jtrue(j, "shm.destination.device-state-streamed"),
            "%s: the waiting destination loaded the device state as the source wrote it", r->name);
    } else if (streq(mode, "copy")) {
        tap(l, streq(jstr(j, "dst_ram"), "copy") && streq(jstr(j, "shm.destination.dst-ram"), "copy") &&
               jnum_or(j, "shm.destination.ram-mapped", 0) == 0,
            "%s: dst-ram copy, guest RAM copied, nothing mapped", r->name);
    } else {
        tap(l, streq(jstr(j, "dst_ram"), "promote") && jnum(j, "promote_ms") > 0 &&
               jnum(j, "shm.destination.ram-promoted") >= guest &&
               (jnum(j, "shm.destination.pages-faulted") + jnum(j, "shm.destination.pages-background")) * 4096 >= guest,
            "%s: dst-ram promote, every page local after the resume (faulted + background)", r->name);
    }
    tap(l, matches(jstr(j, "run_id"), "^[0-9a-f-]{36}$"), "%s: the image is of this run (run id recorded)", r->name);
    tap(l, jtrue(j, "dst_wait") && jnum(j, "shm.destination.wait-us") > 0,
        "%s: the destination waited for the image (given it before the switchover)", r->name);
}
