/* test_lab_cmdline.c: what the lab tells hosts and the guest (kernel command line, QEMU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "guest.h"
#include "host.h"

static struct config cfg;

static int setup(void **state)
{
    (void)state;
    static const char *text =
        "SHARED_STORAGE=/srv\nKERNEL_VER=auto\nNIC_NAME=eth0\nSRC_IP=10.10.1.1\nDST_IP=10.10.1.2\n"
        "BACKUP_IP=10.10.1.3\nVM_IP=10.10.1.100\nMIGRATION_PORT=4444\nSRC_CONTROL_PORT=55555\n"
        "DST_CONTROL_PORT=56666\nBACKUP_CONTROL_PORT=57777\nSRC_NUMA=0\nDST_NUMA=0\nCXL_NUMA=1\n"
        "SRC_CPUSET=0\nDST_CPUSET=1\nNIC_INTERRUPT_CORE=0\nVHOST_CORE=0\nMIGRATION_CORE=0\n"
        "META_STATE_LENGTH=1048576\nHOT_PAGE_STATE_LENGTH=9437184\nGUEST_VCPUS=2\nLAB_NET_PREFIX=16\n";
    return config_parse(&cfg, "t.txt", text, NULL);
}

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

static void host_kernel_command_line(void **state)
{
    (void)state;
    char out[2048];
    host_append(&cfg, lab_find_host("dst"), out, sizeof(out));
    assert_non_null(strstr(out, "root=/dev/vda rw "));   /* HOST_KERNEL=fmsync: no initrd */
    assert_non_null(strstr(out, "systemd.hostname=dst "));
    assert_non_null(strstr(out, "fmlab.net=10.10.1.2/16 "));
    assert_non_null(strstr(out, "fmlab.vmnet=bridge "));   /* dst: the guest's network in its own netns */
    host_append(&cfg, lab_find_host("backup"), out, sizeof(out));
    assert_non_null(strstr(out, "fmlab.vmnet=route:10.10.1.100 "));   /* backup: a route to the guest */
    host_append(&cfg, lab_find_host("dst"), out, sizeof(out));
    assert_non_null(strstr(out, "fmlab.hosts=src=10.10.1.1,dst=10.10.1.2,backup=10.10.1.3,vm=10.10.1.100,l0=10.10.1.254"));
    assert_null(strstr(out, " ip="));   /* the initramfs would wait for br0 */
}

static void host_kernel_command_line_debian(void **state)
{
    (void)state;
    struct config debian;
    char out[2048], *env[] = { "FMLAB_HOST_KERNEL=debian", NULL };
    const char *text = "SHARED_STORAGE=/srv\nKERNEL_VER=auto\nNIC_NAME=eth0\nSRC_IP=10.10.1.1\n"
        "DST_IP=10.10.1.2\nBACKUP_IP=10.10.1.3\nVM_IP=10.10.1.100\nMIGRATION_PORT=4444\n"
        "SRC_CONTROL_PORT=55555\nDST_CONTROL_PORT=56666\nBACKUP_CONTROL_PORT=57777\nSRC_NUMA=0\n"
        "DST_NUMA=0\nCXL_NUMA=1\nSRC_CPUSET=0\nDST_CPUSET=1\nNIC_INTERRUPT_CORE=0\nVHOST_CORE=0\n"
        "MIGRATION_CORE=0\nMETA_STATE_LENGTH=1048576\nHOT_PAGE_STATE_LENGTH=9437184\n";
    assert_int_equal(config_parse(&debian, "t.txt", text, env), 0);
    host_append(&debian, lab_find_host("src"), out, sizeof(out));
    assert_non_null(strstr(out, "root=LABEL=fmlab-host rw "));   /* the initrd finds it */
    config_free(&debian);
}

static void guest_qemu_command(void **state)
{
    (void)state;
    char out[4096];
    guest_command(&cfg, "10.10.1.1", false, out, sizeof(out));
    assert_non_null(strstr(out, "-accel kvm "));
    assert_non_null(strstr(out, "-smp 2 -m 512M "));
    assert_non_null(strstr(out, "ip=10.10.1.100:::255.255.0.0:fmlab-vm:eth0:off fmlab.redis_port=12345 fmlab.memcached_port=11211 fmlab.agent_port=7777'"));
    assert_non_null(strstr(out, "file=/dev/disk/by-id/virtio-fmlab-guest,if=none,id=disk0,format=raw,cache=none,file.locking=off"));
    assert_non_null(strstr(out, "-qmp tcp:10.10.1.1:4445,server=on,wait=off"));
    assert_non_null(strstr(out, "host=10.10.1.1,port=4446,server=on,wait=off"));
    /* the guest's tap is made inside the host's netns vmnet: the guest never shares a
     * network with its host's QMP and console sockets */
    assert_non_null(strstr(out, "-netdev bridge,id=n0,br=br0,helper=/usr/local/sbin/fmlab-vmnet-helper "));
    /* GUEST_KERNEL=lab (default): the lab's bzImage, root by device, no initrd */
    assert_non_null(strstr(out, "-kernel /mnt/fmlab-guest/bzImage -append 'console=ttyS0 root=/dev/vda rw "));
    assert_null(strstr(out, "-initrd"));
}

static void guest_qemu_command_debian_kernel(void **state)
{
    (void)state;
    struct config debian;
    char out[4096], *env[] = { "FMLAB_GUEST_KERNEL=debian", NULL };
    const char *text = "SHARED_STORAGE=/srv\nKERNEL_VER=auto\nNIC_NAME=eth0\nSRC_IP=10.10.1.1\n"
        "DST_IP=10.10.1.2\nBACKUP_IP=10.10.1.3\nVM_IP=10.10.1.100\nMIGRATION_PORT=4444\n"
        "SRC_CONTROL_PORT=55555\nDST_CONTROL_PORT=56666\nBACKUP_CONTROL_PORT=57777\nSRC_NUMA=0\n"
        "DST_NUMA=0\nCXL_NUMA=1\nSRC_CPUSET=0\nDST_CPUSET=1\nNIC_INTERRUPT_CORE=0\nVHOST_CORE=0\n"
        "MIGRATION_CORE=0\nMETA_STATE_LENGTH=1048576\nHOT_PAGE_STATE_LENGTH=9437184\n";
    assert_int_equal(config_parse(&debian, "t.txt", text, env), 0);
    guest_command(&debian, "10.10.1.2", true, out, sizeof(out));
    assert_non_null(strstr(out, "-kernel /mnt/fmlab-guest/vmlinuz -initrd /mnt/fmlab-guest/initrd.img "
                                "-append 'console=ttyS0 root=LABEL=fmlab-guest rw "));
    assert_non_null(strstr(out, " -incoming defer"));
    config_free(&debian);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_kernel_command_line),
        cmocka_unit_test(host_kernel_command_line_debian),
        cmocka_unit_test(guest_qemu_command),
        cmocka_unit_test(guest_qemu_command_debian_kernel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
