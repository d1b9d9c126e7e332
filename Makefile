# rshm: `make` builds the release libraries, `make test` runs every test,
# `make demo` runs the writer/reader example with every call logged.

CARGO ?= cargo
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
RELEASE := target/release
DEMO := target/demo

# Counts the shared-memory segments on this machine (ipcs -m data lines).
SEGMENTS = ipcs -m | awk 'NR > 3 && NF > 0' | wc -l

# The two packages are built (and tested) by separate cargo runs: built together,
# cargo would unify rshm's features and the preload library would export rshm_* too.
PACKAGES := rshm rshm-preload

.PHONY: all test demo bench clean

all:
	for p in $(PACKAGES); do $(CARGO) build --release -p $$p || exit 1; done

test:
	@before=$$($(SEGMENTS)); \
	status=0; for p in $(PACKAGES); do $(CARGO) test -p $$p || status=1; done; \
	after=$$($(SEGMENTS)); \
	if [ $$after -gt $$before ]; then \
		echo "make test: ipcs -m lists $$((after - before)) more segment(s) than before the tests"; \
		ipcs -m; exit 1; \
	fi; \
	exit $$status

$(RELEASE)/librshm.so.0: all
	ln -sf librshm.so $@

$(DEMO)/%: examples/%.c include/rshm.h $(RELEASE)/librshm.so.0
	@mkdir -p $(DEMO)
	$(CC) $(CFLAGS) -Iinclude $< -o $@ -L$(RELEASE) -lrshm -Wl,-rpath,$(abspath $(RELEASE))

demo: $(DEMO)/writer $(DEMO)/reader
	RSHM_LOG=info $(DEMO)/writer "hello from the writer, pid $$$$"
	RSHM_LOG=info $(DEMO)/reader

clean:
	$(CARGO) clean

BENCH := target/bench/bench

$(BENCH): bench/bench.c include/rshm.h all
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Iinclude $< -o $@ $(RELEASE)/librshm.a -lpthread -ldl -lm -lrt -lgcc_s -lutil

bench: $(BENCH)
	RSHM_BENCH_PRELOAD=$(abspath $(RELEASE)/librshm_preload.so) $(BENCH)
