# Herald - build, test, demo, bench. Everything lands in $(BUILD)/.
#
#   make            build heraldd, heraldctl and every channel plugin
#   make check      install deps if missing, build with ASan+UBSan, run all tests
#   make demo       install deps, build, run a transaction end to end
#   make bench      throughput figures -> build/bench.json
#   make layout     check the dependency rules (scripts/check-layout.sh)
#
# Source areas (README "Source layout"): util/ generic helpers
# (build/libherald-util.a), lib/ Herald's library (build/libherald.a),
# router/ heraldd, tools/ heraldctl (lib/ and util/ only), channels/<name>/
# the plugins. Each is compiled with only the include paths it may use
# (INC_<area> below).
#
# Layout is discovered, not listed: every channels/<name>/ is a plugin
# (channels/<name>/module.mk may add <name>_PKGS and <name>_SRCS), every
# tests/unit/test_<x>.c a cmocka binary linked with lib/ and util/
# (tests/unit/test_<x>.mk adds the sources under test as test_<x>_SRCS and
# their packages as test_<x>_PKGS), every tests/integration/t_*.sh a test,
# every tests/bench/<x>.c a helper program (tests/bench/<x>.mk likewise).

BUILD ?= build
CC ?= cc
OPT ?= -O2
SAN ?= 0
PKG_CONFIG ?= pkg-config

ROUTER_PKGS := libzmq hiredis jansson inih libmicrohttpd libsystemd openssl libcurl glib-2.0

# Each area sees only the headers it may use (scripts/check-layout.sh checks
# the same rules over the #include lines and the link lists below):
#   util/      generic helpers: nothing of Herald's
#   lib/       Herald's library (schema, event, records, templates, ...):
#              util/ and include/herald/
#   router/    heraldd: lib/, util/, include/herald/
#   tools/     heraldctl: lib/ and util/ only
#   channels/  a plugin: include/herald/, util/, channels/common/
#   tests/     anything
HERALD_VERSION ?= 0.1.0
CPPFLAGS := -D_GNU_SOURCE -DHERALD_VERSION='"$(HERALD_VERSION)"'
INC_util := -Iutil
INC_lib := -Iinclude -Iutil -Ilib
INC_router := -Iinclude -Iutil -Ilib -Irouter
INC_tools := -Iutil -Ilib -Itools
INC_channels := -Iinclude -Iutil -Ichannels/common
INC_tests := -Iinclude -Iutil -Ilib -Irouter -Ichannels/common
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
LIB_SRCS := $(wildcard lib/*.c)
ROUTER_SRCS := $(filter-out router/main.c,$(wildcard router/*.c))
TOOL_SRCS := $(wildcard tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

UTIL_OBJS := $(call obj,$(UTIL_SRCS))
ROUTER_OBJS := $(call obj,$(ROUTER_SRCS))
UTIL_LIB := $(BUILD)/libherald-util.a
HERALD_LIB := $(BUILD)/libherald.a
CORE_OBJS := $(ROUTER_OBJS) $(HERALD_LIB) $(UTIL_LIB)
# What each program links (scripts/check-layout.sh reads these through
# `make print-links`): heraldctl no router/ or channels/ object.
HERALDD_LINK := $(call obj,router/main.c) $(ROUTER_OBJS) $(HERALD_LIB) $(UTIL_LIB)
HERALDCTL_LINK := $(call obj,$(TOOL_SRCS)) $(HERALD_LIB) $(UTIL_LIB)

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


.PHONY: all test-bins deps check test demo bench format format-check lint clean install fuzz fuzz-bins \
	print-links layout
all: $(BUILD)/heraldd $(BUILD)/heraldctl $(CHANNEL_SOS)

# ---- objects ---------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC_$(firstword $(subst /, ,$*))) $(CFLAGS) $(ROUTER_CFLAGS) $(EXTRA_CFLAGS_$(firstword $(subst /, ,$*))) -c $< -o $@

# Generic helpers (util/) as one archive, Herald's library (lib/) as
# another: each program or plugin pulls in only the objects it uses.
$(UTIL_LIB): $(UTIL_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(HERALD_LIB): $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# ---- programs --------------------------------------------------------------
$(BUILD)/heraldd: $(HERALDD_LINK)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(HERALDD_MALLOC) $(ROUTER_LIBS)

# heraldctl bounce reads reports with GMime 3 (tools/bounce_read.c).
EXTRA_CFLAGS_tools := $(call pkg_cflags,gmime-3.0)
$(BUILD)/heraldctl: $(HERALDCTL_LINK)
	$(CC) $(LDFLAGS) $^ -o $@ $(ROUTER_LIBS) $(call pkg_libs,gmime-3.0)

# ---- channel plugins -------------------------------------------------------
# channels/common/ code every threaded plugin links (job packing, shutdown);
# a module.mk adds more of channels/common/ as <name>_SRCS (letters).
CHAN_COMMON_SRCS := channels/common/chanq.c channels/common/chanjob.c
define CHANNEL_RULES
$(1)_OBJS := $$(call obj,$$(wildcard channels/$(1)/*.c) $$($(1)_SRCS) $$(CHAN_COMMON_SRCS)) $$(UTIL_LIB)
$$(call obj,$$(wildcard channels/$(1)/*.c) $$($(1)_SRCS)): ROUTER_CFLAGS += $$(call pkg_cflags,$$($(1)_PKGS))
$(BUILD)/channels/$(1).so: $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -shared $$^ -o $$@ $$(call pkg_libs,$$($(1)_PKGS)) $$($(1)_LIBS) -lpthread -lm
endef
$(foreach c,$(CHANNELS),$(eval $(call CHANNEL_RULES,$(c))))

# The email plugin composing with GMime 3 (channels/email/mime_gmime.c,
# -DHERALD_EMAIL_GMIME) instead of mime.c's writer: b_email.sh measures it
# beside email.so in the same rounds. Kept out of $(BUILD)/channels, where
# heraldd would load it as a second email channel.
EMAIL_GMIME_SRCS := channels/email/mime.c channels/email/mime_gmime.c
EMAIL_GMIME_OBJS := $(patsubst %.c,$(BUILD)/obj-gmime/%.o,$(EMAIL_GMIME_SRCS))
$(EMAIL_GMIME_OBJS): $(BUILD)/obj-gmime/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC_channels) -DHERALD_EMAIL_GMIME $(CFLAGS) $(ROUTER_CFLAGS) \
		$(call pkg_cflags,gmime-3.0 $(email_PKGS)) -c $< -o $@
$(BUILD)/tests/bench/email-gmime.so: $(EMAIL_GMIME_OBJS) \
		$(filter-out $(call obj,$(EMAIL_GMIME_SRCS)),$(email_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared $^ -o $@ $(call pkg_libs,gmime-3.0 $(email_PKGS)) -lpthread -lm

# test_email's cases against the GMime composer (run by tests/run.sh as
# every tests/unit/test_* binary is).
$(BUILD)/obj-gmime/tests/unit/test_email.o: tests/unit/test_email.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(INC_tests) -DHERALD_EMAIL_GMIME $(CFLAGS) $(ROUTER_CFLAGS) $(call pkg_cflags,cmocka) -c $< -o $@
$(BUILD)/tests/unit/test_email_gmime: $(BUILD)/obj-gmime/tests/unit/test_email.o $(EMAIL_GMIME_OBJS) $(UTIL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(ROUTER_LIBS) $(call pkg_libs,cmocka gmime-3.0 libcrypto)

$(BUILD)/tests/plugins/%.so: $(BUILD)/obj/tests/plugins/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared $^ -o $@

# ---- tests -----------------------------------------------------------------
define UNIT_RULES
$$(call obj,tests/unit/$(1).c $$($(1)_SRCS)): ROUTER_CFLAGS += $$(call pkg_cflags,cmocka $$($(1)_PKGS))
$(BUILD)/tests/unit/$(1): $$(call obj,tests/unit/$(1).c $$($(1)_SRCS)) $$(HERALD_LIB) $$(UTIL_LIB)
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

test-bins: all $(UNIT_BINS) $(BUILD)/tests/unit/test_email_gmime $(TEST_PLUGINS) $(BENCH_BINS)

deps:
	@./scripts/deps.sh

# The link lists scripts/check-layout.sh checks ("program: objects...").
print-links:
	@echo "heraldd: $(HERALDD_LINK)"
	@echo "heraldctl: $(HERALDCTL_LINK)"
	@$(foreach c,$(CHANNELS),echo "channel-$(c): $($(c)_OBJS)";)

# The dependency rules alone (make check runs them too, as t_layout).
layout:
	./scripts/check-layout.sh .

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
	$(MAKE) -j$$(nproc) all $(BENCH_BINS) $(BUILD)/tests/bench/email-gmime.so
	./tests/bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem -D__GNUC__ \
		-Iinclude -Iutil -Ilib -Ichannels/common -Irouter router util lib tools channels tests

# make fuzz: every tests/fuzz/fuzz_<x>.c as a libFuzzer binary (clang, with
# ASan+UBSan), each run FUZZ_SECONDS from its corpus in $(BUILD)/fuzz/
# (seeded from tests/fuzz/corpus/<x>/). The sources each target needs:
# fuzz_<x>_SRCS below, extra libraries fuzz_<x>_LIBS.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
fuzz_template_SRCS := util/mustache.c util/buf.c util/text.c
fuzz_event_SRCS := lib/event.c util/text.c util/idmap.c
fuzz_sms_receipt_LIBS := -lcrypto
fuzz_sms_receipt_SRCS := channels/sms/receipt.c channels/sms/smsreq.c channels/sms/twsig.c \
	util/form.c util/buf.c \
	util/e164.c util/num.c util/text.c
fuzz_sms_inbound_LIBS := -lcrypto
fuzz_sms_inbound_SRCS := channels/sms/inbound.c channels/sms/receipt.c channels/sms/smsreq.c \
	channels/sms/twsig.c lib/smsstop.c util/form.c util/buf.c util/e164.c util/num.c util/text.c
fuzz_fax_receipt_SRCS := channels/fax/faxrcpt.c util/form.c
fuzz_form_SRCS := util/form.c
fuzz_mime_SRCS := channels/email/mime.c util/buf.c util/text.c
fuzz_mime_LIBS := -lcrypto
fuzz_config_SRCS := util/conf.c util/num.c util/text.c
fuzz_config_LIBS := -linih
fuzz_bounce_SRCS := tools/bounce_read.c
fuzz_unsubtok_SRCS := lib/unsubtok.c
fuzz_unsubtok_LIBS := -lcrypto
fuzz_bounce_FLAGS = $(call pkg_cflags,gmime-3.0) $(call pkg_libs,gmime-3.0)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_NAMES))
define FUZZ_RULE
$(BUILD)/fuzz/$(1): tests/fuzz/$(1).c $$($(1)_SRCS)
	@command -v $$(FUZZ_CC) >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	@mkdir -p $$(dir $$@)
	$$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined $$(CPPFLAGS) $$(INC_tests) -Ichannels/sms -Ichannels/fax -Ichannels/email \
		$$< $$($(1)_SRCS) -ljansson $$($(1)_LIBS) $$($(1)_FLAGS) -o $$@
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call FUZZ_RULE,$(f))))
fuzz-bins: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		mkdir -p $$f.corpus; echo "== $$f ($(FUZZ_SECONDS) s)"; \
		seeds=tests/fuzz/corpus/$${f##*/fuzz_}; [ ! -d $$seeds ] || cp -n $$seeds/* $$f.corpus/; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$f.corpus >$$f.log 2>&1; then \
			tail -n 40 $$f.log; echo "fuzz: $$f failed (log: $$f.log)"; exit 1; \
		fi; \
		grep -E '^stat::number_of_executed_units|^Done' $$f.log; \
	done

# ---- install, uninstall, packages ------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: programs, plugins, templates,
# the public header with its pkg-config file, man pages, the systemd unit,
# sysusers and tmpfiles entries, a logrotate file and /etc/herald/herald.conf
# (never overwritten), with every path in the unit and the config following
# PREFIX. The config holds secrets and heraldd runs as user herald: it is
# installed 0640 root:herald. With DESTDIR empty (a real install) make install
# creates the user and the log and spool folders as the package's postinst
# does (systemd-sysusers, systemd-tmpfiles); with DESTDIR (staging for a
# package) it leaves them, and the config's group, to the package
# (INSTALL_USER=1 does them inside DESTDIR: the tests use that).
# heraldd's CURVE key pair ([ingest] curve_secret_key_file) is site data, not
# a file of the tree: a real install (or INSTALL_USER=1) generates
# /etc/herald/heraldd.key (0640 root:herald) and heraldd.pub (0644) when
# there is no heraldd.key yet, as the package's postinst does, and never
# replaces one; /etc/herald/services.d is 0750 (group herald likewise).
# make uninstall leaves them, like the config.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
CHANNELDIR ?= $(LIBDIR)/herald/channels
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/herald
PKGCONFIGDIR ?= $(DATADIR)/pkgconfig
SYSCONFDIR ?= /etc
# systemd reads units, sysusers.d and tmpfiles.d from /usr/local/lib too;
# Debian 12 keeps the units of /usr in /lib/systemd/system.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(LIBDIR)/systemd/system)
SYSUSERSDIR ?= $(LIBDIR)/sysusers.d
TMPFILESDIR ?= $(LIBDIR)/tmpfiles.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
INSTALL_USER ?= $(if $(DESTDIR),0,1)
MAN_PAGES := $(wildcard man/*.[1-8])
# The sources name the /usr/local layout (the default PREFIX); installed
# copies name the one chosen.
install_paths = sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/usr/local/share/doc/herald/|$(DOCDIR)/|g' \
	-e 's|/usr/local/share/herald/|$(DATADIR)/herald/|g' -e 's|/usr/local/lib/herald/channels|$(CHANNELDIR)|g' \
	-e 's|/usr/local/lib/systemd/system|$(SYSTEMDUNITDIR)|g' -e 's|/usr/local/lib/sysusers.d|$(SYSUSERSDIR)|g' \
	-e 's|/usr/local/lib/tmpfiles.d|$(TMPFILESDIR)|g' -e 's|/usr/local/include/|$(INCLUDEDIR)/|g' \
	-e 's|/usr/local/share/pkgconfig/|$(PKGCONFIGDIR)/|g'

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(CHANNELDIR) \
		$(DESTDIR)$(SYSCONFDIR)/herald $(DESTDIR)$(DATADIR)/herald $(DESTDIR)$(INCLUDEDIR)/herald \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(DOCDIR)
	install -d -m 750 $(DESTDIR)$(SYSCONFDIR)/herald/services.d
	install -m 755 $(BUILD)/heraldd $(DESTDIR)$(SBINDIR)/heraldd
	install -m 755 $(BUILD)/heraldctl $(DESTDIR)$(BINDIR)/heraldctl
	install -m 644 $(CHANNEL_SOS) $(DESTDIR)$(CHANNELDIR)/
	install -m 644 include/herald/*.h $(DESTDIR)$(INCLUDEDIR)/herald/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@CHANNELDIR@|$(CHANNELDIR)|g' -e 's|@VERSION@|$(HERALD_VERSION)|g' \
		include/herald-channel.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/herald-channel.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/herald-channel.pc
	rm -rf $(DESTDIR)$(DATADIR)/herald/templates
	cp -R templates $(DESTDIR)$(DATADIR)/herald/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/herald/templates
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		$(install_paths) $$m >$(DESTDIR)$(MANDIR)/man$$s/$${m##*/} && \
		chmod 644 $(DESTDIR)$(MANDIR)/man$$s/$${m##*/} || exit 1; \
	done
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf ]; then \
		umask 077 && $(install_paths) herald.conf.example >$(DESTDIR)$(SYSCONFDIR)/herald/herald.conf.new && \
		chmod 640 $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf.new && \
		mv $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf.new $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf; \
	fi
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(LOGROTATEDIR)
	$(install_paths) systemd/heraldd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/heraldd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/heraldd.service
	install -m 644 systemd/herald.sysusers $(DESTDIR)$(SYSUSERSDIR)/herald.conf
	install -m 644 systemd/herald.tmpfiles $(DESTDIR)$(TMPFILESDIR)/herald.conf
	install -m 644 systemd/herald.logrotate $(DESTDIR)$(LOGROTATEDIR)/herald
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
ifeq ($(INSTALL_USER),1)
	@command -v systemd-sysusers >/dev/null || { echo "make install: no systemd-sysusers: create user herald and chgrp herald $(SYSCONFDIR)/herald/herald.conf by hand"; exit 1; }
	systemd-sysusers --root=$(or $(DESTDIR),/) $(DESTDIR)$(SYSUSERSDIR)/herald.conf
	systemd-tmpfiles --root=$(or $(DESTDIR),/) --create $(DESTDIR)$(TMPFILESDIR)/herald.conf
	gid=$$(awk -F: '$$1 == "herald" { print $$3 }' $(DESTDIR)/etc/group) && [ -n "$$gid" ] && \
		chown root:$$gid $(DESTDIR)$(SYSCONFDIR)/herald/herald.conf $(DESTDIR)$(SYSCONFDIR)/herald/services.d
	# heraldd's key pair, once (--force replaces only a stray heraldd.pub:
	# there is no heraldd.key); read by group herald only
	gid=$$(awk -F: '$$1 == "herald" { print $$3 }' $(DESTDIR)/etc/group) && [ -n "$$gid" ] && \
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/herald/heraldd.key ]; then \
		$(BUILD)/heraldctl keygen --server --force -d $(DESTDIR)$(SYSCONFDIR)/herald heraldd && \
		chown root:$$gid $(DESTDIR)$(SYSCONFDIR)/herald/heraldd.key && \
		chmod 640 $(DESTDIR)$(SYSCONFDIR)/herald/heraldd.key; \
	else echo "make install: $(SYSCONFDIR)/herald/heraldd.key exists: kept"; fi
endif

# make uninstall: what make install put there, with the same PREFIX and
# DESTDIR; the config (/etc/herald/herald.conf), heraldd's key pair and
# services.d (/etc/herald/heraldd.key, .pub, services.d/), the logs and spool
# (/var/log/herald, /var/spool/herald) and the herald user stay.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/heraldd $(DESTDIR)$(BINDIR)/heraldctl
	rm -f $(addprefix $(DESTDIR)$(CHANNELDIR)/,$(notdir $(CHANNEL_SOS)))
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/herald/,$(notdir $(wildcard include/herald/*.h)))
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/herald-channel.pc
	rm -rf $(DESTDIR)$(DATADIR)/herald/templates
	for m in $(MAN_PAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/heraldd.service $(DESTDIR)$(SYSUSERSDIR)/herald.conf \
		$(DESTDIR)$(TMPFILESDIR)/herald.conf $(DESTDIR)$(LOGROTATEDIR)/herald \
		$(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(CHANNELDIR) $(DESTDIR)$(LIBDIR)/herald $(DESTDIR)$(INCLUDEDIR)/herald \
		$(DESTDIR)$(DATADIR)/herald $(DESTDIR)$(DOCDIR) 2>/dev/null

# make deb: the Debian packages (debian/), built by dpkg-buildpackage from a
# copy of the tree in $(DEBDIR)/src, so its output (.deb, .buildinfo,
# .changes, written to the parent of the source) lands in $(DEBDIR).
# make deb-check: build them and check them (tests/integration/t_package.sh,
# also part of make check: lintian, the files and modes, systemd-analyze on
# the unit, mandoc, then dpkg -i and the service used in a booted systemd
# container).
DEBDIR ?= $(BUILD)/deb
deb:
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/src
	tar -cf - --exclude=./build --exclude='./$(BUILD)' --exclude=./.git . | tar -xf - -C $(DEBDIR)/src
	# (without this make's variables: BUILD=build/san from make check would
	# reach the package's own make through MAKEFLAGS)
	cd $(DEBDIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SAN \
		dpkg-buildpackage -us -uc -b -j2 >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	@ls $(DEBDIR)/*.deb

deb-check: all
	HERALD_SRC=$(CURDIR) sh tests/integration/t_package.sh

.PHONY: uninstall deb deb-check

# Flags a packager adds (debian/rules passes dpkg-buildflags' hardening
# flags here); appended, so the project's own flags stay.
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
CFLAGS += $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)

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
# the publisher is built with the other test programs: make check runs the
# short suite (tests/integration/t_chaos.sh)
test-bins: $(CHAOS_BINS)
