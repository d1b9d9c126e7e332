#!/bin/sh
# Checks the tools `make` (or, with "test", `make test`) needs before cargo runs, and
# prints one line per missing tool with the Debian package that has it. Exit 1 if any
# is missing. Usage: scripts/prereqs.sh [build|test]
want=${1:-build}
missing=0
need() { # need TOOL PACKAGE WHAT
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "make: missing $1 ($3): install Debian's $2" >&2
    missing=$((missing + 1))
}
need cargo "cargo (if it is 1.85 or newer; else rustup)" "Rust's build tool, Rust >= 1.85"
need rustc "rustc (if it is 1.85 or newer; else rustup)" "the Rust compiler, >= 1.85"
# The compiler's first word ("cc" of CC="cc -m64").
cc_prog=$(echo "${CC:-cc}" | awk '{ print $1 }')
cxx_prog=$(echo "${CXX:-c++}" | awk '{ print $1 }')
need "$cc_prog" "gcc (or clang)" "the C compiler"
need "$cxx_prog" "g++ (or clang)" "the C++ compiler, for the header's C++ check and the C++ test"
need ld binutils "the linker"
if command -v rustc >/dev/null 2>&1; then
    v=$(rustc --version 2>/dev/null | sed -n 's/^rustc \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    set -- $v
    if [ -z "$v" ] || [ "$1" -lt 1 ] || { [ "$1" -eq 1 ] && [ "$2" -lt 85 ]; }; then
        echo "make: rustc is $(rustc --version 2>/dev/null || echo unknown); rshm needs Rust >= 1.85 (rustup update)" >&2
        missing=$((missing + 1))
    fi
fi
if [ "$want" = test ]; then
    need ipcs util-linux "lists segments for the leak check"
    need ipcmk util-linux "makes segments in the preload tests"
    need ipcrm util-linux "removes them"
    need unshare util-linux "runs the tests in a private IPC namespace"
    need perl perl "a real program the preload tests trace"
    need nm binutils "lists exported symbols"
    need readelf binutils "reads sonames and symbol versions"
    need pkg-config pkgconf "the install test builds with it"
    need man man-db "the install test renders the man pages"
    need groff groff-base "man's formatter"
fi
[ "$missing" -eq 0 ] || { echo "make: $missing prerequisite(s) missing or too old; see README.md, Prerequisites" >&2; exit 1; }
