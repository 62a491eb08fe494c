/*
 * cmd_down.c: `fmlab down [--keep-pool]`: stop everything the lab started.
 * Works after a crash or a SIGKILLed `fmlab up`: see teardown.c.
 */
#include "fmlab.h"
#include "lab.h"
#include "teardown.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void usage_down(void)
{
    printf("usage: fmlab down [--keep-pool]\n"
           "Stops the lab's hosts and guest, removes its network namespace (bridge, taps),\n"
           "the CXL pool file (kept with --keep-pool) and the shared guest disk copy.\n"
           "Console logs stay in STATE_DIR. Safe to run any number of times.\n");
}

int cmd_down(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    bool keep_pool = argc > 1 && strcmp(argv[1], "--keep-pool") == 0;

    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "fmlab down: must run as root (the lab's namespace and QEMUs are root's)\n");
        config_free(&cfg);
        return 1;
    }
    int lock = lab_lock(&cfg, err, sizeof(err));
    if (lock < 0) {
        fprintf(stderr, "fmlab down: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    int failures = lab_teardown(&cfg, keep_pool);
    printf("down: %s\n", failures ? "some parts could not be removed (see above)" : "lab is down");
    close(lock);
    config_free(&cfg);
    return failures ? 1 : 0;
}
