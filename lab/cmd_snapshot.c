/*
 * cmd_snapshot.c: `fmlab snapshot save NAME | list | check NAME | rm NAME`: whole labs
 * kept on disk (snapshot.c) and restored by `fmlab up --from NAME`; `fmlab up` itself
 * saves and restores auto-KEY, the snapshot of the current inputs.
 */
#include "cgroup.h"
#include "fmlab.h"
#include "lab.h"
#include "snapshot.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void usage_snapshot(void)
{
    printf("usage: fmlab snapshot save NAME | list | check NAME | rm NAME\n"
           "save: the running lab (every host's RAM and devices with the guest running in src,\n"
           "      the host disks, the CXL pool, the shared guest disk) to CACHE_DIR/snapshots/NAME;\n"
           "      the hosts are stopped for the save and go on after it.\n"
           "list: every snapshot, whether it matches the current inputs, its size.\n"
           "check: can NAME be restored with the current inputs (images, kernel, QEMU, config)?\n"
           "rm: delete NAME. Restore: fmlab up --from NAME (fmlab up restores auto-KEY itself).\n");
}

static int save(const struct config *cfg, const char *name)
{
    char err[2048];
    int lock = lab_lock(cfg, err, sizeof(err));
    if (lock < 0) {
        fprintf(stderr, "fmlab snapshot save: %s\n", err);
        return 1;
    }
    lab_catch_signals();
    int rc = snapshot_save(cfg, name, err, sizeof(err));
    if (rc)
        fprintf(stderr, "fmlab snapshot save: %s\n", err);
    close(lock);
    return rc ? 1 : 0;
}

static int check(const struct config *cfg, const char *name)
{
    struct snapshot_info info;
    char err[2048];
    if (snapshot_usable(cfg, name, &info, err, sizeof(err))) {
        fprintf(stderr, "fmlab snapshot check: %s\n", err);
        return 1;
    }
    printf("snapshot '%s' matches the current inputs (key %s, %s, guest on %s)\n", name, info.key, info.accel,
           info.guest);
    return 0;
}

static int dispatch(const struct config *cfg, const char *verb, const char *name)
{
    char err[2048];
    if (strcmp(verb, "list") == 0) {
        snapshot_list(cfg, stdout);
        return 0;
    }
    if (!name) {
        fprintf(stderr, "fmlab snapshot %s: NAME missing (see fmlab snapshot --help)\n", verb);
        return 2;
    }
    if (strcmp(verb, "save") == 0)
        return save(cfg, name);
    if (strcmp(verb, "check") == 0)
        return check(cfg, name);
    if (strcmp(verb, "rm") == 0) {
        if (snapshot_remove(cfg, name, err, sizeof(err)) == 0)
            return printf("removed snapshot '%s'\n", name), 0;
        fprintf(stderr, "fmlab snapshot rm: %s\n", err);
        return 1;
    }
    fprintf(stderr, "fmlab snapshot: unknown action '%s' (save, list, check, rm)\n", verb);
    return 2;
}

int cmd_snapshot(int argc, char **argv)
{
    struct config cfg;
    if (argc < 2) {
        usage_snapshot();
        return 2;
    }
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    char err[512];
    /* save runs commands in the hosts over ssh: a master it starts belongs to the lab */
    if (strcmp(argv[1], "save") == 0 && lab_cgroup_join(false, err, sizeof(err)) < 0)
        fprintf(stderr, "fmlab snapshot: warning: %s\n", err);
    int rc = dispatch(&cfg, argv[1], argc > 2 ? argv[2] : NULL);
    config_free(&cfg);
    return rc;
}
