/*
 * guest.c: the L2 guest of the study (Debian + one redis per vCPU) inside src.
 *
 * src's own QEMU runs it under KVM (nested, through kvm_amd in the host) from the shared
 * guest disk (the L0 file attached to src and dst, found by its serial), with the guest
 * image's kernel from the 9p share. Its serial console and QMP listen on TCP on src's lab
 * address; the runner reaches both from L0 by creating its sockets inside the lab
 * namespace (netns.c). The guest's NIC is on the guests' network only (its tap joins br0
 * in the host's netns vmnet, fmlab-vmnet-helper): it reaches backup, not those sockets. An HMP socket stays in the host for the study's socat habits.
 */
#include "guest.h"
#include "argv.h"
#include "files.h"
#include "host.h"
#include "console.h"
#include "lab.h"
#include "netns.h"
#include "qmp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* -kernel/-initrd/-append root: the lab's bzImage boots from /dev/vda with virtio built
 * in and sets the address itself from ip= (CONFIG_IP_PNP); Debian's kernel needs its
 * initrd to find the root by label. */
static void add_boot_args(const struct config *cfg, struct argv_builder *b)
{
    uint64_t prefix = config_get_uint(cfg, "LAB_NET_PREFIX");
    uint32_t m = prefix ? ~0u << (32 - prefix) : 0;
    bool lab_kernel = strcmp(config_get(cfg, "GUEST_KERNEL"), "lab") == 0;
    /* GUEST_INIT=minimal: image/rootfs-guest/usr/local/sbin/fmlab-init instead of systemd */
    const char *init = strcmp(config_get(cfg, "GUEST_INIT"), "minimal") == 0 ? "init=/usr/local/sbin/fmlab-init " : "";

    argv_add(b, "-kernel"), argv_add(b, "%s/%s", LAB_GUEST_MOUNT, lab_kernel ? "bzImage" : "vmlinuz");
    if (!lab_kernel)
        argv_add(b, "-initrd"), argv_add(b, "%s/initrd.img", LAB_GUEST_MOUNT);
    argv_add(b, "-append");
    argv_add(b, "console=ttyS0 root=%s rw %snet.ifnames=0 ip=%s:::%u.%u.%u.%u:fmlab-vm:eth0:off "
             "fmlab.redis_port=%s fmlab.memcached_port=%s fmlab.agent_port=%s",
             lab_kernel ? "/dev/vda" : "LABEL=fmlab-guest", init, config_get(cfg, "VM_IP"), m >> 24,
             (m >> 16) & 255, (m >> 8) & 255, m & 255, config_get(cfg, "REDIS_BASE_PORT"),
             config_get(cfg, "MEMCACHED_BASE_PORT"), config_get(cfg, "AGENT_PORT"));
}

/* The guest's NIC in its host, by NET_MODE:
 *   bridge    a tap the helper makes in vmnet and adds to its Linux bridge;
 *   ovs       a tap QEMU makes, moved into vmnet and made a port of OVS's br0 (fmlab-ovs-ifup);
 *   ovs-dpdk  vhost-user: QEMU serves GUEST_VHOST_USER_SOCKET, OVS-DPDK's vhu0 connects to it
 *             and moves the packets itself, in the guest's (shared) RAM; NET_QUEUES queue
 *             pairs, which a Linux guest enables by default (one per vCPU, at most N). */
static void add_net_args(const struct config *cfg, struct argv_builder *b)
{
    const char *mode = config_get(cfg, "NET_MODE");
    unsigned long long queues = config_get_uint(cfg, "NET_QUEUES");

    if (strcmp(mode, "ovs-dpdk") == 0) {
        argv_add(b, "-chardev"), argv_add(b, "socket,id=vhu0,path=%s,server=on,wait=off", GUEST_VHOST_USER_SOCKET);
        argv_add(b, "-netdev"), argv_add(b, "vhost-user,id=n0,chardev=vhu0,queues=%llu", queues);
    } else if (strcmp(mode, "ovs") == 0) {
        argv_add(b, "-netdev");
        argv_add(b, "tap,id=n0,ifname=" GUEST_TAP ",script=/usr/local/sbin/fmlab-ovs-ifup,"
                    "downscript=/usr/local/sbin/fmlab-ovs-ifdown,vhost=%s", config_get(cfg, "NET_VHOST"));
    } else {
        argv_add(b, "-netdev");
        argv_add(b, "tap,id=n0,br=br0,helper=/usr/local/sbin/fmlab-vmnet-helper,vhost=%s", config_get(cfg, "NET_VHOST"));
    }
    argv_add(b, "-device");
    if (queues > 1)   /* a vector per queue each way, one for config, one for control */
        argv_add(b, "virtio-net-pci,netdev=n0,mac=52:54:00:fa:00:64,mq=on,vectors=%llu", 2 * queues + 2);
    else
        argv_add(b, "virtio-net-pci,netdev=n0,mac=52:54:00:fa:00:64");
}

char **guest_argv(const struct config *cfg, const char *host_ip, bool incoming)
{
    struct argv_builder b = { 0 };

    argv_add(&b, "qemu-system-x86_64");
    argv_add(&b, "-name"), argv_add(&b, "vm"), argv_add(&b, "-uuid"), argv_add(&b, GUEST_UUID);
    bool shared_ram = strcmp(config_get(cfg, "NET_MODE"), "ovs-dpdk") == 0;   /* vhost-user maps all of it */
    argv_add(&b, "-machine"), argv_add(&b, shared_ram ? "q35,memory-backend=ram0" : "q35");
    argv_add(&b, "-accel"), argv_add(&b, "kvm");
    argv_add(&b, "-cpu"), argv_add(&b, "host"), argv_add(&b, "-smp"), argv_add(&b, "%s", config_get(cfg, "GUEST_VCPUS"));
    argv_add(&b, "-m"), argv_add(&b, "%lluM", (unsigned long long)(config_get_size(cfg, "GUEST_MEM") >> 20));
    if (shared_ram)
        argv_add(&b, "-object"), argv_add(&b, "memory-backend-memfd,id=ram0,size=%lluM,share=on",
                                          (unsigned long long)(config_get_size(cfg, "GUEST_MEM") >> 20));
    argv_add(&b, "-nodefaults"), argv_add(&b, "-no-user-config"), argv_add(&b, "-display"), argv_add(&b, "none");
    argv_add(&b, "-no-reboot");
    add_boot_args(cfg, &b);
    argv_add(&b, "-drive");
    argv_add(&b, "file=/dev/disk/by-id/virtio-fmlab-guest,if=none,id=disk0,format=raw,cache=none,file.locking=off");
    argv_add(&b, "-device"), argv_add(&b, "virtio-blk-pci,drive=disk0");
    add_net_args(cfg, &b);
    argv_add(&b, "-chardev");
    argv_add(&b, "socket,id=con0,host=%s,port=%s,server=on,wait=off,logfile=%s", host_ip,
             config_get(cfg, "VM_CONSOLE_PORT"), GUEST_CONSOLE_LOG);
    argv_add(&b, "-serial"), argv_add(&b, "chardev:con0");
    argv_add(&b, "-qmp"), argv_add(&b, "tcp:%s:%s,server=on,wait=off", host_ip, config_get(cfg, "VM_QMP_PORT"));
    argv_add(&b, "-monitor"), argv_add(&b, "unix:%s,server=on,wait=off", GUEST_HMP_SOCKET);
    argv_add(&b, "-D"), argv_add(&b, "%s", GUEST_QEMU_LOG), argv_add(&b, "-d"), argv_add(&b, "cpu_reset");
    argv_add(&b, "-daemonize"), argv_add(&b, "-pidfile"), argv_add(&b, "%s", GUEST_PIDFILE);
    if (incoming)
        argv_add(&b, "-incoming"), argv_add(&b, "defer");
    return b.v;
}

int guest_command(const struct config *cfg, const char *host_ip, bool incoming, char *out, size_t len)
{
    char **argv = guest_argv(cfg, host_ip, incoming);
    int rc = argv_shell_line("rm -f " GUEST_CONSOLE_LOG ";", argv, out, len);
    argv_free(argv);
    return rc;
}

int guest_fresh_disk(const struct config *cfg, char *err, size_t errlen)
{
    char from[PATH_MAX], to[PATH_MAX];
    const char *dir = config_get(cfg, "SHARED_STORAGE");

    if (files_mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create SHARED_STORAGE %.1000s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(from, sizeof(from), "%s/images/guest/disk.img", config_get(cfg, "CACHE_DIR"));
    snprintf(to, sizeof(to), "%s/%s", dir, LAB_GUEST_DISK);
    return files_copy_sparse(from, to, err, errlen);
}

/* Run cmd on host's console; 0 if it exits 0, else err gets what and the output. */
static int on_host(const struct config *cfg, const char *host, const char *what, const char *cmd,
                   int timeout_s, char *err, size_t errlen)
{
    char out[2048];
    int status = -1;
    int rc = host_run(cfg, host, cmd, timeout_s, out, sizeof(out), &status);
    if (rc == CONSOLE_OK && status == 0)
        return 0;
    snprintf(err, errlen, "[vm] %s (on %s: %s, exit %d): %.300s", what, host, console_strerror(rc), status, out);
    return -1;
}

static int wait_prompt(const struct config *cfg, double *secs, char *err, size_t errlen)
{
    struct console con;
    const char *src_ip = config_get(cfg, "SRC_IP");
    int fd = netns_connect_tcp(LAB_NETNS, src_ip, (uint16_t)config_get_uint(cfg, "VM_CONSOLE_PORT"), 30);
    if (fd < 0 || console_open_fd(&con, "vm", fd) != CONSOLE_OK) {
        snprintf(err, errlen, "[vm] cannot reach the guest console at %s:%s", src_ip, config_get(cfg, "VM_CONSOLE_PORT"));
        return -1;
    }
    /* the prompt may already be printed if we connected late: a newline brings it back */
    console_send(&con, "\r");
    int rc = console_wait_boot(&con, (int)config_get_uint(cfg, "BOOT_IDLE_TIMEOUT"),
                               (int)config_get_uint(cfg, "GUEST_BOOT_TIMEOUT"), secs, err, errlen);
    console_close(&con);
    if (rc != CONSOLE_OK)
        strncat(err, " (log in src: " GUEST_CONSOLE_LOG ")", errlen - strlen(err) - 1);
    return rc == CONSOLE_OK ? 0 : -1;
}

/* QMP of the guest QEMU at host_ip, from L0 through the lab namespace. */
static int guest_qmp_open(const struct config *cfg, const char *host_ip, int timeout_s, struct qmp *q)
{
    char err[256];
    int fd = netns_connect_tcp(LAB_NETNS, host_ip, (uint16_t)config_get_uint(cfg, "VM_QMP_PORT"), timeout_s);
    return fd < 0 || qmp_open_fd(q, fd, timeout_s, err, sizeof(err)) != 0 ? -1 : 0;
}

int guest_run(const struct config *cfg, const char *cmd, int timeout_s, char *out, size_t outlen, int *status)
{
    static const char *const hosts[] = { "src", "dst" };
    char st[64];
    struct console con;

    if (out && outlen)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        const char *ip = config_get(cfg, lab_find_host(hosts[i])->ip_key);
        guest_status(cfg, ip, 5, st, sizeof(st));
        if (strcmp(st, "running") != 0)
            continue;
        int fd = netns_connect_tcp(LAB_NETNS, ip, (uint16_t)config_get_uint(cfg, "VM_CONSOLE_PORT"), 5);
        if (fd < 0 || console_open_fd(&con, "vm", fd) != CONSOLE_OK)
            return CONSOLE_EOF;
        int rc = console_run(&con, cmd, timeout_s, out, outlen, status);
        console_close(&con);
        return rc;
    }
    return CONSOLE_EOF;
}

void guest_status(const struct config *cfg, const char *host_ip, int timeout_s, char *out, size_t len)
{
    struct qmp q;

    snprintf(out, len, "absent");
    if (guest_qmp_open(cfg, host_ip, timeout_s, &q))
        return;
    qmp_status(&q, out, len);
    qmp_close(&q);
}

json_t *guest_query(const struct config *cfg, const char *host_ip, const char *command, int timeout_s)
{
    struct qmp q;
    char err[256];

    if (guest_qmp_open(cfg, host_ip, timeout_s, &q))
        return NULL;
    json_t *ret = qmp_execute(&q, command, NULL, timeout_s, err, sizeof(err));
    qmp_close(&q);
    return ret;
}

int guest_pause(const struct config *cfg, const char *host, bool pause, char *err, size_t errlen)
{
    const struct lab_host *h = lab_find_host(host);
    struct qmp q;
    char e[256];
    if (!h || guest_qmp_open(cfg, config_get(cfg, h->ip_key), 10, &q)) {
        snprintf(err, errlen, "[vm] no guest QMP on %s", host);
        return -1;
    }
    json_t *ret = qmp_execute(&q, pause ? "stop" : "cont", NULL, 30, e, sizeof(e));
    if (!ret)
        snprintf(err, errlen, "[vm] on %s: %s", host, e);
    json_decref(ret);
    qmp_close(&q);
    return ret ? 0 : -1;
}

static int check_qmp(const struct config *cfg, const char *ip, char *err, size_t errlen)
{
    char status[64];
    guest_status(cfg, ip, 10, status, sizeof(status));
    if (strcmp(status, "running") == 0)
        return 0;
    snprintf(err, errlen, "[vm] QMP at %s:%s: %s", ip, config_get(cfg, "VM_QMP_PORT"),
             strcmp(status, "absent") == 0 ? "not reachable" : status);
    return -1;
}

static int check_redis_from_backup(const struct config *cfg, char *err, size_t errlen)
{
    char cmd[1024], what[64];
    unsigned base = (unsigned)config_get_uint(cfg, "REDIS_BASE_PORT");
    for (unsigned i = 0; i < config_get_uint(cfg, "GUEST_VCPUS"); i++) {
        snprintf(cmd, sizeof(cmd), "i=0; until [ \"$(redis-cli -h vm -p %u ping 2>/dev/null)\" = PONG ] || "
                 "[ $i -ge 60 ]; do i=$((i+1)); sleep 1; done; [ \"$(redis-cli -h vm -p %u ping)\" = PONG ]",
                 base + i, base + i);
        snprintf(what, sizeof(what), "redis on port %u answers PONG from backup", base + i);
        if (on_host(cfg, "backup", what, cmd, 90, err, errlen))
            return -1;
    }
    return 0;
}

int guest_up(const struct config *cfg, char *err, size_t errlen)
{
    char cmd[4096], path[PATH_MAX];
    int retries = (int)config_get_uint(cfg, "BOOT_RETRIES");
    double secs = 0;

    for (int attempt = 0; attempt <= retries; attempt++) {
        if (lab_interrupted) {
            snprintf(err, errlen, "interrupted while booting the guest");
            return -1;
        }
        if (attempt) {
            /* a retry must not boot the same disk again: a killed guest leaves its root
             * filesystem needing recovery, which nested paging makes slow */
            printf("[vm] retry %d of %d with a fresh guest disk, after: %s\n", attempt, retries, err);
            guest_stop(cfg, "src");
            if (guest_fresh_disk(cfg, err, errlen))
                return -1;
        }
        if (guest_command(cfg, config_get(cfg, "SRC_IP"), false, cmd, sizeof(cmd)) < 0) {
            snprintf(err, errlen, "[vm] the guest's QEMU command line is longer than %zu bytes", sizeof(cmd));
            return -1;
        }
        if (on_host(cfg, "src", "start the guest's QEMU in src", cmd, 60, err, errlen) == 0 &&
            wait_prompt(cfg, &secs, err, errlen) == 0 && check_redis_from_backup(cfg, err, errlen) == 0 &&
            check_qmp(cfg, config_get(cfg, "SRC_IP"), err, errlen) == 0) {
            lab_path(cfg, "vm.ready", path, sizeof(path));
            FILE *f = fopen(path, "w");
            if (f) {
                fprintf(f, "boot_s=%.1f retries=%d\n", secs, attempt);
                fclose(f);
            }
            printf("[vm] ready: redis answers from backup on %u port%s, QMP at %s:%s (%.1f s, %d retries)\n",
                   (unsigned)config_get_uint(cfg, "GUEST_VCPUS"), config_get_uint(cfg, "GUEST_VCPUS") > 1 ? "s" : "",
                   config_get(cfg, "SRC_IP"), config_get(cfg, "VM_QMP_PORT"), secs, attempt);
            return 0;
        }
    }
    return -1;
}

int guest_check(const struct config *cfg, const char *host, char *err, size_t errlen)
{
    const struct lab_host *h = lab_find_host(host);
    if (!h) {
        snprintf(err, errlen, "[vm] no host '%s'", host);
        return -1;
    }
    return check_redis_from_backup(cfg, err, errlen) || check_qmp(cfg, config_get(cfg, h->ip_key), err, errlen)
           ? -1 : 0;
}

int guest_start_incoming(const struct config *cfg, const char *host, char *err, size_t errlen)
{
    char cmd[4096];
    const struct lab_host *h = lab_find_host(host);

    if (guest_command(cfg, config_get(cfg, h->ip_key), true, cmd, sizeof(cmd)) < 0) {
        snprintf(err, errlen, "[vm] the guest's QEMU command line is longer than %zu bytes", sizeof(cmd));
        return -1;
    }
    if (on_host(cfg, host, "clear a stale guest QEMU", GUEST_STOP_SCRIPT, 30, err, errlen))
        return -1;
    return on_host(cfg, host, "start the incoming guest QEMU (-incoming defer)", cmd, 60, err, errlen);
}

void guest_stop(const struct config *cfg, const char *host)
{
    char err[1024];
    on_host(cfg, host, "stop the guest QEMU", GUEST_STOP_SCRIPT, 30, err, sizeof(err));
}

int guest_hmp(const struct config *cfg, const char *host, const char *command, char *out, size_t outlen)
{
    char cmd[512];
    int status = -1;
    /* the monitor greets and echoes the command line with cursor moves: keep the answer */
    snprintf(cmd, sizeof(cmd), "echo '%s' | socat - unix-connect:" GUEST_HMP_SOCKET " | tr -d '\\r' | "
             "awk 'f && !/^[(]qemu[)]/; /^[(]qemu[)]/ {f=1}'", command);
    int rc = host_run(cfg, host, cmd, 30, out, outlen, &status);
    return rc == CONSOLE_OK && status == 0 ? 0 : -1;
}
