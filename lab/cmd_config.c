/*
 * cmd_config.c: `fmlab config check|show|get`.
 *
 * The only way the Makefile and scripts read config.txt: `fmlab config get KEY`
 * prints a validated value, so nothing re-parses the file in shell.
 */
#include "config.h"
#include "fmlab.h"
#include "values.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

void usage_config(void)
{
    printf("usage: fmlab config check          validate config.txt, print every error\n"
           "       fmlab config show           every key, its value and where it came from\n"
           "       fmlab config get KEY        print one value (--bytes: a size in bytes)\n");
}

static int config_show(const struct config *cfg)
{
    int n;
    const struct config_key *keys = config_schema(&n);

    for (int i = 0; i < n; i++) {
        const struct config_value *v = &cfg->values[i];
        char origin[64];
        if (v->origin == CO_FILE)
            snprintf(origin, sizeof(origin), "%s:%d", cfg->path, v->line);
        else if (v->origin == CO_ENV)
            snprintf(origin, sizeof(origin), "env FMLAB_%s", keys[i].name);
        else
            snprintf(origin, sizeof(origin), "default");
        const char *why = keys[i].lab_ignores;
        printf("%-22s %-28s %s%s%s%s\n", keys[i].name, v->value ? v->value : "(unset)", origin,
               why ? "  [not used by the lab: " : "", why ? why : "", why ? "]" : "");
    }
    return 0;
}

static int config_get_cmd(const struct config *cfg, int argc, char **argv)
{
    bool bytes = false;
    const char *key = NULL;

    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--bytes"))
            bytes = true;
        else
            key = argv[i];
    }
    if (!key) {
        fprintf(stderr, "fmlab config get: which KEY?\n");
        return 2;
    }
    int idx;
    const struct config_key *k = config_find_key(key, &idx);
    if (!k) {
        fprintf(stderr, "fmlab config get: unknown key '%s'\n", key);
        return 2;
    }
    if (bytes) {
        if (k->type != CT_SIZE) {
            fprintf(stderr, "fmlab config get: %s is not a size\n", key);
            return 2;
        }
        printf("%" PRIu64 "\n", config_get_size(cfg, key));
    } else {
        printf("%s\n", config_get(cfg, key));
    }
    return 0;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2) {
        usage_config();
        return 2;
    }
    struct config cfg;
    int errors = config_load(&cfg, config_default_path(), environ);
    int rc;

    if (errors) {
        config_print_errors(&cfg, stderr);
        if (!strcmp(argv[1], "check"))
            fprintf(stderr, "%d error%s in %s\n", errors, errors == 1 ? "" : "s", cfg.path);
        config_free(&cfg);
        return 1;
    }
    if (!strcmp(argv[1], "check")) {
        printf("%s: ok\n", cfg.path);
        rc = 0;
    } else if (!strcmp(argv[1], "show")) {
        rc = config_show(&cfg);
    } else if (!strcmp(argv[1], "get")) {
        rc = config_get_cmd(&cfg, argc, argv);
    } else {
        fprintf(stderr, "fmlab config: unknown action '%s' (check, show, get)\n", argv[1]);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
