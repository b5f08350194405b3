# wicket build: the daemon, the control tool, unit tests (plain and under
# ASan+UBSan), the libFuzzer targets and the namespace end-to-end tests.
# Sources are picked up by wildcard: a new common/*.c or proxy/*.c joins the
# core library, a new test/unit/test_*.c becomes a cmocka test binary.

CC       ?= cc
CLANG    ?= clang
PKGS     := libevent libevent_openssl openssl libpcap libcap-ng libseccomp
NFT_PKG  := $(shell pkg-config --exists libnftables 2>/dev/null && echo libnftables)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(NFT_PKG) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) $(NFT_PKG) 2>/dev/null)
ifneq ($(NFT_PKG),)
PKG_CFLAGS += -DHAVE_NFTABLES=1
endif

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wcast-qual \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef \
            -Wnull-dereference -Wimplicit-fallthrough -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Icommon -Iproxy $(PKG_CFLAGS) -DSRCDIR=\"$(CURDIR)\" \
             -DWICKET_CONF=\"$(WICKET_CONF)\"
LDLIBS   := $(PKG_LIBS)

# Everything except the two mains goes into the core library.
CORE_SRC := $(sort $(wildcard common/*.c) $(filter-out proxy/main.c proxy/wicketctl.c,$(wildcard proxy/*.c)))
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard test/fuzz/fuzz_*.c))

# Two build flavours share the rules: build/ (release) and build/asan/.
B        := build
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all check unit unit-asan fuzz e2e demo clean purity FORCE
.PHONY: install install-bin install-man install-conf install-systemd install-openwrt uninstall
all: $(B)/wicketd $(B)/wicketctl

# Installation directories (GNU names). The configuration lives under
# /etc whatever the prefix, as a router's does; wicketd's default -f is
# SYSCONFDIR/wicket/wicket.conf, so give make and make install the same
# SYSCONFDIR. DESTDIR stages the whole tree (packaging, tests).
PREFIX       ?= /usr/local
SBINDIR      ?= $(PREFIX)/sbin
SYSCONFDIR   ?= /etc
MANDIR       ?= $(PREFIX)/share/man
UNITDIR      ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR  ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
INITDIR      ?= $(SYSCONFDIR)/init.d
WICKET_CONF  := $(SYSCONFDIR)/wicket/wicket.conf

define flavour
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -MMD -MP -c $$< -o $$@
$(1)/srclist: FORCE
	@mkdir -p $(1); echo '$$(CORE_SRC)' | cmp -s - $$@ || echo '$$(CORE_SRC)' > $$@
$(1)/libwicket.a: $$(CORE_SRC:%.c=$(1)/obj/%.o) $(1)/srclist
	@rm -f $$@
	$$(AR) rcs $$@ $$(filter %.o,$$^)
# main.o holds the default configuration path: rebuilt when it changes.
$(1)/conf-path: FORCE
	@mkdir -p $(1); echo '$$(WICKET_CONF)' | cmp -s - $$@ || echo '$$(WICKET_CONF)' > $$@
$(1)/obj/proxy/main.o: $(1)/conf-path
$(1)/wicketd: $(1)/obj/proxy/main.o $(1)/libwicket.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
$(1)/wicketctl: $(1)/obj/proxy/wicketctl.o $(1)/libwicket.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
$(1)/test/%: $(1)/obj/test/unit/%.o $(1)/libwicket.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS) -lcmocka
endef
$(eval $(call flavour,$(B),))
$(eval $(call flavour,$(B)/asan,$(SAN)))

UNIT_BIN      := $(UNIT_SRC:test/unit/%.c=$(B)/test/%)
UNIT_BIN_ASAN := $(UNIT_SRC:test/unit/%.c=$(B)/asan/test/%)

# The pure cores must stay free of event-loop and capture headers so that
# cmocka drives them directly (design brief, "pure cores, thin shells").
PURE := proxy/http.c proxy/http.h proxy/reply.c proxy/reply.h proxy/policy.c \
        proxy/policy.h common/conf.c common/conf.h proxy/arpframe.c \
        proxy/arpframe.h proxy/registry.c proxy/registry.h proxy/neigh.c \
        proxy/neigh.h common/jsonw.c common/addr.c common/token.c \
        common/token.h proxy/session.c proxy/session.h proxy/nonce.c \
        proxy/nonce.h proxy/ctlproto.c proxy/ctlproto.h common/clock.c common/clock.h \
        proxy/radpkt.c proxy/radpkt.h proxy/capport.c proxy/capport.h \
        proxy/splash.c proxy/splash.h \
        proxy/limiter.c proxy/limiter.h proxy/counters.c proxy/counters.h \
        common/buf.c common/buf.h common/dheap.c common/dheap.h
purity:
	@bad=$$(grep -lE '#include <(event2|pcap)' $(wildcard $(PURE)) /dev/null); \
	if [ -n "$$bad" ]; then echo "purity: event/pcap header in pure core: $$bad"; exit 1; fi; \
	echo "purity: ok"

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $^
unit-asan: $(UNIT_BIN_ASAN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 scripts/run-unit.sh $^

# libFuzzer targets: clang, fuzzer + ASan + UBSan, a bounded run each. The
# core is instrumented once into its own archive; each target pulls in only
# the objects it uses.
FUZZ_BIN := $(FUZZ_SRC:test/fuzz/%.c=$(B)/fuzz/%)
FUZZ_CC := $(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Iproxy $(PKG_CFLAGS) \
           -fno-sanitize-recover=all
$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@
$(B)/fuzz/libfuzzcore.a: $(CORE_SRC:%.c=$(B)/fuzz/obj/%.o) $(B)/srclist
	@rm -f $@
	$(AR) rcs $@ $(filter %.o,$^)
$(B)/fuzz/%: $(B)/fuzz/obj/test/fuzz/%.o $(B)/fuzz/libfuzzcore.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
FUZZ_SECONDS ?= 30
fuzz: $(FUZZ_BIN)
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $^

e2e: $(B)/wicketd $(B)/wicketctl $(B)/asan/wicketd $(B)/asan/wicketctl
	@scripts/run-e2e.sh

# The whole test command of the README.
check: all purity unit unit-asan fuzz e2e

demo: $(B)/wicketd $(B)/wicketctl
	scripts/demo.sh

# Installed files live in the tree: every scripts/wicket-* is a command
# (another helper needs no edit here), every docs/man page a manual, and
# the service files in scripts/service/ are filled in with the directories.
INSTALL_SBIN := $(B)/wicketd $(B)/wicketctl $(sort $(wildcard scripts/wicket-*))
INSTALL_MAN  := $(sort $(wildcard docs/man/*.[1-8]))
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install: install-bin install-man install-conf install-systemd

install-bin: all
	install -d -m 0755 $(DESTDIR)$(SBINDIR)
	install -m 0755 $(INSTALL_SBIN) $(DESTDIR)$(SBINDIR)/

install-man:
	@for m in $(INSTALL_MAN); do s=$${m##*.}; \
		echo "install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -d -m 0755 $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

# The example (every key at its default) becomes the configuration, and
# the firewall's settings the unit reads, but an existing file is the
# operator's and is never replaced.
INSTALL_CONF := proxy.conf.example:$(WICKET_CONF) \
                scripts/service/wicket-firewall.env:$(SYSCONFDIR)/wicket/firewall.env
install-conf:
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/wicket
	@for pair in $(INSTALL_CONF); do src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
		if [ -e $$dst ]; then echo "keeping the existing $$dst"; \
		else echo "install -m 0644 $$src $$dst"; install -m 0644 $$src $$dst || exit 1; fi; \
	done

SYSTEMD_UNITS := wicketd.service wicket-firewall.service
install-systemd:
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(LOGROTATEDIR)
	@for u in $(SYSTEMD_UNITS); do $(SUBST) scripts/service/$$u > $(B)/$$u && \
		echo "install -m 0644 $(B)/$$u $(DESTDIR)$(UNITDIR)/$$u" && \
		install -m 0644 $(B)/$$u $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 scripts/service/wicket.tmpfiles $(DESTDIR)$(TMPFILESDIR)/wicket.conf
	install -m 0644 scripts/service/wicket.sysusers $(DESTDIR)$(SYSUSERSDIR)/wicket.conf
	$(SUBST) scripts/service/wicket.logrotate > $(B)/wicket.logrotate
	install -m 0644 $(B)/wicket.logrotate $(DESTDIR)$(LOGROTATEDIR)/wicket

# OpenWrt: the commands, the configuration and the procd init script
# (build with the SDK's toolchain; PREFIX=/usr there).
install-openwrt: install-bin install-conf
	install -d -m 0755 $(DESTDIR)$(INITDIR)
	$(SUBST) scripts/service/wicket.init > $(B)/wicket.init
	install -m 0755 $(B)/wicket.init $(DESTDIR)$(INITDIR)/wicket

# Removes what install put there. A configuration file goes only while it
# is still the unchanged example; directories go only when empty.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(INSTALL_SBIN)))
	@for m in $(INSTALL_MAN); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(SYSTEMD_UNITS)) \
		$(DESTDIR)$(TMPFILESDIR)/wicket.conf $(DESTDIR)$(SYSUSERSDIR)/wicket.conf \
		$(DESTDIR)$(LOGROTATEDIR)/wicket $(DESTDIR)$(INITDIR)/wicket
	@for pair in $(INSTALL_CONF); do src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
		[ -e $$dst ] || continue; \
		if cmp -s $$src $$dst; then rm -f $$dst; \
		else echo "keeping $$dst (changed by the operator)"; fi; \
	done
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/wicket 2>/dev/null || true

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
