/* proc.h: run a program from an argv at L0 and wait for it (never through a shell). */
#ifndef FMLAB_PROC_H
#define FMLAB_PROC_H

/* Exit status of argv[0] (searched in PATH) run with argv, or -1 if it could not run or
 * died of a signal. Its output goes where ours goes. */
int proc_run(const char *const *argv);

#endif
