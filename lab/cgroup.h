/* cgroup.h: the lab's cgroup (v2): every L0 process the lab starts, killed as one by down. */
#ifndef FMLAB_CGROUP_H
#define FMLAB_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define LAB_CGROUP "fmlab"   /* under the cgroup2 mount: one lab per machine */

/* <cgroup2 mount>/fmlab. 0, or -1 when cgroup2 is not mounted. */
int lab_cgroup_dir(char *out, size_t len);
/* Move the calling process into the lab's cgroup (its children follow), creating it if
 * create. 0; 1 when it does not exist and !create; -1 with err. */
int lab_cgroup_join(bool create, char *err, size_t errlen);
/* Is pid a member of the lab's cgroup? */
bool lab_cgroup_holds(pid_t pid);
/* Kill every process left in the lab's cgroup (cgroup.kill; the caller first leaves it)
 * and remove it, waiting up to wait_ms. *killed: how many there were. 0, or -1. */
int lab_cgroup_kill(int wait_ms, int *killed);

#endif
