/*
 * alloc.c: the one place that decides what happens when memory runs out (alloc.h):
 * a message naming the size, then abort().
 */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *or_die(void *p, size_t size)
{
    if (!p && size) {
        fprintf(stderr, "fmlab: out of memory (%zu bytes)\n", size);
        abort();
    }
    return p;
}

void *xmalloc(size_t size)
{
    return or_die(malloc(size ? size : 1), size ? size : 1);
}

void *xcalloc(size_t n, size_t size)
{
    return or_die(calloc(n ? n : 1, size ? size : 1), (n ? n : 1) * (size ? size : 1));
}

void *xrealloc(void *p, size_t size)
{
    return or_die(realloc(p, size ? size : 1), size ? size : 1);
}

char *xstrdup(const char *s)
{
    return or_die(strdup(s), strlen(s) + 1);
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        or_die(NULL, strlen(fmt) + 1);
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}
