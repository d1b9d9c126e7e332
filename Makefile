# rshm: `make` builds the release libraries, `make test` runs every test,
# `make demo` runs the writer/reader example with every call logged.

CARGO ?= cargo
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
RELEASE := target/release
DEMO := target/demo

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# The version is Cargo.toml's; the soname carries its major number.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
# What a Rust staticlib needs from the system (rustc --print native-static-libs).
NATIVE_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

# Counts the shared-memory segments on this machine (ipcs -m data lines).
SEGMENTS = ipcs -m | awk 'NR > 3 && NF > 0' | wc -l

# The two packages are built (and tested) by separate cargo runs: built together,
# cargo would unify rshm's features and the preload library would export rshm_* too.
# `cargo test` does not build a cdylib-only library, so each test run builds first.
PACKAGES := rshm rshm-preload

.PHONY: all test check-valgrind check-asan demo bench install uninstall clean

all:
	for p in $(PACKAGES); do $(CARGO) build --release -p $$p || exit 1; done

test: all
	@before=$$($(SEGMENTS)); \
	status=0; for p in $(PACKAGES); do \
		$(CARGO) build -p $$p && $(CARGO) test -p $$p || status=1; \
	done; \
	after=$$($(SEGMENTS)); \
	if [ $$after -gt $$before ]; then \
		echo "make test: ipcs -m lists $$((after - before)) more segment(s) than before the tests"; \
		ipcs -m; exit 1; \
	fi; \
	[ $$status -eq 0 ] || exit $$status; \
	sh tests/install.sh

# The C tests under valgrind's memcheck: no error, no definite leak.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

check-valgrind:
	RSHM_TEST_WRAPPER="$(VALGRIND)" $(CARGO) test -p rshm --test c_programs -- --test-threads=2

# The C tests built with AddressSanitizer (in a target directory of their own).
check-asan:
	CARGO_TARGET_DIR=target/asan RSHM_C_TESTS_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" \
		ASAN_OPTIONS=detect_leaks=1 $(CARGO) test -p rshm --test c_programs

$(RELEASE)/librshm.so.0: all
	ln -sf librshm.so $@

$(DEMO)/%: examples/%.c include/rshm.h $(RELEASE)/librshm.so.0
	@mkdir -p $(DEMO)
	$(CC) $(CFLAGS) -Iinclude $< -o $@ -L$(RELEASE) -lrshm -Wl,-rpath,$(abspath $(RELEASE))

demo: $(DEMO)/writer $(DEMO)/reader
	RSHM_LOG=info $(DEMO)/writer "hello from the writer, pid $$$$"
	RSHM_LOG=info $(DEMO)/reader

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(RELEASE)/librshm.a $(DESTDIR)$(LIBDIR)/librshm.a
	install -m 755 $(RELEASE)/librshm.so $(DESTDIR)$(LIBDIR)/librshm.so.$(VERSION)
	ln -sf librshm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librshm.so.$(MAJOR)
	ln -sf librshm.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/librshm.so
	install -m 755 $(RELEASE)/librshm_preload.so $(DESTDIR)$(LIBDIR)/librshm_preload.so
	install -m 644 include/rshm.h $(DESTDIR)$(INCLUDEDIR)/rshm.h
	install -m 755 $(RELEASE)/rshm-trace $(DESTDIR)$(BINDIR)/rshm-trace
	install -m 644 man/rshm.3 $(DESTDIR)$(MANDIR)/man3/rshm.3
	install -m 644 man/rshm-trace.1 $(DESTDIR)$(MANDIR)/man1/rshm-trace.1
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@NATIVE_STATIC_LIBS@|$(NATIVE_STATIC_LIBS)|' \
		rshm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/librshm.a $(DESTDIR)$(LIBDIR)/librshm.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/librshm.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/librshm.so \
		$(DESTDIR)$(LIBDIR)/librshm_preload.so $(DESTDIR)$(LIBDIR)/pkgconfig/rshm.pc \
		$(DESTDIR)$(INCLUDEDIR)/rshm.h $(DESTDIR)$(BINDIR)/rshm-trace \
		$(DESTDIR)$(MANDIR)/man3/rshm.3 $(DESTDIR)$(MANDIR)/man1/rshm-trace.1

clean:
	$(CARGO) clean

BENCH := target/bench/bench

$(BENCH): bench/bench.c include/rshm.h all
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Iinclude $< -o $@ $(RELEASE)/librshm.a $(NATIVE_STATIC_LIBS)

bench: $(BENCH)
	RSHM_BENCH_PRELOAD=$(abspath $(RELEASE)/librshm_preload.so) $(BENCH)
