/*
 * argv.h: command lines as argument vectors. Every program the lab starts is given an
 * argv (never a shell line built from values); a command that must cross ssh to a host
 * is the same argv with each word quoted for the remote shell.
 */
#ifndef FMLAB_ARGV_H
#define FMLAB_ARGV_H

#include <stddef.h>

struct argv_builder {
    char **v;   /* NULL-terminated once a word is added */
    int n, cap;
};

/* Append one word, printf-style. */
void argv_add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free a built argv (NULL is fine). */
void argv_free(char **argv);
/* in as one word of a POSIX shell command line (ssh hands its arguments to the remote
 * shell joined by spaces): in single quotes, each ' as '\''. 0, or -1 if out is short
 * (never cut). */
int lab_shell_quote(const char *in, char *out, size_t len);
/* The words of argv, each quoted, separated by spaces, after prefix (may be ""); -1 if
 * out is too small. */
int argv_shell_line(const char *prefix, char *const *argv, char *out, size_t len);

#endif
