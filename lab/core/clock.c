/*
 * clock.c: monotonic and wall-clock time as numbers (see clock.h). Shared by fmlab and
 * fmlab-control.
 */
#include "clock.h"

#include <time.h>

static double ms_of(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

double mono_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

double mono_s(void)
{
    return mono_ms() / 1000.0;
}

double epoch_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}
