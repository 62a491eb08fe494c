/* e2e.h: tiny helpers shared by the end-to-end cases (TAP-style "ok"/"not ok" lines). */
#ifndef FMLAB_E2E_H
#define FMLAB_E2E_H

#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int e2e_failures;

static inline void e2e_check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!tap_vline(ok, fmt, ap))
        e2e_failures++;
    va_end(ap);
}

#endif
