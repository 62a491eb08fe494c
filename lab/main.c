/*
 * main.c: fmlab's entry point. It only dispatches to one file per subcommand
 * (kvmtool style); everything else lives in the files named after their concern.
 */
#include "fmlab.h"

#include <stdio.h>
#include <string.h>

static const struct fmlab_command commands[] = {
    { "config", "check, show or get config.txt values", cmd_config, usage_config },
    { "doctor", "preflight: can this machine run the lab?", cmd_doctor, usage_doctor },
    { "up", "boot the lab: src, dst, backup hosts with emulated CXL", cmd_up, usage_up },
    { "down", "stop everything the lab started", cmd_down, usage_down },
    { "status", "hosts of the lab: state, pid, uptime, addresses, logs", cmd_status, usage_status },
    { "console", "attach to a host's serial console (Ctrl-] detaches)", cmd_console, usage_console },
    { "exec", "run a command in a host (ssh) or the guest (console)", cmd_exec, usage_exec },
    { "ssh", "ssh into a host with the lab's key", cmd_ssh, usage_ssh },
    { "snapshot", "save, list, check or remove whole labs (fmlab up --from NAME)", cmd_snapshot, usage_snapshot },
    { "migrate", "migrate the guest src<->dst and check the oracles", cmd_migrate, usage_migrate },
    { "ycsb", "YCSB workloads a-f from backup against the guest's redis", cmd_ycsb, usage_ycsb },
    { "agent", "send requests to the guest's oracle agent (from backup)", cmd_agent, usage_agent },
    { "plot", "draw the figures (gnuplot PNG + CSV) of bench and ycsb results", cmd_plot, usage_plot },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: fmlab COMMAND [ARGS]\n\n"
                 "fmlab %s: VM live-migration lab (src, dst, backup hosts over emulated CXL)\n\n"
                 "commands:\n", FMLAB_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nfmlab COMMAND --help shows a command's options. The config file is\n"
                 "$FMLAB_CONFIG or ./config.txt; FMLAB_<KEY>=value overrides a key.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("fmlab %s\n", FMLAB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            commands[i].usage();
            return 0;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "fmlab: unknown command '%s' (see fmlab --help)\n", argv[1]);
    return 2;
}
