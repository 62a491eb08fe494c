/* accel.h: which accelerator can run the lab's hosts here (hardware KVM or TCG). */
#ifndef FMLAB_ACCEL_H
#define FMLAB_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

/* Boot a stock kernel (no disk) under accel ("kvm" or "tcg") until it panics for want of
 * a root filesystem: proof the accelerator runs a real kernel. Returns true if it did;
 * detail says what happened ("kernel ran to its root-mount panic in 1.2 s", ...). */
bool accel_boots_kernel(const char *accel, const char *kernel, const char *run_dir,
                        int timeout_s, char *detail, size_t len);

#endif
