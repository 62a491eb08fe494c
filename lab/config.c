/*
 * config.c: parser and validator for config.txt, the lab's single source of settings.
 *
 * The schema below lists every key with its type and default. Parsing never stops at
 * the first problem: it collects one line per error, naming the file, the line and the
 * key, so `fmlab config check` shows everything wrong at once. Environment variables
 * FMLAB_<KEY> override file values and are validated the same way.
 */
#include "config.h"
#include "alloc.h"
#include "values.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct config_key schema[] = {
    /* the study's keys: required, as in its config.txt */
    { "SHARED_STORAGE", CT_PATH, NULL, NULL, NULL },
    { "KERNEL_VER", CT_STRING, NULL, NULL, NULL },
    { "NIC_NAME", CT_STRING, NULL, NULL, "the host image fixes the NICs: eth0 on the lab network, eth1 on the guests' network (br0 in netns vmnet)" },
    { "SRC_IP", CT_IPV4, NULL, NULL, NULL },
    { "DST_IP", CT_IPV4, NULL, NULL, NULL },
    { "BACKUP_IP", CT_IPV4, NULL, NULL, NULL },
    { "VM_IP", CT_IPV4, NULL, NULL, NULL },
    { "MIGRATION_PORT", CT_PORT, NULL, NULL, NULL },
    { "SRC_CONTROL_PORT", CT_PORT, NULL, NULL, "the lab's control plane is fmlab-control on backup over QMP and ssh, not the study's daemons" },
    { "DST_CONTROL_PORT", CT_PORT, NULL, NULL, "the lab's control plane is fmlab-control on backup over QMP and ssh, not the study's daemons" },
    { "BACKUP_CONTROL_PORT", CT_PORT, NULL, NULL, "the lab's control plane is fmlab-control on backup over QMP and ssh, not the study's daemons" },
    { "SRC_NUMA", CT_UINT, NULL, NULL, "the hosts have one DRAM node (0); the guest's RAM is not bound yet" },
    { "DST_NUMA", CT_UINT, NULL, NULL, "the hosts have one DRAM node (0); the guest's RAM is not bound yet" },
    { "CXL_NUMA", CT_UINT, NULL, NULL, "the CXL node is always node 1 of the hosts (host.c builds it so)" },
    { "SRC_CPUSET", CT_CPULIST, NULL, NULL, NULL },
    { "DST_CPUSET", CT_CPULIST, NULL, NULL, NULL },
    { "NIC_INTERRUPT_CORE", CT_UINT, NULL, NULL, "the hosts have HOST_VCPUS vCPUs under TCG: no IRQ pinning yet" },
    { "VHOST_CORE", CT_UINT, NULL, NULL, "the guest uses virtio-net without vhost pinning yet" },
    { "MIGRATION_CORE", CT_UINT, NULL, NULL, "the study ignores it too" },
    { "META_STATE_LENGTH", CT_SIZE, NULL, NULL, "fixed at 1 MiB in the QEMU series (qemu/patches); config check requires that value" },
    { "HOT_PAGE_STATE_LENGTH", CT_SIZE, NULL, NULL, "fixed at 9 MiB in the QEMU series (qemu/patches); config check requires that value" },
    /* the lab's keys: defaults as in the repository's config.txt */
    { "SUITE", CT_STRING, "trixie", NULL, NULL },
    { "CACHE_DIR", CT_PATH, "/var/cache/fmlab", NULL, NULL },
    { "STATE_DIR", CT_PATH, "/var/lib/fmlab/lab", NULL, NULL },
    { "RESULTS_DIR", CT_PATH, "results", NULL, NULL },
    { "IMAGE_EPOCH", CT_UINT, "1735689600", NULL, NULL },
    { "GUEST_IMAGE_SIZE", CT_SIZE, "2G", NULL, NULL },
    { "HOST_IMAGE_SIZE", CT_SIZE, "4G", NULL, NULL },
    { "GUEST_MEM", CT_SIZE, "512M", NULL, NULL },
    { "GUEST_VCPUS", CT_UINT, "1", NULL, NULL },
    { "REDIS_BASE_PORT", CT_PORT, "12345", NULL, NULL },
    { "MEMCACHED_BASE_PORT", CT_PORT, "11211", NULL, NULL },
    { "AGENT_PORT", CT_PORT, "7777", NULL, NULL },
    { "HOST_MEM", CT_SIZE, "3G", NULL, NULL },
    { "HOST_VCPUS", CT_UINT, "1", NULL, NULL },
    { "HOST_CXL_MEM", CT_SIZE, "1G", NULL, NULL },
    { "DRAM_LATENCY_NS", CT_UINT, "100", NULL, NULL },
    { "CXL_LATENCY_NS", CT_UINT, "200", NULL, NULL },
    { "DRAM_BANDWIDTH", CT_SIZE, "40G", NULL, NULL },
    { "CXL_BANDWIDTH", CT_SIZE, "20G", NULL, NULL },
    { "CXL_POOL_SIZE", CT_SIZE, "2G", NULL, NULL },
    { "HOST_ACCEL", CT_ENUM, "auto", "auto|kvm|tcg", NULL },
    { "HOST_CPU", CT_STRING, "qemu64,+svm", NULL, NULL },
    { "HOST_KERNEL", CT_ENUM, "fmsync", "fmsync|debian", NULL },
    { "HOST_QEMU", CT_ENUM, "fmsync", "fmsync|debian", NULL },
    { "L0_QEMU", CT_ENUM, "patched", "patched|debian", NULL },
    { "GUEST_KERNEL", CT_ENUM, "lab", "lab|debian", NULL },
    { "GUEST_INIT", CT_ENUM, "minimal", "minimal|systemd", NULL },
    { "NET_MODE", CT_ENUM, "bridge", "bridge|ovs|ovs-dpdk", NULL },
    { "NET_VHOST", CT_ENUM, "off", "on|off", NULL },
    { "NET_QUEUES", CT_UINT, "1", NULL, NULL },
    { "OVS_DPDK_MEM", CT_SIZE, "512M", NULL, NULL },
    { "OVS_PMD_SLEEP_US", CT_UINT, "1000", NULL, NULL },
    { "LAB_NET_PREFIX", CT_UINT, "24", NULL, NULL },
    { "L0_IP", CT_IPV4, "10.10.1.254", NULL, NULL },
    { "VM_QMP_PORT", CT_PORT, "4445", NULL, NULL },
    { "VM_CONSOLE_PORT", CT_PORT, "4446", NULL, NULL },
    { "BOOT_TIMEOUT", CT_UINT, "900", NULL, NULL },
    { "BOOT_IDLE_TIMEOUT", CT_UINT, "150", NULL, NULL },
    { "BOOT_RETRIES", CT_UINT, "2", NULL, NULL },
    { "GUEST_BOOT_TIMEOUT", CT_UINT, "900", NULL, NULL },
    { "CMD_TIMEOUT", CT_UINT, "60", NULL, NULL },
    { "LAB_SNAPSHOT", CT_ENUM, "auto", "auto|off", NULL },
    { "MIGRATE_MAX_BANDWIDTH", CT_UINT, "1342177280", NULL, NULL },
    { "MIGRATE_DOWNTIME_LIMIT_MS", CT_UINT, "150", NULL, NULL },
    { "MIGRATE_TIMEOUT", CT_UINT, "120", NULL, NULL },
    { "YCSB_RECORDS", CT_UINT, "20000", NULL, NULL },
    { "YCSB_OPERATIONS", CT_UINT, "100000", NULL, NULL },
    { "YCSB_THREADS", CT_UINT, "6", NULL, NULL },
    { "MIGRATE_STALL_TIMEOUT", CT_UINT, "15", NULL, NULL },
    { "POSTCOPY_START_DELAY_MS", CT_UINT, "1000", NULL, NULL },
    { "POSTCOPY_START_ITERATIONS", CT_UINT, "1", NULL, NULL },
    { "POSTCOPY_PREEMPT", CT_ENUM, "on", "on|off", NULL },
    { "SHM_IMAGE_PATH", CT_PATH, "/dev/dax0.0", NULL, NULL },
    { "SHM_PERIOD_US", CT_UINT, "100000", NULL, NULL },
    { "SHM_WRITE_THROUGH_S", CT_UINT, "10", NULL, NULL },
    { "SHM_DIRTY_TRACKING", CT_ENUM, "auto", "auto|fmsync|stock", NULL },
    { "SHM_SYNC_GRANULARITY", CT_ENUM, "page", "page|region", NULL },
    { "SHM_DST_RAM", CT_ENUM, "pool", "pool|copy|promote", NULL },
    { "SHM_DST_WAIT", CT_ENUM, "on", "on|off", NULL },
    { "SHM_PROMOTE_BANDWIDTH", CT_UINT, "1073741824", NULL, NULL },
    { "MEM_ORACLE_MIB", CT_UINT, "16", NULL, NULL },
    { "MEM_ORACLE_RATE", CT_UINT, "1000", NULL, NULL },
    { "MEM_LOAD_MIB", CT_UINT, "256", NULL, NULL },
    { "REDIS_PRELOAD_KEYS", CT_UINT, "10000", NULL, NULL },
};
#define N_KEYS ((int)(sizeof(schema) / sizeof(schema[0])))

const struct config_key *config_schema(int *count)
{
    *count = N_KEYS;
    return schema;
}

const struct config_key *config_find_key(const char *name, int *index)
{
    for (int i = 0; i < N_KEYS; i++) {
        if (strcmp(schema[i].name, name) == 0) {
            if (index)
                *index = i;
            return &schema[i];
        }
    }
    return NULL;
}

static void add_error(struct config *cfg, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    char **grown = xrealloc(cfg->errors, (size_t)(cfg->n_errors + 1) * sizeof(*grown));
    cfg->errors = grown;
    cfg->errors[cfg->n_errors++] = msg;
}

/* Paths and names reach QEMU's argv, ssh and the hosts' scripts: only characters no
 * shell treats specially (a space is one of many). */
static bool shell_safe(const char *v)
{
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && !strchr("/._-+@%:,=", *v))
            return false;
    return true;
}

/* NULL when v is a valid value of k, else what was expected. */
static const char *check_value(const struct config_key *k, const char *v)
{
    uint64_t u;
    uint32_t ip;
    uint16_t port;
    uint8_t mask[CPULIST_MAX / 8];

    switch (k->type) {
    case CT_STRING:
        return *v && shell_safe(v) ? NULL : "a non-empty value of letters, digits and / . _ - + @ % : , = only";
    case CT_PATH:
        return *v && shell_safe(v) ? NULL
                                   : "a path of letters, digits and / . _ - + @ % : , = only (no spaces, "
                                     "no ; & | $ ` ' \" < > * ? ~ ( ) or other characters a shell interprets)";
    case CT_IPV4: return parse_ipv4(v, &ip) ? NULL : "an IPv4 address like 10.10.1.1";
    case CT_PORT: return parse_port(v, &port) ? NULL : "a TCP port 1..65535";
    case CT_CPULIST: return parse_cpulist(v, mask) ? NULL : "a CPU list like 0,1,2 or 0-3";
    case CT_SIZE: return parse_size(v, &u) && u ? NULL : "a size like 512M, 16G or 1048576";
    case CT_UINT: return parse_uint(v, &u) ? NULL : "a non-negative integer";
    case CT_ENUM: return value_in(v, k->choices) ? NULL : k->choices;
    }
    return "a valid value";
}

static const char *closest_key(const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, limit = strlen(name) / 3 + 1;

    if (limit < 2)
        limit = 2;
    for (int i = 0; i < N_KEYS; i++) {
        size_t d = edit_distance(name, schema[i].name);
        if (d < best_d) {
            best_d = d;
            best = schema[i].name;
        }
    }
    return best_d <= limit ? best : NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void set_value(struct config_value *cv, const char *v, enum config_origin o, int line)
{
    free(cv->value);
    cv->value = xstrdup(v);
    cv->origin = o;
    cv->line = line;
}

static void parse_line(struct config *cfg, char *line, int lineno)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    if (!*s)
        return;
    char *eq = strchr(s, '=');
    if (!eq) {
        add_error(cfg, "%s:%d: syntax error: expected KEY=value, got '%s'", cfg->path, lineno, s);
        return;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    int idx;
    const struct config_key *k = config_find_key(key, &idx);
    if (!k) {
        const char *hint = closest_key(key);
        if (hint)
            add_error(cfg, "%s:%d: unknown key '%s' (did you mean '%s'?)", cfg->path, lineno, key, hint);
        else
            add_error(cfg, "%s:%d: unknown key '%s'", cfg->path, lineno, key);
        return;
    }
    struct config_value *cv = &cfg->values[idx];
    if (cv->origin == CO_FILE) {
        add_error(cfg, "%s:%d: duplicate key '%s' (first set on line %d)", cfg->path, lineno, key, cv->line);
        return;
    }
    const char *want = check_value(k, val);
    if (want)
        add_error(cfg, "%s:%d: %s: malformed value '%s' (expected %s)", cfg->path, lineno, key, val, want);
    set_value(cv, val, CO_FILE, lineno);
}

static void apply_env(struct config *cfg, char *const *envp)
{
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, "FMLAB_", 6) != 0)
            continue;
        const char *eq = strchr(*envp, '=');
        if (!eq)
            continue;
        char name[128];
        size_t n = (size_t)(eq - *envp - 6);
        if (n >= sizeof(name))
            continue;
        memcpy(name, *envp + 6, n);
        name[n] = '\0';
        int idx;
        const struct config_key *k = config_find_key(name, &idx);
        if (!k)
            continue;   /* FMLAB_CONFIG, FMLAB_MIRROR, ... are not keys */
        const char *want = check_value(k, eq + 1);
        if (want)
            add_error(cfg, "environment: FMLAB_%s: malformed value '%s' (expected %s)", name, eq + 1, want);
        set_value(&cfg->values[idx], eq + 1, CO_ENV, 0);
    }
}

/* Index of a key the schema is known to have. */
static int key_index(const char *name)
{
    int idx = 0;
    config_find_key(name, &idx);
    return idx;
}

static const char *where(const struct config *cfg, int idx, char *buf, size_t len)
{
    const struct config_value *cv = &cfg->values[idx];
    if (cv->origin == CO_FILE)
        snprintf(buf, len, "%s:%d", cfg->path, cv->line);
    else if (cv->origin == CO_ENV)
        snprintf(buf, len, "environment: FMLAB_%s", schema[idx].name);
    else
        snprintf(buf, len, "%s: default", cfg->path);
    return buf;
}

static const char *origin_short(const struct config *cfg, int idx, char *buf, size_t len)
{
    const struct config_value *cv = &cfg->values[idx];
    if (cv->origin == CO_FILE)
        snprintf(buf, len, "line %d", cv->line);
    else if (cv->origin == CO_ENV)
        snprintf(buf, len, "FMLAB_%s", schema[idx].name);
    else
        snprintf(buf, len, "default");
    return buf;
}

/* Same value of key k? Ports and addresses compare by what they parse to. */
static bool same_value(const struct config_key *k, const char *a, const char *b)
{
    uint32_t ia, ib;
    uint64_t ua, ub;

    if (k->type == CT_IPV4 && parse_ipv4(a, &ia) && parse_ipv4(b, &ib))
        return ia == ib;
    if ((k->type == CT_PORT || k->type == CT_UINT) && parse_uint(a, &ua) && parse_uint(b, &ub))
        return ua == ub;
    return strcmp(a, b) == 0;
}

/* Keys of one group must all differ (addresses on one network, ports on one host). */
static void check_distinct(struct config *cfg, const char *const *keys)
{
    char w[256], o[128];

    for (int i = 0; keys[i]; i++) {
        int a = key_index(keys[i]);
        for (int j = 0; j < i; j++) {
            int b = key_index(keys[j]);
            const char *va = cfg->values[a].value, *vb = cfg->values[b].value;
            if (va && vb && same_value(&schema[a], va, vb))
                add_error(cfg, "%s: %s: %s clashes with %s (%s)", where(cfg, a, w, sizeof(w)),
                          keys[i], va, keys[j], origin_short(cfg, b, o, sizeof(o)));
        }
    }
}

/* Addresses on one /LAB_NET_PREFIX network; the pool holds a guest image. */
static void check_sizes(struct config *cfg)
{
    static const char *const ips[] = { "DST_IP", "BACKUP_IP", "VM_IP", "L0_IP", NULL };
    char w[256];
    uint32_t a, b;
    uint64_t prefix, pool, mem;

    bool have_prefix = parse_uint(config_get(cfg, "LAB_NET_PREFIX"), &prefix);   /* else: malformed, said */
    if (have_prefix && (prefix < 8 || prefix > 30))
        add_error(cfg, "%s: LAB_NET_PREFIX: %s is not a prefix length 8..30",
                  where(cfg, key_index("LAB_NET_PREFIX"), w, sizeof(w)), config_get(cfg, "LAB_NET_PREFIX"));
    else if (have_prefix && parse_ipv4(config_get(cfg, "SRC_IP"), &a))
        for (int i = 0; ips[i]; i++) {
            uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;
            if (parse_ipv4(config_get(cfg, ips[i]), &b) && (a & mask) != (b & mask))
                add_error(cfg, "%s: %s: %s is not on SRC_IP's network %s/%s",
                          where(cfg, key_index(ips[i]), w, sizeof(w)), ips[i], config_get(cfg, ips[i]),
                          config_get(cfg, "SRC_IP"), config_get(cfg, "LAB_NET_PREFIX"));
        }
    /* What the QEMU series and the hosts fix: a different value would be silently wrong */
    static const struct { const char *key; uint64_t value; const char *what; } fixed[] = {
        { "META_STATE_LENGTH", 1u << 20, "1048576 (the QEMU series' metadata region)" },
        { "HOT_PAGE_STATE_LENGTH", 9u << 20, "9437184 (the QEMU series' hot-page bitmap)" },
        { "CXL_NUMA", 1, "1 (the hosts' CXL node)" },
    };
    /* QEMU takes the guest's RAM in whole MiB (guest.c passes GUEST_MEM as such) */
    if (parse_size(config_get(cfg, "GUEST_MEM"), &mem) && mem % (1u << 20))
        add_error(cfg, "%s: GUEST_MEM: %s is not a whole number of MiB", where(cfg, key_index("GUEST_MEM"), w, sizeof(w)),
                  config_get(cfg, "GUEST_MEM"));
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        uint64_t v;
        const char *text = config_get(cfg, fixed[i].key);
        bool ok = fixed[i].value == 1 ? parse_uint(text, &v) : parse_size(text, &v);
        if (ok && v != fixed[i].value)
            add_error(cfg, "%s: %s: %s, but the lab can only be %s", where(cfg, key_index(fixed[i].key), w, sizeof(w)),
                      fixed[i].key, text, fixed[i].what);
    }
    if (parse_size(config_get(cfg, "CXL_POOL_SIZE"), &pool) && parse_size(config_get(cfg, "GUEST_MEM"), &mem) &&
        pool < mem + (1ull << 30))
        add_error(cfg, "%s: CXL_POOL_SIZE: %s cannot hold the shm image of GUEST_MEM=%s (needs GUEST_MEM + 1G)",
                  where(cfg, key_index("CXL_POOL_SIZE"), w, sizeof(w)), config_get(cfg, "CXL_POOL_SIZE"),
                  config_get(cfg, "GUEST_MEM"));
}

/* memcached's ports MEMCACHED_BASE_PORT..+GUEST_VCPUS-1: within 65535, apart from the
 * redis ports and the agent's. */
static void check_memcached_ports(struct config *cfg)
{
    const char *mc = config_get(cfg, "MEMCACHED_BASE_PORT"), *base = config_get(cfg, "REDIS_BASE_PORT");
    const char *n = config_get(cfg, "GUEST_VCPUS"), *agent = config_get(cfg, "AGENT_PORT");
    uint16_t m, b, a;
    uint64_t v;
    char w[256];
    if (!mc || !n || !parse_port(mc, &m) || !parse_uint(n, &v))
        return;
    const char *where_m = where(cfg, key_index("MEMCACHED_BASE_PORT"), w, sizeof(w));
    if (m + v - 1 > 65535)
        add_error(cfg, "%s: MEMCACHED_BASE_PORT: %u + GUEST_VCPUS exceeds port 65535", where_m, m);
    else if (base && parse_port(base, &b) && m < b + v && b < m + v)
        add_error(cfg, "%s: MEMCACHED_BASE_PORT: %u-%u overlaps the redis ports %u-%u", where_m, m,
                  (unsigned)(m + v - 1), b, (unsigned)(b + v - 1));
    else if (agent && parse_port(agent, &a) && a >= m && a < m + v)
        add_error(cfg, "%s: MEMCACHED_BASE_PORT: %u-%u includes AGENT_PORT %u", where_m, m, (unsigned)(m + v - 1), a);
}

/* What DPDK refuses to start without on x86 (Debian builds it for that baseline): under TCG
 * the hosts' CPU model must offer it, or OVS-DPDK dies at start with "ERROR: This system
 * does not support SSE4_2" inside the host, minutes into a boot. */
static const char *const dpdk_cpu_flags[] = { "+ssse3", "+sse4.1", "+sse4.2", "+popcnt", NULL };

static bool cpu_has_flag(const char *cpu, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = strstr(cpu, flag); p; p = strstr(p + 1, flag))
        if (p > cpu && p[-1] == ',' && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* NET_MODE=ovs-dpdk: a CPU model with DPDK's baseline, hugepages that leave the guest its
 * RAM, vhost-user instead of NET_VHOST; NET_QUEUES>1 only where vhost-user carries it. */
static void check_net_mode(struct config *cfg)
{
    const char *mode = config_get(cfg, "NET_MODE"), *cpu = config_get(cfg, "HOST_CPU");
    const char *accel = config_get(cfg, "HOST_ACCEL");
    uint64_t queues, dpdk_mem, host_mem, guest_mem, pmd_sleep;
    char w[256];
    bool dpdk = mode && strcmp(mode, "ovs-dpdk") == 0;

    if (parse_uint(config_get(cfg, "NET_QUEUES"), &queues) && (queues < 1 || queues > 8 || (queues > 1 && !dpdk)))
        add_error(cfg, "%s: NET_QUEUES: %s, but it must be 1..8, and above 1 only with NET_MODE=ovs-dpdk "
                  "(vhost-user multi-queue)", where(cfg, key_index("NET_QUEUES"), w, sizeof(w)),
                  config_get(cfg, "NET_QUEUES"));
    if (!dpdk)
        return;
    bool tcg_cpu = cpu && !(accel && strcmp(accel, "kvm") == 0) && strncmp(cpu, "max", 3) != 0 &&
                   strncmp(cpu, "host", 4) != 0;
    for (int i = 0; tcg_cpu && dpdk_cpu_flags[i]; i++)
        if (!cpu_has_flag(cpu, dpdk_cpu_flags[i])) {
            add_error(cfg, "%s: HOST_CPU: '%s' lacks %s, which OVS-DPDK (NET_MODE=ovs-dpdk) needs: use "
                      "HOST_CPU=%s,+ssse3,+sse4.1,+sse4.2,+popcnt", where(cfg, key_index("HOST_CPU"), w, sizeof(w)),
                      cpu, dpdk_cpu_flags[i], cpu);
            break;
        }
    const char *vhost = config_get(cfg, "NET_VHOST");
    if (vhost && strcmp(vhost, "on") == 0)
        add_error(cfg, "%s: NET_VHOST: on, but with NET_MODE=ovs-dpdk the guest's packets go through vhost-user "
                  "to OVS-DPDK, not through vhost-net (NET_VHOST=off)", where(cfg, key_index("NET_VHOST"), w, sizeof(w)));
    if (parse_uint(config_get(cfg, "OVS_PMD_SLEEP_US"), &pmd_sleep) && pmd_sleep > 10000)
        add_error(cfg, "%s: OVS_PMD_SLEEP_US: %s is above OVS's limit for pmd-sleep-max, 10000 (10 ms)",
                  where(cfg, key_index("OVS_PMD_SLEEP_US"), w, sizeof(w)), config_get(cfg, "OVS_PMD_SLEEP_US"));
    if (!parse_size(config_get(cfg, "OVS_DPDK_MEM"), &dpdk_mem) || !parse_size(config_get(cfg, "HOST_MEM"), &host_mem) ||
        !parse_size(config_get(cfg, "GUEST_MEM"), &guest_mem))
        return;
    if (dpdk_mem < (64u << 20) || dpdk_mem % (2u << 20))
        add_error(cfg, "%s: OVS_DPDK_MEM: %s is not a whole number of 2 MiB hugepages of at least 64M",
                  where(cfg, key_index("OVS_DPDK_MEM"), w, sizeof(w)), config_get(cfg, "OVS_DPDK_MEM"));
    else if (dpdk_mem + guest_mem + (768u << 20) > host_mem)
        add_error(cfg, "%s: OVS_DPDK_MEM: %s of hugepages and GUEST_MEM=%s leave the host less than 768M of "
                  "HOST_MEM=%s", where(cfg, key_index("OVS_DPDK_MEM"), w, sizeof(w)), config_get(cfg, "OVS_DPDK_MEM"),
                  config_get(cfg, "GUEST_MEM"), config_get(cfg, "HOST_MEM"));
}

static void check_relations(struct config *cfg)
{
    static const char *const ips[] = { "SRC_IP", "DST_IP", "BACKUP_IP", "VM_IP", "L0_IP", NULL };
    static const char *const host_ports[] = { "MIGRATION_PORT", "SRC_CONTROL_PORT",
        "DST_CONTROL_PORT", "BACKUP_CONTROL_PORT", "VM_QMP_PORT", "VM_CONSOLE_PORT", NULL };
    static const char *const numa[] = { "SRC_NUMA", "CXL_NUMA", NULL };
    char w[256];

    check_distinct(cfg, ips);
    check_distinct(cfg, host_ports);
    check_distinct(cfg, numa);

    /* The guest's ports: redis base..base+vcpus-1, and the agent port. */
    const char *base = config_get(cfg, "REDIS_BASE_PORT"), *n = config_get(cfg, "GUEST_VCPUS");
    const char *agent = config_get(cfg, "AGENT_PORT");
    uint16_t b, a;
    uint64_t vcpus;
    int ai = key_index("AGENT_PORT");
    if (base && n && agent && parse_port(base, &b) && parse_uint(n, &vcpus) &&
        parse_port(agent, &a) && a >= b && a < b + vcpus)
        add_error(cfg, "%s: AGENT_PORT: %u clashes with the redis ports REDIS_BASE_PORT..+GUEST_VCPUS-1 (%u-%u)",
                  where(cfg, ai, w, sizeof(w)), a, b, (unsigned)(b + vcpus - 1));
    check_sizes(cfg);
    if (base && n && parse_port(base, &b) && parse_uint(n, &vcpus) && b + vcpus - 1 > 65535)
        add_error(cfg, "%s: REDIS_BASE_PORT: %u + GUEST_VCPUS exceeds port 65535", cfg->path, b);
    check_memcached_ports(cfg);
    check_net_mode(cfg);
}

int config_parse(struct config *cfg, const char *path, const char *text, char *const *envp)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = xstrdup(path);
    cfg->values = xcalloc(N_KEYS, sizeof(*cfg->values));
    char *copy = xstrdup(text);
    int lineno = 0;
    for (char *save = NULL, *line = copy; line; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        parse_line(cfg, line, ++lineno);
    }
    free(copy);
    apply_env(cfg, envp);
    for (int i = 0; i < N_KEYS; i++) {
        if (cfg->values[i].value)
            continue;
        if (schema[i].default_value)
            set_value(&cfg->values[i], schema[i].default_value, CO_DEFAULT, 0);
        else
            add_error(cfg, "%s: missing required key '%s'", path, schema[i].name);
    }
    check_relations(cfg);
    return cfg->n_errors;
}

int config_load(struct config *cfg, const char *path, char *const *envp)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        config_parse(cfg, path, "", NULL);
        config_free(cfg);
        memset(cfg, 0, sizeof(*cfg));
        cfg->path = xstrdup(path);
        cfg->values = xcalloc(N_KEYS, sizeof(*cfg->values));
        add_error(cfg, "%s: cannot read config file (%m); set FMLAB_CONFIG or run from the repository", path);
        return cfg->n_errors;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    fclose(f);
    int r = config_parse(cfg, path, n > 0 ? text : "", envp);
    free(text);
    return r;
}

void config_free(struct config *cfg)
{
    if (cfg->values)
        for (int i = 0; i < N_KEYS; i++)
            free(cfg->values[i].value);
    for (int i = 0; i < cfg->n_errors; i++)
        free(cfg->errors[i]);
    free(cfg->errors);
    free(cfg->values);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

const char *config_get(const struct config *cfg, const char *key)
{
    int idx;
    if (!cfg->values || !config_find_key(key, &idx))
        return NULL;
    return cfg->values[idx].value;
}

uint64_t config_get_size(const struct config *cfg, const char *key)
{
    uint64_t v = 0;
    parse_size(config_get(cfg, key), &v);
    return v;
}

uint64_t config_get_uint(const struct config *cfg, const char *key)
{
    uint64_t v = 0;
    parse_uint(config_get(cfg, key), &v);
    return v;
}

void config_print_errors(const struct config *cfg, FILE *out)
{
    for (int i = 0; i < cfg->n_errors; i++)
        fprintf(out, "%s\n", cfg->errors[i]);
}

const char *config_default_path(void)
{
    const char *p = getenv("FMLAB_CONFIG");
    return p && *p ? p : "config.txt";
}
