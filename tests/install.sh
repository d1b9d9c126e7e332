#!/bin/sh
# The installed layout, as a user meets it: `make install` into a temporary prefix, then
#   - the sonames of every shared object built and installed, and librshm's symbol versions;
#   - `ldconfig -n` on the installed lib/, then a librshm program run plainly, under the
#     installed rshm-trace and under LD_PRELOAD=librshm_preload.so;
#   - a user's build with nothing but pkg-config (dynamic, --static, fully -static), why a
#     program linked against a prefix install needs an rpath or LD_LIBRARY_PATH, CMake's
#     find_package(rshm) and Meson's dependency('rshm');
#   - the man pages, the header as C89 and C++98, the licenses;
#   - `make uninstall` leaving nothing it made behind (and nothing that was there removed),
#     and DESTDIR staging.
# A check that needs a missing tool (cmake, meson, ninja, ...) prints "SKIP install: ..." and is
# not counted, unless RSHM_TEST_REQUIRE_ALL=1 (CI), where a missing tool is a failure.
# Every program here that makes a segment removes it. Run by `make test` after the release
# build; the last line is "install: N passed, M failed".
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/rshm-install-XXXXXX)
writer_id="" key=""
cleanup() {
    # The keyed writer's segment, if the reader did not remove it: only the one this run made.
    if [ -n "$writer_id" ] && ipcs -m 2>/dev/null | awk -v id="$writer_id" -v key="$key" \
        '$1 == key && $2 == id { found = 1 } END { exit !found }'; then
        ipcrm -m "$writer_id"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
passed=0 failed=0
check() { # check WHAT COMMAND...: one check; COMMAND's output is shown when it fails
    what=$1; shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL install: $what"; sed 's/^/    /' "$tmp/out"
    fi
}
skip() { # skip WHAT WHY: checks that cannot run on this machine
    if [ "${RSHM_TEST_REQUIRE_ALL:-0}" = 1 ]; then
        failed=$((failed + 1))
        echo "FAIL install: $1: $2 (RSHM_TEST_REQUIRE_ALL=1 requires every tool)"
    else
        echo "SKIP install: $1: $2"
    fi
}
missing() { # missing TOOL...: prints those not on PATH
    for t in "$@"; do command -v "$t" >/dev/null 2>&1 || printf '%s ' "$t"; done
}
# A program that hangs must not hang the suite (the programs remove their segment early).
if command -v timeout >/dev/null 2>&1; then run() { timeout 20 "$@"; }; else run() { "$@"; }; fi

prefix=$tmp/prefix
make -s install PREFIX="$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; echo "install: 0 passed, 1 failed"; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
lib=$prefix/lib
exports="rshm_get rshm_at rshm_dt rshm_rmid rshm_last_error rshm_attachment_count rshm_version"
cc=${CC:-cc}
cxx=${CXX:-c++}
export PKG_CONFIG_PATH="$lib/pkgconfig"
unset LD_LIBRARY_PATH LD_PRELOAD RSHM_PRELOAD

check "the installed files" test -f "$lib/librshm.a" -a -f "$lib/librshm.so.$version" \
    -a -f "$lib/librshm_preload.so" -a -f "$prefix/include/rshm.h" -a -x "$prefix/bin/rshm-trace" \
    -a -f "$prefix/share/man/man3/rshm.3" -a -f "$prefix/share/man/man1/rshm-trace.1" \
    -a -f "$lib/pkgconfig/rshm.pc" -a -f "$lib/cmake/rshm/rshmConfig.cmake" \
    -a -f "$lib/cmake/rshm/rshmConfigVersion.cmake"
check "librshm.so.$major and librshm.so are links to librshm.so.$version" \
    sh -c "[ \"\$(readlink '$lib/librshm.so.$major')\" = librshm.so.$version ] && [ \"\$(readlink '$lib/librshm.so')\" = librshm.so.$major ]"

# --- Sonames: librshm.so.VERSION is librshm.so.MAJOR; nothing else may claim that name (the
# preload library once did, and ldconfig then pointed librshm.so.0 at it).
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p'; }
preload_soname() {
    s=$(soname "$lib/librshm_preload.so")
    echo "librshm_preload.so: SONAME ${s:-(none)}"
    case $s in librshm.so | librshm.so.*) return 1 ;; esac
}
sonames() { # sonames FILE...: each ELF shared object (not a link) has the right soname
    bad=0
    for f in "$@"; do
        [ -f "$f" ] && [ ! -L "$f" ] || continue
        readelf -h "$f" 2>/dev/null | grep -q 'Type:.*DYN' || continue
        s=$(soname "$f")
        echo "$f: SONAME ${s:-(none)}"
        case ${f##*/} in
        librshm.so.$version | librshm.so) [ "$s" = "librshm.so.$major" ] || bad=1 ;;
        *) case $s in librshm.so | librshm.so.*) bad=1 ;; esac ;;
        esac
    done
    [ "$bad" = 0 ]
}
check "the soname of librshm.so.$version is librshm.so.$major" sh -c "readelf -d '$lib/librshm.so.$version' | grep -q 'SONAME.*\[librshm.so.$major\]'"
check "librshm_preload.so has no soname, or one that is not librshm.so.*" preload_soname
check "every shared object installed in lib/ has the right soname" sonames "$lib"/*.so*
check "every shared object built in target/release has the right soname" sonames target/release/*.so*
check "the preload library exports only the four libc names" \
    sh -c "[ \"\$(nm -D --defined-only '$lib/librshm_preload.so' | awk '{print \$3}' | sort | tr '\n' ' ')\" = 'shmat shmctl shmdt shmget ' ]"

# --- Symbol versions, read back from the installed library and from a program linked with it.
versioned_exports() {
    readelf --dyn-syms -W "$lib/librshm.so.$version" >"$tmp/dynsyms" || return 1
    bad=0
    for f in $exports; do
        grep -Eq "[[:space:]]$f@@RSHM_0\.1\$" "$tmp/dynsyms" || { echo "no $f@@RSHM_0.1"; bad=1; }
    done
    [ "$bad" = 0 ] || grep rshm_ "$tmp/dynsyms"
    [ "$bad" = 0 ]
}
only_exports() {
    got=$(nm -D --defined-only "$lib/librshm.so.$version" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort | tr '\n' ' ')
    want=$(printf '%s\n' $exports | sort | tr '\n' ' ')
    echo "exports: $got"; echo "wanted:  $want"
    [ "$got" = "$want" ]
}
check "the installed librshm.so exports each of its 7 functions as NAME@@RSHM_0.1" versioned_exports
check "the installed librshm.so exports those 7 and nothing else (no shmget & co)" only_exports

# A program that does a real round trip: one IPC_PRIVATE segment, attached twice, marked for
# removal at once (so it is gone at exit whatever happens), written through one attachment and
# read through the other. C89 and C++98 clean; it uses every exported function.
cat > "$tmp/roundtrip.c" <<'EOF'
#include <rshm.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    int id;
    char *w, *r;
    size_t n;

    id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id == -1) {
        fprintf(stderr, "rshm_get: %s\n", rshm_last_error());
        return 1;
    }
    w = (char *)rshm_at(id, NULL, 0);
    r = w == (char *)-1 ? (char *)-1 : (char *)rshm_at(id, NULL, SHM_RDONLY);
    if (r == (char *)-1) {
        fprintf(stderr, "rshm_at: %s\n", rshm_last_error());
        if (w != (char *)-1)
            rshm_dt(w);
        rshm_rmid(id);
        return 1;
    }
    if (rshm_rmid(id) == -1) {
        fprintf(stderr, "rshm_rmid: %s\n", rshm_last_error());
        rshm_dt(w);
        rshm_dt(r);
        return 1;
    }
    strcpy(w, "round trip");
    n = rshm_attachment_count();
    if (strcmp(r, "round trip") != 0 || r == w || n != 2) {
        fprintf(stderr, "no round trip: read \"%.20s\", %lu attachments\n", r, (unsigned long)n);
        rshm_dt(w);
        rshm_dt(r);
        return 1;
    }
    if (rshm_dt(w) == -1 || rshm_dt(r) == -1) {
        fprintf(stderr, "rshm_dt: %s\n", rshm_last_error());
        return 1;
    }
    printf("round trip through segment %d, rshm %s\n", id, rshm_version());
    return 0;
}
EOF
rt=$tmp/roundtrip.c
check "a program links with pkg-config and -Wl,-rpath,$lib" \
    sh -c "$cc '$rt' -o '$tmp/rt-rpath' \$(pkg-config --cflags --libs rshm) -Wl,-rpath,'$lib'"
check "a program built with pkg-config alone links" sh -c "$cc '$rt' -o '$tmp/rt-plain' \$(pkg-config --cflags --libs rshm)"
check "a program linked with it records rshm_get@RSHM_0.1 (and every rshm_ call versioned)" \
    sh -c "readelf --dyn-syms -W '$tmp/rt-rpath' | grep rshm_ > '$tmp/prog-syms'; cat '$tmp/prog-syms'; grep -Eq '[[:space:]]rshm_get@RSHM_0\.1( |\$)' '$tmp/prog-syms' && ! grep -v '@RSHM_0\.1' '$tmp/prog-syms' | grep -q ."

# --- Running a program linked against a prefix install: the loader does not look in the
# prefix's lib/ by itself (what the README's "running it" paragraph is about).
loads_ours() { # loads_ours PROG: the librshm.so.0 PROG loads is the installed one
    ldd "$1" | grep librshm
    ldd "$1" | grep -q "librshm\.so\.$major => $lib/librshm\.so\.$major "
}
roundtrip() { run "$@" && grep -q '^round trip through segment' "$tmp/out"; }
cannot_start() {
    run "$tmp/rt-plain"; rc=$?
    echo "exit status $rc"
    [ "$rc" = 127 ] && grep -q "librshm\.so\.$major: cannot open shared object file" "$tmp/out"
}
if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q "librshm\.so\.$major "; then
    skip "a program without rpath or LD_LIBRARY_PATH does not start" "this machine's loader cache already has a librshm.so.$major"
else
    check "without rpath or LD_LIBRARY_PATH it fails: librshm.so.$major: cannot open shared object file" cannot_start
fi
check "with LD_LIBRARY_PATH=$lib it loads the installed library and runs" \
    sh -c "export LD_LIBRARY_PATH='$lib'; ldd '$tmp/rt-plain' | grep -q '$lib/librshm.so.$major ' && '$tmp/rt-plain'"
check "with -Wl,-rpath it loads the installed library" loads_ours "$tmp/rt-rpath"
check "with -Wl,-rpath it runs a round trip" roundtrip "$tmp/rt-rpath"

# --- ldconfig on the installed lib/, then librshm.so.0 must still be librshm.so.VERSION and a
# librshm program must run: plainly, under rshm-trace and under the preload library.
ldconfig=$(command -v ldconfig || { [ -x /sbin/ldconfig ] && echo /sbin/ldconfig; } || { [ -x /usr/sbin/ldconfig ] && echo /usr/sbin/ldconfig; })
after_ldconfig() {
    "$ldconfig" -n "$lib" || return 1
    ls -l "$lib"
    [ "$(readlink "$lib/librshm.so.$major")" = "librshm.so.$version" ] &&
        [ -z "$(find "$lib" -maxdepth 1 -type l -lname '*preload*')" ]
}
traced() {
    env -u RSHM_PRELOAD "$prefix/bin/rshm-trace" -o "$tmp/trace" -- "$tmp/rt-rpath"; rc=$?
    echo "rshm-trace: exit status $rc"; cat "$tmp/trace"
    [ "$rc" = 0 ] || return 1
    for c in rshm_get rshm_at rshm_rmid rshm_dt; do grep -q " $c(" "$tmp/trace" || { echo "no $c in the trace"; return 1; }; done
    grep -q '1 created, 1 removed, 0 leaked' "$tmp/out"
}
preloaded() {
    run env LD_PRELOAD="$lib/librshm_preload.so" "$tmp/rt-rpath"; rc=$?
    echo "exit status $rc"
    [ "$rc" = 0 ] && ! grep -q 'symbol lookup error' "$tmp/out" && grep -q '^round trip through segment' "$tmp/out"
}
if [ -z "$ldconfig" ]; then
    skip "ldconfig -n and the runs after it" "no ldconfig (libc-bin) on PATH, /sbin or /usr/sbin"
else
    check "after ldconfig -n lib/, librshm.so.$major still points at librshm.so.$version (not the preload library)" after_ldconfig
    check "after ldconfig, a librshm program loads the installed library" loads_ours "$tmp/rt-rpath"
    check "after ldconfig, a librshm program runs" roundtrip "$tmp/rt-rpath"
    check "after ldconfig, it runs under the installed rshm-trace (exit 0, its calls in the trace)" traced
    check "after ldconfig, it runs under LD_PRELOAD=librshm_preload.so (exit 0, no symbol lookup error)" preloaded
fi

# --- pkg-config: dynamic, the static archive, and a fully static program.
check "pkg-config knows the version" sh -c "[ \"\$(pkg-config --modversion rshm)\" = $version ]"
check "Libs.private carries the static link's libraries, and no -lgcc_s" \
    sh -c "pkg-config --static --libs rshm; pkg-config --static --libs rshm | grep -q -- -lpthread && ! pkg-config --static --libs rshm | grep -q -- -lgcc_s"
check "cc prog.c \$(pkg-config --static --cflags --libs rshm) -static builds" \
    sh -c "$cc '$rt' -o '$tmp/rt-static' \$(pkg-config --static --cflags --libs rshm) -static"
check "the -static program is static (no NEEDED, no interpreter)" \
    sh -c "readelf -d '$tmp/rt-static'; ! readelf -d '$tmp/rt-static' | grep -q NEEDED && ! readelf -l '$tmp/rt-static' | grep -q INTERP"
check "the -static program runs a round trip" roundtrip "$tmp/rt-static"

# A user's program, built with nothing but pkg-config: the writer (dynamic) and the
# reader (static). The examples use one fixed key: make it this run's own in a copy.
key=$(printf '0x%08x' $(( 0x52000000 + ($$ & 0xffffff) )))
sed "s/0x52534d31/$key/" examples/demo.h > "$tmp/demo.h"
cp examples/writer.c examples/reader.c "$tmp/"
check "writer (dynamic, keyed $key) builds" sh -c "cd '$tmp' && $cc writer.c -o writer \$(pkg-config --cflags --libs rshm)"
check "reader (static) builds" sh -c "cd '$tmp' && $cc reader.c -o reader \$(pkg-config --cflags rshm) \$(pkg-config --variable=libdir rshm)/librshm.a \$(pkg-config --static --libs-only-l rshm | sed 's/-lrshm//')"
check "the static reader does not need librshm.so" sh -c "! readelf -d '$tmp/reader' | grep -q librshm"
check "writer runs with the installed library" env LD_LIBRARY_PATH="$lib" "$tmp/writer" "installed layout"
writer_id=$(sed -n 's/.*into segment \([0-9][0-9]*\).*/\1/p' "$tmp/out")
check "reader reads what the writer wrote" sh -c "'$tmp/reader' | grep -q 'read \"installed layout\"'"
check "the segment is gone" sh -c "! ipcs -m | grep -q '$key'"

# The installed rshm-trace finds the installed preload library in ../lib (the trace and
# its summary go to the -o file).
check "installed rshm-trace traces ipcmk and ipcrm" sh -c "env -u RSHM_PRELOAD '$prefix/bin/rshm-trace' -o '$tmp/trace' -- sh -c 'ipcrm -m \$(ipcmk -M 4096 | sed \"s/.*: //\")' && grep -q 'IPC_RMID) = 0' '$tmp/trace' && grep -q '1 created, 1 removed, 0 leaked' '$tmp/trace'"

# The installed rshm-ls: its binary and man page, and it runs.
check "rshm-ls and rshm-ls(1) are installed" test -x "$prefix/bin/rshm-ls" -a -f "$prefix/share/man/man1/rshm-ls.1"
check "the installed rshm-ls --version says rshm-ls $version" sh -c "[ \"\$('$prefix/bin/rshm-ls' --version)\" = 'rshm-ls $version' ]"
check "the installed rshm-ls --help prints its usage on stdout, exit status 0" \
    sh -c "'$prefix/bin/rshm-ls' --help >'$tmp/ls-help' 2>'$tmp/ls-help.err' && head -n 1 '$tmp/ls-help' | grep -q '^usage: rshm-ls \[--orphans\]' && [ ! -s '$tmp/ls-help.err' ]"
check "the installed rshm-ls lists this namespace's segments (exit status 0, a totals line)" \
    sh -c "'$prefix/bin/rshm-ls' >'$tmp/ls.out' && grep -q '^segments: [0-9]* of [0-9]* (SHMMNI)\$' '$tmp/ls.out'"

# --- CMake: find_package(rshm 0.1 REQUIRED), rshm::rshm and rshm::rshm_static; a version the
# package is not fails.
cmake_try() { # cmake_try NAME ARGS...: configures $tmp/cmake/NAME into $tmp/cmake/NAME/b
    cmake -S "$tmp/cmake/$1" -B "$tmp/cmake/$1/b" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DRSHM_EXPECTED_DIR="$lib/cmake/rshm" -DRT="$rt"
}
cmake_too_new() {
    cmake_try too-new; rc=$?
    [ "$rc" != 0 ] && grep -q "rshmConfig.cmake, version: $version" "$tmp/out"
}
not_needing_librshm_so() { readelf -d "$1" | grep NEEDED; ! readelf -d "$1" | grep -q 'librshm\.so'; }
cmake_tools=$(missing cmake)
if [ -n "$cmake_tools" ]; then
    skip "the CMake package (find_package, rshm::rshm, rshm::rshm_static, the version file)" "missing ${cmake_tools% } (Debian: cmake)"
else
    mkdir -p "$tmp/cmake/user" "$tmp/cmake/too-new"
    cat > "$tmp/cmake/user/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.10)
project(rshm_user C)
find_package(rshm 0.1 REQUIRED)
get_filename_component(found "${rshm_DIR}" REALPATH)
get_filename_component(expected "${RSHM_EXPECTED_DIR}" REALPATH)
if(NOT found STREQUAL expected)
  message(FATAL_ERROR "found rshm in ${rshm_DIR}, not in ${RSHM_EXPECTED_DIR}")
endif()
message(STATUS "rshm ${rshm_VERSION} from ${rshm_DIR}")
add_executable(prog "${RT}")
target_link_libraries(prog PRIVATE rshm::rshm)
add_executable(prog_static "${RT}")
target_link_libraries(prog_static PRIVATE rshm::rshm_static)
EOF
    cat > "$tmp/cmake/too-new/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.10)
project(rshm_too_new NONE)
find_package(rshm 9.0 REQUIRED)
EOF
    check "cmake: find_package(rshm 0.1 REQUIRED) configures (CMAKE_PREFIX_PATH=prefix)" cmake_try user
    check "cmake: a program linked with rshm::rshm builds" cmake --build "$tmp/cmake/user/b" --target prog
    check "cmake: it loads the installed librshm.so.$major and runs" \
        sh -c "'$tmp/cmake/user/b/prog' && ldd '$tmp/cmake/user/b/prog' | grep -q '$lib/librshm.so.$major '"
    check "cmake: a program linked with rshm::rshm_static builds" cmake --build "$tmp/cmake/user/b" --target prog_static
    check "cmake: it needs no librshm.so" not_needing_librshm_so "$tmp/cmake/user/b/prog_static"
    check "cmake: it runs a round trip" roundtrip "$tmp/cmake/user/b/prog_static"
    check "cmake: find_package(rshm 9.0) fails on the version ($version is installed)" cmake_too_new
fi

# --- Meson: dependency('rshm') through pkg-config, built by ninja.
meson_tools=$(missing meson ninja)
if [ -n "$meson_tools" ]; then
    skip "the Meson build with dependency('rshm')" "missing ${meson_tools% } (Debian: meson, ninja-build)"
else
    mkdir -p "$tmp/meson"
    cp "$rt" "$tmp/meson/"
    cat > "$tmp/meson/meson.build" <<'EOF'
project('rshm_user', 'c')
executable('prog', 'roundtrip.c', dependencies : dependency('rshm', version : '>=0.1'))
executable('prog_static', 'roundtrip.c', dependencies : dependency('rshm', static : true),
  link_args : '-static')
EOF
    check "meson: dependency('rshm') configures (PKG_CONFIG_PATH=lib/pkgconfig)" \
        meson setup --wrap-mode=nodownload "$tmp/meson/b" "$tmp/meson"
    check "meson: ninja builds it" ninja -C "$tmp/meson/b"
    check "meson: the program loads the installed librshm.so.$major and runs" \
        sh -c "'$tmp/meson/b/prog' && ldd '$tmp/meson/b/prog' | grep -q '$lib/librshm.so.$major '"
    check "meson: dependency('rshm', static: true) with -static runs a round trip" roundtrip "$tmp/meson/b/prog_static"
fi

# --- The man pages, found from the install: each exported name leads to rshm(3), whose
# SYNOPSIS has that function's prototype as the installed header declares it.
man_env() { env MANPATH="$prefix/share/man" MANWIDTH=200 MANPAGER=cat PAGER=cat LC_ALL=C.UTF-8 "$@"; }
man_finds() { # man_finds NAME
    p=$(man_env man -w "$1") || return 1
    echo "man -w $1: $p"
    case $p in "$prefix"/share/man/*) ;; *) return 1 ;; esac
    [ -f "$p" ]
}
man_synopsis() { # man_synopsis NAME: `man NAME` shows NAME's prototype in its SYNOPSIS
    man_finds "$1" || return 1
    proto=$(grep -E "^[a-z].*[ *]$1\(" "$prefix/include/rshm.h" | head -n 1)
    [ -n "$proto" ] || { echo "rshm.h declares no $1"; return 1; }
    man_env man "$1" > "$tmp/man.txt" 2>&1 || { cat "$tmp/man.txt"; return 1; }
    if ! awk '/^SYNOPSIS/ { s = 1; next } /^[A-Z][A-Z ]*$/ { s = 0 } s' "$tmp/man.txt" | tr -s ' ' | grep -qF -- "$proto"; then
        echo "the SYNOPSIS of \`man $1\` lacks: $proto"; sed -n '1,30p' "$tmp/man.txt"; return 1
    fi
}
man_tools=$(missing man)
if [ -n "$man_tools" ]; then
    skip "the man pages" "missing man (Debian: man-db, groff-base)"
else
    for f in $exports; do
        check "man $f (MANPATH=share/man) finds rshm(3) and shows $f's synopsis" man_synopsis "$f"
    done
    check "man -w rshm-trace finds rshm-trace(1)" man_finds rshm-trace
    check "man -w rshm-ls finds rshm-ls(1)" man_finds rshm-ls
    check "rshm-ls(1) renders without warnings" \
        sh -c "[ -z \"\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$prefix/share/man/man1/rshm-ls.1' 2>&1 >/dev/null)\" ]"
    check "man pages render without warnings" sh -c "for p in '$prefix/share/man/man3/rshm.3' '$prefix/share/man/man1/rshm-trace.1'; do [ -z \"\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l \"\$p\" 2>&1 >/dev/null)\" ] || exit 1; done"
fi

# --- The installed header in C89 and C++98 (a C++ program must also link: extern "C").
check "the installed rshm.h compiles as C89 (-std=c89 -pedantic -Werror -Wall -Wextra)" \
    $cc -std=c89 -pedantic -Werror -Wall -Wextra -I"$prefix/include" -c "$rt" -o "$tmp/rt89.o"
cxx_tools=$(missing "$cxx")
if [ -n "$cxx_tools" ]; then
    skip "the header as C++98" "missing $cxx (Debian: g++)"
else
    check "the installed rshm.h compiles as C++98 (-pedantic -Werror), links and runs" \
        sh -c "$cxx -x c++ -std=c++98 -pedantic -Werror -Wall -Wextra -I'$prefix/include' '$rt' -o '$tmp/rt98' -L'$lib' -lrshm -Wl,-rpath,'$lib' && '$tmp/rt98'"
fi

check "LICENSE-MIT and LICENSE-APACHE are installed under share/doc/rshm/" \
    sh -c "cmp LICENSE-MIT '$prefix/share/doc/rshm/LICENSE-MIT' && cmp LICENSE-APACHE '$prefix/share/doc/rshm/LICENSE-APACHE'"

# --- Uninstall: from the fresh prefix (made by install), nothing is left, the prefix included.
make -s uninstall PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1
check "uninstall removes every installed file" sh -c "cat '$tmp/uninstall.log'; find '$prefix' \\( -type f -o -type l \\) -print 2>/dev/null; [ -z \"\$(find '$prefix' \\( -type f -o -type l \\) -print 2>/dev/null)\" ]"
check "uninstall removes every directory install made, the prefix too" \
    sh -c "find '$prefix' -print 2>/dev/null; [ ! -e '$prefix' ]"

# From a prefix that was there before (a non-empty lib/, an empty include/, another package's
# man3/ and pkgconfig/): uninstall removes what install added, and nothing else.
old=$tmp/existing/usr
mkdir -p "$old/lib/pkgconfig" "$old/include" "$old/share/man/man3" "$old/bin"
echo other > "$old/lib/libother.so.1"
echo other > "$old/lib/pkgconfig/other.pc"
echo other > "$old/share/man/man3/other.3"
(cd "$tmp/existing" && find . -print | sort) > "$tmp/before"
make -s install PREFIX="$old" >"$tmp/install2.log" 2>&1
check "install into an existing prefix" sh -c "cat '$tmp/install2.log'; test -f '$old/lib/librshm.so.$version' -a -f '$old/include/rshm.h'"
make -s uninstall PREFIX="$old" >"$tmp/uninstall2.log" 2>&1
check "uninstall from an existing prefix leaves exactly what was there before" \
    sh -c "cat '$tmp/uninstall2.log'; (cd '$tmp/existing' && find . -print | sort) | diff '$tmp/before' -"

# --- DESTDIR stages under it, names the real prefix, and uninstall with it empties the stage.
stage=$tmp/stage
make -s install PREFIX=/usr/local DESTDIR="$stage" >"$tmp/install3.log" 2>&1
check "DESTDIR stages under it" sh -c "cat '$tmp/install3.log'; test -f '$stage/usr/local/lib/librshm.a' -a -f '$stage/usr/local/include/rshm.h'"
check "rshm.pc names the real prefix, not DESTDIR" grep -qx 'prefix=/usr/local' "$stage/usr/local/lib/pkgconfig/rshm.pc"
check "rshmConfig.cmake names the real lib/, not DESTDIR" grep -q '"/usr/local/lib/librshm.so' "$stage/usr/local/lib/cmake/rshm/rshmConfig.cmake"
check "no staged file names the DESTDIR (packagers' buildroot checks)" sh -c "! grep -rlF '$stage' '$stage'"
make -s uninstall PREFIX=/usr/local DESTDIR="$stage" >"$tmp/uninstall3.log" 2>&1
check "uninstall with the same DESTDIR leaves the stage empty" \
    sh -c "cat '$tmp/uninstall3.log'; find '$stage' -mindepth 1 -print; [ -z \"\$(find '$stage' -mindepth 1 -print)\" ]"

# What `make` and `make demo` say, checked against what the machine really has.
prereqs_without_tools() { # nothing on PATH but sh, sed, awk: every tool named, with its package
    mkdir -p "$tmp/bare"
    for t in sh sed awk; do ln -sf "$(command -v $t)" "$tmp/bare/$t"; done
    out=$(PATH="$tmp/bare" sh scripts/prereqs.sh test 2>&1); rc=$?
    echo "$out"
    [ "$rc" -eq 1 ] &&
        echo "$out" | grep -qx "make: missing cargo (Rust's build tool, Rust >= 1.85): install Debian's cargo (if it is 1.85 or newer; else rustup)" &&
        echo "$out" | grep -qx "make: missing c++ (the C++ compiler, for the header's C++ check and the C++ test): install Debian's g++ (or clang)" &&
        echo "$out" | grep -qx "make: missing ipcs (lists segments for the leak check): install Debian's util-linux" &&
        echo "$out" | grep -q "^make: [0-9]* prerequisite(s) missing or too old; see README.md, Prerequisites$"
}
check "a missing tool is named with its Debian package, and make stops" prereqs_without_tools
old_rustc() { # a rustc that says 1.70: refused
    mkdir -p "$tmp/oldrust"
    printf '#!/bin/sh\necho "rustc 1.70.0 (90c541806 2023-05-31)"\n' > "$tmp/oldrust/rustc"
    chmod +x "$tmp/oldrust/rustc"
    out=$(PATH="$tmp/oldrust:$PATH" sh scripts/prereqs.sh build 2>&1); rc=$?
    echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "^make: rustc is rustc 1.70.0 .*; rshm needs Rust >= 1.85"
}
check "a Rust older than 1.85 is refused" old_rustc
spaced_prefix() { # a PREFIX with a space: refused before anything is written
    mkdir -p "$tmp/sp"
    echo keep > "$tmp/sp/my"
    out=$(make -s install PREFIX="$tmp/sp/my apps" 2>&1); rc1=$?
    out2=$(make -s uninstall PREFIX="$tmp/sp/my apps" 2>&1); rc2=$?
    echo "$out"; echo "$out2"
    [ "$rc1" -ne 0 ] && [ "$rc2" -ne 0 ] && [ "$(cat "$tmp/sp/my")" = keep ] &&
        [ "$(ls "$tmp/sp")" = my ] && echo "$out" | grep -q "hold(s) a space, which make cannot quote"
}
check "install and uninstall refuse a PREFIX with a space, and touch nothing" spaced_prefix
demo_leaves_a_foreign_segment() { # the demo's key taken by a segment not the demo's: left alone
    make -s target/demo/writer target/demo/reader >/dev/null 2>&1 || return 1
    id=$(perl -e 'my $id = shmget(0x52534d31, 8192, 01600); print defined $id ? $id : ""') || true
    [ -n "$id" ] || { echo "ipcmk could not make key 0x52534d31"; return 1; }
    out=$(sh examples/demo.sh target/demo target/release 2>&1); rc=$?
    still=$(ipcs -m | awk -v id="$id" '$2 == id' | wc -l)
    ipcrm -m "$id"
    echo "$out"
    [ "$rc" -eq 1 ] && [ "$still" -eq 1 ] &&
        echo "$out" | grep -q "^demo: key 0x52534d31 already has a segment (owner and size: $(id -un) 8192) that is not this demo's;"
}
if [ "${RSHM_TEST_IPCNS:-}" = private ]; then
    check "make demo leaves a segment of its key that is not its own alone, and says why" demo_leaves_a_foreign_segment
else
    skip "make demo and a foreign segment of its key" "not in a private IPC namespace (the key may be another program's)"
fi

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
