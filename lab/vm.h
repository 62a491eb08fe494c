/* vm.h: one QEMU process the lab starts at L0: command line, start, boot, stop. */
#ifndef FMLAB_VM_H
#define FMLAB_VM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "console.h"
#include "qmp.h"

struct vm_spec {
    const char *name;          /* "guest", "src", ... */
    const char *qemu;          /* NULL: qemu-system-x86_64 from PATH */
    const char *netns;         /* run QEMU inside this network namespace (NULL: here) */
    const char *machine;       /* -machine value; NULL: q35 */
    const char *accel;         /* "tcg" or "kvm" */
    const char *cpu;           /* -cpu model */
    unsigned vcpus;
    uint64_t mem;              /* bytes */
    const char *mem_extra;     /* appended to -m (",slots=1,maxmem=6G") */
    const char *kernel, *initrd, *append;
    const char *disk;          /* first virtio disk */
    const char *disk_format;   /* NULL: raw; "qcow2" for an overlay on an image */
    bool snapshot;             /* writes go to a temporary overlay */
    bool incoming;             /* -S -incoming defer: wait to be restored (snapshot.c) */
    const char *run_dir;       /* sockets, logs */
    const char *const *extra;  /* NULL-terminated extra QEMU arguments */
    const char *cpuset;        /* pin QEMU to these L0 CPUs ("0,1", "2-3"); NULL: no pinning */
};

struct vm {
    char name[32];
    pid_t pid;
    char run_dir[PATH_MAX];
    struct console con;
    struct qmp qmp;
    bool qmp_open;
};

/* The QEMU command line for spec (NULL-terminated; free with argv_free, argv.h). */
char **vm_build_argv(const struct vm_spec *s);
/* Paths of a VM's files in its run directory. */
void vm_path(const char *run_dir, const char *file, char *out, size_t outlen);

int vm_start(struct vm *vm, const struct vm_spec *s, char *err, size_t errlen);
/* Wait for the root prompt, printing "[name] kernel… userspace… ready (12.3 s)"; fails
 * after idle_s of console silence or at timeout_s (see console_wait_boot). */
int vm_wait_boot(struct vm *vm, int idle_s, int timeout_s, double *seconds, char *err, size_t errlen);
/* start + wait_boot, retrying a hung boot up to `retries` more times. */
int vm_boot(struct vm *vm, const struct vm_spec *s, int idle_s, int timeout_s, int retries,
            double *seconds, char *err, size_t errlen);
void vm_stop(struct vm *vm);
bool vm_running(struct vm *vm);
/* The last line QEMU wrote to run_dir/qemu.log (its stderr: why it exited), or "". */
void vm_last_log_line(const char *run_dir, char *out, size_t len);
/* Print the last n lines of the console log (for "which step failed and why"). */
void vm_print_console_tail(const char *run_dir, int n, FILE *out);

#endif
