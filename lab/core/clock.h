/*
 * clock.h: the clocks every part of the lab reads, in one place: CLOCK_MONOTONIC for
 * deadlines and durations, CLOCK_REALTIME to line up results taken by separate programs
 * (fmlab at L0, fmlab-control on backup).
 */
#ifndef FMLAB_CLOCK_H
#define FMLAB_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC. */
double mono_ms(void);
/* Seconds on CLOCK_MONOTONIC. */
double mono_s(void);
/* Milliseconds since the epoch (CLOCK_REALTIME). */
double epoch_ms(void);

#endif
