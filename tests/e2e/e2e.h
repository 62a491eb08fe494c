/* e2e.h: tiny helpers shared by the end-to-end cases (TAP-style "ok"/"not ok" lines). */
#ifndef FMLAB_E2E_H
#define FMLAB_E2E_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int e2e_failures;

static inline void e2e_check(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s - ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok)
        e2e_failures++;
}

#endif
