/*
 * cmd_exec.c: `fmlab exec HOST|vm [--timeout S] -- COMMAND...`: run a shell command on a
 * host's serial console (or the guest's, wherever it runs) and return its output and exit
 * status, as a script would over ssh. Uses the same framed console protocol as the runner
 * (console.c).
 */
#include "console.h"
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
    out = xmalloc(1 << 16);
    int rc = guest ? guest_run(&cfg, cmd, timeout, out, 1 << 16, &status)
                   : host_run(&cfg, host, cmd, timeout, out, 1 << 16, &status);
    config_free(&cfg);
    if (rc != CONSOLE_OK) {
        if (rc == CONSOLE_EOF)
            fprintf(stderr, "fmlab exec: %s is not up, or its console is busy (fmlab status)\n",
                    guest ? "the guest" : host);
        else
            fprintf(stderr, "fmlab exec: %s: %s\n", host, console_strerror(rc));
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
