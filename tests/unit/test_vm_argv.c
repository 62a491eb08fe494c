/* test_vm_argv.c: the L0 QEMU command line that lab/vm.c builds from a vm_spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vm.h"
#include "argv.h"

/* Index of the first argument equal to s, or -1. */
static int find(char **argv, const char *s)
{
    for (int i = 0; argv[i]; i++)
        if (strcmp(argv[i], s) == 0)
            return i;
    return -1;
}

/* The value that follows option opt. */
static const char *value_of(char **argv, const char *opt)
{
    int i = find(argv, opt);
    return i >= 0 ? argv[i + 1] : NULL;
}

static void tcg_guest_command_line(void **state)
{
    (void)state;
    const char *extra[] = { "-device", "virtio-net-pci,netdev=n0", NULL };
    struct vm_spec s = { .name = "guest", .accel = "tcg", .cpu = "max", .vcpus = 2,
                         .mem = 512ull << 20, .kernel = "/k", .initrd = "/i", .append = "console=ttyS0",
                         .disk = "/d.img", .snapshot = true, .run_dir = "/run/x", .extra = extra };
    char **argv = vm_build_argv(&s);

    assert_string_equal(argv[0], "qemu-system-x86_64");
    assert_string_equal(value_of(argv, "-accel"), "tcg,thread=multi");
    assert_string_equal(value_of(argv, "-machine"), "q35");
    assert_string_equal(value_of(argv, "-smp"), "2");
    assert_string_equal(value_of(argv, "-m"), "512M");
    assert_string_equal(value_of(argv, "-initrd"), "/i");
    assert_string_equal(value_of(argv, "-drive"), "file=/d.img,if=virtio,format=raw,snapshot=on");
    assert_string_equal(value_of(argv, "-chardev"),
        "socket,id=console0,path=/run/x/console.sock,server=on,wait=off,logfile=/run/x/console.log,logappend=on");
    assert_string_equal(value_of(argv, "-serial"), "chardev:console0");
    assert_string_equal(value_of(argv, "-qmp"), "unix:/run/x/qmp.sock,server=on,wait=off");
    assert_string_equal(value_of(argv, "-pidfile"), "/run/x/qemu.pid");
    assert_true(find(argv, "-no-reboot") > 0);
    assert_true(find(argv, "-nodefaults") > 0);
    /* extra arguments come last, in order */
    int n = 0;
    while (argv[n])
        n++;
    assert_string_equal(argv[n - 2], "-device");
    assert_string_equal(argv[n - 1], "virtio-net-pci,netdev=n0");
    argv_free(argv);
}

static void host_in_netns_without_initrd(void **state)
{
    (void)state;
    struct vm_spec s = { .name = "src", .netns = "fmlab", .machine = "q35,nvdimm=on,hmat=on",
                         .accel = "kvm", .cpu = "qemu64,+svm", .vcpus = 1, .mem = 4ull << 30,
                         .mem_extra = ",slots=1,maxmem=6G", .kernel = "/k", .append = "x",
                         .run_dir = "/s" };
    char **argv = vm_build_argv(&s);

    assert_string_equal(argv[0], "ip");
    assert_string_equal(argv[1], "netns");
    assert_string_equal(argv[2], "exec");
    assert_string_equal(argv[3], "fmlab");
    assert_string_equal(argv[4], "qemu-system-x86_64");
    assert_string_equal(value_of(argv, "-machine"), "q35,nvdimm=on,hmat=on");
    assert_string_equal(value_of(argv, "-accel"), "kvm");
    assert_string_equal(value_of(argv, "-m"), "4096M,slots=1,maxmem=6G");
    assert_int_equal(find(argv, "-initrd"), -1);
    assert_int_equal(find(argv, "-drive"), -1);
    argv_free(argv);
}

/* A host restored from a snapshot: the same command line, its disk a qcow2 overlay,
 * and -S -incoming defer at the end (nothing runs before its state is loaded). */
static void restored_host_waits_for_its_state(void **state)
{
    (void)state;
    struct vm_spec s = { .name = "src", .accel = "tcg", .cpu = "qemu64,+svm", .vcpus = 1, .mem = 1ull << 30,
                         .kernel = "/k", .append = "x", .disk = "/s/disk.qcow2", .disk_format = "qcow2",
                         .incoming = true, .run_dir = "/s" };
    char **argv = vm_build_argv(&s);
    int n = 0;
    while (argv[n])
        n++;
    assert_string_equal(value_of(argv, "-drive"), "file=/s/disk.qcow2,if=virtio,format=qcow2");
    assert_string_equal(argv[n - 3], "-S");
    assert_string_equal(argv[n - 2], "-incoming");
    assert_string_equal(argv[n - 1], "defer");
    s.incoming = false;
    argv_free(argv);
    argv = vm_build_argv(&s);
    assert_int_equal(find(argv, "-incoming"), -1);
    assert_int_equal(find(argv, "-S"), -1);
    argv_free(argv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcg_guest_command_line),
        cmocka_unit_test(host_in_netns_without_initrd),
        cmocka_unit_test(restored_host_waits_for_its_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
