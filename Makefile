# korch - top-level build.  `make` builds build/korch and build/korch-agent.
# See README.md for the two commands that matter: `make demo`, `make check`.

PREFIX	?= /usr/local
DESTDIR	?=
BUILD	?= build
CC	?= cc
MUSLCC	?= musl-gcc
PKG	 = libssh2 libevent yaml-0.1 sqlite3 libcrypto

# SANITIZE=address,undefined builds everything with those sanitizers into
# $(BUILD) (use a separate BUILD dir, e.g. `make BUILD=build/san SANITIZE=...`).
SANITIZE ?=
# TEST_HOOKS=1 builds the test flavour: korch and its agent then honour the
# environment hooks the suites use ($KORCH_AGENT_IMAGE, $KORCH_AGENT_SYSTEMCTL,
# $KORCH_AGENT_PROCSYS, $KORCH_AGENT_LOCK).  A release build (the default, what `make all` and
# `make install` make) has no such code.  The agent's glibc objects (unit
# tests, korch-agent-glibc) are test-only and always have them.  Use a
# separate BUILD dir for it, as for SANITIZE (check.sh: build/san).
TEST_HOOKS ?=
HOOKFLAGS = $(if $(TEST_HOOKS),-DKORCH_TEST_HOOKS,)

WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wformat=2 -Wno-unused-parameter
CSTD	 = -std=c11 -D_GNU_SOURCE
OPT	?= -O2 -g
SANFLAGS = $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CFLAGS	?=
ALLCFLAGS = $(CSTD) $(WARN) $(OPT) $(SANFLAGS) $(HOOKFLAGS) -iquote proto -iquote state -iquote controller -iquote agent $(CFLAGS)
PKGCFLAGS := $(shell pkg-config --cflags $(PKG) 2>/dev/null)
PKGLIBS	  := $(shell pkg-config --libs $(PKG) 2>/dev/null)

PROTO_SRC = $(wildcard proto/*.c)
STATE_SRC = $(wildcard state/*.c)
# controller/cli/ (main and the commands) is linked into korch only; the
# rest of controller/ is also linked into the unit and integration tests.
CLI_SRC	  = $(wildcard controller/cli/*.c)
CTL_SRC	  = $(filter-out $(CLI_SRC),$(wildcard controller/*/*.c))
AGENT_SRC = $(filter-out agent/main.c,$(wildcard agent/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
aobj = $(patsubst %.c,$(BUILD)/aobj/%.o,$(1))

CTL_LIB_OBJ = $(call obj,$(PROTO_SRC) $(STATE_SRC) $(CTL_SRC)) $(BUILD)/obj/agent_image.o
AGENT_LIB_OBJ = $(call aobj,$(PROTO_SRC) $(AGENT_SRC))

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
# test_agent_* and test_proto_* link the agent's code (glibc build);
# every other unit test links the controller's.
UNIT_AGENT = $(filter tests/unit/test_agent_% tests/unit/test_proto_%,$(UNIT_SRC))
UNIT_CTL   = $(filter-out $(UNIT_AGENT),$(UNIT_SRC))
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# The tests' shared fixtures (header-only): a change rebuilds every test.
UNIT_HDR   = $(wildcard tests/unit/*.h)

.PHONY: all deps check unit unit-bin fuzz fuzz-objs faults ha bench demo clean install
all: $(BUILD)/korch $(BUILD)/korch-agent

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(PKGCFLAGS) -MMD -MP -c $< -o $@

# The agent's code built against glibc, for unit tests under sanitizers.
$(BUILD)/aobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DKORCH_AGENT -DKORCH_TEST_HOOKS -MMD -MP -c $< -o $@

# The shipped agent: static musl, no library but libc.  Never sanitized.
AGENT_STATIC_CFLAGS = $(CSTD) $(WARN) -Os -DKORCH_AGENT $(HOOKFLAGS) -iquote proto -iquote agent -static
$(BUILD)/korch-agent: $(PROTO_SRC) $(AGENT_SRC) agent/main.c $(wildcard proto/*.h agent/*.h)
	@mkdir -p $(dir $@)
	$(MUSLCC) $(AGENT_STATIC_CFLAGS) -o $@ $(PROTO_SRC) $(AGENT_SRC) agent/main.c
	strip $@

# korch carries the agent inside it, so one file is the whole tool.
$(BUILD)/obj/agent_image.o: $(BUILD)/korch-agent
	@mkdir -p $(dir $@)
	printf '\t.section .rodata\n\t.balign 16\n\t.globl korch_agent_image\nkorch_agent_image:\n\t.incbin "%s"\n\t.globl korch_agent_image_end\nkorch_agent_image_end:\n\t.byte 0\n\t.section .note.GNU-stack,"",@progbits\n' "$(BUILD)/korch-agent" > $(BUILD)/obj/agent_image.S
	$(CC) -c $(BUILD)/obj/agent_image.S -o $@

$(BUILD)/korch: $(CTL_LIB_OBJ) $(call obj,$(CLI_SRC))
	$(CC) $(SANFLAGS) -o $@ $^ $(PKGLIBS) -lm

# glibc build of the agent (for integration tests under sanitizers).
$(BUILD)/korch-agent-glibc: $(AGENT_LIB_OBJ) $(call aobj,agent/main.c)
	$(CC) $(SANFLAGS) -o $@ $^

# Unit tests: test_agent_* and test_proto_* link the agent's code (glibc),
# the others the controller's.  (GNU make picks the pattern with the
# shortest stem, so the agent rules win for their names.)
$(BUILD)/tests/test_agent_%: tests/unit/test_agent_%.c $(AGENT_LIB_OBJ) $(UNIT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DKORCH_AGENT -o $@ $< $(AGENT_LIB_OBJ) -lcmocka

$(BUILD)/tests/test_proto_%: tests/unit/test_proto_%.c $(AGENT_LIB_OBJ) $(UNIT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -DKORCH_AGENT -o $@ $< $(AGENT_LIB_OBJ) -lcmocka

$(BUILD)/tests/test_%: tests/unit/test_%.c $(CTL_LIB_OBJ) $(UNIT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(PKGCFLAGS) -o $@ $< $(CTL_LIB_OBJ) $(PKGLIBS) -lm -lcmocka

unit-bin: $(UNIT_BIN)

deps:
	@tests/deps.sh

# Everything: deps, normal + sanitizer builds, unit, integration, test bed,
# end-to-end.  Ends with one "N passed, M failed" line.
check: deps
	@tests/check.sh

unit: $(UNIT_BIN)
	@rc=0; for t in $(UNIT_BIN); do CMOCKA_MESSAGE_OUTPUT=TAP $$t 2>&1 || rc=1; done; exit $$rc

fuzz:
	@tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

# The objects the fuzz targets link (tests/fuzz/run.sh builds them with
# BUILD=build/fuzz CC=clang SANITIZE=fuzzer-no-link,...): the controller's
# library without the embedded agent image, and the agent's glibc code.
fuzz-objs: $(call obj,$(PROTO_SRC) $(STATE_SRC) $(CTL_SRC)) $(AGENT_LIB_OBJ)

# The fault suite in full: kill -9 of the controller at 20 random moments
# of a cluster apply and 10 of an upgrade, broken hosts and networks
# (make check runs a bounded variant).  FAULTS_SEED=N replays a run.
faults: deps all
	@tests/faults/run.sh build

# High availability on the real 1.20 cluster alone (tests/e2e/real-ha.sh,
# 5 hosts; make check runs it too).
ha: deps all it-bin
	@tests/e2e/real-ha.sh build

bench: deps all
	@tests/bench/run.sh

demo: deps all
	@tests/demo.sh

clean:
	rm -rf build

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/korch/playbooks
	install -m 0755 $(BUILD)/korch $(DESTDIR)$(PREFIX)/bin/korch
	install -m 0755 $(BUILD)/korch-agent $(DESTDIR)$(PREFIX)/share/korch/korch-agent
	cp -R playbooks/. $(DESTDIR)$(PREFIX)/share/korch/playbooks/

-include $(shell find $(BUILD)/obj $(BUILD)/aobj -name '*.d' 2>/dev/null)
include tests/integration/Makefile.inc
