/*
 * tsc.c: the L0 TSC frequency, measured here and handed to the hosts' kernels.
 *
 * Under TCG a host's TSC is L0's own TSC, but the host kernel calibrates it against
 * emulated timers (PIT, HPET) while three hosts boot on two cores, and the early
 * calibration is often 0.1% off (2297.645 MHz for a 2300.000 MHz TSC). KVM, built
 * into the fmsync kernel, takes that early value as its TSC rate before the kernel
 * refines it, so a host that calibrated badly disagrees with the others about the
 * guest's TSC rate: after a migration to it the guest's clock jumped by the host's
 * uptime and its timers stopped. Measuring the rate once on L0 and passing it as
 * tsc_early_khz gives every host the same, right value.
 */
#include "tsc.h"

#include <time.h>
#include <x86intrin.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One 50 ms window: TSC ticks per millisecond. */
static double tsc_khz_once(void)
{
    struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
    double t0 = now_ns();
    unsigned long long c0 = __rdtsc();
    nanosleep(&pause, NULL);
    unsigned long long c1 = __rdtsc();
    double t1 = now_ns();
    return t1 > t0 ? (double)(c1 - c0) * 1e6 / (t1 - t0) : 0;
}

unsigned long l0_tsc_khz(void)
{
    static unsigned long cached;
    if (cached)
        return cached;
    /* Three windows; keep the median so one preempted window does not count. */
    double a = tsc_khz_once(), b = tsc_khz_once(), c = tsc_khz_once();
    double best = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    cached = (unsigned long)(best + 0.5);
    return cached;
}
