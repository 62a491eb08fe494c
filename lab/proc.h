/* proc.h: run a program from an argv at L0 and wait for it (never through a shell). */
#ifndef FMLAB_PROC_H
#define FMLAB_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* Exit status of argv[0] (searched in PATH) run with argv, or -1 if it could not run or
 * died of a signal. Its output goes where ours goes. */
int proc_run(const char *const *argv);
/* The same with its stdout read into out (at most len - 1 bytes, NUL terminated; the rest
 * is drained), stderr discarded. Exit status, or -1. */
int proc_capture(const char *const *argv, char *out, size_t len);
/* The same with stdout and stderr both read into out, in a process group of its own that
 * is SIGKILLed after timeout_s (then *timed_out and -1). Exit status, or -1. */
int proc_capture_all(const char *const *argv, char *out, size_t len, int timeout_s, bool *timed_out);
/* Whether a program of this name is in PATH (what `command -v` would find). */
bool proc_in_path(const char *name);

#endif
