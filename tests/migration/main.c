/*
 * main.c: `make test-migration`: the rows of the case table (cases.c) that CASES (or
 * CASE) selects, a POSIX extended regex matched against each name (all when empty),
 * in order, on the lab (framework.c). TAP out: one line per assertion, "# SKIP" for a
 * case the lab's build cannot run, the plan at the end; exit 1 if any assertion failed.
 *
 *   fmlab-test-migration FMLAB
 */
#include "cases.h"
#include "clock.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* NET_MODE=ovs-dpdk: fmlab migrate refuses shm with dst-ram pool or promote (they would map
 * the image over RAM that OVS-DPDK's vhost-user port maps too; tests/config_cli.sh checks
 * the refusal), so those rows cannot run there. A custom row names no mode. */
static const char *ovs_dpdk_refuses(struct lab *l, const struct mcase *c)
{
    char net_mode[32] = "", dst_ram[32] = "";
    if (!c->mode || strcmp(c->mode, "shm") != 0 || !lab_config(l, "NET_MODE", net_mode, sizeof(net_mode)) ||
        strcmp(net_mode, "ovs-dpdk") != 0)
        return NULL;
    const char *want = NULL;
    for (size_t i = 0; i + 1 < sizeof(c->args) / sizeof(c->args[0]) && c->args[i] && c->args[i + 1]; i++)
        if (strcmp(c->args[i], "--dst-ram") == 0)
            want = c->args[i + 1];
    if (!want && lab_config(l, "SHM_DST_RAM", dst_ram, sizeof(dst_ram)))
        want = dst_ram;
    return want && strcmp(want, "copy") == 0 ? NULL
                                             : "NET_MODE=ovs-dpdk: shm runs with dst-ram copy only (fmlab migrate refuses pool and promote)";
}

/* Why the lab cannot run c, or NULL. */
static const char *cannot_run(struct lab *l, const struct mcase *c)
{
    char qemu[32] = "", kernel[32] = "";
    if ((c->needs & NEEDS_SHM_QEMU) && (!lab_config(l, "HOST_QEMU", qemu, sizeof(qemu)) || strcmp(qemu, "fmsync") != 0))
        return "HOST_QEMU is not fmsync: the hosts run Debian's QEMU, which has no shm migration";
    if ((c->needs & NEEDS_FMSYNC_KERNEL) &&
        (!lab_config(l, "HOST_KERNEL", kernel, sizeof(kernel)) || strcmp(kernel, "fmsync") != 0))
        return "HOST_KERNEL is not fmsync: the lab already runs a stock kernel";
    return ovs_dpdk_refuses(l, c);
}

static bool make_logs_dir(struct lab *l)
{
    char results[PATH_MAX / 2], stamp[32];
    time_t now = time(NULL);
    if (!lab_config(l, "RESULTS_DIR", results, sizeof(results)))
        return false;
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&now));
    mkdir(results, 0755);
    for (int n = 1; n < 100; n++) {   /* two runs in one second: -2, -3, ... */
        snprintf(l->logs, sizeof(l->logs), n == 1 ? "%s/test-migration-%s" : "%s/test-migration-%s-%d", results,
                 stamp, n);
        if (mkdir(l->logs, 0755) == 0)
            return true;
    }
    return false;
}

int main(int argc, char **argv)
{
    struct lab l = { 0 };
    regex_t select;
    const char *pattern = getenv("CASES");

    if (argc != 2) {
        fprintf(stderr, "usage: fmlab-test-migration FMLAB   (CASES=REGEX selects cases by name)\n");
        return 2;
    }
    l.fmlab = argv[1];
    if (!pattern || !*pattern)
        pattern = getenv("CASE");
    if (pattern && *pattern && regcomp(&select, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "test-migration: CASES='%s' is not an extended regular expression\n", pattern);
        return 2;
    }
    if (!make_logs_dir(&l)) {
        fprintf(stderr, "test-migration: cannot make a folder for the case logs under RESULTS_DIR\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    note("test-migration: case logs in %s", l.logs);
    double t0 = mono_s();
    int selected = 0;
    for (size_t i = 0; i < migration_case_count; i++) {
        const struct mcase *c = &migration_cases[i];
        if (pattern && *pattern && regexec(&select, c->name, 0, NULL, 0) != 0)
            continue;
        selected++;
        const char *why = cannot_run(&l, c);
        if (why) {
            printf("ok - %s # SKIP %s\n", c->name, why);
            l.assertions++;
            continue;
        }
        double c0 = mono_s();
        case_run(&l, c);
        note("%s: %.0f s", c->name, mono_s() - c0);
    }
    if (pattern && *pattern)
        regfree(&select);
    if (!selected)
        tap(&l, false, "CASES='%s' selects no case", pattern);
    printf("1..%d\n", l.assertions);
    note("test-migration: %d cases, %d assertions, %d failed, %.0f s", selected, l.assertions, l.failures,
         mono_s() - t0);
    return l.failures ? 1 : 0;
}
