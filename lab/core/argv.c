/*
 * argv.c: building argument vectors and quoting them for a remote shell (see argv.h).
 * Shared by fmlab (QEMU at L0, the guest's QEMU in src over ssh) and fmlab-control.
 */
#include "argv.h"
#include "alloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void argv_add(struct argv_builder *b, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = xrealloc(b->v, (size_t)b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = s;
    b->v[b->n] = NULL;
}

void argv_free(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}

int lab_shell_quote(const char *in, char *out, size_t len)
{
    size_t o = 0;
    if (len < 3)
        return -1;
    out[o++] = '\'';
    for (; *in; in++) {
        const char *piece = *in == '\'' ? "'\\''" : NULL;
        size_t n = piece ? 4 : 1;
        if (o + n + 2 > len)
            return -1;
        if (piece)
            memcpy(out + o, piece, n);
        else
            out[o] = *in;
        o += n;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return 0;
}

int argv_shell_line(const char *prefix, char *const *argv, char *out, size_t len)
{
    size_t used = strlen(prefix);
    if (used >= len)
        return -1;
    memcpy(out, prefix, used + 1);
    for (char *const *a = argv; *a; a++) {
        if (used + 2 > len)
            return -1;
        if (a != argv || used)
            out[used++] = ' ';
        if (lab_shell_quote(*a, out + used, len - used) < 0)
            return -1;
        used += strlen(out + used);
    }
    return 0;
}
