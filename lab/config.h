/* config.h: the one config.txt parser every part of fmlab (and Make) goes through. */
#ifndef FMLAB_CONFIG_H
#define FMLAB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum config_type {
    CT_STRING, CT_PATH, CT_IPV4, CT_PORT, CT_CPULIST, CT_SIZE, CT_UINT, CT_ENUM,
};

struct config_key {
    const char *name;
    enum config_type type;
    const char *default_value;   /* NULL: required in the file */
    const char *choices;         /* CT_ENUM: "a|b|c" */
    const char *lab_ignores;     /* the study's key the lab validates but does not use: why */
};

enum config_origin { CO_DEFAULT, CO_FILE, CO_ENV };

struct config_value {
    char *value;                 /* NULL when unset */
    enum config_origin origin;
    int line;                    /* CO_FILE: line in the file */
};

struct config {
    char *path;
    struct config_value *values; /* indexed like config_schema() */
    char **errors;               /* every problem found, one line each */
    int n_errors;
};

const struct config_key *config_schema(int *count);
const struct config_key *config_find_key(const char *name, int *index);

/* Parse text (as read from path) and apply FMLAB_<KEY> overrides from envp (may be NULL).
 * Always fills cfg; returns the number of errors (messages in cfg->errors). */
int config_parse(struct config *cfg, const char *path, const char *text, char *const *envp);
/* Read the file and parse it; a missing file is one error. */
int config_load(struct config *cfg, const char *path, char *const *envp);
void config_free(struct config *cfg);

const char *config_get(const struct config *cfg, const char *key);
uint64_t config_get_size(const struct config *cfg, const char *key);
uint64_t config_get_uint(const struct config *cfg, const char *key);
void config_print_errors(const struct config *cfg, FILE *out);

/* The config file fmlab uses: $FMLAB_CONFIG, else ./config.txt. */
const char *config_default_path(void);

#endif
