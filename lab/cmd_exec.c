/*
 * cmd_exec.c: `fmlab exec HOST|vm [--timeout S] -- COMMAND...`: run a shell command in a
 * host over ssh (the host's control master, host.c: whole output, its exit status), or in
 * the guest on its serial console (framed, console.c), wherever it runs: the guest has no
 * route to the lab network, so the console is the control plane's only way in.
 */
#include "cgroup.h"
#include "console.h"
#include "proc.h"
#include "alloc.h"
#include "host.h"
#include "fmlab.h"
#include "guest.h"
#include "lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

void usage_exec(void)
{
    printf("usage: fmlab exec HOST [--timeout SECONDS] -- COMMAND...\n"
           "Runs COMMAND in a root shell on HOST (src, dst, backup, or vm: the guest, on\n"
           "whichever host runs it) through its console; prints its output and exits with\n"
           "its status.\n");
}

/* ssh streams the command's whole output here; its exit status is the command's. */
static int exec_on_host(const struct config *cfg, const struct lab_host *h, const char *cmd, int timeout)
{
    struct host_ssh s;
    char err[512];
    /* the host's ssh master, if this starts it, belongs to the lab: down ends it */
    if (lab_cgroup_join(false, err, sizeof(err)) < 0)
        fprintf(stderr, "fmlab exec: warning: %s\n", err);
    if (host_ssh_argv(cfg, h, cmd, timeout, &s) < 0) {
        fprintf(stderr, "fmlab exec: command too long\n");
        return 2;
    }
    fflush(stdout);
    int rc = proc_run(s.argv);
    host_ssh_free(&s);
    if (rc == 255 || rc < 0)
        fprintf(stderr, "fmlab exec: cannot reach %s over ssh (fmlab status)\n", h->name);
    else if (rc == 124)
        fprintf(stderr, "fmlab exec: %s: timed out after %d s\n", h->name, timeout);
    return rc < 0 ? 255 : rc;
}

int cmd_exec(int argc, char **argv)
{
    struct config cfg;
    char cmd[8192] = "", *out;
    int i = 1, timeout = 0, status = -1;

    if (argc < 3) {
        usage_exec();
        return 2;
    }
    const char *host = argv[i++];
    bool guest = strcmp(host, "vm") == 0;
    if (!guest && !lab_find_host(host)) {
        fprintf(stderr, "fmlab exec: unknown host '%s' (src, dst, backup, vm)\n", host);
        return 2;
    }
    for (; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atoi(argv[++i]);
    for (i++; i < argc; i++)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", cmd[0] ? " " : "", argv[i]);
    if (!cmd[0]) {
        fprintf(stderr, "fmlab exec: no command after --\n");
        return 2;
    }
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    if (!timeout)
        timeout = (int)config_get_uint(&cfg, "CMD_TIMEOUT");
    if (!guest) {
        int rc = exec_on_host(&cfg, lab_find_host(host), cmd, timeout);
        config_free(&cfg);
        return rc;
    }
    out = xmalloc(1 << 16);
    int rc = guest_run(&cfg, cmd, timeout, out, 1 << 16, &status);
    config_free(&cfg);
    if (rc != CONSOLE_OK) {
        if (rc == CONSOLE_EOF)
            fprintf(stderr, "fmlab exec: the guest is not running, or its console is busy (fmlab status)\n");
        else
            fprintf(stderr, "fmlab exec: vm: %s\n", console_strerror(rc));
        free(out);
        return 1;
    }
    /* the console turns \n into \r\n */
    for (char *p = out; *p; p++)
        if (*p != '\r')
            putchar(*p);
    if (out[0])
        putchar('\n');
    free(out);
    return status;
}
