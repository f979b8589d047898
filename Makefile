# Herald - build, test, demo, bench. Everything lands in $(BUILD)/.
#
#   make            build heraldd, heraldctl and every channel plugin
#   make check      install deps if missing, build with ASan+UBSan, run all tests
#   make demo       install deps, build, run a transaction end to end
#   make bench      throughput figures -> build/bench.json
#
# Layout is discovered, not listed: every channels/<name>/ is a plugin
# (channels/<name>/module.mk may add <name>_PKGS and <name>_SRCS), every
# tests/unit/test_<x>.c a cmocka binary linked with util/ and channels/common/
# (tests/unit/test_<x>.mk adds the sources under test as test_<x>_SRCS and
# their packages as test_<x>_PKGS), every tests/integration/t_*.sh a test,
# every tests/bench/<x>.c a helper program (tests/bench/<x>.mk likewise).

BUILD ?= build
CC ?= cc
OPT ?= -O2
SAN ?= 0
PKG_CONFIG ?= pkg-config

ROUTER_PKGS := libzmq hiredis jansson inih libmicrohttpd libsystemd openssl libcurl

CPPFLAGS := -D_GNU_SOURCE -Iinclude -Iutil -Ichannels/common -Irouter
CFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-fPIC -MMD -MP -fvisibility=hidden
LDFLAGS :=
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

pkg_cflags = $(if $(1),$(shell $(PKG_CONFIG) --cflags $(1)))
pkg_libs = $(if $(1),$(shell $(PKG_CONFIG) --libs $(1)))

ROUTER_CFLAGS := $(call pkg_cflags,$(ROUTER_PKGS))
ROUTER_LIBS := $(call pkg_libs,$(ROUTER_PKGS)) -ldl -lpthread -lm
# heraldd allocates and frees much per event (jansson trees, hiredis
# replies, message records); with jemalloc (linked first, so it is the
# process's malloc, plugins included) it spends about a fifth less CPU per
# event than with glibc's malloc in the core bench. Not under ASan, which
# brings its own allocator.
ifeq ($(SAN),1)
HERALDD_MALLOC :=
else
HERALDD_MALLOC := $(call pkg_libs,jemalloc)
endif

UTIL_SRCS := $(wildcard util/*.c)
ROUTER_SRCS := $(filter-out router/main.c,$(wildcard router/*.c))
# heraldctl sms-info uses the sms channel's GSM 03.38 encoder.
TOOL_SRCS := $(wildcard tools/*.c) channels/sms/gsm.c
COMMON_SRCS := channels/common/chanq.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

UTIL_OBJS := $(call obj,$(UTIL_SRCS))
ROUTER_OBJS := $(call obj,$(ROUTER_SRCS))
UTIL_LIB := $(BUILD)/libherald-util.a
CORE_OBJS := $(ROUTER_OBJS) $(UTIL_LIB)

CHANNELS := $(filter-out common,$(notdir $(patsubst %/,%,$(wildcard channels/*/))))
-include $(wildcard channels/*/module.mk)
CHANNEL_SOS := $(patsubst %,$(BUILD)/channels/%.so,$(CHANNELS))

TEST_PLUGIN_SRCS := $(wildcard tests/plugins/*.c)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(TEST_PLUGIN_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_NAMES := $(patsubst tests/unit/%.c,%,$(UNIT_SRCS))
-include $(wildcard tests/unit/*.mk)
UNIT_BINS := $(patsubst %,$(BUILD)/tests/unit/%,$(UNIT_NAMES))

BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))
-include $(wildcard tests/bench/*.mk)

FUZZ_SRCS := $(wildcard tests/fuzz/*.c)


.PHONY: all test-bins deps check test demo bench format format-check lint clean install fuzz fuzz-bins
all: $(BUILD)/heraldd $(BUILD)/heraldctl $(CHANNEL_SOS)

# ---- objects ---------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ROUTER_CFLAGS) $(EXTRA_CFLAGS_$(firstword $(subst /, ,$*))) -c $< -o $@

# Generic helpers (util/, channels/common/) as one archive: each program or
# plugin pulls in only the objects it uses.
$(UTIL_LIB): $(UTIL_OBJS) $(call obj,$(COMMON_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- programs --------------------------------------------------------------
$(BUILD)/heraldd: $(call obj,router/main.c) $(CORE_OBJS)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(HERALDD_MALLOC) $(ROUTER_LIBS)

$(BUILD)/heraldctl: $(call obj,$(TOOL_SRCS)) $(CORE_OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(ROUTER_LIBS)

# ---- channel plugins -------------------------------------------------------
define CHANNEL_RULES
$(1)_OBJS := $$(call obj,$$(wildcard channels/$(1)/*.c) $$($(1)_SRCS)) $$(UTIL_LIB)
$$(call obj,$$(wildcard channels/$(1)/*.c) $$($(1)_SRCS)): ROUTER_CFLAGS += $$(call pkg_cflags,$$($(1)_PKGS))
$(BUILD)/channels/$(1).so: $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -shared $$^ -o $$@ $$(call pkg_libs,$$($(1)_PKGS)) $$($(1)_LIBS) -lpthread -lm
endef
$(foreach c,$(CHANNELS),$(eval $(call CHANNEL_RULES,$(c))))

$(BUILD)/tests/plugins/%.so: $(BUILD)/obj/tests/plugins/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared $^ -o $@

# ---- tests -----------------------------------------------------------------
define UNIT_RULES
$$(call obj,tests/unit/$(1).c $$($(1)_SRCS)): ROUTER_CFLAGS += $$(call pkg_cflags,cmocka $$($(1)_PKGS))
$(BUILD)/tests/unit/$(1): $$(call obj,tests/unit/$(1).c $$($(1)_SRCS)) $$(UTIL_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(ROUTER_LIBS) $$(call pkg_libs,cmocka $$($(1)_PKGS))
endef
$(foreach t,$(UNIT_NAMES),$(eval $(call UNIT_RULES,$(t))))

define BENCH_RULES
$$(call obj,tests/bench/$(1).c $$($(1)_SRCS)): ROUTER_CFLAGS += $$(call pkg_cflags,$$($(1)_PKGS))
$(BUILD)/tests/bench/$(1): $$(call obj,tests/bench/$(1).c $$($(1)_SRCS)) $$(CORE_OBJS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(ROUTER_LIBS) $$(call pkg_libs,$$($(1)_PKGS))
endef
$(foreach b,$(patsubst tests/bench/%.c,%,$(BENCH_SRCS)),$(eval $(call BENCH_RULES,$(b))))

test-bins: all $(UNIT_BINS) $(TEST_PLUGINS) $(BENCH_BINS)

deps:
	@./scripts/deps.sh

# make check: everything under ASan+UBSan in build/san, then the test runner.
check: deps
	$(MAKE) -j$$(nproc) BUILD=build/san SAN=1 OPT=-O1 test-bins fuzz-bins
	./tests/run.sh build/san

# The plain (optimised) build, tests without sanitizers (quicker iteration).
test: all test-bins fuzz-bins
	./tests/run.sh $(BUILD)

demo: deps
	$(MAKE) -j$$(nproc) all
	./scripts/demo.sh $(BUILD)

bench: deps
	$(MAKE) -j$$(nproc) all $(BENCH_BINS)
	./tests/bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D__GNUC__ \
		-Iinclude -Iutil -Ichannels/common -Irouter router util tools channels tests

# make fuzz: every tests/fuzz/fuzz_<x>.c as a libFuzzer binary (clang, with
# ASan+UBSan), each run FUZZ_SECONDS from its corpus in $(BUILD)/fuzz/. The
# sources each target needs: fuzz_<x>_SRCS below.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
fuzz_template_SRCS := router/template.c util/text.c
fuzz_jsonfast_SRCS := router/jsonfast.c util/text.c
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_NAMES))
define FUZZ_RULE
$(BUILD)/fuzz/$(1): tests/fuzz/$(1).c $$($(1)_SRCS)
	@command -v $$(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined $$(CPPFLAGS) $$< $$($(1)_SRCS) -ljansson -o $$@
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call FUZZ_RULE,$(f))))
fuzz-bins: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		mkdir -p $$f.corpus; echo "== $$f ($(FUZZ_SECONDS) s)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$f.corpus >$$f.log 2>&1; then \
			tail -n 40 $$f.log; echo "fuzz: $$f failed (log: $$f.log)"; exit 1; \
		fi; \
		grep -E '^stat::number_of_executed_units|^Done' $$f.log; \
	done

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/herald/channels \
		$(DESTDIR)/etc/herald $(DESTDIR)$(PREFIX)/share/herald $(DESTDIR)$(PREFIX)/include/herald
	install -m 755 $(BUILD)/heraldd $(DESTDIR)$(PREFIX)/sbin/heraldd
	install -m 755 $(BUILD)/heraldctl $(DESTDIR)$(PREFIX)/bin/heraldctl
	install -m 644 $(CHANNEL_SOS) $(DESTDIR)$(PREFIX)/lib/herald/channels/
	install -m 644 include/herald/*.h $(DESTDIR)$(PREFIX)/include/herald/
	cp -r templates $(DESTDIR)$(PREFIX)/share/herald/
	test -e $(DESTDIR)/etc/herald/herald.conf || install -m 640 herald.conf.example $(DESTDIR)/etc/herald/herald.conf
	install -D -m 644 systemd/heraldd.service $(DESTDIR)/lib/systemd/system/heraldd.service
	install -D -m 644 systemd/herald.sysusers $(DESTDIR)/usr/lib/sysusers.d/herald.conf
	install -D -m 644 systemd/herald.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/herald.conf
	install -D -m 644 README.md $(DESTDIR)$(PREFIX)/share/doc/herald/README.md

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- chaos: fault injection (tests/chaos/) ---------------------------------
# make chaos: every scenario of tests/chaos/chaos.py against real servers on
# loopback; a table on stdout and $(BUILD)/chaos.json; fails when any
# scenario lost an acknowledged event or sent one twice unmarked.
#   CHAOS_EVENTS (20000: events per scenario; slow-provider ones take a tenth)
#   CHAOS_ONLY (pattern: run the matching scenarios)  CHAOS_QUICK=1 (small loads)
#   CHAOS_RUNS (1: the whole suite this many times in a row)
CHAOS_SRCS := $(wildcard tests/chaos/*.c)
CHAOS_BINS := $(patsubst tests/chaos/%.c,$(BUILD)/tests/chaos/%,$(CHAOS_SRCS))
$(BUILD)/tests/chaos/%: $(BUILD)/obj/tests/chaos/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(call pkg_libs,libzmq)

.PHONY: chaos chaos-bins
chaos-bins: all $(CHAOS_BINS)
chaos: deps
	$(MAKE) -j2 chaos-bins
	./tests/chaos/run.sh $(BUILD)
# the publisher is built with the other test programs, so the short suite
# (tests/chaos/t_chaos.sh) can run from make check once it joins it
test-bins: $(CHAOS_BINS)
