/*
 * migrate.c: one migration as L0 runs it.
 *
 * L0 finds the host the guest runs on (QMP query-status on src and dst), starts the
 * destination QEMU there with -incoming defer (same command line, same shared disk),
 * copies the control plane fmlab-control into backup and runs it over ssh: backup
 * triggers, samples and checks the migration over QMP, as the study's controller did.
 * When the controller prints "fault-point", L0 injects the asked-for fault (kill the
 * destination QEMU, take the destination's link down, kill the source after the
 * switch); "fault-heal" (a paused postcopy wants to recover) brings the link back. Afterwards L0 keeps the study's view (HMP "info migrate" over the socat
 * socket) and stops the copy that must not run, so the next run starts clean.
 */
#include "migrate.h"
#include "argv.h"
#include "alloc.h"
#include "proc.h"
#include "guest.h"
#include "host.h"
#include "lab.h"
#include "result.h"
#include "values.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;


#define CONTROL_BIN "fmlab-control"
/* Arguments for the controller on backup (names and values, each under 64 bytes) */
#define CONTROL_MAX_ARGS 96

static long opt_or_cfg(long v, const struct config *cfg, const char *key)
{
    return v >= 0 ? v : (long)config_get_uint(cfg, key);
}

/* ssh/scp into the lab network, never asking: argv prefix (see lab_ssh_prefix). */
/* Postcopy's preempt channel: --postcopy-preempt, else POSTCOPY_PREEMPT. */
static const char *postcopy_preempt(const struct migrate_opts *o, const struct config *cfg)
{
    return o->postcopy_preempt ? o->postcopy_preempt : config_get(cfg, "POSTCOPY_PREEMPT");
}

static int ssh_prefix(const struct config *cfg, const char *tool, const char **argv, struct lab_ssh_paths *paths)
{
    int n = lab_ssh_prefix(cfg, tool, paths, argv);
    const char *more[] = { "-q", "-o", "BatchMode=yes" };
    memcpy(argv + n, more, sizeof(more));
    return n + (int)(sizeof(more) / sizeof(more[0]));
}

int control_push(const struct config *cfg, char *err, size_t errlen)
{
    const char *argv[32];
    struct lab_ssh_paths paths;
    char bin[PATH_MAX], dest[128];

    snprintf(bin, sizeof(bin), "%s/build/" CONTROL_BIN, lab_repo_dir());
    if (access(bin, X_OK) != 0) {
        snprintf(err, errlen, "missing %s (build it: make)", bin);
        return -1;
    }
    /* beside it, then renamed over it: a controller still running (a YCSB client beside
     * a migration) keeps its own copy, where writing into it would fail (text busy) */
    int n = ssh_prefix(cfg, "scp", argv, &paths);
    snprintf(dest, sizeof(dest), "root@%s:" CONTROL_PATH ".new", config_get(cfg, "BACKUP_IP"));
    argv[n++] = bin, argv[n++] = dest, argv[n] = NULL;
    char out[512];
    int status = -1;
    if (proc_run(argv) != 0) {
        snprintf(err, errlen, "cannot copy %s into backup (scp to %s failed)", CONTROL_BIN, dest);
        return -1;
    }
    if (host_run(cfg, "backup", "mv -f " CONTROL_PATH ".new " CONTROL_PATH, 30, out, sizeof(out), &status) != 0 ||
        status != 0) {
        snprintf(err, errlen, "cannot put %s in place on backup: %s", CONTROL_PATH, out);
        return -1;
    }
    return 0;
}

struct run_ctx {
    const struct config *cfg;
    const struct migrate_opts *o;
    const struct lab_host *from, *to;
    char args[CONTROL_MAX_ARGS][64];
    int n_args;
    bool args_overflow;   /* an argument did not fit: the run must not start */
    bool link_cut;
    long control_pid;     /* fmlab-control's pid on backup, once it said so */
};

static void arg_s(struct run_ctx *c, const char *name, const char *value)
{
    if (c->n_args + 2 > CONTROL_MAX_ARGS || strlen(name) >= 64 || (value && strlen(value) >= 64)) {
        c->args_overflow = true;
        return;
    }
    snprintf(c->args[c->n_args++], 64, "%s", name);
    if (value)
        snprintf(c->args[c->n_args++], 64, "%s", value);
}

static void arg_l(struct run_ctx *c, const char *name, long value)
{
    char v[32];
    snprintf(v, sizeof(v), "%ld", value);
    arg_s(c, name, v);
}

/* A fresh UUID (version 4) naming one shm migration: the destination loads only the
 * image the source wrote in this run. */
static void new_run_id(char *out, size_t len)
{
    uint8_t b[16];
    for (size_t got = 0; got < sizeof(b);) {   /* 16 bytes come at once; EINTR retries */
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void control_args(struct run_ctx *c)
{
    const struct config *cfg = c->cfg;
    const struct migrate_opts *o = c->o;
    bool memload = strcmp(o->load, "memory") == 0;

    arg_s(c, "--mode", o->mode), arg_s(c, "--load", o->load);
    arg_s(c, "--from", config_get(cfg, c->from->ip_key));
    arg_s(c, "--to", config_get(cfg, c->to->ip_key));
    arg_s(c, "--vm", config_get(cfg, "VM_IP"));
    arg_s(c, "--qmp-port", config_get(cfg, "VM_QMP_PORT"));
    arg_s(c, "--migration-port", config_get(cfg, "MIGRATION_PORT"));
    arg_s(c, "--redis-port", config_get(cfg, "REDIS_BASE_PORT"));
    arg_s(c, "--agent-port", config_get(cfg, "AGENT_PORT"));
    arg_l(c, "--max-bandwidth", opt_or_cfg(o->max_bandwidth, cfg, "MIGRATE_MAX_BANDWIDTH"));
    arg_l(c, "--downtime-limit", opt_or_cfg(o->downtime_limit_ms, cfg, "MIGRATE_DOWNTIME_LIMIT_MS"));
    if (o->postcopy_bandwidth > 0)
        arg_l(c, "--postcopy-bandwidth", o->postcopy_bandwidth);
    arg_l(c, "--postcopy-delay", opt_or_cfg(o->postcopy_delay_ms, cfg, "POSTCOPY_START_DELAY_MS"));
    arg_s(c, "--postcopy-iterations", config_get(cfg, "POSTCOPY_START_ITERATIONS"));
    if (strcmp(postcopy_preempt(c->o, cfg), "off") == 0)
        arg_s(c, "--no-postcopy-preempt", NULL);
    arg_l(c, "--timeout", opt_or_cfg(o->timeout_s, cfg, "MIGRATE_TIMEOUT"));
    arg_s(c, "--stall", config_get(cfg, "MIGRATE_STALL_TIMEOUT"));
    arg_l(c, "--mem-mib", opt_or_cfg(o->mem_mib, cfg, memload ? "MEM_LOAD_MIB" : "MEM_ORACLE_MIB"));
    arg_l(c, "--mem-rate", memload && o->mem_rate < 0 ? 0 : opt_or_cfg(o->mem_rate, cfg, "MEM_ORACLE_RATE"));
    arg_l(c, "--preload", opt_or_cfg(o->preload, cfg, "REDIS_PRELOAD_KEYS"));
    if (strcmp(o->mode, "shm") == 0) {
        arg_s(c, "--shm-path", config_get(cfg, "SHM_IMAGE_PATH"));
        arg_l(c, "--period-us", opt_or_cfg(o->period_us, cfg, "SHM_PERIOD_US"));
        arg_l(c, "--write-through", opt_or_cfg(o->write_through_s, cfg, "SHM_WRITE_THROUGH_S"));
        arg_s(c, "--dirty-tracking", o->dirty_tracking ? o->dirty_tracking : config_get(cfg, "SHM_DIRTY_TRACKING"));
        arg_s(c, "--granularity", o->granularity ? o->granularity : config_get(cfg, "SHM_SYNC_GRANULARITY"));
        arg_s(c, "--dst-ram", o->dst_ram ? o->dst_ram : config_get(cfg, "SHM_DST_RAM"));
        if (strcmp(o->dst_wait ? o->dst_wait : config_get(cfg, "SHM_DST_WAIT"), "on") == 0)
            arg_s(c, "--dst-wait", NULL);
        arg_l(c, "--promote-bandwidth", opt_or_cfg(o->promote_bandwidth, cfg, "SHM_PROMOTE_BANDWIDTH"));
        if (o->observe_s > 0)
            arg_l(c, "--observe", o->observe_s);
        char run_id[40];
        new_run_id(run_id, sizeof(run_id));
        arg_s(c, "--run-id", run_id);
    }
    if (o->oracle_fault)
        arg_s(c, "--oracle-fault", o->oracle_fault);
    bool post = strcmp(o->mode, "postcopy") == 0;
    if (o->fault && strcmp(o->mode, "shm") == 0)   /* the controller places shm's fault points */
        arg_s(c, "--shm-fault", o->fault);
    else if (o->fault && (strcmp(o->fault, "src-kill-after-switch") == 0 || (post && strcmp(o->fault, "link-down") == 0)))
        arg_s(c, "--fault-after-switch", NULL);
    else if (o->fault)   /* mid-precopy: once a sixteenth of the guest's memory went out. A
                          * quarter (128 MiB of 512) was more than a freshly restored guest
                          * has touched (~100 MiB): the migration completed first. */
        arg_l(c, "--fault-at-bytes", (long)(config_get_size(cfg, "GUEST_MEM") / 16));
}

/* The destination host's link: both its NICs (the lab network that carries the migration
 * stream and the guests' network), as a cable pulled from the host. */
static void set_link(struct run_ctx *c, const char *state)
{
    for (int vm_net = 0; vm_net < 2; vm_net++) {
        char dev[64];
        snprintf(dev, sizeof(dev), "fmlab-%s%s", c->to->name, vm_net ? "-vm" : "");
        const char *argv[] = { "ip", "-n", LAB_NETNS, "link", "set", dev, state, NULL };
        if (proc_run(argv) != 0)
            fprintf(stderr, "[migrate] could not set %s %s\n", dev, state);
    }
    c->link_cut = strcmp(state, "down") == 0;
}

static void inject(struct run_ctx *c)
{
    char out[512];
    int status;
    const char *f = c->o->fault;

    printf("[migrate] fault: %s\n", f);
    fflush(stdout);
    if (strcmp(f, "dst-kill") == 0 || strcmp(f, "dst-kill-wait") == 0)
        host_run(c->cfg, c->to->name, GUEST_KILL_NOW, 30, out, sizeof(out), &status);
    else if (strcmp(f, "src-kill-after-switch") == 0 || strcmp(f, "src-kill-sync") == 0)
        host_run(c->cfg, c->from->name, GUEST_KILL_NOW, 30, out, sizeof(out), &status);
    else if (strcmp(f, "link-down") == 0)
        set_link(c, "down");
}

/* Handle one line of the controller's stdout; a result line sets *result. */
static void control_line(struct run_ctx *c, char *line, json_t **result)
{
    json_error_t jerr;

    if (strncmp(line, "control-pid ", 12) == 0)
        c->control_pid = strtol(line + 12, NULL, 10);
    else if (strncmp(line, "fault-point", 11) == 0 && c->o->fault)
        inject(c);
    else if (strncmp(line, "fault-heal", 10) == 0 && c->link_cut) {
        printf("[migrate] fault healed: %s's link is up again\n", c->to->name);
        set_link(c, "up");
    }
    else if (strncmp(line, "result ", 7) == 0 && !*result)
        *result = json_loads(line + 7, 0, &jerr);
}

/* The run ends without its result (Ctrl-C, a deadline): the controller on backup must
 * not go on driving QMP. Stopped by its pid, over ssh. */
static void stop_controller(struct run_ctx *c)
{
    const char *argv[40];
    struct lab_ssh_paths paths;
    char dest[64], pid[32];

    if (c->control_pid <= 1)
        return;
    int n = ssh_prefix(c->cfg, "ssh", argv, &paths);
    snprintf(dest, sizeof(dest), "root@%s", config_get(c->cfg, "BACKUP_IP"));
    snprintf(pid, sizeof(pid), "%ld", c->control_pid);
    argv[n++] = dest, argv[n++] = "kill", argv[n++] = "-TERM", argv[n++] = pid, argv[n] = NULL;
    printf("[migrate] stopping fmlab-control (pid %s) on backup: %s\n", pid,
           proc_run(argv) == 0 ? "stopped" : "already gone");
}

/* Run fmlab-control on backup; returns its result object or NULL with err. */
static json_t *run_control(struct run_ctx *c, char *err, size_t errlen)
{
    const char *argv[CONTROL_MAX_ARGS + 32];
    static char quoted[CONTROL_MAX_ARGS][4 * 64 + 3];
    struct lab_ssh_paths paths;
    char dest[64];
    int fds[2], status = 0;
    size_t used = 0, cap = 1 << 20;
    char *buf = xmalloc(cap);
    json_t *result = NULL;
    pid_t pid;

    int n = ssh_prefix(c->cfg, "ssh", argv, &paths);
    snprintf(dest, sizeof(dest), "root@%s", config_get(c->cfg, "BACKUP_IP"));
    argv[n++] = dest, argv[n++] = CONTROL_PATH, argv[n++] = "migrate";
    /* ssh joins what follows the host into one line for backup's shell: quote each */
    for (int i = 0; i < c->n_args; i++) {
        lab_shell_quote(c->args[i], quoted[i], sizeof(quoted[i]));   /* 64 bytes always fit */
        argv[n++] = quoted[i];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (pipe(fds) < 0)
        return NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    /* its own process group: a Ctrl-C at the terminal reaches fmlab, which stops the run
     * in order, not ssh, whose death would leave the controller running on backup */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int rc = posix_spawnp(&pid, "ip", &fa, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(err, errlen, "[migrate] cannot run ssh: %s", strerror(rc));
        return NULL;
    }
    long limit = 2 * opt_or_cfg(c->o->timeout_s, c->cfg, "MIGRATE_TIMEOUT") + 900;
    time_t deadline = time(NULL) + limit;
    for (;;) {
        struct pollfd p = { .fd = fds[0], .events = POLLIN };
        if (lab_interrupted) {
            kill(pid, SIGTERM);
            snprintf(err, errlen, "[migrate] interrupted: the controller stopped, the QEMU without the guest "
                                  "stopped (if it is clear which), the link restored");
            break;
        }
        if (time(NULL) >= deadline) {
            kill(pid, SIGTERM);
            snprintf(err, errlen, "[migrate] the controller on backup gave no result within %ld s", limit);
            break;
        }
        if (poll(&p, 1, 1000) <= 0)
            continue;
        if (used + 1 == cap && cap < (64u << 20))
            buf = xrealloc(buf, cap *= 2);
        ssize_t r = read(fds[0], buf + used, cap - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
        buf[used] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = '\0';
            control_line(c, buf, &result);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used + 1);
        }
        if (used + 1 == cap)
            used = 0;   /* a line over 64 MiB is not ours: drop it */
    }
    free(buf);
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!result && !err[0])
        snprintf(err, errlen, "[migrate] the controller on backup ended (exit %d) without a result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (!result)
        stop_controller(c);   /* before anyone else talks to the QEMUs: QMP takes one client */
    return result;
}

/* The guest runs on exactly one of src and dst: that is where this migration starts. */
static int locate(struct run_ctx *c, char *err, size_t errlen)
{
    char st_src[64], st_dst[64];
    guest_status(c->cfg, config_get(c->cfg, "SRC_IP"), 5, st_src, sizeof(st_src));
    guest_status(c->cfg, config_get(c->cfg, "DST_IP"), 5, st_dst, sizeof(st_dst));
    bool on_src = strcmp(st_src, "running") == 0, on_dst = strcmp(st_dst, "running") == 0;
    if (on_src == on_dst) {
        snprintf(err, errlen, "[migrate] the guest must run on exactly one of src and dst (src: %s, dst: %s)%s",
                 st_src, st_dst, !on_src ? "; fmlab up starts it" : "");
        return -1;
    }
    c->from = lab_find_host(on_src ? "src" : "dst");
    c->to = lab_find_host(on_src ? "dst" : "src");
    return 0;
}

static void describe(struct run_ctx *c, json_t *r)
{
    const struct config *cfg = c->cfg;
    json_object_set_new(r, "mode", json_string(c->o->mode));
    json_object_set_new(r, "load", json_string(c->o->load));
    json_object_set_new(r, "fault", c->o->fault ? json_string(c->o->fault) : json_null());
    json_object_set_new(r, "from", json_string(c->from->name));
    json_object_set_new(r, "to", json_string(c->to->name));
    json_t *params = json_object();
    for (int i = 0; i + 1 < c->n_args; i++) {
        if (strncmp(c->args[i], "--", 2) == 0 && strncmp(c->args[i + 1], "--", 2) != 0)
            json_object_set_new(params, c->args[i] + 2, json_string(c->args[i + 1]));
    }
    if (strcmp(c->o->mode, "postcopy") == 0)
        json_object_set_new(params, "postcopy-preempt", json_string(postcopy_preempt(c->o, cfg)));
    json_object_set_new(params, "guest_mem", json_string(config_get(cfg, "GUEST_MEM")));
    json_object_set_new(params, "guest_vcpus", json_string(config_get(cfg, "GUEST_VCPUS")));
    json_object_set_new(params, "host_cpu", json_string(config_get(cfg, "HOST_CPU")));
    json_object_set_new(params, "host_mem", json_string(config_get(cfg, "HOST_MEM")));
    json_object_set_new(r, "parameters", params);
}

/* Bytes through one tap at L0 since boot: rx = what the host sent, tx = what it got. */
static int one_tap_bytes(const char *tap, json_int_t *sent, json_int_t *received)
{
    char buf[8192];
    const char *argv[] = { "ip", "-n", LAB_NETNS, "-j", "-s", "link", "show", "dev", tap, NULL };
    if (proc_capture(argv, buf, sizeof(buf)) != 0)
        return -1;
    json_t *j = json_loads(buf, 0, NULL);
    json_t *stats = json_object_get(json_array_get(j, 0), "stats64");
    *sent = json_integer_value(json_object_get(json_object_get(stats, "rx"), "bytes"));
    *received = json_integer_value(json_object_get(json_object_get(stats, "tx"), "bytes"));
    json_decref(j);
    return stats ? 0 : -1;
}

/* A host's bytes at L0 on both its networks (the lab's and the guests'). */
static int tap_bytes(const struct lab_host *h, json_int_t *sent, json_int_t *received)
{
    char tap[64];
    json_int_t s[2], r[2];
    for (int vm_net = 0; vm_net < 2; vm_net++) {
        snprintf(tap, sizeof(tap), "fmlab-%s%s", h->name, vm_net ? "-vm" : "");
        if (one_tap_bytes(tap, &s[vm_net], &r[vm_net]))
            return -1;
    }
    *sent = s[0] + s[1];
    *received = r[0] + r[1];
    return 0;
}

struct net_snapshot {
    json_int_t from_sent, from_received, to_sent, to_received;
    bool ok;
};

static void net_snapshot(const struct run_ctx *c, struct net_snapshot *s)
{
    s->ok = tap_bytes(c->from, &s->from_sent, &s->from_received) == 0 &&
            tap_bytes(c->to, &s->to_sent, &s->to_received) == 0;
}

/* What crossed the lab's two networks during the run, seen at the hosts' taps (includes
 * the control plane's ssh and the redis client's traffic with the guest). */
static void net_report(const struct run_ctx *c, const struct net_snapshot *a, json_t *r)
{
    struct net_snapshot b;
    net_snapshot(c, &b);
    if (!a->ok || !b.ok)
        return;
    json_int_t sent = b.from_sent - a->from_sent;
    json_object_set_new(r, "network", json_pack("{s:s, s:I, s:I, s:I, s:I}", "measured_at", "L0 taps",
                                                "source_sent_bytes", sent, "source_received_bytes",
                                                b.from_received - a->from_received, "destination_sent_bytes",
                                                b.to_sent - a->to_sent, "destination_received_bytes",
                                                b.to_received - a->to_received));
    printf("[migrate] network: source sent %.1f MiB, destination received %.1f MiB\n", sent / 1048576.0,
           (b.to_received - a->to_received) / 1048576.0);
}

/* A field of what the guest QEMU at ip answers to command ("" when it does not). */
static void query_field(const struct config *cfg, const char *ip, const char *command, const char *field,
                        char *out, size_t len)
{
    json_t *r = guest_query(cfg, ip, command, 5);
    snprintf(out, len, "%s", json_string_value(json_object_get(r, field)) ?: "");
    json_decref(r);
}

/* A source still syncing into the pool with no controller left: nobody would trigger its
 * switchover, so it is cancelled (the guest keeps running there). */
static void cancel_orphaned_sync(const struct config *cfg, const char *ip)
{
    char shm[64];
    query_field(cfg, ip, "query-shm-migrate", "phase", shm, sizeof(shm));
    if (value_in(shm, "setup|first-copy|syncing"))
        json_decref(guest_query(cfg, ip, "shm-migrate-cancel", 10));
}

/* Still moving the guest, by QEMU's own migration or by shm: it finishes (or fails) by
 * itself, and until then neither copy may be stopped. */
static bool in_flight(const struct config *cfg, const char *ip, bool source)
{
    char mig[64], shm[64];
    query_field(cfg, ip, "query-migrate", "status", mig, sizeof(mig));
    query_field(cfg, ip, "query-shm-migrate", "phase", shm, sizeof(shm));
    return value_in(mig, "setup|active|device|pre-switchover|postcopy-active|postcopy-recover|"
                         "postcopy-recover-setup|wait-unplug") ||
           value_in(shm, source ? "switchover" : "waiting|loading");
}

/* Stop the QEMU that does not hold the guest, after asking both where it runs (never
 * from what the run was expected to do): the source once it runs and moves nothing;
 * the destination's source once the destination runs and neither moves anything; an
 * incoming QEMU that never got the guest. Anything else keeps both. Returns the host
 * whose QEMU was stopped, or NULL. */
static const struct lab_host *stop_idle_copy(struct run_ctx *c)
{
    const char *ip_from = config_get(c->cfg, c->from->ip_key), *ip_to = config_get(c->cfg, c->to->ip_key);
    time_t deadline = time(NULL) + opt_or_cfg(c->o->timeout_s, c->cfg, "MIGRATE_TIMEOUT");
    const struct lab_host *stop = NULL;
    char st_from[64], st_to[64];
    bool from_moving, to_moving;

    cancel_orphaned_sync(c->cfg, ip_from);
    for (;;) {
        from_moving = in_flight(c->cfg, ip_from, true);
        to_moving = in_flight(c->cfg, ip_to, false);
        guest_status(c->cfg, ip_from, 5, st_from, sizeof(st_from));
        guest_status(c->cfg, ip_to, 5, st_to, sizeof(st_to));
        bool from_runs = strcmp(st_from, "running") == 0, to_runs = strcmp(st_to, "running") == 0;
        if (from_runs && !to_runs && !from_moving)
            stop = c->to;
        else if (to_runs && !from_runs && !from_moving && !to_moving)
            stop = c->from;
        else if (!from_runs && !to_runs && strcmp(st_to, "inmigrate") == 0 && !from_moving && !to_moving)
            stop = c->to;   /* it never got the guest */
        if (stop || (!from_moving && !to_moving) || time(NULL) >= deadline)
            break;
        sleep(1);
    }
    if (stop)
        guest_stop(c->cfg, stop->name);
    else
        printf("[migrate] no QEMU stopped: where the guest runs is not clear (%s: %s%s, %s: %s%s)\n",
               c->from->name, st_from, from_moving ? ", migrating" : "", c->to->name, st_to,
               to_moving ? ", migrating" : "");
    return stop;
}

/* After the run: keep the study's HMP view, stop the copy that must not run. */
static void settle(struct run_ctx *c, json_t *r)
{
    char out[4096];
    if (c->link_cut)
        set_link(c, "up");
    if (guest_hmp(c->cfg, c->from->name, "info migrate", out, sizeof(out)) == 0)
        json_object_set_new(r, "hmp_info_migrate_source", json_string(out));
    if (strcmp(c->o->mode, "shm") == 0 && guest_hmp(c->cfg, c->from->name, "info shm_migrate", out, sizeof(out)) == 0)
        json_object_set_new(r, "hmp_info_shm_migrate_source", json_string(out));
    const struct lab_host *stopped = stop_idle_copy(c);
    json_object_set_new(r, "stopped_after", json_string(stopped ? stopped->name : "none"));
}

/* shm's dst-ram pool and promote map the image over the guest's RAM at the same address
 * in the destination QEMU; with NET_MODE=ovs-dpdk OVS-DPDK's vhost-user port has its own
 * mapping of that RAM (the memfd QEMU gave it), which nothing replaces: the guest and its
 * NIC would see different memory. Only dst-ram copy keeps them one. */
static int shm_dst_ram_refused(const struct config *cfg, const struct migrate_opts *o, char *err, size_t errlen)
{
    const char *dst_ram = o->dst_ram ? o->dst_ram : config_get(cfg, "SHM_DST_RAM");
    if (strcmp(o->mode, "shm") != 0 || strcmp(config_get(cfg, "NET_MODE"), "ovs-dpdk") != 0 ||
        strcmp(dst_ram, "copy") == 0)
        return 0;
    snprintf(err, errlen, "[migrate] dst-ram %s cannot run with NET_MODE=ovs-dpdk: it maps the image over the "
             "guest's RAM, while OVS-DPDK's vhost-user port keeps its own mapping of the old RAM (use --dst-ram "
             "copy or SHM_DST_RAM=copy)", dst_ram);
    return -1;
}

json_t *migrate_once(const struct config *cfg, const struct migrate_opts *o, char *err, size_t errlen)
{
    struct run_ctx c = { .cfg = cfg, .o = o };

    err[0] = '\0';
    if (shm_dst_ram_refused(cfg, o, err, errlen) || locate(&c, err, errlen))
        return NULL;
    printf("[migrate] %s %s -> %s, load %s%s%s\n", o->mode, c.from->name, c.to->name, o->load,
           o->fault ? ", fault " : "", o->fault ? o->fault : "");
    fflush(stdout);
    control_args(&c);
    if (c.args_overflow) {
        snprintf(err, errlen, "[migrate] the controller's arguments do not fit (%d slots of 64 bytes)",
                 CONTROL_MAX_ARGS);
        return NULL;
    }
    if (guest_start_incoming(cfg, c.to->name, err, errlen) || control_push(cfg, err, errlen))
        return NULL;
    struct net_snapshot net;
    net_snapshot(&c, &net);
    json_t *r = run_control(&c, err, errlen);
    if (r)
        net_report(&c, &net, r);
    if (!r) {
        if (c.link_cut)
            set_link(&c, "up");
        stop_idle_copy(&c);
        return NULL;
    }
    describe(&c, r);
    settle(&c, r);
    result_judge(r, result_expected_status(o->mode, o->fault, o->expect),
                 !(o->expect && *o->expect) && result_expects_lost(o->mode, o->fault));
    return r;
}
