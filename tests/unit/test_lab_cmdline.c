/* test_lab_cmdline.c: what the lab tells hosts and the guest (kernel command line, QEMU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "guest.h"
#include "argv.h"
#include "host.h"

static struct config cfg;

/* The study's required keys, valid */
#define REQUIRED_KEYS                                                                               \
    "SHARED_STORAGE=/srv\nKERNEL_VER=auto\nNIC_NAME=eth0\nSRC_IP=10.10.1.1\nDST_IP=10.10.1.2\n"    \
    "BACKUP_IP=10.10.1.3\nVM_IP=10.10.1.100\nMIGRATION_PORT=4444\nSRC_CONTROL_PORT=55555\n"         \
    "DST_CONTROL_PORT=56666\nBACKUP_CONTROL_PORT=57777\nSRC_NUMA=0\nDST_NUMA=0\nCXL_NUMA=1\n"       \
    "SRC_CPUSET=0\nDST_CPUSET=1\nNIC_INTERRUPT_CORE=0\nVHOST_CORE=0\nMIGRATION_CORE=0\n"            \
    "META_STATE_LENGTH=1048576\nHOT_PAGE_STATE_LENGTH=9437184\n"

static int setup(void **state)
{
    (void)state;
    return config_parse(&cfg, "t.txt", REQUIRED_KEYS "GUEST_VCPUS=2\nLAB_NET_PREFIX=16\n", NULL);
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
    const char *text = REQUIRED_KEYS;
    assert_int_equal(config_parse(&debian, "t.txt", text, env), 0);
    host_append(&debian, lab_find_host("src"), out, sizeof(out));
    assert_non_null(strstr(out, "root=LABEL=fmlab-host rw "));   /* the initrd finds it */
    config_free(&debian);
}

/* The word after flag in argv, or NULL. */
static const char *after(char **argv, const char *flag)
{
    for (char **a = argv; *a; a++)
        if (strcmp(*a, flag) == 0)
            return a[1];
    return NULL;
}

static void guest_qemu_command(void **state)
{
    (void)state;
    char **argv = guest_argv(&cfg, "10.10.1.1", false);
    assert_string_equal(argv[0], "qemu-system-x86_64");
    assert_string_equal(after(argv, "-accel"), "kvm");
    assert_string_equal(after(argv, "-smp"), "2");
    assert_string_equal(after(argv, "-m"), "512M");
    /* GUEST_KERNEL=lab (default): the lab's bzImage, root by device, no initrd */
    assert_string_equal(after(argv, "-kernel"), "/mnt/fmlab-guest/bzImage");
    assert_null(after(argv, "-initrd"));
    assert_string_equal(after(argv, "-append"),
                        "console=ttyS0 root=/dev/vda rw init=/usr/local/sbin/fmlab-init net.ifnames=0 "
                        "ip=10.10.1.100:::255.255.0.0:fmlab-vm:eth0:off fmlab.redis_port=12345 "
                        "fmlab.memcached_port=11211 fmlab.agent_port=7777");
    assert_string_equal(after(argv, "-drive"),
                        "file=/dev/disk/by-id/virtio-fmlab-guest,if=none,id=disk0,format=raw,cache=none,file.locking=off");
    assert_string_equal(after(argv, "-qmp"), "tcp:10.10.1.1:4445,server=on,wait=off");
    assert_non_null(strstr(after(argv, "-chardev"), "host=10.10.1.1,port=4446,server=on,wait=off"));
    /* the guest's tap is made inside the host's netns vmnet: the guest never shares a
     * network with its host's QMP and console sockets */
    assert_string_equal(after(argv, "-netdev"), "tap,id=n0,br=br0,helper=/usr/local/sbin/fmlab-vmnet-helper,vhost=off");
    assert_null(after(argv, "-incoming"));
    argv_free(argv);
}

/* NET_MODE=ovs: src and dst set up Open vSwitch's br0 (fmlab.vmnet=ovs), backup keeps its
 * route, and the guest's tap is one QEMU makes and fmlab-ovs-ifup moves into vmnet. */
static void net_mode_ovs(void **state)
{
    (void)state;
    struct config ovs;
    char out[2048], *env[] = { "FMLAB_NET_MODE=ovs", "FMLAB_NET_VHOST=on", NULL };
    assert_int_equal(config_parse(&ovs, "t.txt", REQUIRED_KEYS, env), 0);
    host_append(&ovs, lab_find_host("src"), out, sizeof(out));
    assert_non_null(strstr(out, "fmlab.vmnet=ovs "));
    host_append(&ovs, lab_find_host("backup"), out, sizeof(out));
    assert_non_null(strstr(out, "fmlab.vmnet=route:10.10.1.100 "));
    char **argv = guest_argv(&ovs, "10.10.1.1", true);
    assert_string_equal(after(argv, "-netdev"), "tap,id=n0,ifname=fmvm0,script=/usr/local/sbin/fmlab-ovs-ifup,"
                                                "downscript=/usr/local/sbin/fmlab-ovs-ifdown,vhost=on");
    argv_free(argv);
    config_free(&ovs);
}

/* NET_MODE=ovs-dpdk: src and dst reserve OVS_DPDK_MEM of 2 MiB pages on node 0 and set up
 * OVS-DPDK (fmlab.vmnet=ovs-dpdk); the guest's RAM is a shared memfd (vhost-user maps it)
 * and its NIC a vhost-user netdev on the socket vhu0 connects to, NET_QUEUES queue pairs. */
static void net_mode_ovs_dpdk(void **state)
{
    (void)state;
    struct config dpdk;
    char out[2048], *env[] = { "FMLAB_NET_MODE=ovs-dpdk", "FMLAB_HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt",
                               "FMLAB_NET_QUEUES=2", "FMLAB_OVS_DPDK_MEM=256M", NULL };
    assert_int_equal(config_parse(&dpdk, "t.txt", REQUIRED_KEYS, env), 0);
    host_append(&dpdk, lab_find_host("dst"), out, sizeof(out));
    assert_non_null(strstr(out, "fmlab.vmnet=ovs-dpdk "));
    assert_non_null(strstr(out, " hugepagesz=2M hugepages=0:128 fmlab.pmdsleep=1000"));
    host_append(&dpdk, lab_find_host("backup"), out, sizeof(out));
    assert_null(strstr(out, "hugepages"));
    char **argv = guest_argv(&dpdk, "10.10.1.1", false);
    assert_string_equal(after(argv, "-machine"), "q35,memory-backend=ram0");
    assert_string_equal(after(argv, "-object"), "memory-backend-memfd,id=ram0,size=512M,share=on");
    assert_string_equal(after(argv, "-chardev"), "socket,id=vhu0,path=/run/fmlab-vhost-user.sock,server=on,wait=off");
    assert_string_equal(after(argv, "-netdev"), "vhost-user,id=n0,chardev=vhu0,queues=2");
    bool nic = false;
    for (char **a = argv; *a; a++)
        nic |= strcmp(*a, "virtio-net-pci,netdev=n0,mac=52:54:00:fa:00:64,mq=on,vectors=6") == 0;
    assert_true(nic);
    argv_free(argv);
    config_free(&dpdk);
}

/* The line that crosses ssh gives the remote shell exactly the argv: each word is read
 * back through a real sh. */
static void guest_command_line_is_the_argv(void **state)
{
    (void)state;
    char line[4096], got[4096];
    char **argv = guest_argv(&cfg, "10.10.1.1", true);
    assert_int_equal(guest_command(&cfg, "10.10.1.1", true, line, sizeof(line)), 0);
    assert_non_null(strstr(line, "rm -f /var/log/fmlab-vm-console.log; 'qemu-system-x86_64' '-name' 'vm' "));
    assert_int_equal(argv_shell_line("printf '%s\\n'", argv, line, sizeof(line)), 0);
    FILE *sh = popen(line, "r");
    assert_non_null(sh);
    size_t n = 0;
    for (char **a = argv; *a; a++, n++) {
        assert_non_null(fgets(got, sizeof(got), sh));
        got[strcspn(got, "\n")] = '\0';
        assert_string_equal(got, *a);
    }
    assert_null(fgets(got, sizeof(got), sh));
    assert_int_equal(pclose(sh), 0);
    assert_true(n > 40);
    assert_int_equal(guest_command(&cfg, "10.10.1.1", true, line, 100), -1);   /* never cut */
    argv_free(argv);
}

static void guest_qemu_command_debian_kernel(void **state)
{
    (void)state;
    struct config debian;
    char *env[] = { "FMLAB_GUEST_KERNEL=debian", NULL };
    const char *text = REQUIRED_KEYS;
    assert_int_equal(config_parse(&debian, "t.txt", text, env), 0);
    char **argv = guest_argv(&debian, "10.10.1.2", true);
    assert_string_equal(after(argv, "-kernel"), "/mnt/fmlab-guest/vmlinuz");
    assert_string_equal(after(argv, "-initrd"), "/mnt/fmlab-guest/initrd.img");
    assert_non_null(strstr(after(argv, "-append"), "console=ttyS0 root=LABEL=fmlab-guest rw "));
    assert_string_equal(after(argv, "-incoming"), "defer");
    argv_free(argv);
    config_free(&debian);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_kernel_command_line),
        cmocka_unit_test(host_kernel_command_line_debian),
        cmocka_unit_test(net_mode_ovs),
        cmocka_unit_test(net_mode_ovs_dpdk),
        cmocka_unit_test(guest_qemu_command),
        cmocka_unit_test(guest_command_line_is_the_argv),
        cmocka_unit_test(guest_qemu_command_debian_kernel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
