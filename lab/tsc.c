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

/* A (TSC, ns) pair read as close together as the machine allows: the pair whose two
 * TSC reads bracket the clock read most tightly, of a few tries. */
static void tsc_pair(unsigned long long *tsc, double *ns)
{
    unsigned long long best_gap = ~0ull;
    for (int i = 0; i < 16; i++) {
        struct timespec t;
        unsigned long long a = __rdtsc();
        clock_gettime(CLOCK_MONOTONIC_RAW, &t);
        unsigned long long b = __rdtsc();
        if (b - a < best_gap) {
            best_gap = b - a;
            *tsc = a + (b - a) / 2;
            *ns = (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
        }
    }
}

/* TSC ticks per millisecond over one 100 ms window. */
static double tsc_khz_once(void)
{
    struct timespec pause = { .tv_nsec = 100 * 1000 * 1000 };
    unsigned long long c0, c1;
    double t0, t1;
    tsc_pair(&c0, &t0);
    nanosleep(&pause, NULL);
    tsc_pair(&c1, &t1);
    return t1 > t0 ? (double)(c1 - c0) * 1e6 / (t1 - t0) : 0;
}

unsigned long l0_tsc_khz(void)
{
    static unsigned long cached;
    if (cached)
        return cached;
    /* Three windows; keep the median so one preempted window does not count. */
    double a = tsc_khz_once(), b = tsc_khz_once(), c = tsc_khz_once();
    double median = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    cached = (unsigned long)(median + 0.5);
    return cached;
}
