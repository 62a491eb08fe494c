/*
 * main.c: fmlab-control's command line and the order of one run: start the memory
 * oracle's writer, preload redis, migrate, then check the three oracles.
 *
 *   fmlab-control migrate --mode precopy|postcopy --load redis|memory|idle
 *       --from IP --to IP --vm IP [options]   (see usage())
 *   fmlab-control ycsb --workload a..f ...   (ycsb.c: YCSB's core workloads on redis)
 *   fmlab-control shm-sync --from IP ...     (sync.c: write through, no migration)
 */
#include "control.h"
#include "values.h"
#include "sock.h"
#include "qmp.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

json_int_t epoch_of(double mono)
{
    return (json_int_t)(mono + (epoch_ms() - mono_ms()));
}

void say(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[control] ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fmlab-control migrate --mode precopy|postcopy|shm --load redis|memory|idle\n"
            "         --from IP --to IP --vm IP [--qmp-port N] [--migration-port N] [--redis-port N]\n"
            "         [--agent-port N] [--max-bandwidth B] [--downtime-limit MS] [--postcopy-delay MS]\n"
            "         [--postcopy-iterations N] [--no-postcopy-preempt] [--timeout S] [--stall S]\n"
            "         [--mem-mib N] [--mem-rate PAGES_PER_S] [--preload N] [--fault-at-bytes B]\n"
            "         [--fault-after-switch] [--shm-path P] [--shm-size B] [--period-us N]\n"
            "         [--write-through S] [--dirty-tracking auto|fmsync|stock] [--granularity region|page]\n"
            "         [--dst-ram pool|copy|promote] [--dst-wait]\n"
            "         [--run-id UUID] [--promote-bandwidth B] [--observe S]\n"
            "         [--shm-fault dst-kill|src-kill-sync|image-header|image-devstate]\n"
            "         [--oracle-fault stale-page|lost-key|changed-value|changed-digest|two-copies]\n");
}

static int parse(int argc, char **argv, struct control_opts *o)
{
    static const struct option longopts[] = {
        { "mode", 1, 0, 'm' }, { "load", 1, 0, 'l' }, { "from", 1, 0, 'f' }, { "to", 1, 0, 't' },
        { "vm", 1, 0, 'v' }, { "qmp-port", 1, 0, 'q' }, { "migration-port", 1, 0, 'p' },
        { "redis-port", 1, 0, 'r' }, { "agent-port", 1, 0, 'a' }, { "max-bandwidth", 1, 0, 'b' },
        { "downtime-limit", 1, 0, 'd' }, { "postcopy-delay", 1, 0, 'D' }, { "postcopy-iterations", 1, 0, 'I' },
        { "no-postcopy-preempt", 0, 0, 'P' }, { "timeout", 1, 0, 'T' }, { "stall", 1, 0, 'S' },
        { "mem-mib", 1, 0, 'M' }, { "mem-rate", 1, 0, 'R' }, { "preload", 1, 0, 'k' },
        { "fault-at-bytes", 1, 0, 'F' }, { "fault-after-switch", 0, 0, 'W' }, { "shm-path", 1, 0, 'x' },
        { "shm-size", 1, 0, 'z' }, { "period-us", 1, 0, 'u' }, { "write-through", 1, 0, 'w' },
        { "dirty-tracking", 1, 0, 'y' }, { "granularity", 1, 0, 'G' }, { "dst-ram", 1, 0, 'e' }, { "run-id", 1, 0, 'i' },
        { "promote-bandwidth", 1, 0, 'B' }, { "observe", 1, 0, 'O' }, { "shm-fault", 1, 0, 'X' }, { "dst-wait", 0, 0, 'H' },
        { "oracle-fault", 1, 0, 'Q' }, { "postcopy-bandwidth", 1, 0, 'C' },
        { 0, 0, 0, 0 } };
    /* No defaults here: every value comes from L0 (config.txt), one source of truth */
    static const struct { int c; const char *name; bool shm_only; } required[] = {
        { 'm', "--mode", false }, { 'l', "--load", false }, { 'f', "--from", false }, { 't', "--to", false },
        { 'v', "--vm", false }, { 'q', "--qmp-port", false }, { 'p', "--migration-port", false },
        { 'r', "--redis-port", false }, { 'a', "--agent-port", false }, { 'b', "--max-bandwidth", false },
        { 'd', "--downtime-limit", false }, { 'D', "--postcopy-delay", false },
        { 'I', "--postcopy-iterations", false }, { 'T', "--timeout", false }, { 'S', "--stall", false },
        { 'M', "--mem-mib", false }, { 'R', "--mem-rate", false }, { 'k', "--preload", false },
        { 'x', "--shm-path", true }, { 'u', "--period-us", true }, { 'w', "--write-through", true },
        { 'y', "--dirty-tracking", true }, { 'G', "--granularity", true }, { 'e', "--dst-ram", true }, { 'B', "--promote-bandwidth", true },
    };
    bool seen[128] = { false };
    *o = (struct control_opts){ .postcopy_preempt = true };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;
        if (c > 0 && c < 128)
            seen[c] = true;
        switch (c) {
        case 'm': o->mode = optarg; break;
        case 'l': o->load = optarg; break;
        case 'f': o->from_ip = optarg; break;
        case 't': o->to_ip = optarg; break;
        case 'v': o->vm_ip = optarg; break;
        case 'q': o->qmp_port = (unsigned)v; break;
        case 'p': o->migration_port = (unsigned)v; break;
        case 'r': o->redis_port = (unsigned)v; break;
        case 'a': o->agent_port = (unsigned)v; break;
        case 'b': o->max_bandwidth = v; break;
        case 'C': o->postcopy_bandwidth = v; break;
        case 'd': o->downtime_limit_ms = (unsigned)v; break;
        case 'D': o->postcopy_delay_ms = (unsigned)v; break;
        case 'I': o->postcopy_iterations = (unsigned)v; break;
        case 'P': o->postcopy_preempt = false; break;
        case 'T': o->timeout_s = (unsigned)v; break;
        case 'S': o->stall_s = (unsigned)v; break;
        case 'M': o->mem_mib = (unsigned)v; break;
        case 'R': o->mem_rate = (unsigned)v; break;
        case 'k': o->preload_keys = (unsigned)v; break;
        case 'F': o->fault_at_bytes = v; break;
        case 'W': o->fault_after_switch = true; break;
        case 'x': o->shm_path = optarg; break;
        case 'z': o->shm_size = v; break;
        case 'u': o->period_us = (unsigned)v; break;
        case 'w': o->write_through_s = (unsigned)v; break;
        case 'y': o->dirty_tracking = optarg; break;
        case 'G': o->granularity = optarg; break;
        case 'e': o->dst_ram = optarg; break;
        case 'i': o->run_id = optarg; break;
        case 'B': o->promote_bandwidth = v; break;
        case 'O': o->observe_s = (unsigned)v; break;
        case 'X': o->shm_fault = optarg; break;
        case 'H': o->dst_wait = true; break;
        case 'Q': o->oracle_fault = optarg; break;
        default: return -1;
        }
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!seen[required[i].c] && (!required[i].shm_only || (o->mode && strcmp(o->mode, "shm") == 0))) {
            fprintf(stderr, "fmlab-control: %s is required (fmlab migrate passes every value from config.txt)\n",
                    required[i].name);
            return -1;
        }
    if (!o->from_ip || !o->to_ip || !o->vm_ip || !value_in(o->mode, "precopy|postcopy|shm") ||
        !value_in(o->load, "redis|memory|idle") ||
        (o->oracle_fault && !value_in(o->oracle_fault, "stale-page|lost-key|changed-value|changed-digest|two-copies")))
        return -1;
    return 0;
}

/* The size of the shm image: a devdax device's (sysfs), else the file's. 0 if unknown. */
uint64_t image_size(const char *path)
{
    char sys[256];
    const char *base = strrchr(path, '/');
    unsigned long long size = 0;
    snprintf(sys, sizeof(sys), "/sys/bus/dax/devices/%s/size", base ? base + 1 : path);
    FILE *f = fopen(sys, "r");
    if (f) {
        if (fscanf(f, "%llu", &size) != 1)
            size = 0;
        fclose(f);
        return size;
    }
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The memory oracle: every page of the writer's region is consistent (bad == 0). */
static json_t *memory_oracle(const struct control_opts *o)
{
    char reply[512];
    int rc = agent_call(o->vm_ip, o->agent_port, "mem check", reply, sizeof(reply), 180);
    long long pages = agent_field(reply, "pages"), bad = agent_field(reply, "bad");
    json_t *m = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I}", "pass", rc == 0 && pages > 0 && bad == 0,
                          "agent_reply", reply, "pages", pages,
                          "bad_pages", bad, "torn_pages", agent_field(reply, "torn"),
                          "stale_pages", agent_field(reply, "stale"),
                          "found_by_writer", agent_field(reply, "found"));
    say("memory oracle: %s (%s)", rc == 0 && bad == 0 ? "pass" : "FAIL", reply);
    if (rc != 0 || pages <= 0)
        json_object_set_new(m, "reason", json_sprintf("the agent's check did not answer: %s", reply));
    else if (bad)
        json_object_set_new(m, "reason", json_sprintf("%lld bad pages (torn %lld, stale %lld, misplaced %lld, "
                                                      "found by the writer %lld)", bad, agent_field(reply, "torn"),
                                                      agent_field(reply, "stale"), agent_field(reply, "misplaced"),
                                                      agent_field(reply, "found")));
    return m;
}

/* A QEMU's run state: "gone" when nothing listens, "unresponsive" when it accepts but
 * does not greet (a postcopy destination whose main loop waits on page faults). */
static void status_of(const char *ip, unsigned port, char *out, size_t len)
{
    struct qmp q;
    char err[256];
    int fd = sock_connect_tcp(ip, port, 5);

    snprintf(out, len, "gone");
    if (fd < 0)
        return;
    if (qmp_open_fd(&q, fd, 5, err, sizeof(err)) != 0) {
        snprintf(out, len, "unresponsive");
        return;
    }
    qmp_status(&q, out, len);
    qmp_close(&q);
}

/* Liveness: exactly one copy runs (the destination after a completed migration, the
 * source otherwise) and the guest's writer advances there within LIVENESS_WAIT_S. A guest
 * that stalls for seconds after a migration under load (postcopy beside the 6-thread YCSB
 * client once stalled ~10 s: the client's gap) is alive: the wait it took is recorded
 * (advanced_after_ms), the stall is the client gap's to report, not a lost guest. */
#define LIVENESS_WAIT_S 30
static json_t *liveness_oracle(const struct control_opts *o, const char *status)
{
    char st_from[64], st_to[64], r1[256], r2[256];
    bool moved = strcmp(status, "completed") == 0;

    status_of(o->from_ip, o->qmp_port, st_from, sizeof(st_from));
    status_of(o->to_ip, o->qmp_port, st_to, sizeof(st_to));
    const char *live = moved ? st_to : st_from, *other = moved ? st_from : st_to;
    int a = -1, b = -1;
    r1[0] = r2[0] = '\0';
    long long w1 = 0, w2 = 0;
    double t0 = mono_ms(), waited_ms = -1;
    if (strcmp(st_from, "running") == 0 || strcmp(st_to, "running") == 0) {
        a = agent_call(o->vm_ip, o->agent_port, "mem stat", r1, sizeof(r1), 30);
        w1 = agent_field(r1, "writes");
        do {
            usleep(500 * 1000);
            b = agent_call(o->vm_ip, o->agent_port, "mem stat", r2, sizeof(r2), 30);
            w2 = agent_field(r2, "writes");
        } while (a == 0 && !(b == 0 && w2 > w1) && mono_ms() - t0 < LIVENESS_WAIT_S * 1000.0);
        if (b == 0 && w2 > w1)
            waited_ms = mono_ms() - t0;
    }
    bool one = strcmp(live, "running") == 0 && strcmp(other, "running") != 0;
    bool advances = a == 0 && b == 0 && w2 > w1;
    say("liveness: source %s, destination %s, guest writes %lld -> %lld (%.0f ms): %s", st_from, st_to, w1, w2,
        waited_ms, one && advances ? "pass" : "FAIL");
    json_t *l = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:f}", "pass", one && advances, "expected_on",
                          moved ? "destination" : "source", "source_status", st_from, "destination_status", st_to,
                          "writes_before", w1, "writes_after", w2, "advanced_after_ms", waited_ms);
    bool both = strcmp(st_from, "running") == 0 && strcmp(st_to, "running") == 0;
    if (!(one && advances))
        json_object_set_new(l, "reason", json_sprintf("%s (source %s, destination %s, guest writes %lld -> %lld)",
                                                      both ? "two copies run" : !one ? "no copy runs where it should"
                                                                                     : "the guest's writer does not advance in 30 s",
                                                      st_from, st_to, w1, w2));
    return l;
}

/* QMP command on the source QEMU (cont / stop for the two-copies case); 0 if it answered. */
static int on_source(const struct control_opts *o, const char *cmd)
{
    struct qmp q;
    char err[256];
    if (qmp_connect(&q, o->from_ip, o->qmp_port, 10, false, err, sizeof(err)))
        return -1;
    json_t *r = qmp_execute(&q, cmd, NULL, 10, err, sizeof(err));
    qmp_close(&q);
    json_decref(r);
    return r ? 0 : -1;
}

/* --oracle-fault: after the migration and before the oracles, the wrong one of them must
 * catch (their negative cases, through the real migration path). Recorded in the result.
 * A fault inside the guest waits (bounded) until the moved guest answers its redis client
 * again: with OVS-DPDK its network came back seconds after the migration, and a fault
 * tried into that gap was not done, so its negative case could not fail. */
#define ORACLE_FAULT_WAIT_S 60
static void oracle_fault(const struct control_opts *o, struct load *l, json_t *result)
{
    char reply[256] = "";
    int rc;
    bool in_guest = strcmp(o->oracle_fault, "two-copies") != 0;
    double asked = mono_ms();
    if (in_guest && !load_wait_served(l, 0, ORACLE_FAULT_WAIT_S))
        say("oracle fault %s: the guest's redis did not answer for %d s; trying anyway", o->oracle_fault,
            ORACLE_FAULT_WAIT_S);
    else if (in_guest && mono_ms() - asked > 1000)
        say("oracle fault %s: the guest answered again after %.1f s", o->oracle_fault, (mono_ms() - asked) / 1000);
    if (strcmp(o->oracle_fault, "stale-page") == 0) {   /* page 7 as two generations ago */
        rc = agent_call(o->vm_ip, o->agent_port, "mem corrupt 7 stale", reply, sizeof(reply), 30) ||
             agent_call(o->vm_ip, o->agent_port, "mem resume", reply, sizeof(reply), 30);
    } else if (strcmp(o->oracle_fault, "two-copies") == 0) {   /* the source resumed too */
        rc = on_source(o, "cont");
    } else {
        rc = load_sabotage(l, o->oracle_fault);
    }
    say("oracle fault %s: %s", o->oracle_fault, rc ? "FAILED to do" : "done");
    json_object_set_new(result, "oracle_fault", json_pack("{s:s, s:b}", "kind", o->oracle_fault, "done", rc == 0));
}

/* A QEMU runs the guest and its agent answered (a postcopy destination whose source died
 * says running, but its guest is frozen on pages that never come: not worth minutes of
 * oracle timeouts). */
static bool runs_somewhere(json_t *live)
{
    bool running = strcmp(json_string_value(json_object_get(live, "source_status")) ?: "", "running") == 0 ||
                   strcmp(json_string_value(json_object_get(live, "destination_status")) ?: "", "running") == 0;
    return running && json_integer_value(json_object_get(live, "writes_after")) >= 0;
}

int control_fail(const char *what, const char *err)
{
    json_t *r = json_pack("{s:s, s:s, s:b}", "status", "error", "error", err, "pass", 0);
    char *text = json_dumps(r, JSON_COMPACT);
    say("%s: %s", what, err);
    printf("result %s\n", text);
    free(text);
    json_decref(r);
    return 1;
}

int main(int argc, char **argv)
{
    struct control_opts o;
    char err[512], cmd[64], reply[256];
    json_t *client = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "ycsb") == 0)
        return ycsb_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "agent") == 0)
        return agent_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "shm-sync") == 0)
        return sync_main(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "migrate") != 0 || parse(argc - 1, argv + 1, &o) != 0) {
        usage();
        return 2;
    }
    printf("control-pid %d\n", (int)getpid());   /* L0 stops this run by its pid */
    /* the agent maps and writes every page before it answers: a guest just moved to a
     * fresh QEMU faults each one in through both levels (20 s for 256 MiB on a quiet
     * lab), so the wait grows with the region */
    snprintf(cmd, sizeof(cmd), "mem start %u %u", o.mem_mib, o.mem_rate);
    double asked = mono_ms();
    if (agent_call(o.vm_ip, o.agent_port, cmd, reply, sizeof(reply), 60 + (int)(o.mem_mib / 2)) != 0)
        return control_fail("the guest agent", reply);
    char pace[48] = "as fast as it can";
    if (o.mem_rate)
        snprintf(pace, sizeof(pace), "at %u pages/s", o.mem_rate);
    say("memory oracle: writer over %u MiB %s (%s, ready in %.1f s)", o.mem_mib, pace, reply,
        (mono_ms() - asked) / 1000.0);
    struct load *l = load_start(&o, err, sizeof(err));
    if (!l)
        return control_fail("redis", err);
    if (strcmp(o.mode, "shm") == 0 && !o.shm_size)
        o.shm_size = image_size(o.shm_path);
    json_t *result = strcmp(o.mode, "shm") == 0 ? shm_migration_run(&o, l, err, sizeof(err))
                                                 : migration_run(&o, l, err, sizeof(err));
    if (!result) {
        load_stop(l);
        json_decref(load_finish(l, &client));
        json_decref(client);
        return control_fail("migration", err);
    }
    const char *status = json_string_value(json_object_get(result, "status"));
    if (o.oracle_fault)
        oracle_fault(&o, l, result);
    json_t *live = liveness_oracle(&o, status), *memory;
    if (o.oracle_fault && strcmp(o.oracle_fault, "two-copies") == 0 && on_source(&o, "stop") == 0)
        say("oracle fault two-copies: the source is stopped again");
    if (runs_somewhere(live)) {
        if (!load_wait_served(l, 1000, 60))
            say("the redis client got no reply for 60 s after the migration ended");
        memory = memory_oracle(&o);
    } else {   /* the guest is lost: say so rather than wait on every timeout */
        say("the guest answers nowhere (no copy runs, or its agent is silent): the memory and application oracles cannot pass");
        memory = json_pack("{s:b, s:s}", "pass", 0, "error", "the guest answers nowhere");
    }
    load_stop(l);
    json_t *app = load_finish(l, &client);
    say("application oracle: %s", json_is_true(json_object_get(app, "pass")) ? "pass" : "FAIL");
    agent_call(o.vm_ip, o.agent_port, "mem stop", reply, sizeof(reply), 30);
    bool pass = json_is_true(json_object_get(memory, "pass")) && json_is_true(json_object_get(app, "pass")) &&
                json_is_true(json_object_get(live, "pass"));
    json_object_set_new(result, "oracles", json_pack("{s:o, s:o, s:o}", "memory", memory, "application", app,
                                                     "liveness", live));
    json_object_set_new(result, "client", client);
    json_object_set_new(result, "oracles_pass", json_boolean(pass));
    char *text = json_dumps(result, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("result %s\n", text);
    free(text);
    json_decref(result);
    return 0;
}
