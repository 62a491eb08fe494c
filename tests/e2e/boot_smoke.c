/*
 * boot_smoke.c: boot the cached guest and host images at L0 under TCG and check them.
 *
 * guest: direct kernel boot, root prompt through libexpect, the agent's version line on
 *        the console, PONG from every redis instance on the VM address (one per vCPU,
 *        pinned, persistence and protected mode off), the agent answering on its port.
 * host:  qemu-system-x86_64 --version is the suite's QEMU 10, numactl -H works, and
 *        kvm_amd loads on the emulated SVM CPU so /dev/kvm exists.
 * Prints the time to PONG. Uses the framework in lab/ (vm, console, qmp).
 */
#include "config.h"
#include "e2e.h"
#include "../../image/agent/version.h"
#include "vm.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static struct config cfg;

static double elapsed_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Run cmd on the console; check exit status 0 and that the output contains want. */
static void check_cmd(struct vm *vm, const char *cmd, const char *want, char *out, size_t outlen)
{
    int status = -1;
    int rc = console_run(&vm->con, cmd, (int)config_get_uint(&cfg, "CMD_TIMEOUT"), out, outlen, &status);
    int ok = rc == CONSOLE_OK && status == 0 && (!want || strstr(out, want));
    e2e_check(ok, "[%s] %s%s%s", vm->name, cmd, want ? " -> " : "", want ? want : "");
    if (!ok)
        printf("# console: %s, status %d, output:\n%s\n", console_strerror(rc), status, out);
}

static void image_paths(const char *kind, char *dir, size_t len)
{
    snprintf(dir, len, "%s/images/%s", config_get(&cfg, "CACHE_DIR"), kind);
}

static int boot(struct vm *vm, struct vm_spec *spec, char *run_dir)
{
    char err[512];
    double secs;
    int n = vm_boot(vm, spec, (int)config_get_uint(&cfg, "BOOT_IDLE_TIMEOUT"), (int)config_get_uint(&cfg, "BOOT_TIMEOUT"),
                    (int)config_get_uint(&cfg, "BOOT_RETRIES"), &secs, err, sizeof(err));
    e2e_check(n >= 0, "[%s] boots to a root prompt (%d retries)", spec->name, n < 0 ? 0 : n);
    if (n < 0) {
        printf("# %s\n", err);
        vm_print_console_tail(run_dir, 20, stdout);
    }
    return n;
}

static void guest_smoke(const char *state)
{
    char dir[512], kernel[600], initrd[600], disk[600], append[1024], run[600], out[8192], cmd[1024];
    struct timespec t0;
    struct vm vm;
    unsigned vcpus = (unsigned)config_get_uint(&cfg, "GUEST_VCPUS");
    unsigned base = (unsigned)config_get_uint(&cfg, "REDIS_BASE_PORT");
    const char *vm_ip = config_get(&cfg, "VM_IP");

    if (vcpus < 2)
        vcpus = 2;   /* exercise one-instance-per-vCPU and pinning */
    image_paths("guest", dir, sizeof(dir));
    snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
    snprintf(initrd, sizeof(initrd), "%s/initrd.img", dir);
    snprintf(disk, sizeof(disk), "%s/disk.img", dir);
    snprintf(run, sizeof(run), "%s/guest", state);
    snprintf(append, sizeof(append),
             "console=ttyS0 root=LABEL=fmlab-guest rw net.ifnames=0 ip=%s::%s:255.255.255.0:fmlab-vm:eth0:off "
             "fmlab.redis_port=%u fmlab.agent_port=%s",
             vm_ip, config_get(&cfg, "SRC_IP"), base, config_get(&cfg, "AGENT_PORT"));
    /* restrict=on: the NIC has a link but reaches nothing outside the guest */
    const char *extra[] = { "-netdev", "user,id=n0,restrict=on", "-device",
                            "virtio-net-pci,netdev=n0", NULL };
    struct vm_spec spec = { .name = "guest", .accel = "tcg", .cpu = "max", .vcpus = vcpus,
                            .mem = config_get_size(&cfg, "GUEST_MEM"), .kernel = kernel,
                            .initrd = initrd, .append = append, .disk = disk, .snapshot = true,
                            .run_dir = run, .extra = extra };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (boot(&vm, &spec, run) < 0)
        return;
    check_cmd(&vm, "systemctl is-system-running --wait || true", NULL, out, sizeof(out));
    double pong_at = 0;
    for (unsigned i = 0; i < vcpus; i++) {
        snprintf(cmd, sizeof(cmd), "redis-cli -h %s -p %u ping", vm_ip, base + i);
        check_cmd(&vm, cmd, "PONG", out, sizeof(out));
        pong_at = elapsed_since(&t0);
        snprintf(cmd, sizeof(cmd), "taskset -pc $(systemctl show -P MainPID fmlab-redis@%u)", i);
        char want[32];
        snprintf(want, sizeof(want), "list: %u", i);
        check_cmd(&vm, cmd, want, out, sizeof(out));
        snprintf(cmd, sizeof(cmd), "for k in save appendonly protected-mode; do "
                 "printf '%%s=%%s;' $(redis-cli -p %u config get $k); done", base + i);
        check_cmd(&vm, cmd, "save=;appendonly=no;protected-mode=no;", out, sizeof(out));
    }
    printf("# boot to PONG on all %u redis ports: %.1f s\n", vcpus, pong_at);
    snprintf(cmd, sizeof(cmd), "journalctl -b -u fmlab-agent -o cat | grep 'fmlab-agent .* ready'");
    check_cmd(&vm, cmd, "fmlab-agent " AGENT_VERSION " ready", out, sizeof(out));
    snprintf(cmd, sizeof(cmd), "exec 3<>/dev/tcp/%s/%s; echo version >&3; head -n1 <&3; exec 3<&-",
             vm_ip, config_get(&cfg, "AGENT_PORT"));
    check_cmd(&vm, cmd, "fmlab-agent " AGENT_VERSION, out, sizeof(out));
    char err[256], sock[700];
    struct stat sb;
    snprintf(sock, sizeof(sock), "%s/qmp.sock", run);
    e2e_check(stat(sock, &sb) == 0 && (sb.st_mode & 0777) == 0600, "[guest] QMP socket is mode 0600");
    json_t *st = qmp_execute(&vm.qmp, "query-status", NULL, 5, err, sizeof(err));
    e2e_check(st && !strcmp(json_string_value(json_object_get(st, "status")), "running"),
              "[guest] QMP query-status says running");
    json_decref(st);
    vm_stop(&vm);
    snprintf(cmd, sizeof(cmd), "grep -a -q 'fmlab-agent " AGENT_VERSION " ready' %s/console.log", run);
    e2e_check(system(cmd) == 0, "[guest] agent version line is in the console log");
}

static void host_smoke(const char *state)
{
    char dir[512], kernel[600], initrd[600], disk[600], run[600], out[8192];
    struct vm vm;

    image_paths("host", dir, sizeof(dir));
    snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
    snprintf(initrd, sizeof(initrd), "%s/initrd.img", dir);
    snprintf(disk, sizeof(disk), "%s/disk.img", dir);
    snprintf(run, sizeof(run), "%s/host", state);
    struct vm_spec spec = { .name = "host", .accel = "tcg", .cpu = config_get(&cfg, "HOST_CPU"),
                            .vcpus = (unsigned)config_get_uint(&cfg, "HOST_VCPUS"),
                            .mem = config_get_size(&cfg, "HOST_MEM"), .kernel = kernel,
                            .initrd = initrd, .append = "console=ttyS0 root=LABEL=fmlab-host rw net.ifnames=0",
                            .disk = disk, .snapshot = true, .run_dir = run };
    if (boot(&vm, &spec, run) < 0)
        return;
    check_cmd(&vm, "qemu-system-x86_64 --version", "QEMU emulator version 10.0", out, sizeof(out));
    check_cmd(&vm, "numactl -H", "available: 1 nodes (0)", out, sizeof(out));
    check_cmd(&vm, "modprobe kvm_amd && test -c /dev/kvm && cat /sys/module/kvm_amd/parameters/nested",
              "1", out, sizeof(out));
    vm_stop(&vm);
}

int main(int argc, char **argv)
{
    char state[] = "/tmp/fmlab-smoke-XXXXXX";
    const char *which = argc > 1 ? argv[1] : "all";

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (config_load(&cfg, config_default_path(), environ)) {
        config_print_errors(&cfg, stderr);
        return 2;
    }
    if (!mkdtemp(state)) {
        perror("mkdtemp");
        return 2;
    }
    printf("# boot smoke: logs in %s\n", state);
    if (!strcmp(which, "all") || !strcmp(which, "guest"))
        guest_smoke(state);
    if (!strcmp(which, "all") || !strcmp(which, "host"))
        host_smoke(state);
    config_free(&cfg);
    printf("# %s: %d failure%s (logs in %s)\n", e2e_failures ? "FAIL" : "PASS", e2e_failures,
           e2e_failures == 1 ? "" : "s", state);
    return e2e_failures ? 1 : 0;
}
