/*
 * fmlab-kvmcheck: does /dev/kvm in this host run guest code? (built into the host image)
 *
 * The lab's readiness check used to boot a whole Linux kernel under KVM inside each host,
 * which under TCG and nested paging costs tens of seconds per host. This does the part
 * that proves KVM works: it creates a VM with one vCPU, gives it one page of memory
 * holding four real-mode instructions (out 0x42 to port 0xf1, hlt), enters the guest
 * with KVM_RUN, and checks that KVM hands back exactly that port write and then the halt.
 * Under nested SVM that means a VMRUN in the host really ran the guest's instructions.
 * Prints one line; exit 0 on success, 1 with the failing step otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define PORT 0xf1
#define VALUE 0x42

static int fail(const char *step)
{
    printf("fmlab-kvmcheck: FAIL: %s: %s\n", step, strerror(errno));
    return 1;
}

int main(void)
{
    /* mov al, VALUE; out PORT, al; hlt */
    static const uint8_t code[] = { 0xb0, VALUE, 0xe6, PORT, 0xf4 };
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("open /dev/kvm");
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        return fail("KVM_GET_API_VERSION");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap guest memory");
    memcpy(mem, code, sizeof(code));
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = GUEST_ADDR, .memory_size = 4096, .userspace_addr = (uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0)
        return fail("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = GUEST_ADDR, .rflags = 0x2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS");
    int saw_out = 0;
    for (int exits = 0; exits < 16; exits++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0)
            return fail("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
            run->io.port == PORT && run->io.size == 1 &&
            *((uint8_t *)run + run->io.data_offset) == VALUE) {
            saw_out = 1;
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT && saw_out) {
            printf("fmlab-kvmcheck: ok: the guest wrote 0x%x to port 0x%x and halted\n", VALUE, PORT);
            return 0;
        }
        if (run->exit_reason != KVM_EXIT_INTR) {
            errno = 0;
            printf("fmlab-kvmcheck: FAIL: unexpected exit %u (port write seen: %s)\n", run->exit_reason,
                   saw_out ? "yes" : "no");
            return 1;
        }
    }
    printf("fmlab-kvmcheck: FAIL: the guest neither wrote nor halted in 16 exits\n");
    return 1;
}
