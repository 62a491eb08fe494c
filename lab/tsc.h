/* tsc.h: L0's TSC rate, for the hosts' kernels (tsc_early_khz=). */
#ifndef FMLAB_TSC_H
#define FMLAB_TSC_H

/* L0's TSC frequency in kHz (measured once against CLOCK_MONOTONIC_RAW), 0 if unknown. */
unsigned long l0_tsc_khz(void);

#endif
