# fmlab: build the lab runner, the images, and run the tests.
#
#   make deps        install every Debian package the project needs (apt-get, idempotent)
#   make             build the lab runner build/fmlab
#   make image       the L2 guest image (Debian + redis + fmlab-agent), cached
#   make host-image  the L1 host image (Debian + QEMU + numactl/ndctl/OVS/...), cached
#   make kernel      the fmsync host kernel (Linux 6.12 + kernel/patches), cached
#   make kernel-check  apply the kernel series and compile only the KVM objects
#   make test-kernel the fmsync selftest in L1 hosts running that kernel (npt=0 and npt=1)
#   make qemu        the patched QEMU 10.0 (qemu/patches), cached; make host-qemu puts it
#                    into the host image the lab boots (images/host-qemu)
#   make l0-qemu     the QEMU at L0 the hosts run in: bookworm's 7.2 + qemu/l0-patches, cached
#   make qemu-check  apply the QEMU series and compile only the objects it touches
#   make test-qemu   QEMU's own tests for the series (shm-migration qtest, migration, qapi)
#   make lab-up      build whatever is missing and bring the lab up (src, dst, backup)
#   make lab-down    stop everything the lab started
#   make test        unit tests, config and doctor checks, boot smoke of both images,
#                    the lab lifecycle (up, checks, down, SIGKILL + down)
#   make test-repro  build both images from cold, compare sha256 with a second build
#   make test-migration  the migration matrix (precopy, postcopy, non-convergence,
#                    dst-kill, shm destination modes pool/promote/copy both ways, shm
#                    faults, shm on a stock-kernel lab) on the lab, every oracle asserted
#   make bench-net   iperf3 and ping from the guest per NET_MODE and backend (the tutorial's table)
#   make bench       the study's numbers on the lab: precopy vs postcopy vs shm copy /
#                    promote / pool (median, min, max of BENCH_REPEAT=5), shm downtime in
#                    its parts, shm per-period copy times at 500/100 ms, fmsync vs stock
#                    tracking; a markdown table in RESULTS_DIR/bench-*.md
#
# config.txt values reach Make only through `build/fmlab config get KEY`.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I/usr/include/tcl8.6 -Ilab -Ilab/core
LDLIBS  := -ljansson -lexpect -ltcl8.6
B       := build
FMLAB   := $(B)/fmlab
CFG      = $$($(FMLAB) config get $(1))

# lab/: the runner at L0 (fmlab); lab/control/: the control plane on backup
# (fmlab-control); lab/core/: what both link (QMP, sockets, argv, values, clocks, allocation).
CORE_SRCS := $(wildcard lab/core/*.c)
CORE_HDRS := $(wildcard lab/core/*.h)
LAB_SRCS  := $(filter-out lab/main.c,$(wildcard lab/*.c)) $(CORE_SRCS)
# fmlab-control, the control plane run on backup: static, so it runs in any host image.
CONTROL   := $(B)/fmlab-control
CONTROL_SRCS := $(wildcard lab/control/*.c) $(CORE_SRCS)
LAB_OBJS  := $(LAB_SRCS:lab/%.c=$(B)/lab/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
E2E_SRCS  := $(wildcard tests/e2e/*.c)
E2E_BINS  := $(E2E_SRCS:tests/e2e/%.c=$(B)/tests/%)

# Debian packages (this machine's suite) needed to build and run everything.
DEPS := $(shell grep -v '^\#' deps.txt)

PHONY_KERNEL := kernel kernel-check test-kernel host-kernel qemu qemu-check test-qemu host-qemu host-qemu-image l0-qemu
.PHONY: all deps image host-image images $(PHONY_KERNEL) lab-up lab-down test test-lab-stress test-lab-kill test-fresh test-unit test-unit-san test-fuzz test-shellcheck test-config test-migration-selftest \
        test-doctor test-boot test-lab test-repro test-migration bench bench-overhead bench-net clean

all: $(FMLAB) $(CONTROL)

$(B)/lab/%.o: lab/%.c $(wildcard lab/*.h) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libfmlab.a: $(LAB_OBJS)
	$(AR) rcs $@ $^

$(FMLAB): $(B)/lab/main.o $(B)/libfmlab.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# glibc warns that a static getaddrinfo needs its NSS libraries: the controller only
# ever resolves numeric addresses, which glibc parses without them.
$(CONTROL): $(CONTROL_SRCS) $(wildcard lab/control/*.h) $(CORE_HDRS)
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS) -static -pthread -o $@ $(CONTROL_SRCS) -ljansson -lhiredis -lm 2>$@.log; rc=$$?; \
	  grep -v -e "getaddrinfo' in statically linked" -e "_redisContextConnectTcp'" $@.log; \
	  [ $$rc -eq 0 ] && echo "built $@ (static)"; exit $$rc

# the YCSB generator belongs to the control plane (lab/control), not to libfmlab
$(B)/tests/test_ycsb: tests/unit/test_ycsb.c lab/control/ycsb_gen.c lab/control/ycsb_gen.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -pthread -o $@ $(filter %.c,$^) -lcmocka -lm

# and its bindings, with what they link of the shared code
$(B)/tests/test_ycsb_memcached: tests/unit/test_ycsb_memcached.c lab/control/ycsb_memcached.c \
        lab/control/ycsb_redis.c lab/control/ycsb_db.c lab/control/ycsb_db.h lab/control/ycsb_gen.c \
        lab/core/sock.c lab/core/alloc.c lab/core/clock.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ilab/control -pthread -o $@ $(filter %.c,$^) -ljansson -lhiredis -lcmocka -lm

# the migration matrix: a framework and one table of cases (tests/migration)
MIGRATION_TEST := $(B)/fmlab-test-migration
$(MIGRATION_TEST): $(wildcard tests/migration/*.c tests/migration/*.h) tests/tap.h $(B)/libfmlab.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -Itests/migration -o $@ $(filter %.c %.a,$^) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libfmlab.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(B)/tests/%: tests/e2e/%.c tests/e2e/*.h tests/tap.h $(B)/libfmlab.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $(filter %.c %.a,$^) $(LDLIBS)

deps:
	@missing=$$(for p in $(DEPS); do \
	    dpkg-query -W -f '$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEPS)) packages installed"; \
	else echo "deps: installing:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends $$missing \
	  || { echo "deps: apt-get install failed: the package lists may be stale, apt-get update first"; \
	       apt-get update -q && apt-get install -y --no-install-recommends $$missing; } \
	  || { echo "deps: apt-get install failed after apt-get update (packages: $$missing)"; exit 1; }; fi

# Images: image/build.sh checks the cache (keyed by a hash of all inputs) and builds if needed.
image: $(FMLAB)
	@$(FMLAB) config check >/dev/null
	@SUITE=$(call CFG,SUITE) IMAGE_EPOCH=$(call CFG,IMAGE_EPOCH) \
	 IMAGE_SIZE=$(call CFG,GUEST_IMAGE_SIZE) KERNEL_VER=$(call CFG,KERNEL_VER) \
	 image/build.sh guest $(call CFG,CACHE_DIR)

host-image: $(FMLAB)
	@$(FMLAB) config check >/dev/null
	@SUITE=$(call CFG,SUITE) IMAGE_EPOCH=$(call CFG,IMAGE_EPOCH) \
	 IMAGE_SIZE=$(call CFG,HOST_IMAGE_SIZE) KERNEL_VER=$(call CFG,KERNEL_VER) \
	 image/build.sh host $(call CFG,CACHE_DIR)

images: image host-image

# The fmsync host kernel (kernel/build.sh; cached by a hash of source version, patches,
# config fragment). kernel-check: apply the series and compile only the KVM objects.
kernel: $(FMLAB)
	@kernel/build.sh $(call CFG,CACHE_DIR) $(call CFG,SUITE) build

kernel-check: $(FMLAB)
	@kernel/build.sh $(call CFG,CACHE_DIR) $(call CFG,SUITE) check

# The selftest (kernel/selftest/) in an L1 booted at L0 with the fmsync kernel, under
# the shadow MMU (npt=0) and the TDP MMU (npt=1). Needs `make kernel`.
test-kernel: $(FMLAB) kernel
	@tests/kernel.sh

# The lab's kernel, when the hosts (HOST_KERNEL=fmsync) or the guest (GUEST_KERNEL=lab)
# boot it (built and cached by make kernel); debian uses the images' own kernels.
host-kernel: $(FMLAB)
	@{ [ "$(call CFG,HOST_KERNEL)" != fmsync ] && [ "$(call CFG,GUEST_KERNEL)" != lab ]; } || \
	  $(MAKE) --no-print-directory kernel

# The patched QEMU (qemu/build.sh; cached by a hash of source version, patches, flags).
qemu: $(FMLAB)
	@qemu/build.sh $(call CFG,CACHE_DIR) $(call CFG,SUITE) build

qemu-check: $(FMLAB)
	@qemu/build.sh $(call CFG,CACHE_DIR) $(call CFG,SUITE) check

test-qemu: $(FMLAB)
	@qemu/build.sh $(call CFG,CACHE_DIR) $(call CFG,SUITE) test

# The host image with the patched QEMU in /usr/local (config.txt HOST_QEMU=fmsync).
host-qemu-image: host-image qemu
	@image/host-qemu.sh $(call CFG,CACHE_DIR)

host-qemu: $(FMLAB)
	@[ "$(call CFG,HOST_QEMU)" != fmsync ] || $(MAKE) --no-print-directory host-qemu-image

# The QEMU at L0 the hosts run in (config.txt L0_QEMU=patched): Debian bookworm's 7.2,
# the known-good L0 for nested SVM under TCG, with qemu/l0-patches, built in a bookworm
# build root (qemu/build.sh l0; cached by a hash of source version, patches, flags).
l0-qemu: $(FMLAB)
	@[ "$(call CFG,L0_QEMU)" != patched ] || qemu/build.sh $(call CFG,CACHE_DIR) bookworm l0

# What a lab boots: the images, the hosts' kernel and QEMU, the L0 QEMU.
LAB_BUILDS := image host-image host-kernel host-qemu l0-qemu

# Builds whatever is missing (runner, images, kernel, QEMU), then boots src, dst and backup.
lab-up: deps $(LAB_BUILDS)
	$(FMLAB) up

lab-down: $(FMLAB)
	$(FMLAB) down

test: deps
	@$(MAKE) --no-print-directory test-unit test-unit-san test-fuzz test-shellcheck test-migration-selftest test-config test-fresh test-doctor test-boot test-lab test-lab-kill

test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer (their own
# build in $(B)/san): a leak, an overflow or undefined behaviour fails the run.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-unit-san:
	@$(MAKE) --no-print-directory B=$(B)/san CFLAGS='$(CFLAGS) $(SAN_FLAGS)' test-unit

# libFuzzer (clang) on the config parser and the QMP reader, under ASan and UBSan, for
# FUZZ_SECONDS each; new inputs go to $(B)/fuzz/corpus-*, the seeds are tests/fuzz/corpus.
# A crash, leak or timeout fails the run and leaves its input in $(B)/fuzz/.
FUZZ_SECONDS ?= 30
FUZZ_FLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilab -Ilab/core \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c lab/config.c lab/core/values.c lab/core/alloc.c $(wildcard lab/*.h)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -o $@ $(filter %.c,$^)
$(B)/fuzz/fuzz_qmp: tests/fuzz/fuzz_qmp.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) -ljansson
test-fuzz: $(B)/fuzz/fuzz_config $(B)/fuzz/fuzz_qmp
	@set -e; for f in config qmp; do \
	  mkdir -p $(B)/fuzz/corpus-$$f; \
	  echo "== fuzz_$$f for $(FUZZ_SECONDS) s"; \
	  rc=0; $(B)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(B)/fuzz/$$f- $(B)/fuzz/corpus-$$f tests/fuzz/corpus/$$f >$(B)/fuzz/$$f.log 2>&1 || rc=$$?; \
	  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' \
	    $(B)/fuzz/$$f.log || true; \
	  [ $$rc -eq 0 ] || { echo "fuzz_$$f failed (exit $$rc): $(B)/fuzz/$$f.log, its input in $(B)/fuzz/"; exit 1; }; \
	done

# shellcheck (warnings and errors, following sourced files) on every script but image/'s:
# those are inputs of the image cache key, checked when the images next change (the
# guest's, rootfs-guest/, are clean and checked).
test-shellcheck:
	@files=$$( (git ls-files -- . ':!image'; git ls-files -- image/rootfs-guest) | while read -r f; do \
	    case "$$f" in *.sh|.ci/run) echo "$$f" ;; \
	    *) head -n 1 "$$f" 2>/dev/null | grep -qE '^#!/bin/(ba)?sh' && echo "$$f" ;; esac; done); \
	  shellcheck -x -S warning $$files && echo "shellcheck: $$(echo $$files | wc -w) scripts clean"

# the case table's checks can fail: the matrix against a stand-in fmlab, no lab
test-migration-selftest: $(MIGRATION_TEST)
	tests/migration/selftest.sh $(MIGRATION_TEST)

test-config: $(FMLAB)
	tests/config_cli.sh $(FMLAB)

test-doctor: $(FMLAB) image
	tests/doctor.sh $(FMLAB)

test-boot: $(E2E_BINS) image host-image
	$(B)/tests/boot_smoke

test-lab: $(FMLAB) $(LAB_BUILDS)
	tests/lab_lifecycle.sh $(FMLAB)

# Nothing of the lab escapes down: LAB_KILL_ROUNDS rounds (default 3) that SIGKILL fmlab up,
# fmlab migrate or fmlab-control at a random moment, then count what down left (must be 0).
test-lab-kill: $(FMLAB) $(CONTROL) $(LAB_BUILDS)
	tests/lab_kill.sh $(FMLAB) $${LAB_KILL_ROUNDS:-3}

# The same, LAB_CYCLES=5 up/down cycles beside LAB_HOG=2 CPU hogs (one per core here):
# the lab must come up with zero retries on a loaded machine.
test-lab-stress: $(FMLAB) $(LAB_BUILDS)
	LAB_CYCLES=$${LAB_CYCLES:-5} LAB_HOG=$${LAB_HOG:-2} tests/lab_lifecycle.sh $(FMLAB)

# The migration matrix on the lab (brought up if it is not): precopy, postcopy,
# non-convergence, a killed destination, shm with each destination RAM mode (pool,
# promote, copy) both ways and its faults, then shm on a lab booted with the stock
# kernel; all oracles asserted. CASES=REGEX runs only the matching cases (it reaches the
# test through the environment untouched: make would eat a regex's "$)").
test-migration: $(FMLAB) $(CONTROL) $(MIGRATION_TEST) $(LAB_BUILDS)
	$(MIGRATION_TEST) $(FMLAB)

BENCH_REPEAT ?= 5
bench: $(FMLAB) $(CONTROL) $(LAB_BUILDS)
	tests/bench.sh $(FMLAB) $(BENCH_REPEAT)

# The README's two commands on a fresh Debian (a minbase chroot of this suite): make deps
# installs everything from nothing, the runner and unit tests build and pass (~2 min).
test-fresh:
	tests/fresh.sh

# The tutorial's network table: iperf3 and ping from the guest to its host and to backup,
# for each NET_MODE and backend (BENCH_NET_SETUPS); the lab is left down (tests/bench_net.sh).
bench-net: $(FMLAB) $(CONTROL) $(LAB_BUILDS)
	tests/bench_net.sh $(FMLAB)

# The write-through overhead sweep: YCSB throughput with no sync and with the shm sync
# every OVERHEAD_PERIODS_MS, fmsync vs stock tracking (tests/bench_overhead.sh).
bench-overhead: $(FMLAB) $(CONTROL) $(LAB_BUILDS)
	tests/bench_overhead.sh $(FMLAB) $${OVERHEAD_REPEAT:-3}

test-repro: $(FMLAB)
	tests/repro.sh $(FMLAB)

clean:
	rm -rf $(B)
