# rshm: `make` builds the release libraries and tools, `make test` runs every test,
# `make demo` shows rshm at work, `make install PREFIX=... DESTDIR=...` installs.

CARGO ?= cargo
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
RELEASE := target/release
DEMO := target/demo

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/rshm
CMAKEDIR ?= $(LIBDIR)/cmake/rshm
# The version is Cargo.toml's; the soname carries its major number.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
# What librshm.a needs besides libc for a static link. The unwinder (libgcc_s, or
# libgcc_eh in a -static link) is left to the compiler driver, which adds the right one.
NATIVE_STATIC_LIBS := -lpthread -ldl -lm

# Everything cargo's release build reads: when none of it changed, `make` runs no cargo.
SOURCES := Cargo.toml Cargo.lock build.rs cbindgen.toml src/librshm.map core/Cargo.toml \
	preload/Cargo.toml ls/Cargo.toml $(wildcard preload/build.rs preload/layout.ld c_tests/*) \
	$(shell find src core/src preload/src ls/src -name '*.rs' 2>/dev/null)
STAMP := $(RELEASE)/.rshm-built
# What the stamp stands for: if one is missing, the build runs again.
OUTPUTS := $(RELEASE)/librshm.a $(RELEASE)/librshm.so $(RELEASE)/librshm_preload.so $(RELEASE)/rshm-trace \
	$(RELEASE)/rshm-ls
MISSING := $(filter-out $(wildcard $(OUTPUTS)),$(OUTPUTS))
# Every function librshm exports gets a man page name that leads to rshm(3).
MAN3_LINKS := rshm_get rshm_at rshm_dt rshm_rmid rshm_last_error rshm_attachment_count rshm_version

.PHONY: all prereqs test check-valgrind check-asan demo bench install uninstall clean FORCE

all: prereqs $(STAMP) $(RELEASE)/librshm.so.$(MAJOR)

prereqs:
	@sh scripts/prereqs.sh build

# One cargo run builds the three crates, then librshm.so is linked from librshm.a (its
# soname and symbol versions); the stamp is touched only when both succeed.
# (The tool check runs first, also under make -j.)
$(STAMP): $(SOURCES) scripts/link-shared.sh $(if $(MISSING),FORCE) | prereqs
	$(CARGO) build --release --workspace
	@sh scripts/link-shared.sh $(RELEASE)/librshm.a $(RELEASE)/librshm.so $(MAJOR)
	@touch $@

# The soname, so a program linked against the build tree (with an rpath) runs.
$(RELEASE)/librshm.so.$(MAJOR): | $(STAMP)
	ln -sf librshm.so $@

# Every suite (cargo tests, C programs, preload, install checks) in a private IPC
# namespace where one can be made; the last line sums them all.
test: all
	@sh scripts/prereqs.sh test
	@sh scripts/test.sh

# The C tests under valgrind's memcheck: no error, no definite leak.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

# (`cargo test` does not build a library that is only a staticlib: `cargo build` first.)
check-valgrind:
	$(CARGO) build -p rshm
	RSHM_TEST_WRAPPER="$(VALGRIND)" $(CARGO) test -p rshm --test c_programs -- --test-threads=2

# The C tests built with AddressSanitizer (in a target directory of their own).
ASAN := CARGO_TARGET_DIR=target/asan RSHM_C_TESTS_CFLAGS="-fsanitize=address -fno-omit-frame-pointer"

check-asan:
	$(ASAN) $(CARGO) build -p rshm
	$(ASAN) ASAN_OPTIONS=detect_leaks=1 $(CARGO) test -p rshm --test c_programs

$(DEMO)/%: examples/%.c examples/demo.h include/rshm.h $(RELEASE)/librshm.so.$(MAJOR)
	@mkdir -p $(DEMO)
	$(CC) $(CFLAGS) -Iinclude $< -o $@ -L$(RELEASE) -lrshm -Wl,-rpath,$(abspath $(RELEASE))

demo: all $(DEMO)/writer $(DEMO)/reader
	@sh examples/demo.sh $(DEMO) $(RELEASE)

INSTALL_DIRS = $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(INCLUDEDIR) \
	$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(DOCDIR)
# Where install notes the directories it created (uninstall removes them when empty): in
# the installed doc directory; for a staged install (DESTDIR), in the build tree, so that
# no installed file names the staging area or ships in a package.
DIRS_LIST = $(if $(DESTDIR),$(RELEASE)/staged-dirs,$(DOCDIR)/installed-dirs)

# make splits paths at spaces, and `rm -f` would take each word for a file: refused.
PATH_VARS := PREFIX LIBDIR INCLUDEDIR BINDIR DATADIR MANDIR DOCDIR CMAKEDIR DESTDIR
SPACED := $(strip $(foreach v,$(PATH_VARS),$(if $(word 2,$($(v))),$(v))))
check-paths = $(if $(SPACED),$(error make: $(SPACED) hold(s) a space, which make cannot quote; choose a path without one))

# Installs what `make` built (it builds first only if needed, so `sudo make install` after
# a build needs no Rust toolchain on root's PATH).
install: $(STAMP) $(RELEASE)/librshm.so.$(MAJOR)
	$(check-paths)
	@created=$$(sh scripts/dirs.sh missing $(INSTALL_DIRS)); \
	install -d $(INSTALL_DIRS) && \
	if [ -n "$$created" ]; then printf '%s\n' "$$created" >> $(DIRS_LIST); chmod 644 $(DIRS_LIST); fi
	install -m 644 $(RELEASE)/librshm.a $(DESTDIR)$(LIBDIR)/librshm.a
	install -m 755 $(RELEASE)/librshm.so $(DESTDIR)$(LIBDIR)/librshm.so.$(VERSION)
	ln -sf librshm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librshm.so.$(MAJOR)
	ln -sf librshm.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/librshm.so
	install -m 755 $(RELEASE)/librshm_preload.so $(DESTDIR)$(LIBDIR)/librshm_preload.so
	install -m 644 include/rshm.h $(DESTDIR)$(INCLUDEDIR)/rshm.h
	install -m 755 $(RELEASE)/rshm-trace $(DESTDIR)$(BINDIR)/rshm-trace
	install -m 755 $(RELEASE)/rshm-ls $(DESTDIR)$(BINDIR)/rshm-ls
	install -m 644 man/rshm.3 $(DESTDIR)$(MANDIR)/man3/rshm.3
	for f in $(MAN3_LINKS); do echo '.so man3/rshm.3' > $(DESTDIR)$(MANDIR)/man3/$$f.3 && \
		chmod 644 $(DESTDIR)$(MANDIR)/man3/$$f.3 || exit 1; done
	install -m 644 man/rshm-trace.1 $(DESTDIR)$(MANDIR)/man1/rshm-trace.1
	install -m 644 man/rshm-ls.1 $(DESTDIR)$(MANDIR)/man1/rshm-ls.1
	install -m 644 README.md LICENSE-MIT LICENSE-APACHE $(DESTDIR)$(DOCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|' \
		rshm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc
	for f in rshmConfig rshmConfigVersion; do \
		sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
			-e 's|@MAJOR@|$(MAJOR)|' -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|' \
			cmake/$$f.cmake.in > $(DESTDIR)$(CMAKEDIR)/$$f.cmake || exit 1; \
	done
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc $(DESTDIR)$(CMAKEDIR)/*.cmake

# Removes what install put there, then each directory install created, if it is empty.
uninstall:
	$(check-paths)
	rm -f $(DESTDIR)$(LIBDIR)/librshm.a $(DESTDIR)$(LIBDIR)/librshm.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/librshm.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/librshm.so \
		$(DESTDIR)$(LIBDIR)/librshm_preload.so $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc \
		$(DESTDIR)$(CMAKEDIR)/rshmConfig.cmake $(DESTDIR)$(CMAKEDIR)/rshmConfigVersion.cmake \
		$(DESTDIR)$(INCLUDEDIR)/rshm.h $(DESTDIR)$(BINDIR)/rshm-trace \
		$(DESTDIR)$(MANDIR)/man3/rshm.3 $(DESTDIR)$(MANDIR)/man1/rshm-trace.1 \
		$(DESTDIR)$(BINDIR)/rshm-ls $(DESTDIR)$(MANDIR)/man1/rshm-ls.1 \
		$(foreach f,$(MAN3_LINKS),$(DESTDIR)$(MANDIR)/man3/$(f).3) \
		$(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/LICENSE-MIT $(DESTDIR)$(DOCDIR)/LICENSE-APACHE
	@sh scripts/dirs.sh remove $(DIRS_LIST)

clean:
	$(CARGO) clean

BENCH := target/bench/bench

$(BENCH): bench/bench.c include/rshm.h $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Iinclude $< -o $@ $(RELEASE)/librshm.a $(NATIVE_STATIC_LIBS)

TRACE_BENCH := target/bench/trace-bench
COMPLETE_BENCH := target/bench/complete-bench

$(COMPLETE_BENCH): bench/complete-bench.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra $< -o $@

$(TRACE_BENCH): bench/trace-bench.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra $< -o $@

bench: all $(BENCH) $(TRACE_BENCH) $(COMPLETE_BENCH)
	RSHM_BENCH_PRELOAD=$(abspath $(RELEASE)/librshm_preload.so) $(BENCH)
	RSHM_LS=$(abspath $(RELEASE)/rshm-ls) sh bench/ls-bench.sh
	RSHM_PRELOAD=$(abspath $(RELEASE)/librshm_preload.so) sh bench/in-ipc-ns.sh $(TRACE_BENCH) $(abspath $(RELEASE)/rshm-trace)
	@command -v strace >/dev/null || { echo "make bench: the --complete rows compare with strace: install Debian's strace"; exit 1; }
	RSHM_PRELOAD=$(abspath $(RELEASE)/librshm_preload.so) sh bench/in-ipc-ns.sh $(COMPLETE_BENCH) $(abspath $(RELEASE)/rshm-trace) $$(command -v strace)
