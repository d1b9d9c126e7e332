#!/bin/sh
# `make test`: every suite (cargo's Rust, C-program and preload tests, then the install
# checks), run in a private IPC namespace where one can be made, so the leak check at the
# end sees only the segments this run made and no test can touch another program's.
# Ends with "make test: N passed, M failed", the sum over every suite.
set -u
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
# The tests set rshm's variables themselves: none of the caller's may leak into them.
# (RSHM_TEST_* are the tests' own settings, such as CI's RSHM_TEST_REQUIRE_ALL=1.)
for v in $(env | sed -n 's/^\(RSHM_[A-Za-z0-9_]*\)=.*/\1/p'); do
    case $v in RSHM_TEST_*) ;; *) unset "$v" ;; esac
done
unset LD_PRELOAD

# Not yet inside a namespace of our own: make one (as root, or in a user namespace that
# maps us to ourselves), and run this script again inside it.
if [ -z "${RSHM_TEST_IPCNS:-}" ]; then
    if [ "$(id -u)" = 0 ] && unshare --ipc true 2>/dev/null; then
        RSHM_TEST_IPCNS=private exec unshare --ipc sh "$0" "$@"
    elif unshare --user --map-current-user --ipc true 2>/dev/null; then
        RSHM_TEST_IPCNS=private exec unshare --user --map-current-user --ipc sh "$0" "$@"
    fi
    why=$(unshare --ipc true 2>&1 | head -n 1)
    echo "make test: no private IPC namespace could be made (${why:-unshare failed}); the tests share"
    echo "make test: the machine's, and the leak check looks only at this project's own keys"
    RSHM_TEST_IPCNS=shared
    export RSHM_TEST_IPCNS
fi

log=$(mktemp /tmp/rshm-test-XXXXXX)
trap 'rm -f "$log" "$log".*' EXIT

# The segments there are, one "id key" line each (keys as 0x%08x).
segments() {
    ipcs -m | awk 'NR > 3 && NF >= 6 { print $2, $1 }'
}
# In the machine's namespace, only keys our tests use (c_tests/check.h, preload tests, the demo).
ours() {
    if [ "$RSHM_TEST_IPCNS" = private ]; then cat; else grep -E ' 0x(4[0-9a-f]|7e|52)[0-9a-f]{6}$'; fi
}
before=$(segments | ours)
[ "$RSHM_TEST_IPCNS" = private ] && echo "make test: in a private IPC namespace ($(echo "$before" | grep -c .) segments before)"

# suite NAME COMMAND...: runs one suite, its output to the terminal and to $log.NAME.
# A suite that fails without a failed test of its own (a build error, a crash) counts
# as one failure, so the closing line never says 0 failed when something failed.
suites=""
suite() {
    name=$1; shift
    suites="$suites $name"
    { "$@"; echo $? > "$log.$name.rc"; } 2>&1 | tee "$log.$name"
}
# The preload library with a panic to order (RSHM_TEST_PANIC), for preload/tests/boundary.rs,
# in a target directory of its own: the libraries that ship never have it.
cargo_suite() {
    $CARGO build --release -p rshm-preload --lib --features panic-injection --target-dir target/panic-injection &&
        $CARGO build --workspace && $CARGO test --workspace --no-fail-fast
}
# `cargo test` does not build a library that is only a cdylib: build the debug profile
# first (the same build the tests then use), then test it.
suite cargo cargo_suite
suite install sh tests/install.sh

after=$(segments | ours)
printf '%s\n' "$before" | sort > "$log.before"
left=$(printf '%s\n' "$after" | sort | comm -13 "$log.before" - | grep -v '^$')
rm -f "$log.before"
leaks=0
if [ -n "$left" ]; then
    leaks=1
    echo "FAIL make test: the tests left segment(s) behind (id key):"
    printf '%s\n' "$left" | sed 's/^/    /'
    status=1
fi

passed=0 failed=$leaks
[ "$leaks" -eq 0 ] && passed=1
for name in $suites; do
    counts=$(awk '
        /^test result:/ { p += $4; f += $6 }
        /^install: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
        END { print p + 0, f + 0 }' "$log.$name")
    set -- $counts
    passed=$((passed + $1)) failed=$((failed + $2))
    rc=$(cat "$log.$name.rc" 2>/dev/null || echo 1)
    if [ "$rc" != 0 ] && [ "$2" -eq 0 ]; then
        echo "FAIL make test: the $name suite exited with status $rc without a failed test (a build error?)"
        failed=$((failed + 1))
    fi
    rm -f "$log.$name" "$log.$name.rc"
done
echo "make test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
