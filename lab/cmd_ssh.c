/*
 * cmd_ssh.c: `fmlab ssh HOST [COMMAND...]`: ssh into a host as root with the lab's key.
 *
 * The key pair is generated per lab by `fmlab up` in CACHE_DIR/keys (never in the
 * repository) and reaches the hosts through QEMU fw_cfg. Hosts make new SSH host keys at
 * every boot, so host key checking is off: the lab network is a private namespace.
 */
#include "fmlab.h"
#include "lab.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void usage_ssh(void)
{
    printf("usage: fmlab ssh HOST [COMMAND...]\n"
           "ssh as root to HOST (src, dst, backup) over the lab network, with the lab's key.\n");
}

int cmd_ssh(int argc, char **argv)
{
    struct config cfg;
    struct lab_ssh_paths paths;
    const char *args[64];
    char dest[64];
    const struct lab_host *h = argc > 1 ? lab_find_host(argv[1]) : NULL;

    if (!h) {
        fprintf(stderr, "fmlab ssh: which host? (src, dst, backup)\n");
        return 2;
    }
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 1;
    }
    int n = lab_ssh_prefix(&cfg, "ssh", &paths, args);
    snprintf(dest, sizeof(dest), "root@%s", config_get(&cfg, h->ip_key));
    config_free(&cfg);
    if (access(paths.key, R_OK) != 0) {
        fprintf(stderr, "fmlab ssh: no lab key at %s (fmlab up creates it)\n", paths.key);
        return 1;
    }
    if (argc - 2 > 62 - n) {
        fprintf(stderr, "fmlab ssh: too many arguments (at most %d)\n", 62 - n);
        return 2;
    }
    args[n++] = dest;
    for (int i = 2; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execvp("ip", (char *const *)args);
    perror("fmlab ssh: ip netns exec");
    return 1;
}
