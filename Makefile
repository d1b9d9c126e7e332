# rshm: `make` builds the release libraries, `make test` runs every test,
# `make demo` runs the writer/reader example with every call logged.

CARGO ?= cargo
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra
RELEASE := target/release
DEMO := target/demo

# Counts the shared-memory segments on this machine (ipcs -m data lines).
SEGMENTS = ipcs -m | awk 'NR > 3 && NF > 0' | wc -l

.PHONY: all test demo clean

all:
	$(CARGO) build --release --workspace

test:
	@before=$$($(SEGMENTS)); \
	$(CARGO) test --workspace; status=$$?; \
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
