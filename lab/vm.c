/*
 * vm.c: the QEMU processes of the lab at L0.
 *
 * Owns the command line every L0 QEMU gets (direct kernel boot, virtio disk, serial on
 * a socket chardev with a logfile, a QMP socket, no reboot on crash), starting it in its
 * own session with private sockets (umask 077), waiting for its boot with a timeout and
 * progress lines, retrying hung boots, and stopping it (QMP quit, then signals).
 */
#include "vm.h"
#include "argv.h"
#include "alloc.h"
#include "values.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void vm_path(const char *run_dir, const char *file, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", run_dir, file);
}

char **vm_build_argv(const struct vm_spec *s)
{
    struct argv_builder b = { 0 };
    char p[PATH_MAX];

    if (s->netns)
        argv_add(&b, "ip"), argv_add(&b, "netns"), argv_add(&b, "exec"), argv_add(&b, "%s", s->netns);
    argv_add(&b, "%s", s->qemu ? s->qemu : "qemu-system-x86_64");
    argv_add(&b, "-name"), argv_add(&b, "%s", s->name);
    argv_add(&b, "-machine"), argv_add(&b, "%s", s->machine ? s->machine : "q35");
    argv_add(&b, "-accel"), argv_add(&b, strcmp(s->accel, "tcg") == 0 ? "tcg,thread=multi" : "%s", s->accel);
    argv_add(&b, "-cpu"), argv_add(&b, "%s", s->cpu);
    argv_add(&b, "-smp"), argv_add(&b, "%u", s->vcpus);
    argv_add(&b, "-m"), argv_add(&b, "%luM%s", (unsigned long)(s->mem >> 20), s->mem_extra ? s->mem_extra : "");
    argv_add(&b, "-nodefaults"), argv_add(&b, "-no-user-config"), argv_add(&b, "-no-reboot");
    argv_add(&b, "-display"), argv_add(&b, "none");
    argv_add(&b, "-kernel"), argv_add(&b, "%s", s->kernel);
    if (s->initrd)
        argv_add(&b, "-initrd"), argv_add(&b, "%s", s->initrd);
    argv_add(&b, "-append"), argv_add(&b, "%s", s->append);
    if (s->disk)
        argv_add(&b, "-drive"), argv_add(&b, "file=%s,if=virtio,format=%s%s", s->disk,
                               s->disk_format ? s->disk_format : "raw", s->snapshot ? ",snapshot=on" : "");
    vm_path(s->run_dir, "console.sock", p, sizeof(p));
    argv_add(&b, "-chardev");
    argv_add(&b, "socket,id=console0,path=%s,server=on,wait=off,logfile=%s/console.log,logappend=on",
        p, s->run_dir);
    argv_add(&b, "-serial"), argv_add(&b, "chardev:console0");
    vm_path(s->run_dir, "qmp.sock", p, sizeof(p));
    argv_add(&b, "-qmp"), argv_add(&b, "unix:%s,server=on,wait=off", p);
    vm_path(s->run_dir, "qemu.pid", p, sizeof(p));
    argv_add(&b, "-pidfile"), argv_add(&b, "%s", p);
    for (const char *const *e = s->extra; e && *e; e++)
        argv_add(&b, "%s", *e);
    if (s->incoming)
        argv_add(&b, "-S"), argv_add(&b, "-incoming"), argv_add(&b, "defer");
    return b.v;
}

/* CPUs of cpulist that this machine has; warns about the others. false if none. */
static bool usable_cpus(const char *name, const char *cpulist, cpu_set_t *set)
{
    uint8_t mask[CPULIST_MAX / 8];
    cpu_set_t online;
    char missing[256] = "";

    CPU_ZERO(set);
    if (!parse_cpulist(cpulist, mask) || sched_getaffinity(0, sizeof(online), &online) != 0)
        return false;
    for (int c = 0; c < CPULIST_MAX && c < CPU_SETSIZE; c++) {
        if (!(mask[c / 8] & (1u << (c % 8))))
            continue;
        if (CPU_ISSET(c, &online))
            CPU_SET(c, set);
        else
            snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %d", c);
    }
    if (missing[0])
        printf("[%s] warning: CPU set %s: this machine has no CPU%s; %s\n", name, cpulist, missing,
               CPU_COUNT(set) ? "pinning to the others" : "not pinned");
    return CPU_COUNT(set) > 0;
}

static pid_t spawn(char **argv, const char *log_path, const cpu_set_t *cpus)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (cpus)
        sched_setaffinity(0, sizeof(*cpus), cpus);   /* QEMU's threads inherit it */
    setsid();
    umask(077);   /* QMP and console sockets: owner only */
    int null = open("/dev/null", O_RDONLY);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null >= 0)
        dup2(null, 0);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    execvp(argv[0], argv);
    dprintf(2, "fmlab: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

void vm_last_log_line(const char *run_dir, char *out, size_t len)
{
    char p[PATH_MAX];
    out[0] = '\0';
    vm_path(run_dir, "qemu.log", p, sizeof(p));
    FILE *log = fopen(p, "r");
    while (log && fgets(out, (int)len, log))
        ;
    if (log)
        fclose(log);
    out[strcspn(out, "\n")] = '\0';
}

int vm_start(struct vm *vm, const struct vm_spec *s, char *err, size_t errlen)
{
    char p[PATH_MAX];

    memset(vm, 0, sizeof(*vm));
    vm->con.fd = -1;
    vm->qmp.fd = -1;
    snprintf(vm->name, sizeof(vm->name), "%s", s->name);
    snprintf(vm->run_dir, sizeof(vm->run_dir), "%s", s->run_dir);
    if (mkdir(s->run_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "[%s] cannot create %s: %s", s->name, s->run_dir, strerror(errno));
        return -1;
    }
    const char *must_exist[] = { s->kernel, s->initrd, s->disk };
    for (size_t i = 0; i < 3; i++) {
        if (must_exist[i] && access(must_exist[i], R_OK) != 0) {
            snprintf(err, errlen, "[%s] missing %s", s->name, must_exist[i]);
            return -1;
        }
    }
    vm_path(s->run_dir, "console.sock", p, sizeof(p));
    unlink(p);
    vm_path(s->run_dir, "qmp.sock", p, sizeof(p));
    unlink(p);
    char **argv = vm_build_argv(s);
    vm_path(s->run_dir, "qemu.log", p, sizeof(p));
    cpu_set_t cpus;
    bool pin = s->cpuset && usable_cpus(s->name, s->cpuset, &cpus);
    vm->pid = spawn(argv, p, pin ? &cpus : NULL);
    argv_free(argv);
    if (vm->pid < 0) {
        snprintf(err, errlen, "[%s] fork: %s", s->name, strerror(errno));
        return -1;
    }
    vm_path(s->run_dir, "console.sock", p, sizeof(p));
    /* a QEMU that cannot start exits at once: do not wait 20 s for its socket */
    for (int i = 0; i < 200 && access(p, F_OK) != 0 && vm_running(vm); i++)
        usleep(100 * 1000);
    if (!vm_running(vm) || console_open(&vm->con, s->name, p, 20) != CONSOLE_OK || !vm_running(vm)) {
        char last[512];
        vm_last_log_line(s->run_dir, last, sizeof(last));
        vm_path(s->run_dir, "qemu.log", p, sizeof(p));
        snprintf(err, errlen, "[%s] QEMU did not start: %.300s (log: %s)", s->name, last, p);
        vm_stop(vm);
        return -1;
    }
    vm_path(s->run_dir, "qmp.sock", p, sizeof(p));
    if (qmp_open(&vm->qmp, p, 20, err, errlen) == 0)
        vm->qmp_open = true;
    /* owner read/write only: whoever can connect controls the VM */
    chmod(p, 0600);
    vm_path(s->run_dir, "console.sock", p, sizeof(p));
    chmod(p, 0600);
    return 0;
}

bool vm_running(struct vm *vm)
{
    if (vm->pid <= 0)
        return false;
    if (waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
        vm->pid = 0;
        return false;
    }
    return true;
}

int vm_wait_boot(struct vm *vm, int idle_s, int timeout_s, double *seconds, char *err, size_t errlen)
{
    char why[512];
    if (console_wait_boot(&vm->con, idle_s, timeout_s, seconds, why, sizeof(why)) != CONSOLE_OK) {
        snprintf(err, errlen, "%s (console log: %s/console.log)", why, vm->run_dir);
        return -1;
    }
    return 0;
}

int vm_boot(struct vm *vm, const struct vm_spec *s, int idle_s, int timeout_s, int retries,
            double *seconds, char *err, size_t errlen)
{
    for (int attempt = 0; attempt <= retries; attempt++) {
        if (attempt)
            printf("[%s] retry %d of %d: %s\n", s->name, attempt, retries, err);
        if (vm_start(vm, s, err, errlen) == 0 &&
            vm_wait_boot(vm, idle_s, timeout_s, seconds, err, errlen) == 0)
            return attempt;
        vm_stop(vm);
    }
    return -1;
}

static bool wait_exit(struct vm *vm, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (!vm_running(vm))
            return true;
        usleep(50 * 1000);
    }
    return false;
}

void vm_stop(struct vm *vm)
{
    char err[256];

    if (vm->qmp_open) {
        json_decref(qmp_execute(&vm->qmp, "quit", NULL, 5, err, sizeof(err)));
        qmp_close(&vm->qmp);
        vm->qmp_open = false;
    }
    console_close(&vm->con);
    if (vm->pid > 0 && !wait_exit(vm, 10000)) {
        kill(vm->pid, SIGTERM);
        if (!wait_exit(vm, 5000)) {
            kill(vm->pid, SIGKILL);
            wait_exit(vm, 5000);
        }
    }
    vm->pid = 0;
}

void vm_print_console_tail(const char *run_dir, int n, FILE *out)
{
    char p[PATH_MAX], buf[65536];
    vm_path(run_dir, "console.log", p, sizeof(p));
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || n <= 0) {
        fprintf(out, "(no console log at %s)\n", p);
        if (fd >= 0)
            close(fd);
        return;
    }
    /* the last n lines of at most the file's last 64 KiB */
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
    ssize_t got = pread(fd, buf, sizeof(buf) - 1, from);
    close(fd);
    if (got < 0)
        got = 0;
    buf[got] = '\0';
    const char *start = buf + got;
    int lines = 0;
    if (start > buf && start[-1] == '\n')
        start--;
    while (start > buf && lines < n)
        if (*--start == '\n' && ++lines == n)
            start++;
    fputs(start, out);
    if (got && buf[got - 1] != '\n')
        fputc('\n', out);
}
