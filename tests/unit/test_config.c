/* test_config.c: config.txt parser: every error kind with its exact message, env overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* A complete, valid config: the study's keys (lab keys take their defaults). */
static const char *valid =
    "# comment\n"
    "SHARED_STORAGE=/srv/shared\n"
    "KERNEL_VER=auto\n"
    "NIC_NAME=eth0\n"
    "SRC_IP=10.10.1.1\n"
    "DST_IP=10.10.1.2\n"
    "BACKUP_IP=10.10.1.3\n"
    "VM_IP=10.10.1.100   # trailing comment\n"
    "MIGRATION_PORT=4444\n"
    "SRC_CONTROL_PORT=55555\n"
    "DST_CONTROL_PORT=56666\n"
    "BACKUP_CONTROL_PORT=57777\n"
    "SRC_NUMA=0\nDST_NUMA=0\nCXL_NUMA=1\n"
    "SRC_CPUSET=0-3\nDST_CPUSET=4,5,6,7\n"
    "NIC_INTERRUPT_CORE=0\nVHOST_CORE=0\nMIGRATION_CORE=0\n"
    "META_STATE_LENGTH=1048576\nHOT_PAGE_STATE_LENGTH=9437184\n";

static struct config cfg;

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

/* Parse valid + extra lines (appended), return the error count; a test may parse
 * several times (what an earlier parse held is freed first). */
static int parse_with(const char *extra, char *const *envp)
{
    char text[4096];
    config_free(&cfg);
    snprintf(text, sizeof(text), "%s%s", valid, extra);
    return config_parse(&cfg, "config.txt", text, envp);
}

static void expect_one_error(const char *extra, const char *message)
{
    assert_int_equal(parse_with(extra, NULL), 1);
    assert_string_equal(cfg.errors[0], message);
}

static void valid_config_has_no_errors(void **state)
{
    (void)state;
    assert_int_equal(parse_with("", NULL), 0);
    assert_string_equal(config_get(&cfg, "VM_IP"), "10.10.1.100");
    assert_string_equal(config_get(&cfg, "SUITE"), "trixie");
    assert_int_equal(config_get_size(&cfg, "HOT_PAGE_STATE_LENGTH"), 9437184);
    assert_int_equal(config_get_size(&cfg, "GUEST_MEM"), 512ull << 20);
    assert_null(config_get(&cfg, "NO_SUCH_KEY"));
}

static void unknown_key_suggests_closest(void **state)
{
    (void)state;
    expect_one_error("SRC_PI=1.2.3.4\n",
                     "config.txt:23: unknown key 'SRC_PI' (did you mean 'SRC_IP'?)");
}

static void unknown_key_without_close_match(void **state)
{
    (void)state;
    expect_one_error("WHATEVER_THIS_IS=1\n", "config.txt:23: unknown key 'WHATEVER_THIS_IS'");
}

static void duplicate_key_names_first_line(void **state)
{
    (void)state;
    expect_one_error("MIGRATION_PORT=4445\n",
                     "config.txt:23: duplicate key 'MIGRATION_PORT' (first set on line 9)");
}


static void malformed_values(void **state)
{
    (void)state;
    const char *text =
        "SHARED_STORAGE=/srv/shared\nKERNEL_VER=auto\nNIC_NAME=eth0\n"
        "SRC_IP=10.10.1.256\nDST_IP=10.10.1\nBACKUP_IP=10.10.1.3\nVM_IP=10.10.1.100\n"
        "MIGRATION_PORT=70000\nSRC_CONTROL_PORT=55555\nDST_CONTROL_PORT=56666\n"
        "BACKUP_CONTROL_PORT=57777\nSRC_NUMA=0\nDST_NUMA=0\nCXL_NUMA=1\n"
        "SRC_CPUSET=3-1\nDST_CPUSET=1\nNIC_INTERRUPT_CORE=0\nVHOST_CORE=0\nMIGRATION_CORE=0\n"
        "META_STATE_LENGTH=16X\nHOT_PAGE_STATE_LENGTH=9437184\n";
    assert_int_equal(config_parse(&cfg, "config.txt", text, NULL), 5);
    assert_string_equal(cfg.errors[0],
        "config.txt:4: SRC_IP: malformed value '10.10.1.256' (expected an IPv4 address like 10.10.1.1)");
    assert_string_equal(cfg.errors[1],
        "config.txt:5: DST_IP: malformed value '10.10.1' (expected an IPv4 address like 10.10.1.1)");
    assert_string_equal(cfg.errors[2],
        "config.txt:8: MIGRATION_PORT: malformed value '70000' (expected a TCP port 1..65535)");
    assert_string_equal(cfg.errors[3],
        "config.txt:15: SRC_CPUSET: malformed value '3-1' (expected a CPU list like 0,1,2 or 0-3)");
    assert_string_equal(cfg.errors[4],
        "config.txt:20: META_STATE_LENGTH: malformed value '16X' (expected a size like 512M, 16G or 1048576)");
}

static void malformed_enum_lists_choices(void **state)
{
    (void)state;
    expect_one_error("NET_MODE=ovs_dpdk\n",
                     "config.txt:23: NET_MODE: malformed value 'ovs_dpdk' (expected bridge|ovs|ovs-dpdk)");
}

/* NET_MODE=ovs-dpdk: a TCG CPU model without DPDK's baseline, NET_VHOST=on, hugepages
 * that leave the host too little, and multi-queue without vhost-user are each one line. */
static void net_mode_ovs_dpdk_needs(void **state)
{
    (void)state;
    const char *dpdk_cpu = "HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt\n";
    char text[512];
    assert_int_equal(parse_with("NET_MODE=ovs-dpdk\nHOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt\n"
                                "NET_QUEUES=2\n", NULL), 0);
    expect_one_error("NET_MODE=ovs-dpdk\n",
                     "config.txt: default: HOST_CPU: 'qemu64,+svm' lacks +ssse3, which OVS-DPDK (NET_MODE=ovs-dpdk) needs: "
                     "use HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2,+popcnt");
    expect_one_error("NET_MODE=ovs-dpdk\nHOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2x,+popcnt\n",
                     "config.txt:24: HOST_CPU: 'qemu64,+svm,+ssse3,+sse4.1,+sse4.2x,+popcnt' lacks +sse4.2, which "
                     "OVS-DPDK (NET_MODE=ovs-dpdk) needs: use HOST_CPU=qemu64,+svm,+ssse3,+sse4.1,+sse4.2x,+popcnt,"
                     "+ssse3,+sse4.1,+sse4.2,+popcnt");
    assert_int_equal(parse_with("NET_MODE=ovs-dpdk\nHOST_CPU=max,+svm\n", NULL), 0);
    snprintf(text, sizeof(text), "NET_MODE=ovs-dpdk\n%sNET_VHOST=on\n", dpdk_cpu);
    expect_one_error(text, "config.txt:25: NET_VHOST: on, but with NET_MODE=ovs-dpdk the guest's packets go through "
                           "vhost-user to OVS-DPDK, not through vhost-net (NET_VHOST=off)");
    snprintf(text, sizeof(text), "NET_MODE=ovs-dpdk\n%sOVS_DPDK_MEM=2G\n", dpdk_cpu);
    expect_one_error(text, "config.txt:25: OVS_DPDK_MEM: 2G of hugepages and GUEST_MEM=512M leave the host less "
                           "than 768M of HOST_MEM=3G");
    snprintf(text, sizeof(text), "NET_MODE=ovs-dpdk\n%sOVS_DPDK_MEM=65M\n", dpdk_cpu);
    expect_one_error(text, "config.txt:25: OVS_DPDK_MEM: 65M is not a whole number of 2 MiB hugepages of at least 64M");
    snprintf(text, sizeof(text), "NET_MODE=ovs-dpdk\n%sOVS_PMD_SLEEP_US=20000\n", dpdk_cpu);
    expect_one_error(text, "config.txt:25: OVS_PMD_SLEEP_US: 20000 is above OVS's limit for pmd-sleep-max, 10000 (10 ms)");
    expect_one_error("NET_QUEUES=2\n", "config.txt:23: NET_QUEUES: 2, but it must be 1..8, and above 1 only with "
                                        "NET_MODE=ovs-dpdk (vhost-user multi-queue)");
}

static void missing_required_key(void **state)
{
    (void)state;
    const char *text = "SHARED_STORAGE=/srv\n";
    int n = config_parse(&cfg, "lab.txt", text, NULL);
    assert_int_equal(n, 20);
    assert_string_equal(cfg.errors[0], "lab.txt: missing required key 'KERNEL_VER'");
}

static void syntax_error(void **state)
{
    (void)state;
    expect_one_error("just words\n", "config.txt:23: syntax error: expected KEY=value, got 'just words'");
}

static void clashing_addresses_and_ports(void **state)
{
    (void)state;
    char text[4096];
    snprintf(text, sizeof(text), "%s", valid);
    char *p = strstr(text, "DST_IP=10.10.1.2");
    memcpy(p, "DST_IP=10.10.1.1", 16);
    p = strstr(text, "DST_CONTROL_PORT=56666");
    memcpy(p, "DST_CONTROL_PORT=04444", 22);
    assert_int_equal(config_parse(&cfg, "config.txt", text, NULL), 2);
    assert_string_equal(cfg.errors[0], "config.txt:6: DST_IP: 10.10.1.1 clashes with SRC_IP (line 5)");
    assert_string_equal(cfg.errors[1],
                        "config.txt:11: DST_CONTROL_PORT: 04444 clashes with MIGRATION_PORT (line 9)");
}

static void agent_port_inside_redis_range(void **state)
{
    (void)state;
    expect_one_error("GUEST_VCPUS=4\nAGENT_PORT=12347\n",
        "config.txt:24: AGENT_PORT: 12347 clashes with the redis ports REDIS_BASE_PORT..+GUEST_VCPUS-1 (12345-12348)");
}

static void address_off_the_lab_network(void **state)
{
    (void)state;
    expect_one_error("L0_IP=10.10.2.254\n",
                     "config.txt:23: L0_IP: 10.10.2.254 is not on SRC_IP's network 10.10.1.1/24");
}

static void pool_too_small_for_the_guest_image(void **state)
{
    (void)state;
    expect_one_error("GUEST_MEM=2G\nCXL_POOL_SIZE=2G\n",
        "config.txt:24: CXL_POOL_SIZE: 2G cannot hold the shm image of GUEST_MEM=2G (needs GUEST_MEM + 1G)");
}

static void env_overrides_file_and_is_validated(void **state)
{
    (void)state;
    char *good[] = { "FMLAB_VM_IP=10.10.1.200", "FMLAB_MIRROR=ignored", "PATH=/bin", NULL };
    assert_int_equal(parse_with("", good), 0);
    assert_string_equal(config_get(&cfg, "VM_IP"), "10.10.1.200");
    assert_int_equal(cfg.values[6].origin, CO_ENV);
    config_free(&cfg);

    char *bad[] = { "FMLAB_GUEST_MEM=lots", NULL };
    assert_int_equal(parse_with("", bad), 1);
    assert_string_equal(cfg.errors[0],
        "environment: FMLAB_GUEST_MEM: malformed value 'lots' (expected a size like 512M, 16G or 1048576)");
}

/* A value that reaches a command line is refused when a shell would read more into it
 * than a name: not only spaces. */
static void hostile_paths_are_refused(void **state)
{
    (void)state;
    static const char *const hostile[] = { "/tmp/x;id>/tmp/p", "/tmp/$(id)", "/tmp/`id`", "/tmp/a b",
                                           "~/lab", "/tmp/*", "/tmp/a'b", "/tmp/a|b", "/tmp/a&b", NULL };
    for (int i = 0; hostile[i]; i++) {
        char env[256];
        snprintf(env, sizeof(env), "FMLAB_SHARED_STORAGE=%s", hostile[i]);
        char *envp[] = { env, NULL };
        assert_int_equal(parse_with("", envp), 1);
        assert_non_null(strstr(cfg.errors[0], "FMLAB_SHARED_STORAGE: malformed value"));
        assert_non_null(strstr(cfg.errors[0], "characters a shell interprets"));
        config_free(&cfg);
    }
    char *fine[] = { "FMLAB_SHARED_STORAGE=/srv/fm-lab_2/shared.v1", "FMLAB_HOST_CPU=qemu64,+svm", NULL };
    assert_int_equal(parse_with("", fine), 0);
    config_free(&cfg);
    char *cpu[] = { "FMLAB_HOST_CPU=host;reboot", NULL };
    assert_int_equal(parse_with("", cpu), 1);
    assert_non_null(strstr(cfg.errors[0], "FMLAB_HOST_CPU: malformed value"));
}

/* A prefix that does not parse is one error (malformed), not a network check on garbage. */
static void unparsable_prefix_is_one_error(void **state)
{
    (void)state;
    char *envp[] = { "FMLAB_LAB_NET_PREFIX=twenty", NULL };
    assert_int_equal(parse_with("", envp), 1);
    assert_non_null(strstr(cfg.errors[0], "FMLAB_LAB_NET_PREFIX: malformed value 'twenty'"));
}

/* One meaning for sizes: what config check accepts is what the guest's QEMU gets. */
static void guest_mem_in_whole_mib(void **state)
{
    (void)state;
    char *odd[] = { "FMLAB_GUEST_MEM=1000000", NULL };
    assert_int_equal(parse_with("", odd), 1);
    assert_non_null(strstr(cfg.errors[0], "GUEST_MEM: 1000000 is not a whole number of MiB"));
    config_free(&cfg);
    char *gb[] = { "FMLAB_GUEST_MEM=768MB", NULL };
    assert_int_equal(parse_with("", gb), 0);
    assert_int_equal(config_get_size(&cfg, "GUEST_MEM"), 768ull << 20);
}

static void three_errors_reported_together(void **state)
{
    (void)state;
    assert_int_equal(parse_with("SRC_PI=1\nGUEST_MEM=12Q\nVM_IP=10.10.1.5\n", NULL), 3);
    assert_string_equal(cfg.errors[0], "config.txt:23: unknown key 'SRC_PI' (did you mean 'SRC_IP'?)");
    assert_string_equal(cfg.errors[1],
        "config.txt:24: GUEST_MEM: malformed value '12Q' (expected a size like 512M, 16G or 1048576)");
    assert_string_equal(cfg.errors[2], "config.txt:25: duplicate key 'VM_IP' (first set on line 8)");
}

static void missing_file_is_one_clear_error(void **state)
{
    (void)state;
    assert_int_equal(config_load(&cfg, "/nonexistent/config.txt", NULL), 1);
    assert_non_null(strstr(cfg.errors[0], "/nonexistent/config.txt: cannot read config file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(valid_config_has_no_errors, teardown),
        cmocka_unit_test_teardown(unknown_key_suggests_closest, teardown),
        cmocka_unit_test_teardown(unknown_key_without_close_match, teardown),
        cmocka_unit_test_teardown(duplicate_key_names_first_line, teardown),
        cmocka_unit_test_teardown(malformed_values, teardown),
        cmocka_unit_test_teardown(malformed_enum_lists_choices, teardown),
        cmocka_unit_test_teardown(net_mode_ovs_dpdk_needs, teardown),
        cmocka_unit_test_teardown(missing_required_key, teardown),
        cmocka_unit_test_teardown(syntax_error, teardown),
        cmocka_unit_test_teardown(clashing_addresses_and_ports, teardown),
        cmocka_unit_test_teardown(agent_port_inside_redis_range, teardown),
        cmocka_unit_test_teardown(address_off_the_lab_network, teardown),
        cmocka_unit_test_teardown(pool_too_small_for_the_guest_image, teardown),
        cmocka_unit_test_teardown(env_overrides_file_and_is_validated, teardown),
        cmocka_unit_test_teardown(hostile_paths_are_refused, teardown),
        cmocka_unit_test_teardown(unparsable_prefix_is_one_error, teardown),
        cmocka_unit_test_teardown(guest_mem_in_whole_mib, teardown),
        cmocka_unit_test_teardown(three_errors_reported_together, teardown),
        cmocka_unit_test_teardown(missing_file_is_one_clear_error, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
