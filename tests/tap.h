/* tap.h: one TAP line ("ok - ..." / "not ok - ..."), for every C test that speaks TAP
 * (tests/e2e, tests/migration). */
#ifndef FMLAB_TAP_H
#define FMLAB_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static inline bool tap_vline(bool ok, const char *fmt, va_list ap)
{
    printf("%s - ", ok ? "ok" : "not ok");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return ok;
}

#endif
