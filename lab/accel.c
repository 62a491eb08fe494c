/*
 * accel.c: decide between hardware KVM and TCG by trying, not by guessing.
 *
 * Some machines expose a /dev/kvm that opens fine but cannot run a stock kernel (a
 * software hypervisor). The only honest test is to boot one: a stock kernel without a
 * root disk runs through early boot, the scheduler and device probing, and ends in the
 * "VFS: Unable to mount root fs" panic. Reaching that panic means the accelerator works.
 */
#include "accel.h"
#include "clock.h"
#include "vm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

bool accel_boots_kernel(const char *accel, const char *kernel, const char *run_dir,
                        int timeout_s, char *detail, size_t len)
{
    struct vm vm;
    char err[512];
    struct vm_spec spec = {
        .name = accel, .accel = accel, .cpu = "max", .vcpus = 1, .mem = 256ull << 20,
        .kernel = kernel, .append = "console=ttyS0 panic=-1", .run_dir = run_dir,
    };
    static const char *const outcomes[] = { "Kernel panic|Unable to mount root",
                                             "Linux version" };

    double t0 = mono_s();
    if (vm_start(&vm, &spec, err, sizeof(err)) != 0) {
        snprintf(detail, len, "QEMU -accel %s did not start: %s", accel, err);
        return false;
    }
    /* Wait for the panic a second at a time; in between, ask QEMU whether the guest
     * still runs (a broken accelerator stops it with status "internal-error"). */
    int rc = CONSOLE_TIMEOUT;
    char status[64] = "running";
    double secs = 0;
    while (rc == CONSOLE_TIMEOUT && secs < timeout_s && strcmp(status, "running") == 0) {
        rc = console_expect_any(&vm.con, outcomes, 1, 1);
        qmp_status(&vm.qmp, status, sizeof(status));
        secs = mono_s() - t0;
    }
    vm_stop(&vm);
    if (rc == 0) {
        snprintf(detail, len, "a stock kernel ran to its root-mount panic in %.1f s", secs);
        return true;
    }
    if (strcmp(status, "running") != 0)
        snprintf(detail, len, "QEMU stopped the guest with status '%s' after %.1f s", status, secs);
    else
        snprintf(detail, len, "no kernel output within %.1f s", secs);
    return false;
}
