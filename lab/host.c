/*
 * host.c: an L1 host of the lab as a QEMU command line.
 *
 * Each host gets two NUMA nodes: node 0 with its CPUs and HOST_MEM of DRAM, and node 1
 * with HOST_CXL_MEM and no CPUs, the emulated CXL memory, which HMAT marks slower
 * (DRAM_/CXL_LATENCY_NS, DRAM_/CXL_BANDWIDTH). The CXL pool is one L0 file
 * (LAB_POOL_PATH, share=on) attached to every host as an NVDIMM on node 1. An NVDIMM
 * becomes a pmem/devdax device in the host, never memory a page allocator owns, so the
 * three kernels cannot corrupt each other, and a store by src is visible to dst and
 * backup. src and dst also attach the shared guest disk (one L0 file, cache=none,
 * locking off); all hosts see the guest image directory (kernel, initrd) over 9p
 * read-only. Two NICs: eth0 on the lab network (LAB_BRIDGE, fmlab.net= gives its address:
 * ssh, QMP, consoles, migration streams) and eth1 on the guests' network (LAB_VM_BRIDGE),
 * which src and dst keep in a namespace of its own for the guest and backup routes to the
 * guest (fmlab.vmnet=, image/rootfs-host/usr/local/sbin/fmlab-hostnet).
 */
#include "host.h"
#include "argv.h"
#include "alloc.h"
#include "proc.h"
#include "tsc.h"
#include "values.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void extra(struct host_spec *hs, const char *fmt, ...)
{
    va_list ap;
    char *s;

    if (hs->n_extra >= HOST_MAX_EXTRA) {
        hs->extra_overflow = true;
        return;
    }
    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    hs->extra_store[hs->n_extra] = s;
    hs->extra[hs->n_extra++] = s;
    hs->extra[hs->n_extra] = NULL;
}

/* The fmsync kernel has virtio built in and no initrd, so it cannot find a root by label;
 * the host disk is the first -drive (vm.c), hence /dev/vda. */
void host_append(const struct config *cfg, const struct lab_host *h, char *out, size_t len)
{
    bool fmsync = strcmp(config_get(cfg, "HOST_KERNEL"), "fmsync") == 0;
    snprintf(out, len,
             "console=ttyS0 root=%s rw net.ifnames=0 systemd.hostname=%s fmlab.net=%s/%s fmlab.vmnet=%s%s "
             "fmlab.hosts=src=%s,dst=%s,backup=%s,vm=%s,l0=%s",
             fmsync ? "/dev/vda" : "LABEL=fmlab-host", h->name, config_get(cfg, h->ip_key), config_get(cfg, "LAB_NET_PREFIX"),
             h->guest_disk ? config_get(cfg, "NET_MODE") : "route:", h->guest_disk ? "" : config_get(cfg, "VM_IP"),
             config_get(cfg, "SRC_IP"), config_get(cfg, "DST_IP"), config_get(cfg, "BACKUP_IP"),
             config_get(cfg, "VM_IP"), config_get(cfg, "L0_IP"));
    /* Every host the same TSC rate, L0's (see tsc.c): migrations keep the guest's clock */
    unsigned long khz = l0_tsc_khz();
    size_t used = strlen(out);
    if (khz && used < len)
        snprintf(out + used, len - used, " tsc_early_khz=%lu", khz);
    /* NET_MODE=ovs-dpdk: OVS_DPDK_MEM of 2 MiB pages for DPDK, reserved at boot while memory
     * is unfragmented, all on node 0 (DPDK's one socket: node 1 has no CPU) */
    used = strlen(out);
    if (h->guest_disk && strcmp(config_get(cfg, "NET_MODE"), "ovs-dpdk") == 0 && used < len)
        snprintf(out + used, len - used, " hugepagesz=2M hugepages=0:%llu fmlab.pmdsleep=%s",
                 (unsigned long long)(config_get_size(cfg, "OVS_DPDK_MEM") >> 21), config_get(cfg, "OVS_PMD_SLEEP_US"));
}

static void add_numa(const struct config *cfg, struct host_spec *hs, unsigned vcpus)
{
    extra(hs, "-object"), extra(hs, "memory-backend-ram,id=dram,size=%s", config_get(cfg, "HOST_MEM"));
    extra(hs, "-object"), extra(hs, "memory-backend-ram,id=cxlmem,size=%s", config_get(cfg, "HOST_CXL_MEM"));
    extra(hs, "-numa"), extra(hs, "node,nodeid=0,cpus=0-%u,memdev=dram", vcpus - 1);
    extra(hs, "-numa"), extra(hs, "node,nodeid=1,memdev=cxlmem,initiator=0");
    const char *lat[2] = { config_get(cfg, "DRAM_LATENCY_NS"), config_get(cfg, "CXL_LATENCY_NS") };
    const char *bw[2] = { config_get(cfg, "DRAM_BANDWIDTH"), config_get(cfg, "CXL_BANDWIDTH") };
    for (int node = 0; node < 2; node++) {
        extra(hs, "-numa");
        extra(hs, "hmat-lb,initiator=0,target=%d,hierarchy=memory,data-type=access-latency,latency=%s",
              node, lat[node]);
        extra(hs, "-numa");
        extra(hs, "hmat-lb,initiator=0,target=%d,hierarchy=memory,data-type=access-bandwidth,bandwidth=%s",
              node, bw[node]);
    }
    extra(hs, "-object");
    extra(hs, "memory-backend-file,id=pool,mem-path=%s,size=%s,share=on", LAB_POOL_PATH,
          config_get(cfg, "CXL_POOL_SIZE"));
    extra(hs, "-device"), extra(hs, "nvdimm,id=cxlpool,memdev=pool,node=1");
}

void host_l0_qemu(const struct config *cfg, char *out, size_t len)
{
    if (strcmp(config_get(cfg, "L0_QEMU"), "patched") == 0) {
        snprintf(out, len, "%.2000s/l0-qemu/current/bin/qemu-system-x86_64", config_get(cfg, "CACHE_DIR"));
        return;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%.2000s/qemu-system-x86_64", d);
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, len, "qemu-system-x86_64");
}

int host_spec_build(const struct config *cfg, const struct lab_host *h, const char *accel,
                    struct host_spec *hs, char *err, size_t errlen)
{
    char images[PATH_MAX / 2];
    unsigned index = (unsigned)(h - lab_hosts);

    memset(hs, 0, sizeof(*hs));
    snprintf(images, sizeof(images), "%s/images", config_get(cfg, "CACHE_DIR"));
    bool fmsync = strcmp(config_get(cfg, "HOST_KERNEL"), "fmsync") == 0;
    if (fmsync)
        snprintf(hs->kernel, sizeof(hs->kernel), "%s/kernel/current/bzImage", config_get(cfg, "CACHE_DIR"));
    else
        snprintf(hs->kernel, sizeof(hs->kernel), "%s/host/vmlinuz", images);
    snprintf(hs->initrd, sizeof(hs->initrd), "%s/host/initrd.img", images);
    bool patched_qemu = strcmp(config_get(cfg, "HOST_QEMU"), "fmsync") == 0;
    snprintf(hs->disk, sizeof(hs->disk), "%s/%s/disk.img", images, patched_qemu ? "host-qemu" : "host");
    host_l0_qemu(cfg, hs->qemu, sizeof(hs->qemu));
    const char *need[][2] = { { hs->kernel, fmsync ? "make kernel, or HOST_KERNEL=debian" : "make host-image" },
                              { fmsync ? hs->disk : hs->initrd, "make host-image" },
                              { hs->disk, patched_qemu ? "make host-qemu, or HOST_QEMU=debian" : "make host-image" } };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        if (access(need[i][0], R_OK) != 0) {
            snprintf(err, errlen, "[%s] missing %s (build it: %s)", h->name, need[i][0], need[i][1]);
            return -1;
        }
    }
    if (strcmp(config_get(cfg, "L0_QEMU"), "patched") == 0 && access(hs->qemu, X_OK) != 0) {
        snprintf(err, errlen, "[%s] missing %s (build it: make l0-qemu, or L0_QEMU=debian)", h->name, hs->qemu);
        return -1;
    }
    lab_path(cfg, h->name, hs->run_dir, sizeof(hs->run_dir));
    snprintf(hs->overlay, sizeof(hs->overlay), "%.4000s/disk.qcow2", hs->run_dir);
    host_append(cfg, h, hs->append, sizeof(hs->append));
    unsigned vcpus = (unsigned)config_get_uint(cfg, "HOST_VCPUS");
    uint64_t dram = config_get_size(cfg, "HOST_MEM"), cxl = config_get_size(cfg, "HOST_CXL_MEM");
    uint64_t pool = config_get_size(cfg, "CXL_POOL_SIZE");
    snprintf(hs->machine, sizeof(hs->machine), "q35,nvdimm=on,hmat=on");
    snprintf(hs->mem_extra, sizeof(hs->mem_extra), ",slots=1,maxmem=%luM",
             (unsigned long)((dram + cxl + pool) >> 20));
    add_numa(cfg, hs, vcpus);
    extra(hs, "-netdev"), extra(hs, "tap,id=net0,ifname=fmlab-%s,script=no,downscript=no", h->name);
    extra(hs, "-device"), extra(hs, "virtio-net-pci,netdev=net0,mac=52:54:00:fa:01:%02x", index + 1);
    extra(hs, "-netdev"), extra(hs, "tap,id=net1,ifname=fmlab-%s-vm,script=no,downscript=no", h->name);
    /* NET_MODE=ovs-dpdk: DPDK's af_packet uplink reads eth1's frames as they are, and a
     * frame with its checksum left to the receiver (the sender's offload, carried through
     * L0's taps) would reach the guest unfinished: TCP died, ping passed. Without
     * guest_csum L0 finishes every checksum before eth1 sees the frame, as a real NIC's
     * wire does. */
    bool whole_frames = h->guest_disk && strcmp(config_get(cfg, "NET_MODE"), "ovs-dpdk") == 0;
    extra(hs, "-device"), extra(hs, "virtio-net-pci,netdev=net1,mac=52:54:00:fa:02:%02x%s", index + 1,
                                whole_frames ? ",guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off" : "");
    char key[PATH_MAX], share[PATH_MAX];
    lab_ssh_key(cfg, key, sizeof(key));
    extra(hs, "-fw_cfg"), extra(hs, "name=opt/fmlab/authorized_keys,file=%s.pub", key);
    host_key_path(cfg, h, key, sizeof(key));
    extra(hs, "-fw_cfg"), extra(hs, "name=opt/fmlab/ssh_host_ed25519_key,file=%s", key);
    lab_path(cfg, LAB_SHARE, share, sizeof(share));
    extra(hs, "-virtfs");
    extra(hs, "local,path=%s,mount_tag=fmlab-guest,security_model=none,readonly=on", share);
    if (h->guest_disk) {
        extra(hs, "-drive");
        extra(hs, "file=%s/%s,if=none,id=guestdisk,format=raw,cache=none,file.locking=off",
              config_get(cfg, "SHARED_STORAGE"), LAB_GUEST_DISK);
        /* a late PCI slot: the host's own disk (first -drive) is probed first, so it is
         * /dev/vda, the root of the fmsync kernel (no initrd to find it by label) */
        extra(hs, "-device"), extra(hs, "virtio-blk-pci,drive=guestdisk,serial=fmlab-guest,addr=0x10");
    }
    if (hs->extra_overflow) {
        snprintf(err, errlen, "[%s] QEMU's arguments do not fit (more than %d extra): nothing started",
                 h->name, HOST_MAX_EXTRA);
        host_spec_free(hs);
        return -1;
    }
    hs->vm = (struct vm_spec){
        .name = h->name, .qemu = hs->qemu, .netns = LAB_NETNS, .machine = hs->machine, .accel = accel,
        .cpu = strcmp(accel, "kvm") == 0 ? "host" : config_get(cfg, "HOST_CPU"), .vcpus = vcpus,
        .mem = dram + cxl, .mem_extra = hs->mem_extra, .kernel = hs->kernel, .initrd = fmsync ? NULL : hs->initrd,
        .append = hs->append, .disk = hs->overlay, .disk_format = "qcow2", .run_dir = hs->run_dir,
        .extra = hs->extra, .cpuset = h->cpuset_key ? config_get(cfg, h->cpuset_key) : NULL,
    };
    return 0;
}

int host_fresh_overlay(const struct host_spec *hs, char *err, size_t errlen)
{
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", hs->disk,
                           hs->overlay, NULL };
    unlink(hs->overlay);
    if (proc_run(argv) == 0)
        return 0;
    snprintf(err, errlen, "[%s] qemu-img could not create the disk overlay %.1000s", hs->vm.name, hs->overlay);
    return -1;
}

void host_spec_free(struct host_spec *hs)
{
    for (int i = 0; i < hs->n_extra; i++)
        free(hs->extra_store[i]);
    hs->n_extra = 0;
}

/* Run one readiness step; on failure fill err with the step and its output. */
static int step(struct vm *vm, const char *what, const char *cmd, int timeout_s, char *out,
                size_t outlen, char *err, size_t errlen)
{
    int status = -1;
    int rc = console_run(&vm->con, cmd, timeout_s, out, outlen, &status);
    if (rc == CONSOLE_OK && status == 0)
        return 0;
    snprintf(err, errlen, "[%s] not ready: %s (%s, exit %d): %.300s", vm->name, what,
             console_strerror(rc), status, out);
    return -1;
}

void host_key_path(const struct config *cfg, const struct lab_host *h, char *out, size_t len)
{
    char dir[PATH_MAX];
    lab_path(cfg, h->name, dir, sizeof(dir));
    snprintf(out, len, "%.4000s/ssh_host_ed25519_key", dir);
}

int host_check_ready(const struct config *cfg, const struct lab_host *h, struct vm *vm,
                     char *err, size_t errlen)
{
    char out[4096], cmd[2048];
    int t = (int)config_get_uint(cfg, "CMD_TIMEOUT");

    /* fmlab-hostnet addresses eth0 and sets up eth1 (src, dst: br0 in netns vmnet; backup:
     * the route to the guest) before the console's getty starts: wait for it, bounded */
    char vmnet_check[256];
    const char *net_mode = config_get(cfg, "NET_MODE");
    if (h->guest_disk && strcmp(net_mode, "ovs-dpdk") == 0)   /* DPDK up, its af_packet port on eth1 added */
        snprintf(vmnet_check, sizeof(vmnet_check), "ovs-vsctl --timeout=5 get Open_vSwitch . dpdk_initialized | grep -qx true"
                 " && [ \"$(ovs-vsctl --timeout=5 get Interface uplink ofport)\" -gt 0 ]");
    else if (h->guest_disk)   /* a port of br0: the Linux bridge's, or Open vSwitch's datapath */
        snprintf(vmnet_check, sizeof(vmnet_check), "ip -n vmnet -o link show eth1 | grep -q 'master %s'",
                 strcmp(net_mode, "ovs") == 0 ? "ovs-system" : "br0");
    else
        snprintf(vmnet_check, sizeof(vmnet_check), "ip route show dev eth1 | grep -q '^%s '", config_get(cfg, "VM_IP"));
    snprintf(cmd, sizeof(cmd), "ready() { ip -4 -o addr show eth0 | grep -q ' %s/' && %s; }; i=0; "
             "until ready 2>/dev/null || [ $i -ge %d ]; do i=$((i+1)); sleep 0.5; done; ready || { "
             "ovs-vsctl --timeout=5 get Interface uplink error; journalctl -b -u fmlab-hostnet -o cat -n 3 --no-pager; "
             "tail -n 2 /var/log/openvswitch/ovs-vswitchd.log; false; } 2>/dev/null",
             config_get(cfg, h->ip_key), vmnet_check, 2 * t);
    if (step(vm, "eth0 has its address, eth1 the guests' network", cmd, 2 * t, out, sizeof(out), err, errlen))
        return -1;
    if (step(vm, "guest image share (9p) mounted", HOST_SHARE_MOUNT, t, out, sizeof(out), err, errlen))
        return -1;
    /* node 1: memory and no CPUs, the emulated CXL node */
    if (step(vm, "NUMA node 1 is CPU-less memory",
             "numactl -H | grep -q '^node 1 cpus: *$' && numactl -H | grep -Eq '^node 1 size: [1-9]'",
             t, out, sizeof(out), err, errlen))
        return -1;
    if (step(vm, "kvm_amd loaded, /dev/kvm present",
             "{ test -c /dev/kvm || modprobe kvm_amd || modprobe kvm_intel; } 2>/dev/null; test -c /dev/kvm",
             t, out, sizeof(out), err, errlen))
        return -1;
    /* /dev/kvm usable: a VM runs guest instructions (image/kvmcheck/fmlab-kvmcheck.c) */
    if (step(vm, "/dev/kvm runs guest code (fmlab-kvmcheck)", "fmlab-kvmcheck", t, out, sizeof(out),
             err, errlen))
        return -1;
    /* commands after the boot go over ssh (host_run): sshd must listen */
    snprintf(cmd, sizeof(cmd), "i=0; until ss -Hltn 'sport = :22' | grep -q . || [ $i -ge %d ]; do "
             "i=$((i+1)); sleep 0.5; done; ss -Hltn 'sport = :22' | grep -q .", 2 * t);
    if (step(vm, "sshd listens", cmd, 2 * t, out, sizeof(out), err, errlen))
        return -1;
    return 0;
}

int host_ssh_argv(const struct config *cfg, const struct lab_host *h, const char *cmd, int timeout_s,
                  struct host_ssh *s)
{
    size_t qlen = 4 * strlen(cmd) + 3;
    char *quoted = xmalloc(qlen);
    if (lab_shell_quote(cmd, quoted, qlen) < 0) {
        free(quoted);
        return -1;
    }
    /* the host ends the command itself when it overruns (the ssh client's death would
     * leave it running there): TERM at timeout_s, KILL 5 s later */
    s->remote = xasprintf("timeout -k 5 %d sh -c %s", timeout_s, quoted);
    free(quoted);
    lab_path(cfg, h->name, s->ctl_path, sizeof(s->ctl_path));
    snprintf(s->ctl, sizeof(s->ctl), "ControlPath=%.4000s/ssh.ctl", s->ctl_path);
    snprintf(s->dest, sizeof(s->dest), "root@%s", config_get(cfg, h->ip_key));
    int n = lab_ssh_prefix(cfg, "ssh", &s->paths, s->argv);
    /* one connection per host, kept by a master ssh in the lab's cgroup: a command costs a
     * session on it, not a key exchange (~1.5 s with a TCG host's crypto) */
    const char *mux[] = { "-T", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", s->ctl,
                          "-o", "ControlPersist=300", "-o", "ServerAliveInterval=5", s->dest, s->remote, NULL };
    memcpy(s->argv + n, mux, sizeof(mux));
    return 0;
}

void host_ssh_free(struct host_ssh *s)
{
    free(s->remote);
    s->remote = NULL;
}

int host_run(const struct config *cfg, const char *host, const char *cmd, int timeout_s,
             char *out, size_t outlen, int *status)
{
    struct host_ssh s;
    char sink[1];
    bool timed_out;

    if (!out || !outlen)
        out = sink, outlen = sizeof(sink);
    out[0] = '\0';
    *status = -1;
    if (host_ssh_argv(cfg, lab_find_host(host), cmd, timeout_s, &s) < 0)
        return CONSOLE_TOO_LONG;
    int rc = proc_capture_all(s.argv, out, outlen, timeout_s + 15, &timed_out);
    host_ssh_free(&s);
    if (timed_out)
        return CONSOLE_TIMEOUT;
    if (rc == 255 || rc < 0)   /* ssh's own failure: the host is not reachable */
        return CONSOLE_EOF;
    *status = rc;
    return rc == 124 ? CONSOLE_TIMEOUT : CONSOLE_OK;
}
