/*
 * cmd_status.c: `fmlab status [--json]`: what the lab is running, read from STATE_DIR and
 * /proc (never from a runner's memory): per host its state, QEMU pid, uptime, address,
 * CXL node size, pool, console log.
 */
#include "fmlab.h"
#include "guest.h"
#include "lab.h"
#include "netns.h"
#include "qmp.h"
#include "snapshot.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void usage_status(void)
{
    printf("usage: fmlab status [--json]\n"
           "Shows each host (and later the guest): state, QEMU pid, uptime, address, CXL\n"
           "node size, pool path and console log.\n");
}

static pid_t read_pid(const char *dir)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/qemu.pid", dir);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) ? (pid_t)pid : 0;
}

/* Seconds since process pid started. */
static double uptime_of(pid_t pid)
{
    char path[64], buf[1024];
    double up = 0;
    unsigned long long start = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        start = strtoull(p + 1, NULL, 10);
    f = fopen("/proc/uptime", "r");
    if (f) {
        if (fscanf(f, "%lf", &up) != 1)
            up = 0;
        fclose(f);
    }
    return up - (double)start / (double)sysconf(_SC_CLK_TCK);
}

static json_t *host_json(const struct config *cfg, const struct lab_host *h)
{
    char dir[PATH_MAX], log[PATH_MAX + 16];
    lab_path(cfg, h->name, dir, sizeof(dir));
    snprintf(log, sizeof(log), "%s/console.log", dir);
    pid_t pid = read_pid(dir);
    return json_pack("{s:s, s:s, s:i, s:f, s:s, s:s, s:s, s:s}", "name", h->name, "state",
                     pid ? "running" : "stopped", "pid", (int)pid, "uptime_s", pid ? uptime_of(pid) : 0.0,
                     "address", config_get(cfg, h->ip_key), "cxl_node_mem", config_get(cfg, "HOST_CXL_MEM"),
                     "pool", LAB_POOL_PATH, "console_log", log);
}

/* The guest: its QEMUs' own answers to query-status, through the lab namespace. It
 * runs on src after `fmlab up`, and on either side after migrations. */
static json_t *guest_json(const struct config *cfg)
{
    char st_src[64], st_dst[64];
    guest_status(cfg, config_get(cfg, "SRC_IP"), 1, st_src, sizeof(st_src));
    guest_status(cfg, config_get(cfg, "DST_IP"), 1, st_dst, sizeof(st_dst));
    bool on_dst = strcmp(st_dst, "running") == 0 && strcmp(st_src, "running") != 0;
    const char *status = on_dst ? st_dst : st_src;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", "vm", "state",
                     strcmp(status, "absent") == 0 ? "not running" : status, "host", on_dst ? "dst" : "src",
                     "address", config_get(cfg, "VM_IP"), "console_log",
                     on_dst ? "dst:" GUEST_CONSOLE_LOG : "src:" GUEST_CONSOLE_LOG, "other_host",
                     on_dst ? st_src : st_dst);
}

int cmd_status(int argc, char **argv)
{
    struct config cfg;
    bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;

    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    json_t *hosts = json_array();
    int running = 0;
    for (int i = 0; i < LAB_N_HOSTS; i++) {
        json_t *h = host_json(&cfg, &lab_hosts[i]);
        running += strcmp(json_string_value(json_object_get(h, "state")), "running") == 0;
        json_array_append_new(hosts, h);
    }
    json_t *guest = running ? guest_json(&cfg) : json_pack("{s:s, s:s}", "name", "vm", "state", "not running");
    char restored_from[128] = "", net_mode[32] = "";
    if (running) {
        lab_state_value(&cfg, "restored_from", restored_from, sizeof(restored_from));
        lab_state_value(&cfg, "net_mode", net_mode, sizeof(net_mode));
    }
    json_t *all = json_pack("{s:o, s:o, s:b, s:s, s:s, s:s}", "hosts", hosts, "guest", guest, "pool_present",
                            access(LAB_POOL_PATH, F_OK) == 0, "state_dir", config_get(&cfg, "STATE_DIR"),
                            "restored_from", restored_from, "net_mode", net_mode);
    if (as_json) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        printf("%-7s %-8s %-8s %-9s %-11s %-8s %-24s %s\n", "host", "state", "pid", "uptime", "address",
               "cxl", "pool", "console log");
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h) {
            printf("%-7s %-8s %-8lld %-9.0f %-11s %-8s %-24s %s\n",
                   json_string_value(json_object_get(h, "name")), json_string_value(json_object_get(h, "state")),
                   json_integer_value(json_object_get(h, "pid")), json_real_value(json_object_get(h, "uptime_s")),
                   json_string_value(json_object_get(h, "address")),
                   json_string_value(json_object_get(h, "cxl_node_mem")), LAB_POOL_PATH,
                   json_string_value(json_object_get(h, "console_log")));
        }
        const char *on = json_string_value(json_object_get(guest, "host"));
        char where[16];
        snprintf(where, sizeof(where), "in %s", on ? on : "src");
        printf("%-7s %-8s %-8s %-9s %-11s %-8s %-24s %s\n", "vm", json_string_value(json_object_get(guest, "state")),
               "-", "-", config_get(&cfg, "VM_IP"), "-", where,
               on && strcmp(on, "dst") == 0 ? "dst:" GUEST_CONSOLE_LOG : "src:" GUEST_CONSOLE_LOG);
        printf("%d of %d hosts running%s\n", running, LAB_N_HOSTS, running ? "" : " (fmlab up starts them)");
        if (net_mode[0])
            printf("the guest's network in src and dst: NET_MODE=%s\n", net_mode);
        if (restored_from[0])
            printf("restored from snapshot '%s'\n", restored_from);
        printf("\nsnapshots (fmlab snapshot list):\n");
        snapshot_list(&cfg, stdout);
    }
    json_decref(all);
    config_free(&cfg);
    return 0;
}
