# keten - plain GNU Makefile (after wireguard-tools): PREFIX/DESTDIR, V=1,
# automatic header dependencies. `make check` is the same test suite built
# with ASan+UBSan in its own directory.

PREFIX ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
BUILD ?= build
SAN ?=
CC ?= cc
FUZZ_SECONDS ?= 60

PKGS = libsodium libzmq sqlite3 libconfig libcbor jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Werror
HARDEN = -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
ifeq ($(SAN),asan)
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_LDFLAGS = -fsanitize=address,undefined
else ifeq ($(SAN),fuzz)
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
SAN_LDFLAGS = -fsanitize=address,undefined
else
HARDEN += -D_FORTIFY_SOURCE=2
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DKT_SYSCONFDIR=\"$(SYSCONFDIR)\" $(WARN) $(HARDEN) $(CFLAGS) -Iinclude $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SAN_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q =
else
Q = @
endif

ENGINE_SRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC = $(filter-out client/main.c,$(wildcard client/*.c))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC = $(wildcard bench/*.c)
TOOL_SRC = $(wildcard tests/tools/*.c)

ENGINE_OBJ = $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/obj/%.o)
LIBKETEN = $(BUILD)/libketen.a
LIBCLIENT = $(BUILD)/libketenctl.a
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
REPLAY_BIN = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/tests/replay_%)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

.PHONY: all test check deps lint fuzz fuzz-build install clean demo test-build bench
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BUILD)/ketend $(BUILD)/ketenctl

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBKETEN): $(ENGINE_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBCLIENT): $(CLIENT_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/ketend: $(BUILD)/obj/daemon/main.o $(LIBKETEN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/ketenctl: $(BUILD)/obj/client/main.o $(LIBCLIENT) $(LIBKETEN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIBCLIENT) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(LIBCLIENT) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIBCLIENT) $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

# The PSI benchmark times keten's psi module against the bare primitive.
$(BUILD)/bench/psi: $(BUILD)/obj/bench/psi.o $(LIBKETEN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS)

# The raw ceilings use the libraries directly: they measure them, not keten.
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS)

# Test tools (a raw ZeroMQ peer, ...) used by the integration tests.
$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIBKETEN)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

test-build: all $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN)

# The README's test command. Installs missing packages first (make deps).
test:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)tests/run.sh $(BUILD)

check:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/check SAN=asan test-build
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run.sh build/check

deps:
	$(Q)scripts/deps.sh

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz SAN=fuzz CC=clang $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/fuzz/%)

# Runs every libFuzzer target for FUZZ_SECONDS on its seed corpus.
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)set -e; for f in $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%); do \
		mkdir -p build/fuzz/corpus/$$f; \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		build/fuzz/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
			build/fuzz/corpus/$$f tests/fuzz/corpus/$$f; \
	done

# System headers are not parsed (missingIncludeSystem), so library macros
# such as jansson's json_array_foreach look unknown to cppcheck.
lint:
	clang-format --dry-run --Werror include/keten/*.h daemon/*.c client/*.c client/*.h bench/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --std=c11 \
		--suppress=missingIncludeSystem --suppress=unknownMacro -Iinclude daemon client
	clang-tidy --quiet $(ENGINE_SRC) daemon/main.c client/*.c -- -std=c11 -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)

# Never part of test or CI: the figures depend on the machine and its load.
bench:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BIN)
	$(Q)bench/run.sh $(BUILD)

demo:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)demo/run.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/ketend $(DESTDIR)$(PREFIX)/sbin/ketend
	install -m 0755 $(BUILD)/ketenctl $(DESTDIR)$(PREFIX)/bin/ketenctl
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/keten $(DESTDIR)$(SYSCONFDIR)/keten/policies
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/keten/secrets
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 docs/ketenctl.1 $(DESTDIR)$(MANDIR)/man1/ketenctl.1
	install -m 0644 docs/keten.conf.5 $(DESTDIR)$(MANDIR)/man5/keten.conf.5
	install -m 0644 docs/ketend.8 $(DESTDIR)$(MANDIR)/man8/ketend.8

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
