// SPDX-License-Identifier: GPL-2.0
/*
 * fmsync_test - test KVM_FMSYNC_GET_DIRTY_LOG{,_HUGE} (kernel/patches/).
 *
 * A standalone program in the style of the KVM selftests, without their
 * library, so it builds with plain gcc against the patched uapi header (or
 * the system one; the fmsync numbers are defined here if missing):
 *
 *   gcc -std=gnu11 -O2 -Wall -Wextra -o fmsync_test fmsync_test.c
 *
 * It creates a VM with one vCPU running 32-bit protected-mode code without
 * paging (flat segments set through KVM_SET_SREGS, so guest linear ==
 * guest physical).  The guest walks a table of {gpa, count} entries that
 * the host puts in guest memory and writes one byte at gpa, gpa + 4 KiB,
 * ... (count pages), then does OUT to port 0x10.  The host then calls the
 * fmsync ioctls and checks that the bitmaps are exactly the written set:
 *
 *  - pages the guest only reads (the host wrote them, so a read fault may
 *    map them writable) are not reported; written afterwards, they are;
 *  - a slot backed by 4 KiB pages (MADV_NOHUGEPAGE): both ioctls, random
 *    sets, round after round (a page written after a clear must appear,
 *    a page not written must not);
 *  - a slot backed by 2 MiB pages (MAP_HUGETLB if the pool has pages, else
 *    THP via MADV_HUGEPAGE): the huge ioctl must be exact per 2 MiB region
 *    and must not split; the 4 KiB ioctl must report a region either
 *    exactly or whole (a dirty huge mapping), a region reported whole is
 *    split (TDP MMU) or zapped (shadow MMU), and while only the 4 KiB ioctl
 *    is used it is exact from then on;
 *  - error cases (bad slot/address space/flags -> EINVAL, bad pointers ->
 *    EFAULT without losing state, dirty logging on -> EBUSY), deleting and
 *    moving a slot (dirty state survives a move);
 *  - cost per GiB of the fmsync ioctls vs KVM_GET_DIRTY_LOG (and
 *    KVM_CLEAR_DIRTY_LOG with manual protect) on the same slot, printed.
 *
 * Output is TAP ("ok N - ...", "not ok N - ...", "# ..." diagnostics, plan
 * at the end); the exit status is non-zero if any test failed.
 *
 * Usage: fmsync_test [-b MiB] [-r rounds] [-s seed] [-t] [-v]
 *   -b  size of the benchmark slot in MiB (default 256, 0 skips it)
 *   -r  random rounds per slot (default 6)
 *   -s  seed of the page-set generator (default 1)
 *   -t  back the huge slot with THP only (never MAP_HUGETLB)
 *   -v  verbose
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* For the patched tree's include/uapi, used without headers_install. */
#ifndef __user
#define __user
#endif
#include <linux/kvm.h>

#ifndef KVM_CAP_FMSYNC
#define KVM_CAP_FMSYNC 1000
#endif
#ifndef KVM_FMSYNC_GET_DIRTY_LOG_HUGE
#define KVM_FMSYNC_GET_DIRTY_LOG_HUGE	_IOW(KVMIO, 0xf0, struct kvm_dirty_log)
#define KVM_FMSYNC_GET_DIRTY_LOG	_IOW(KVMIO, 0xf1, struct kvm_dirty_log)
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define PAGE_SIZE	4096ULL
#define HUGE_SIZE	(2ULL << 20)
#define PAGES_PER_HUGE	512ULL

/* Guest physical layout; everything stays below 0xe0000000. */
#define CODE_GPA	0x1000ULL
#define TABLE_GPA	0x2000ULL
#define SLOT0_SIZE	(1ULL << 20)
#define TABLE_MAX	((SLOT0_SIZE - TABLE_GPA) / 8 - 1)
#define GPA_4K		0x40000000ULL
#define GPA_4K_MOVED	0x50000000ULL
#define GPA_2M		0x80000000ULL
#define GPA_BENCH	0xa0000000ULL
#define BENCH_MAX_MIB	1024ULL
#define TEST_SIZE	(64ULL << 20)
#define DONE_PORT	0x10
#define TSS_GPA		0xfffbd000ULL

/*
 * The guest, 32-bit protected mode, hand-assembled:
 *
 *  0: be 00 20 00 00     mov  esi, TABLE_GPA
 *  5: 8b 3e              mov  edi, [esi]         ; entry.gpa
 *  7: 8b 4e 04           mov  ecx, [esi + 4]     ; entry.count
 * 10: 85 c9              test ecx, ecx
 * 12: 74 10              jz   30                 ; count 0 ends the table
 * 14: 88 07              mov  [edi], al          ; al = round, set by host
 * 16: 81 c7 00 10 00 00  add  edi, 4096
 * 22: 49                 dec  ecx
 * 23: 75 f5              jnz  14
 * 25: 83 c6 08           add  esi, 8
 * 28: eb e7              jmp  5
 * 30: e6 10              out  DONE_PORT, al
 * 32: f4                 hlt
 * 33: eb fb              jmp  30
 */
static const uint8_t guest_code[] = {
	0xbe, 0x00, 0x20, 0x00, 0x00,
	0x8b, 0x3e,
	0x8b, 0x4e, 0x04,
	0x85, 0xc9,
	0x74, 0x10,
	0x88, 0x07,
	0x81, 0xc7, 0x00, 0x10, 0x00, 0x00,
	0x49,
	0x75, 0xf5,
	0x83, 0xc6, 0x08,
	0xeb, 0xe7,
	0xe6, DONE_PORT,
	0xf4,
	0xeb, 0xfb,
};

struct entry {
	uint32_t gpa;
	uint32_t count;
};

struct slot {
	const char *name;
	uint32_t id;
	uint32_t flags;
	uint64_t gpa;
	uint64_t size;
	uint64_t npages;
	uint8_t *hva;
	char backing[48];
};

enum mmu { MMU_UNKNOWN, MMU_TDP, MMU_SHADOW };

static int kvm_fd, vm_fd, vcpu_fd, stats_fd = -1;
static struct kvm_run *run;
static uint8_t *mem0;
static enum mmu mmu;
static int ntests, nfailed;
static bool verbose;
static uint64_t rng_state = 1;
static uint8_t round_val;

/* --- TAP ----------------------------------------------------------------- */

static void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static bool ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%sok %d - ", pass ? "" : "not ", ++ntests);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	if (!pass)
		nfailed++;
	return pass;
}

static void __attribute__((noreturn)) bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("Bail out! ");
	vprintf(fmt, ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	exit(1);
}

/* --- small helpers ------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % n;
}

static uint64_t words(uint64_t nbits)
{
	return (nbits + 63) / 64;
}

static uint64_t *bits_alloc(uint64_t nbits)
{
	uint64_t *b = calloc(words(nbits), 8);

	if (!b)
		bail("calloc");
	return b;
}

static void bit_set(uint64_t *b, uint64_t i)
{
	b[i / 64] |= 1ULL << (i % 64);
}

static bool bit_test(const uint64_t *b, uint64_t i)
{
	return b[i / 64] & (1ULL << (i % 64));
}

static uint64_t bits_count(const uint64_t *b, uint64_t nbits)
{
	uint64_t i, n = 0;

	for (i = 0; i < nbits; i++)
		n += bit_test(b, i);
	return n;
}

/* One bit per 2 MiB region with a page set in @pages. */
static uint64_t *regions_of(const uint64_t *pages, uint64_t npages)
{
	uint64_t *r = bits_alloc((npages + PAGES_PER_HUGE - 1) / PAGES_PER_HUGE);
	uint64_t i;

	for (i = 0; i < npages; i++)
		if (bit_test(pages, i))
			bit_set(r, i / PAGES_PER_HUGE);
	return r;
}

static bool same_bits(const char *what, const uint64_t *got,
		      const uint64_t *want, uint64_t nbits)
{
	uint64_t i, shown = 0;

	for (i = 0; i < nbits; i++) {
		if (bit_test(got, i) == bit_test(want, i))
			continue;
		if (shown++ < 8)
			diag("%s: bit %llu is %d, expected %d", what,
			     (unsigned long long)i, bit_test(got, i),
			     bit_test(want, i));
	}
	if (shown)
		diag("%s: %llu bits differ (got %llu set, expected %llu)", what,
		     (unsigned long long)shown,
		     (unsigned long long)bits_count(got, nbits),
		     (unsigned long long)bits_count(want, nbits));
	return !shown;
}

static int read_param(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == 'y' || c == '1';
}

/* --- VM setup ------------------------------------------------------------ */

static void detect_mmu(void)
{
	unsigned int eax, ebx, ecx, edx;
	char vendor[13] = "";
	int tdp = -1, tdp_mmu;

	if (__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
		memcpy(vendor, &ebx, 4);
		memcpy(vendor + 4, &edx, 4);
		memcpy(vendor + 8, &ecx, 4);
	}
	if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine"))
		tdp = read_param("/sys/module/kvm_amd/parameters/npt");
	else if (!strcmp(vendor, "GenuineIntel"))
		tdp = read_param("/sys/module/kvm_intel/parameters/ept");
	tdp_mmu = read_param("/sys/module/kvm/parameters/tdp_mmu");

	if (tdp < 0)
		mmu = MMU_UNKNOWN;
	else if (tdp && tdp_mmu == 1)
		mmu = MMU_TDP;
	else if (!tdp || tdp_mmu == 0)
		mmu = MMU_SHADOW;
	diag("cpu %s, tdp (npt/ept) %d, tdp_mmu %d, eptad %d: %s MMU", vendor,
	     tdp, tdp_mmu, read_param("/sys/module/kvm_intel/parameters/eptad"),
	     mmu == MMU_TDP ? "TDP" : mmu == MMU_SHADOW ? "shadow" : "unknown");
}

static void set_slot(const struct slot *s)
{
	struct kvm_userspace_memory_region r = {
		.slot = s->id,
		.flags = s->flags,
		.guest_phys_addr = s->gpa,
		.memory_size = s->size,
		.userspace_addr = (uintptr_t)s->hva,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		bail("KVM_SET_USER_MEMORY_REGION slot %u", s->id);
}

static uint8_t *map_anon(uint64_t size, int extra)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void slot_init_4k(struct slot *s, const char *name, uint32_t id,
			 uint64_t gpa, uint64_t size)
{
	*s = (struct slot){ .name = name, .id = id, .gpa = gpa, .size = size,
			    .npages = size / PAGE_SIZE };
	s->hva = map_anon(size, 0);
	if (!s->hva)
		bail("mmap %s", name);
	/* Keep the host mapping 4 KiB, hence the SPTEs too. */
	if (madvise(s->hva, size, MADV_NOHUGEPAGE))
		diag("%s: MADV_NOHUGEPAGE failed: %s", name, strerror(errno));
	snprintf(s->backing, sizeof(s->backing), "4 KiB pages");
	set_slot(s);
}

static void slot_init_2m(struct slot *s, const char *name, uint32_t id,
			 uint64_t gpa, uint64_t size, bool thp_only)
{
	uint8_t *p;

	*s = (struct slot){ .name = name, .id = id, .gpa = gpa, .size = size,
			    .npages = size / PAGE_SIZE };
	if (!thp_only) {
		/* Without MAP_NORESERVE this fails unless the pool has pages. */
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
			 -1, 0);
		if (p != MAP_FAILED) {
			s->hva = p;
			snprintf(s->backing, sizeof(s->backing),
				 "2 MiB hugetlb pages");
		}
	}
	if (!s->hva) {
		p = map_anon(size + HUGE_SIZE, 0);
		if (!p)
			bail("mmap %s", name);
		s->hva = (uint8_t *)(((uintptr_t)p + HUGE_SIZE - 1) &
				     ~(HUGE_SIZE - 1));
		if (madvise(s->hva, size, MADV_HUGEPAGE))
			diag("%s: MADV_HUGEPAGE failed: %s", name,
			     strerror(errno));
		snprintf(s->backing, sizeof(s->backing), "THP (MADV_HUGEPAGE)");
	}
	set_slot(s);
}

static void setup_vcpu(void)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	int size;

	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		bail("KVM_CREATE_VCPU");
	size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size <= 0)
		bail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		bail("mmap kvm_run");

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		bail("KVM_GET_SREGS");
	data.selector = 16;
	data.type = 3;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	/* Protected mode, no paging, caches enabled (CD and NW clear). */
	sregs.cr0 = (sregs.cr0 | 1) & ~0x60000000ULL;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		bail("KVM_SET_SREGS");
}

static void setup_vm(struct slot *s0)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		bail("open /dev/kvm");
	if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		bail("KVM API version");
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		bail("KVM_CREATE_VM");
	/* VMX needs it for real mode only, SVM ignores it; harmless. */
	ioctl(vm_fd, KVM_SET_TSS_ADDR, TSS_GPA);

	*s0 = (struct slot){ .name = "code", .id = 0, .gpa = 0,
			     .size = SLOT0_SIZE, .npages = SLOT0_SIZE / PAGE_SIZE };
	s0->hva = map_anon(SLOT0_SIZE, 0);
	if (!s0->hva)
		bail("mmap code slot");
	memcpy(s0->hva + CODE_GPA, guest_code, sizeof(guest_code));
	mem0 = s0->hva;
	set_slot(s0);

	stats_fd = ioctl(vm_fd, KVM_GET_STATS_FD, 0);
}

/* Read a VM statistic by name from the binary stats fd, -1 if unavailable. */
static int64_t vm_stat(const char *name)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsize;
	uint64_t val;
	uint32_t i;
	char *descs;
	int64_t ret = -1;

	if (stats_fd < 0 || pread(stats_fd, &h, sizeof(h), 0) != sizeof(h))
		return -1;
	dsize = sizeof(*d) + h.name_size;
	descs = malloc(dsize * h.num_desc);
	if (!descs)
		return -1;
	if (pread(stats_fd, descs, dsize * h.num_desc, h.desc_offset) !=
	    (ssize_t)(dsize * h.num_desc))
		goto out;
	for (i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsize);
		if (strcmp(d->name, name))
			continue;
		if (pread(stats_fd, &val, sizeof(val), h.data_offset + d->offset)
		    == sizeof(val))
			ret = val;
		break;
	}
out:
	free(descs);
	return ret;
}

/* --- running the guest --------------------------------------------------- */

/* Run the guest over @n table entries; returns the time spent in KVM_RUN. */
static uint64_t run_guest(const struct entry *e, uint64_t n)
{
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
	uint64_t t0;

	if (n > TABLE_MAX)
		bail("guest table too large (%llu entries)",
		     (unsigned long long)n);
	memcpy(mem0 + TABLE_GPA, e, n * sizeof(*e));
	memset(mem0 + TABLE_GPA + n * sizeof(*e), 0, sizeof(*e));

	regs.rax = ++round_val;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		bail("KVM_SET_REGS");

	t0 = now_ns();
	for (;;) {
		if (ioctl(vcpu_fd, KVM_RUN, 0)) {
			if (errno == EINTR)
				continue;
			bail("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_IO &&
		    run->io.direction == KVM_EXIT_IO_OUT &&
		    run->io.port == DONE_PORT)
			break;
		errno = 0;
		bail("unexpected exit %u (hw reason 0x%llx, suberror %u)",
		     run->exit_reason,
		     (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		     run->internal.suberror);
	}
	return now_ns() - t0;
}

/* Run the guest's loop over the pages in @set (runs merged). */
static void write_pages_unchecked(const struct slot *s, const uint64_t *set)
{
	struct entry *e = calloc(s->npages, sizeof(*e));
	uint64_t i, n = 0;

	if (!e)
		bail("calloc");
	for (i = 0; i < s->npages; i++) {
		if (!bit_test(set, i))
			continue;
		if (n && e[n - 1].gpa + e[n - 1].count * PAGE_SIZE ==
			 s->gpa + i * PAGE_SIZE)
			e[n - 1].count++;
		else
			e[n++] = (struct entry){ s->gpa + i * PAGE_SIZE, 1 };
	}
	run_guest(e, n);
	free(e);
}

/* Let the guest write the pages in @set, check memory. */
static void write_pages(const struct slot *s, const uint64_t *set)
{
	uint64_t i, bad = 0;

	write_pages_unchecked(s, set);
	for (i = 0; i < s->npages; i++)
		if (bit_test(set, i) && s->hva[i * PAGE_SIZE] != round_val)
			bad++;
	if (bad)
		ok(false, "%s: guest wrote all %llu pages (%llu missing)",
		   s->name, (unsigned long long)bits_count(set, s->npages),
		   (unsigned long long)bad);
}

/* Random set of @n pages plus a run of @run consecutive pages. */
static uint64_t *random_set(const struct slot *s, uint64_t n, uint64_t run)
{
	uint64_t *set = bits_alloc(s->npages);
	uint64_t i, start = rnd(s->npages - run);

	for (i = 0; i < n; i++)
		bit_set(set, rnd(s->npages));
	for (i = 0; i < run; i++)
		bit_set(set, start + i);
	return set;
}

/* --- the ioctls ---------------------------------------------------------- */

static int fmsync(uint32_t slot, bool huge, void *bitmap, uint32_t flags)
{
	struct kvm_dirty_log log = { .slot = slot, .padding1 = flags };

	log.dirty_bitmap = bitmap;
	return ioctl(vm_fd, huge ? KVM_FMSYNC_GET_DIRTY_LOG_HUGE :
				   KVM_FMSYNC_GET_DIRTY_LOG, &log) ? -errno : 0;
}

static uint64_t nbits_of(const struct slot *s, bool huge)
{
	return huge ? (s->npages + PAGES_PER_HUGE - 1) / PAGES_PER_HUGE :
		      s->npages;
}

/* Call fmsync on @s; returns a fresh bitmap, or NULL (test failed). */
static uint64_t *collect(const struct slot *s, bool huge)
{
	uint64_t *b = bits_alloc(nbits_of(s, huge));
	int r = fmsync(s->id, huge, b, 0);

	if (r) {
		ok(false, "%s: %s returned %d (%s)", s->name,
		   huge ? "KVM_FMSYNC_GET_DIRTY_LOG_HUGE" :
			  "KVM_FMSYNC_GET_DIRTY_LOG", r, strerror(-r));
		free(b);
		return NULL;
	}
	return b;
}

/* Call fmsync and compare with the written set @pages, exactly. */
static bool expect_exact(const struct slot *s, bool huge,
			 const uint64_t *pages, const char *what)
{
	uint64_t *want = huge ? regions_of(pages, s->npages) :
				bits_alloc(s->npages);
	uint64_t *got = collect(s, huge);
	bool pass = false;

	if (!huge)
		memcpy(want, pages, words(s->npages) * 8);
	if (got)
		pass = ok(same_bits(what, got, want, nbits_of(s, huge)),
			  "%s: %s: %s bitmap is exactly the written set (%llu %s)",
			  s->name, what, huge ? "2 MiB" : "4 KiB",
			  (unsigned long long)bits_count(want, nbits_of(s, huge)),
			  huge ? "regions" : "pages");
	free(want);
	free(got);
	return pass;
}

/*
 * 4 KiB bitmap of a huge-backed slot: each region must be reported either
 * exactly or whole (a dirty huge mapping reports all its pages).  Regions
 * set in @must_exact must be exact.  Regions reported whole are set in
 * @whole.  Returns the number of whole regions, or -1 on mismatch.
 */
static int check_regions(const struct slot *s, const uint64_t *got,
			 const uint64_t *pages, const uint64_t *must_exact,
			 uint64_t *whole)
{
	uint64_t r, i, nreg = nbits_of(s, true);
	int nwhole = 0;

	for (r = 0; r < nreg; r++) {
		uint64_t first = r * PAGES_PER_HUGE, end = first + PAGES_PER_HUGE;
		bool exact = true, full = true, written = false;

		if (end > s->npages)
			end = s->npages;
		for (i = first; i < end; i++) {
			exact &= bit_test(got, i) == bit_test(pages, i);
			full &= bit_test(got, i);
			written |= bit_test(pages, i);
		}
		if (exact)
			continue;
		if (full && written && !(must_exact && bit_test(must_exact, r))) {
			bit_set(whole, r);
			nwhole++;
			continue;
		}
		diag("%s: region %llu: reported %llu pages, written %llu%s",
		     s->name, (unsigned long long)r,
		     (unsigned long long)(bits_count(got, end) -
					  bits_count(got, first)),
		     (unsigned long long)(bits_count(pages, end) -
					  bits_count(pages, first)),
		     full ? " (whole region where exact was required)" : "");
		return -1;
	}
	return nwhole;
}

/* --- the tests ----------------------------------------------------------- */

static void test_untouched(const struct slot *s)
{
	uint64_t *none = bits_alloc(s->npages);

	expect_exact(s, true, none, "untouched slot");
	expect_exact(s, false, none, "untouched slot");
	free(none);
}

/*
 * Pages the guest only reads are not reported.  The host writes them first,
 * so that their host mappings are writable and a read fault may install a
 * writable SPTE (KVM must not preset its Dirty bit, patch 10); then the same
 * pages written are reported: the CPU sets the bit that KVM left clear.
 */
static void test_reads(const struct slot *s)
{
	uint64_t *none = bits_alloc(s->npages);
	uint64_t *set = random_set(s, 100, 32);
	uint64_t i;

	for (i = 0; i < s->npages; i++)
		if (bit_test(set, i))
			s->hva[i * PAGE_SIZE] = 0xa5;
	free(collect(s, false));
	free(collect(s, true));
	mem0[CODE_GPA + 14] = 0x8a;		/* mov al, [edi] */
	write_pages_unchecked(s, set);
	mem0[CODE_GPA + 14] = 0x88;		/* mov [edi], al */
	expect_exact(s, false, none, "pages the guest only read");
	write_pages(s, set);
	expect_exact(s, false, set, "the same pages written after the reads");
	free(set);
	free(none);
}

static void test_4k_slot(const struct slot *s, int rounds)
{
	uint64_t *set, *none = bits_alloc(s->npages);
	int i;

	/* First and last page of the slot, and a run across a region. */
	set = bits_alloc(s->npages);
	bit_set(set, 0);
	bit_set(set, s->npages - 1);
	for (i = 0; i < 20; i++)
		bit_set(set, PAGES_PER_HUGE - 10 + i);
	write_pages(s, set);
	expect_exact(s, false, set, "edges");
	expect_exact(s, false, none, "no writes since last call");
	expect_exact(s, true, none, "no writes since last call");
	free(set);

	for (i = 0; i < rounds; i++) {
		bool huge = i % 3 == 1;
		char what[64];

		set = random_set(s, 1 + rnd(200), rnd(64));
		write_pages(s, set);
		snprintf(what, sizeof(what), "round %d", i);
		expect_exact(s, huge, set, what);
		/* The other ioctl shares the state: nothing left. */
		snprintf(what, sizeof(what), "round %d, other ioctl", i);
		expect_exact(s, !huge, none, what);
		free(set);
	}

	/* The same pages again: written after a clear, so reported again. */
	set = random_set(s, 50, 8);
	write_pages(s, set);
	expect_exact(s, false, set, "first write");
	write_pages(s, set);
	expect_exact(s, false, set, "same pages rewritten after the clear");
	free(set);
	free(none);
}

/* A random page in every 2 MiB region of @s. */
static uint64_t *one_page_per_region(const struct slot *s)
{
	uint64_t *set = bits_alloc(s->npages), r;

	for (r = 0; r < nbits_of(s, true); r++)
		bit_set(set, r * PAGES_PER_HUGE + rnd(PAGES_PER_HUGE));
	return set;
}

static void test_2m_slot(const struct slot *s, int rounds)
{
	uint64_t nreg = nbits_of(s, true), *set, *none = bits_alloc(s->npages);
	uint64_t *whole = bits_alloc(nreg), *prev_whole = bits_alloc(nreg);
	int64_t p2m, p2m_after;
	uint64_t *got, r;
	int i, nwhole;

	/* Fault everything in with one write per region. */
	set = one_page_per_region(s);
	write_pages(s, set);
	expect_exact(s, true, set, "one write per region");
	free(set);
	p2m = vm_stat("pages_2m");
	diag("%s: %s, %lld 2 MiB mappings in the VM after fault-in", s->name,
	     s->backing, (long long)p2m);
	expect_exact(s, false, none, "clean, 4 KiB ioctl");
	p2m_after = vm_stat("pages_2m");
	ok(p2m == p2m_after, "%s: 4 KiB ioctl on clean huge pages splits nothing (%lld -> %lld)",
	   s->name, (long long)p2m, (long long)p2m_after);

	for (i = 0; i < rounds; i++) {
		char what[64];

		/* Huge ioctl: exact per region, never splits. */
		set = random_set(s, 1 + rnd(40), rnd(16));
		write_pages(s, set);
		snprintf(what, sizeof(what), "round %d", i);
		p2m = vm_stat("pages_2m");
		expect_exact(s, true, set, what);
		p2m_after = vm_stat("pages_2m");
		ok(p2m == p2m_after, "%s: round %d: huge ioctl keeps huge pages (%lld -> %lld)",
		   s->name, i, (long long)p2m, (long long)p2m_after);
		free(set);

		/*
		 * 4 KiB ioctl: half of the pages in regions reported whole
		 * last time (split by the TDP MMU, hence exact now), half
		 * anywhere.
		 */
		set = random_set(s, 1 + rnd(40), 0);
		for (r = 0; r < nreg; r++)
			if (bit_test(prev_whole, r))
				bit_set(set, r * PAGES_PER_HUGE +
					     rnd(PAGES_PER_HUGE));
		write_pages(s, set);
		memset(whole, 0, words(nreg) * 8);
		p2m = vm_stat("pages_2m");
		got = collect(s, false);
		p2m_after = vm_stat("pages_2m");
		if (!got) {
			free(set);
			continue;
		}
		nwhole = check_regions(s, got, set,
				       mmu == MMU_TDP ? prev_whole : NULL, whole);
		ok(nwhole >= 0, "%s: round %d: 4 KiB bitmap exact per region, or whole for a dirty huge mapping (%d whole)",
		   s->name, i, nwhole);
		if (nwhole >= 0 && p2m >= 0)
			ok(p2m - p2m_after == nwhole,
			   "%s: round %d: %s the %d dirty huge mappings (pages_2m %lld -> %lld)",
			   s->name, i, mmu == MMU_TDP ? "TDP MMU split" : "shadow MMU zapped",
			   nwhole, (long long)p2m, (long long)p2m_after);
		expect_exact(s, true, none, "after the 4 KiB ioctl");
		memcpy(prev_whole, whole, words(nreg) * 8);
		free(got);
		free(set);
	}

	/*
	 * 4 KiB ioctls in a row: a region reported whole is split or zapped,
	 * and faults back in at 4 KiB (patch 11), so the next one is exact.
	 */
	set = one_page_per_region(s);
	write_pages(s, set);
	free(collect(s, false));
	free(set);
	set = one_page_per_region(s);
	write_pages(s, set);
	expect_exact(s, false, set, "4 KiB ioctls in a row, every region written");
	free(set);
	free(whole);
	free(prev_whole);
	free(none);
}

static void test_errors(struct slot *s)
{
	uint64_t *b = bits_alloc(s->npages), *set;
	void *hole;
	int r;

	r = fmsync(77, false, b, 0);
	ok(r == -EINVAL, "no such slot: EINVAL (got %d)", r);
	r = fmsync(77, true, b, 0);
	ok(r == -EINVAL, "no such slot, huge: EINVAL (got %d)", r);
	r = fmsync(s->id | (1 << 16), false, b, 0);
	ok(r == -EINVAL, "slot absent from address space 1: EINVAL (got %d)", r);
	r = fmsync(s->id | (100 << 16), false, b, 0);
	ok(r == -EINVAL, "bad address space: EINVAL (got %d)", r);
	r = fmsync(s->id, false, b, 1);
	ok(r == -EINVAL, "flags (padding1) != 0: EINVAL (got %d)", r);
	r = fmsync(s->id, true, b, 0x80000000u);
	ok(r == -EINVAL, "flags (padding1) != 0, huge: EINVAL (got %d)", r);

	/*
	 * Bad pointers fail with EFAULT and lose nothing: the kernel puts the
	 * collected bits back, 4 KiB bits exactly, 2 MiB bits as whole
	 * regions (hence the huge ioctl to check the second case).
	 */
	hole = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (hole == MAP_FAILED)
		bail("mmap PROT_NONE");
	set = random_set(s, 30, 4);
	write_pages(s, set);
	r = fmsync(s->id, false, NULL, 0);
	ok(r == -EFAULT, "NULL bitmap: EFAULT (got %d)", r);
	r = fmsync(s->id, true, (void *)0xffff800000000000ULL, 0);
	ok(r == -EFAULT, "kernel address as bitmap, huge: EFAULT (got %d)", r);
	r = fmsync(s->id, false, hole, 0);
	ok(r == -EFAULT, "PROT_NONE bitmap: EFAULT (got %d)", r);
	expect_exact(s, false, set, "after three EFAULTs, nothing lost");
	free(set);
	set = random_set(s, 30, 4);
	write_pages(s, set);
	r = fmsync(s->id, true, hole, 0);
	ok(r == -EFAULT, "PROT_NONE bitmap, huge: EFAULT (got %d)", r);
	expect_exact(s, true, set, "after a huge EFAULT, nothing lost");
	munmap(hole, 1 << 20);
	free(set);

	/* Dirty logging on the slot: EBUSY; writes meanwhile are kept. */
	s->flags = KVM_MEM_LOG_DIRTY_PAGES;
	set_slot(s);
	r = fmsync(s->id, false, b, 0);
	ok(r == -EBUSY, "dirty logging enabled: EBUSY (got %d)", r);
	set = random_set(s, 30, 4);
	write_pages(s, set);
	s->flags = 0;
	set_slot(s);
	expect_exact(s, false, set, "pages written while dirty logging was on");
	free(set);
	free(b);
}

static void test_move_delete(struct slot *s)
{
	uint64_t *b = bits_alloc(s->npages), *set, *none = bits_alloc(s->npages);
	uint64_t gpa = s->gpa;
	int r;

	/* Moving zaps the SPTEs; their Dirty bits must survive the move. */
	set = random_set(s, 40, 8);
	write_pages(s, set);
	s->gpa = GPA_4K_MOVED;
	set_slot(s);
	expect_exact(s, false, set, "written before KVM_MR_MOVE");
	free(set);
	set = random_set(s, 40, 8);
	write_pages(s, set);
	expect_exact(s, false, set, "written after KVM_MR_MOVE");
	free(set);

	/* Delete: the slot is gone, then a new one starts clean. */
	set = random_set(s, 10, 0);
	write_pages(s, set);
	free(set);
	s->size = 0;
	set_slot(s);
	r = fmsync(s->id, false, b, 0);
	ok(r == -EINVAL, "deleted slot: EINVAL (got %d)", r);
	s->size = TEST_SIZE;
	s->gpa = gpa;
	set_slot(s);
	expect_exact(s, false, none, "re-created slot starts clean");
	free(none);
	free(b);
}

/* --- cost per GiB ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

#define REPS 3

static void report(const struct slot *s, const char *what, uint64_t *t)
{
	double gib = (double)s->size / (1ULL << 30);

	qsort(t, REPS, sizeof(*t), cmp_u64);
	diag("bench %-44s median %9.1f us  = %9.1f us/GiB (min %.1f)", what,
	     t[REPS / 2] / 1e3, t[REPS / 2] / 1e3 / gib, t[0] / 1e3);
}

static uint64_t timed_ioctl(unsigned long req, void *arg)
{
	uint64_t t0 = now_ns();

	if (ioctl(vm_fd, req, arg))
		bail("bench ioctl 0x%lx", req);
	return now_ns() - t0;
}

static void bench(struct slot *s)
{
	struct entry all = { s->gpa, s->npages };
	uint64_t *b = bits_alloc(s->npages);
	struct kvm_dirty_log log = { .slot = s->id };
	struct kvm_clear_dirty_log clr = { .slot = s->id, .first_page = 0,
					   .num_pages = s->npages };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 };
	uint64_t tw[REPS], ti[REPS], t;
	int i, manual;

	log.dirty_bitmap = b;
	clr.dirty_bitmap = b;
	diag("bench: slot of %llu MiB, %s, every 4 KiB page written per pass",
	     (unsigned long long)(s->size >> 20), s->backing);
	t = run_guest(&all, 1);
	diag("bench first touch of the slot: %.1f ms", t / 1e6);

	/* fmsync, 2 MiB bitmap. */
	timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG_HUGE, &log);
	for (i = 0; i < REPS; i++) {
		tw[i] = run_guest(&all, 1);
		ti[i] = timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG_HUGE, &log);
	}
	report(s, "guest write pass, fmsync (no faults)", tw);
	report(s, "KVM_FMSYNC_GET_DIRTY_LOG_HUGE, all dirty", ti);
	for (i = 0; i < REPS; i++)
		ti[i] = timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG_HUGE, &log);
	report(s, "KVM_FMSYNC_GET_DIRTY_LOG_HUGE, idle", ti);

	/* fmsync, 4 KiB bitmap; the first call splits the huge pages. */
	run_guest(&all, 1);
	t = timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG, &log);
	diag("bench KVM_FMSYNC_GET_DIRTY_LOG first call (splits): %.1f us = %.1f us/GiB",
	     t / 1e3, t / 1e3 / ((double)s->size / (1ULL << 30)));
	for (i = 0; i < REPS; i++) {
		run_guest(&all, 1);
		ti[i] = timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG, &log);
	}
	report(s, "KVM_FMSYNC_GET_DIRTY_LOG, all dirty", ti);
	for (i = 0; i < REPS; i++)
		ti[i] = timed_ioctl(KVM_FMSYNC_GET_DIRTY_LOG, &log);
	report(s, "KVM_FMSYNC_GET_DIRTY_LOG, idle", ti);

	/* Stock dirty logging on the same slot. */
	t = now_ns();
	s->flags = KVM_MEM_LOG_DIRTY_PAGES;
	set_slot(s);
	diag("bench enabling KVM_MEM_LOG_DIRTY_PAGES: %.1f ms",
	     (now_ns() - t) / 1e6);
	timed_ioctl(KVM_GET_DIRTY_LOG, &log);
	for (i = 0; i < REPS; i++) {
		tw[i] = run_guest(&all, 1);
		ti[i] = timed_ioctl(KVM_GET_DIRTY_LOG, &log);
	}
	report(s, "guest write pass, dirty logging (faults)", tw);
	report(s, "KVM_GET_DIRTY_LOG, all dirty", ti);
	for (i = 0; i < REPS; i++)
		ti[i] = timed_ioctl(KVM_GET_DIRTY_LOG, &log);
	report(s, "KVM_GET_DIRTY_LOG, idle", ti);

	manual = ioctl(kvm_fd, KVM_CHECK_EXTENSION,
		       KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	if (manual > 0 && !ioctl(vm_fd, KVM_ENABLE_CAP, &cap)) {
		for (i = 0; i < REPS; i++) {
			tw[i] = run_guest(&all, 1);
			ti[i] = timed_ioctl(KVM_GET_DIRTY_LOG, &log) +
				timed_ioctl(KVM_CLEAR_DIRTY_LOG, &clr);
		}
		report(s, "guest write pass, manual protect", tw);
		report(s, "KVM_GET_DIRTY_LOG+KVM_CLEAR_DIRTY_LOG, all dirty", ti);
		for (i = 0; i < REPS; i++)
			ti[i] = timed_ioctl(KVM_GET_DIRTY_LOG, &log) +
				timed_ioctl(KVM_CLEAR_DIRTY_LOG, &clr);
		report(s, "KVM_GET_DIRTY_LOG+KVM_CLEAR_DIRTY_LOG, idle", ti);
		cap.args[0] = 0;
		ioctl(vm_fd, KVM_ENABLE_CAP, &cap);
	} else {
		diag("bench: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 not available");
	}
	s->flags = 0;
	set_slot(s);
	ok(true, "benchmark ran (numbers above, not asserted)");
	free(b);
}

/* --- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	struct slot s0, s4k, s2m, sb;
	uint64_t bench_mib = 256;
	bool thp_only = false;
	int opt, rounds = 6, cap;

	while ((opt = getopt(argc, argv, "b:r:s:tv")) != -1) {
		switch (opt) {
		case 'b':
			bench_mib = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0) ?: 1;
			break;
		case 't':
			thp_only = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-b MiB] [-r rounds] [-s seed] [-t] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (bench_mib > BENCH_MAX_MIB)
		bench_mib = BENCH_MAX_MIB;
	setvbuf(stdout, NULL, _IOLBF, 0);

	setup_vm(&s0);
	detect_mmu();
	cap = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_FMSYNC);
	if (!ok(cap > 0, "KVM_CHECK_EXTENSION(KVM_CAP_FMSYNC) on /dev/kvm = %d", cap)) {
		int r = fmsync(0, false, mem0, 0);

		diag("without the capability the ioctl returns %d (%s)", r,
		     strerror(-r));
		printf("1..%d\n", ntests);
		return 1;
	}
	cap = ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_FMSYNC);
	ok(cap > 0, "KVM_CHECK_EXTENSION(KVM_CAP_FMSYNC) on the VM = %d", cap);

	slot_init_4k(&s4k, "4k-slot", 1, GPA_4K, TEST_SIZE);
	slot_init_2m(&s2m, "2m-slot", 2, GPA_2M, TEST_SIZE, thp_only);
	setup_vcpu();
	diag("slots: %s %llu MiB at 0x%llx (%s), %s %llu MiB at 0x%llx (%s)",
	     s4k.name, (unsigned long long)(s4k.size >> 20),
	     (unsigned long long)s4k.gpa, s4k.backing, s2m.name,
	     (unsigned long long)(s2m.size >> 20),
	     (unsigned long long)s2m.gpa, s2m.backing);

	test_untouched(&s4k);
	test_untouched(&s2m);
	test_reads(&s4k);
	test_4k_slot(&s4k, rounds);
	test_2m_slot(&s2m, rounds);
	test_errors(&s4k);
	test_move_delete(&s4k);
	test_4k_slot(&s4k, 2);

	if (bench_mib) {
		slot_init_2m(&sb, "bench", 3, GPA_BENCH, bench_mib << 20, true);
		bench(&sb);
	}

	printf("1..%d\n", ntests);
	if (verbose || nfailed)
		diag("%d of %d tests failed", nfailed, ntests);
	return nfailed ? 1 : 0;
}
