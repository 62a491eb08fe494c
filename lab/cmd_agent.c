/*
 * cmd_agent.c: `fmlab agent REQUEST...`: talk to fmlab-agent, the guest's own oracle
 * (memory writer, redis keys), from backup, the only host on the guests' network: the
 * control plane (fmlab-control agent) sends each request in turn and prints the reply.
 * For looking at an oracle by hand and for the tests that make it fail on purpose.
 */
#include "argv.h"
#include "cgroup.h"
#include "fmlab.h"
#include "host.h"
#include "lab.h"
#include "migrate.h"
#include "proc.h"

#include <stdio.h>
#include <string.h>

extern char **environ;

void usage_agent(void)
{
    printf("usage: fmlab agent REQUEST...\n"
           "Sends each REQUEST (one argument each, e.g. \"mem start 4 0\", \"mem check\") to the\n"
           "guest's fmlab-agent from backup and prints its one-line reply; \"sleep N\" waits N\n"
           "seconds between two requests. Exits 1 if a request got no reply.\n");
}

int cmd_agent(int argc, char **argv)
{
    struct config cfg;
    struct argv_builder b = { 0 };
    struct host_ssh s;
    char err[512], line[8192];

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage_agent();
        return argc < 2 ? 2 : 0;
    }
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    if (lab_cgroup_join(false, err, sizeof(err)) < 0)
        fprintf(stderr, "fmlab agent: warning: %s\n", err);
    int rc = 1;
    if (control_push(&cfg, err, sizeof(err))) {
        fprintf(stderr, "fmlab agent: %s\n", err);
        goto out;
    }
    argv_add(&b, "%s", CONTROL_PATH), argv_add(&b, "agent");
    argv_add(&b, "%s", config_get(&cfg, "VM_IP")), argv_add(&b, "%s", config_get(&cfg, "AGENT_PORT"));
    for (int i = 1; i < argc; i++)
        argv_add(&b, "%s", argv[i]);
    if (argv_shell_line("", b.v, line, sizeof(line)) < 0) {
        fprintf(stderr, "fmlab agent: the requests are too long\n");
        goto out;
    }
    host_ssh_argv(&cfg, lab_find_host("backup"), line, 600, &s);
    fflush(stdout);
    rc = proc_run(s.argv);
    host_ssh_free(&s);
    if (rc == 255 || rc < 0)
        fprintf(stderr, "fmlab agent: cannot reach backup over ssh (fmlab status)\n");
out:
    argv_free(b.v);
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
