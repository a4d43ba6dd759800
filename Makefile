# strata: build, test, install and run.
#   make check   install missing Debian packages, build, run every test
#   make run     build and start the daemon in the foreground (default config)
#   make bench   benchmarks against containerd's own code (not part of check)
#   make soak    the load and crash tests at length (not part of check)

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION := $(shell sed -n 's/^\#define STRATA_VERSION "\(.*\)"$$/\1/p' common/args.h)

# SANITIZE=1: everything built with AddressSanitizer and UBSan into build-san
# (the normal build is untouched); a UBSan report aborts, so it fails a test.
# The confined processes' policies gain policy/sanitize.policy there only.
ifeq ($(SANITIZE),1)
B := build-san
# tests/run-integration.sh and the suites take the build from B.
export B
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_POLICY := policy/sanitize.policy
SAN_ENV := LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1
else
B := build
endif
G := $(B)/gen

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := gcc make pkg-config clang-format \
	libseccomp-dev libcap-ng-dev libprotobuf-c-dev protobuf-c-compiler \
	libarchive-dev check libnghttp2-dev liblmdb-dev libssl-dev \
	libisal-dev libdeflate-dev libzstd-dev libinih-dev libjansson-dev zlib1g-dev \
	containerd runc golang-go golang-github-containerd-containerd-dev \
	busybox-static util-linux iproute2 kmod strace libarchive-tools systemd \
	python3 python3-prometheus-client zstd procps binutils e2fsprogs xfsprogs \
	clang libclang-rt-14-dev llvm libtsan2 \
	debhelper dpkg-dev lintian

PKGS := libseccomp libcap-ng libprotobuf-c libnghttp2 lmdb libcrypto libzstd libisal libdeflate inih libarchive jansson
CFLAGS ?= -O2 -g
ifeq ($(SANITIZE),1)
override CFLAGS += $(SAN_FLAGS)
CPPFLAGS += -DSTRATA_SANITIZE
endif
WARN := -Wall -Wextra -Werror -Wformat=2 -Wformat-security -Wshadow -Wno-unused-parameter \
	-Wmissing-prototypes -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -I. -I$(G) -I$(G)/proto -Iinclude
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Symbols bound at start-up: forked workers inherit a resolved, read-only
# GOT instead of resolving (and copying pages) lazily after the fork.
# --as-needed: each binary records only the libraries it calls (the parent
# none of the broker's or the workers').
LDFLAGS += -Wl,-z,now -Wl,-z,relro -Wl,--as-needed
# SHA-256 is OpenSSL's, linked statically (common/sha256.h says why): a
# binary that hashes takes libcrypto.a's SHA-256 objects alone and maps no
# libcrypto.so.  Tests that call EVP themselves link libcrypto.so first
# (TEST_CRYPTO), which then serves common/sha256.c as well.
CRYPTO_STATIC = -Wl,-Bstatic -lcrypto -Wl,-Bdynamic
TEST_CRYPTO = $(shell pkg-config --libs libcrypto 2>/dev/null)
LIBS = $(shell pkg-config --libs $(filter-out libcrypto,$(PKGS)) 2>/dev/null) $(CRYPTO_STATIC)
# The worker and the CLI link libarchive statically: only the tar reader
# they call (and the CLI its gzip filter, over zlib), where libarchive.so
# would map every format it writes and reads and, through them, libxml2,
# ICU and libstdc++.  The worker is exec'd for every job and the CLI for
# every command, and loading that chain was about 5 ms of each start
# (README, Performance); none of it is code the worker needs in the
# address space it parses hostile layers in.  The price: an updated
# libarchive reaches them when strata is rebuilt (debian/control's
# Built-Using says which version they hold).  The CLI writes the tar of
# its exports itself (common/tar_header.h): libarchive's writers would
# bring the whole chain back.
ARCHIVE_STATIC = -Wl,-Bstatic -larchive -Wl,-Bdynamic
WORKER_LIBS = $(ARCHIVE_STATIC) $(filter-out -larchive,$(LIBS))
CLI_LIBS = $(ARCHIVE_STATIC) $(filter-out -larchive,$(LIBS)) $(shell pkg-config --libs zlib 2>/dev/null)

# ---- generated protocol code -------------------------------------------------
PROTOS := $(shell cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
PROTO_C := $(patsubst %.proto,$(G)/proto/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
POLICIES := $(sort $(filter-out policy/sanitize.policy,$(wildcard policy/*.policy)))

# ---- sources -----------------------------------------------------------------
COMMON_SRC := $(sort $(wildcard common/*.c))
DAEMON_SRC := $(sort $(wildcard broker/*.c parent/*.c worker/*.c policy/*.c proto/*.c))
DAEMON_MAIN := parent/main.c
SPAWNER_MAIN := parent/spawner_main.c
BROKER_MAIN := broker/entry.c
WORKER_MAIN := parent/worker_main.c
CLIENT_SRC := $(sort $(wildcard client/*.c))
CLIENT_MAIN := client/main.c

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(COMMON_SRC) $(filter-out $(DAEMON_MAIN) $(SPAWNER_MAIN) $(BROKER_MAIN) $(WORKER_MAIN),$(DAEMON_SRC))) \
	$(patsubst %.c,%.o,$(PROTO_C)) $(G)/policy_text.o
CLIENT_OBJ := $(call obj,$(filter-out $(CLIENT_MAIN),$(CLIENT_SRC)))

# libstrata-client: its soname's number is VERSION's first.
CLIENT_LIB := libstrata-client.so.$(VERSION)
CLIENT_SONAME := libstrata-client.so.$(firstword $(subst ., ,$(VERSION)))
CLIENT_LIB_SRC := client/api.c client/client.c client/mountfd.c common/err.c common/log.c common/util.c
CLIENT_LIB_OBJ := $(patsubst %.c,$(B)/pic/%.o,$(CLIENT_LIB_SRC)) $(B)/pic/gen/proto/strata/v1/strata.pb-c.o
PUBLIC_H := $(sort $(wildcard include/strata/*.h))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all deps check check-sanitized check-tsan unit integration format format-check install uninstall deb run bench soak \
	fuzz clean
.SECONDARY:

all: $(B)/stratad $(B)/stratad-broker $(B)/stratad-spawner $(B)/stratad-worker $(B)/strata \
	$(B)/$(CLIENT_LIB)

# Installs what is missing, and nothing when everything is there.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f '$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

$(G)/proto/%.pb-c.c $(G)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(G)/proto
	cd proto && protoc-c -I. --c_out=$(abspath $(G))/proto $*.proto 2>&1 | grep -v 'is unused' || true
	@test -f $(G)/proto/$*.pb-c.c

$(G)/policy_text.c: $(POLICIES) $(SAN_POLICY) policy/embed.sh
	@mkdir -p $(G)
	sh policy/embed.sh $(if $(SAN_POLICY),-a $(SAN_POLICY)) $(POLICIES) > $@

$(G)/%.o: $(G)/%.c $(PROTO_H)
	$(CC) $(CPPFLAGS) -std=gnu11 $(CFLAGS) -w -c -o $@ $<

$(B)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libstrata.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/stratad: $(call obj,$(DAEMON_MAIN)) $(B)/libstrata.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/stratad-broker: $(call obj,$(BROKER_MAIN)) $(B)/libstrata.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/stratad-spawner: $(call obj,$(SPAWNER_MAIN)) $(B)/libstrata.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# Only stratad-worker, which the spawner execs for the layer roles, holds
# libarchive's tar reader and maps the decompressors (tests/structure.sh).
$(B)/stratad-worker: $(call obj,$(WORKER_MAIN)) $(B)/libstrata.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(WORKER_LIBS)

$(B)/strata: $(call obj,$(CLIENT_MAIN)) $(CLIENT_OBJ) $(B)/libstrata.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libstrata.a $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(shell pkg-config --cflags check) -o $@ $< $(CLIENT_OBJ) $(B)/libstrata.a \
		$(TEST_CRYPTO) $(LIBS) $(shell pkg-config --libs check)

# ---- libstrata-client --------------------------------------------------------
# The shared library of include/strata/'s API (client/api.c over the CLI's
# own client), built again with -fPIC into $(B)/pic; its version script
# exports the public names alone (CLIENT_LIB and the rest: above).
$(B)/pic/gen/%.o: $(G)/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 $(CFLAGS) -fPIC -w -c -o $@ $<

$(B)/pic/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(B)/$(CLIENT_LIB): $(CLIENT_LIB_OBJ) client/libstrata-client.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(CLIENT_SONAME) -Wl,--no-undefined \
		-Wl,--version-script=client/libstrata-client.map -o $@ $(CLIENT_LIB_OBJ) \
		$(shell pkg-config --libs libprotobuf-c)
	ln -sf $(CLIENT_LIB) $(B)/$(CLIENT_SONAME)
	ln -sf $(CLIENT_SONAME) $(B)/libstrata-client.so

# tests/integration/mount.sh's client of mount fds that drops all privilege
# (only the public API: install.sh builds it against an installed library).
$(B)/tests/mountfd: tests/tools/mountfd.c $(B)/libstrata.a $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(CLIENT_OBJ) $(B)/libstrata.a $(LIBS)

# tests/integration/probe-broker.sh's compromised broker: installed as
# stratad-broker, it attacks the parent and the spawner on their ipc channels.
$(B)/tests/probebroker: tests/tools/probebroker.c $(B)/libstrata.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libstrata.a $(TEST_CRYPTO) $(LIBS)

# tests/integration/apply-vs-containerd.sh's extract engine without the
# daemon: a layer applied before its lowers exist, then rebased onto them.
$(B)/tests/xapply: tests/tools/xapply.c $(B)/libstrata.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libstrata.a $(WORKER_LIBS)

# tests/bench/apply.sh's reference points: how fast this machine creates a
# layer's tree from memory (no parsing, decompression or hashing), and reads,
# decompresses and hashes the layer (with the worker's libraries).
$(B)/tests/createfloor: tests/tools/createfloor.c $(B)/libstrata.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libstrata.a $(WORKER_LIBS)

# tests/fixtures/stratad-as-unit.sh's set-up of the unit's read-only system,
# writable paths, /proc and namespace restriction.
$(B)/tests/unit-confine: tests/tools/unit-confine.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libseccomp)

-include $(shell find $(B)/obj $(B)/pic -name '*.d' 2>/dev/null)

# ---- manual pages ------------------------------------------------------------
# man/NAME.SECTION.scd rendered by scdoc (tests/integration/docs.sh checks
# that they name every command, option and setting; mandoc and groff lint
# them, col flattens their text; client/strata.bash is tried with
# bash-completion).
DEB_PACKAGES += scdoc mandoc groff-base bsdextrautils bash-completion
.PHONY: man
MAN_PAGES := $(patsubst man/%.scd,$(B)/man/%,$(wildcard man/*.scd))
all: $(MAN_PAGES)
man: $(MAN_PAGES)

$(B)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# ---- tests -------------------------------------------------------------------
check: deps
	$(MAKE) all $(B)/tests/createfloor # the bench's tool builds too
	$(MAKE) format-check
	sh tests/structure.sh $(B)
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration
ifneq ($(SANITIZE),1)
	$(MAKE) check-sanitized
	$(MAKE) check-tsan
endif

# The sanitized pass of `make check`: every unit test, and the integration
# suites that feed the daemon hostile input (the rest run in the plain build
# above; `make check SANITIZE=1` runs all of them sanitized).
SAN_SUITES := boundaries probe-broker grpc-robustness conn-limits maximal apply-faults hostile diff-service containerd
check-sanitized:
	$(MAKE) SANITIZE=1 all
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 integration SUITES="$(SAN_SUITES)"

# The threads under ThreadSanitizer: the extract engine's (parser, writers,
# producer, hasher, in test_extract), the diff compressor's (test_diff) and
# the metadata store's (test_meta), built with -fsanitize=thread into
# build-tsan; a race reported fails the test (halt_on_error).
TSAN_UNITS := $(addprefix build-tsan/tests/,test_extract test_diff test_meta)
check-tsan:
	$(MAKE) SANITIZE=1 B=build-tsan SAN_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_UNITS)
	@set -e; for t in $(TSAN_UNITS); do echo "== $$t"; TSAN_OPTIONS=halt_on_error=1 CK_FORK=yes $$t; done

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $(SAN_ENV) CK_FORK=yes $$t; done

integration: all $(B)/tests/mountfd $(B)/tests/probebroker $(B)/tests/unit-confine $(B)/tests/xapply
	$(SAN_ENV) sh tests/run-integration.sh $(SUITES)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# ---- run, install, deb -------------------------------------------------------
run: deps all
	sh systemd/ensure-user.sh strata
	exec $(B)/stratad --config systemd/stratad.conf

# install lists what it made in $(MANIFEST) (paths as installed; a directory,
# with a trailing /, only when install created it) and uninstall removes
# exactly that: the files, then those directories if empty, so a directory
# that was there before stays.  Both take the same PREFIX and DESTDIR.
# /etc/strata/stratad.conf is written only when missing, and uninstall
# removes it only while it equals systemd/stratad.conf: an administrator's
# changes stay, as Debian keeps a removed package's conffiles.  The broker's
# account stays too (Debian practice: system accounts are never removed).
MANIFEST := $(PREFIX)/share/strata/installed
# mkd DIR...: DIR and its missing parents; put MODE SRC DEST; lnk TARGET DEST.
INSTALL_SH = D='$(DESTDIR)'; L='$(B)/install.list'; : >"$$L"; [ -z "$$D" ] || mkdir -p "$$D"; \
	mkd() { for _d in "$$@"; do _p=; for _c in $$(printf '%s' "$$_d" | tr / ' '); do _p="$$_p/$$_c"; \
		if [ ! -d "$$D$$_p" ]; then mkdir -m 0755 "$$D$$_p" || exit 1; echo "$$_p/" >>"$$L"; fi; done; done; }; \
	put() { install -m "$$1" "$$2" "$$D$$3" || exit 1; echo "$$3" >>"$$L"; }; \
	lnk() { ln -sfn "$$1" "$$D$$2" || exit 1; echo "$$2" >>"$$L"; }

install: all $(MAN_PAGES)
	@set -e; $(INSTALL_SH); \
	mkd $(BINDIR) $(SBINDIR) $(LIBDIR)/pkgconfig $(INCLUDEDIR)/strata $(UNITDIR) $(SYSUSERSDIR) \
		$(PREFIX)/share/strata /etc/strata; \
	for b in stratad stratad-broker stratad-spawner stratad-worker; do put 0755 $(B)/$$b $(SBINDIR)/$$b; done; \
	put 0755 $(B)/strata $(BINDIR)/strata; \
	put 0644 $(B)/$(CLIENT_LIB) $(LIBDIR)/$(CLIENT_LIB); \
	lnk $(CLIENT_LIB) $(LIBDIR)/$(CLIENT_SONAME); \
	lnk $(CLIENT_SONAME) $(LIBDIR)/libstrata-client.so; \
	for h in $(PUBLIC_H); do put 0644 $$h $(INCLUDEDIR)/strata/$${h##*/}; done; \
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		client/strata-client.pc.in >$(B)/strata-client.pc; \
	put 0644 $(B)/strata-client.pc $(LIBDIR)/pkgconfig/strata-client.pc; \
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/strata.service >$(B)/strata.service; \
	put 0644 $(B)/strata.service $(UNITDIR)/strata.service; \
	put 0644 systemd/strata.socket $(UNITDIR)/strata.socket; \
	put 0644 systemd/strata.sysusers $(SYSUSERSDIR)/strata.conf; \
	for m in $(MAN_PAGES); do s=$${m##*.}; mkd $(MANDIR)/man$$s; put 0644 $$m $(MANDIR)/man$$s/$${m##*/}; done; \
	for c in $(wildcard client/strata.bash); do mkd $(BASHCOMPDIR); put 0644 $$c $(BASHCOMPDIR)/strata; done; \
	[ -e "$$D/etc/strata/stratad.conf" ] || put 0644 systemd/stratad.conf /etc/strata/stratad.conf; \
	M="$$D$(MANIFEST)"; [ ! -f "$$M" ] || cat "$$M" >>"$$L"; \
	echo "$(MANIFEST)" >>"$$L"; LC_ALL=C sort -u "$$L" >"$$M"; chmod 0644 "$$M"
	if [ -z "$(DESTDIR)" ]; then sh systemd/ensure-user.sh strata && ldconfig; fi

uninstall:
	@set -e; D='$(DESTDIR)'; L='$(B)/uninstall.list'; M="$$D$(MANIFEST)"; \
	[ -f "$$M" ] || { echo "uninstall: no $$M: nothing installed with PREFIX=$(PREFIX)" >&2; exit 1; }; \
	mkdir -p $(B) && cp "$$M" "$$L"; \
	grep -v '/$$' "$$L" | while IFS= read -r f; do \
		if [ "$$f" = /etc/strata/stratad.conf ] && [ -f "$$D$$f" ] && ! cmp -s systemd/stratad.conf "$$D$$f"; \
		then echo "uninstall: kept $$D$$f (changed since it was installed)"; else rm -f "$$D$$f"; fi; \
	done; \
	grep '/$$' "$$L" | LC_ALL=C sort -r | while IFS= read -r d; do rmdir "$$D$$d" 2>/dev/null || true; done
	if [ -z "$(DESTDIR)" ]; then ldconfig; fi

# The Debian packages (debian/), built with dpkg-buildpackage from a copy of
# the tree (its tracked and untracked files, not the ignored ones) in
# $(B)/deb/src, so that the package build's clean step leaves this tree's
# builds alone; the .debs and .changes land in $(B)/deb.
deb:
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); case $$v in $(VERSION)-*) ;; \
	*) echo "deb: debian/changelog is at $$v, STRATA_VERSION at $(VERSION): add an entry" >&2; exit 1;; esac
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	git ls-files -z --cached --others --exclude-standard | \
		tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(B)/deb/src
	cd $(B)/deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b
	@ls $(B)/deb/*.deb

# Long runs of the fault and load tests (`make check` runs short ones).
soak: deps all
	DURATION=300 sh tests/integration/load.sh
	ROUNDS=200 sh tests/integration/crash.sh

bench: deps all $(B)/tests/createfloor
	sh tests/bench/run.sh
	sh tests/bench/apply.sh
	sh tests/bench/diff.sh
	sh tests/bench/import.sh

# ---- fuzzing -----------------------------------------------------------------
# libFuzzer targets, one per parser of bytes from another process
# (tests/fuzz/fuzz_NAME.c, README: Fuzzing), over strata's own objects built
# again with clang and the sanitizers into $(FZ).  Each starts from its
# committed seeds (tests/fuzz/corpus/NAME, written by `make fuzz-seeds`) and
# keeps what it finds in $(FZ)/corpus/NAME; any crash, leak, sanitizer report
# or timeout fails the run and leaves its input in $(FZ)/crash.  Run as root
# (the extract target chowns and makes device nodes).
#   make fuzz [FUZZ_SECONDS=N]   each target for N seconds
#   make fuzz-smoke              each for FUZZ_SMOKE_SECONDS: the step of `make check`
.PHONY: fuzz-smoke fuzz-seeds
FZ := $(B)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BIN := $(addprefix $(FZ)/fuzz_,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIB_OBJ := $(patsubst $(B)/%,$(FZ)/%,$(LIB_OBJ) $(CLIENT_OBJ))

$(FZ)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(ALL_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FZ)/gen/%.o: $(G)/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=gnu11 $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -w -c -o $@ $<

$(FZ)/libstrata.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# A target links its own file, the objects it names below, and what it
# calls of the library.
$(FZ)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FZ)/libstrata.a
	clang $(CPPFLAGS) $(ALL_CFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(filter %.o,$^) \
		$(FZ)/libstrata.a $(LIBS)
$(FZ)/fuzz_native $(FZ)/fuzz_grpc: $(FZ)/obj/tests/fuzz/requests.o

-include $(wildcard $(FZ)/*.d) $(shell find $(FZ)/obj -name '*.d' 2>/dev/null)

fuzz: deps
	$(MAKE) $(FUZZ_BIN)
	sh tests/fuzz/run.sh $(FZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BIN)
	sh tests/fuzz/run.sh $(FZ) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Writes the seed corpora anew from strata's own encoders and files.
fuzz-seeds: $(B)/tests/fuzz-seeds
	rm -rf tests/fuzz/corpus
	$(B)/tests/fuzz-seeds tests/fuzz/corpus

$(B)/tests/fuzz-seeds: tests/fuzz/seeds.c $(B)/libstrata.a $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(CLIENT_OBJ) $(B)/libstrata.a $(LIBS)

clean:
	rm -rf $(B)
