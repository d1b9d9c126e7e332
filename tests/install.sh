#!/bin/sh
# The installed layout: `make install` into a temporary prefix, then a user's build with
# nothing but pkg-config (dynamic, and --static), the installed rshm-trace, the man
# pages, and `make uninstall` leaving nothing behind. Also DESTDIR staging.
# Run by `make test` after the release build; prints "install: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d /tmp/rshm-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # check WHAT COMMAND...
    what=$1; shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL install: $what"; sed 's/^/    /' "$tmp/out"
    fi
}

prefix=$tmp/prefix
make -s install PREFIX="$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; echo "install: 0 passed, 1 failed"; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}

check "the installed files" test -f "$prefix/lib/librshm.a" -a -f "$prefix/lib/librshm.so.$version" \
    -a -f "$prefix/lib/librshm_preload.so" -a -f "$prefix/include/rshm.h" -a -x "$prefix/bin/rshm-trace" \
    -a -f "$prefix/share/man/man3/rshm.3" -a -f "$prefix/share/man/man1/rshm-trace.1" \
    -a -f "$prefix/lib/pkgconfig/rshm.pc"
check "librshm.so.$major and librshm.so are links to librshm.so.$version" \
    sh -c "[ \"\$(readlink '$prefix/lib/librshm.so.$major')\" = librshm.so.$version ] && [ \"\$(readlink '$prefix/lib/librshm.so')\" = librshm.so.$major ]"
check "the soname is librshm.so.$major" sh -c "readelf -d '$prefix/lib/librshm.so.$version' | grep -q 'SONAME.*\[librshm.so.$major\]'"
check "the preload library exports only the four libc names" \
    sh -c "[ \"\$(nm -D --defined-only '$prefix/lib/librshm_preload.so' | awk '{print \$3}' | sort | tr '\n' ' ')\" = 'shmat shmctl shmdt shmget ' ]"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "pkg-config knows the version" sh -c "[ \"\$(pkg-config --modversion rshm)\" = $version ]"
check "Libs.private carries the static link's libraries" sh -c "pkg-config --static --libs rshm | grep -q -- -lpthread"

# A user's program, built with nothing but pkg-config: the writer (dynamic) and the
# reader (static). The examples use one fixed key: make it this run's own in a copy.
cc=${CC:-cc}
key=$(printf '0x%08x' $(( 0x52000000 + ($$ & 0xffffff) )))
sed "s/0x52534d31/$key/" examples/demo.h > "$tmp/demo.h"
cp examples/writer.c examples/reader.c "$tmp/"
check "writer (dynamic, keyed $key) builds" sh -c "cd '$tmp' && $cc writer.c -o writer \$(pkg-config --cflags --libs rshm)"
check "reader (static) builds" sh -c "cd '$tmp' && $cc reader.c -o reader \$(pkg-config --cflags rshm) \$(pkg-config --variable=libdir rshm)/librshm.a \$(pkg-config --static --libs-only-l rshm | sed 's/-lrshm//')"
check "the static reader does not need librshm.so" sh -c "! readelf -d '$tmp/reader' | grep -q librshm"
check "writer runs with the installed library" env LD_LIBRARY_PATH="$prefix/lib" "$tmp/writer" "installed layout"
check "reader reads what the writer wrote" sh -c "'$tmp/reader' | grep -q 'read \"installed layout\"'"
check "the segment is gone" sh -c "! ipcs -m | grep -q '$key'"

# The installed rshm-trace finds the installed preload library in ../lib.
check "installed rshm-trace traces ipcmk and ipcrm" sh -c "env -u RSHM_PRELOAD '$prefix/bin/rshm-trace' -o '$tmp/trace' -- sh -c 'ipcrm -m \$(ipcmk -M 4096 | sed \"s/.*: //\")' 2>'$tmp/summary' && grep -q 'IPC_RMID) = 0' '$tmp/trace' && grep -q '1 created, 1 removed, 0 leaked' '$tmp/summary'"
check "man pages render without warnings" sh -c "for p in '$prefix/share/man/man3/rshm.3' '$prefix/share/man/man1/rshm-trace.1'; do [ -z \"\$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l \"\$p\" 2>&1 >/dev/null)\" ] || exit 1; done"

# DESTDIR stages under it; uninstall removes every file it installed.
make -s install PREFIX=/usr/local DESTDIR="$tmp/stage" >/dev/null 2>&1
check "DESTDIR stages under it" test -f "$tmp/stage/usr/local/lib/librshm.a" -a -f "$tmp/stage/usr/local/include/rshm.h"
check "rshm.pc names the real prefix, not DESTDIR" grep -qx 'prefix=/usr/local' "$tmp/stage/usr/local/lib/pkgconfig/rshm.pc"
make -s uninstall PREFIX="$prefix" >/dev/null 2>&1
check "uninstall removes every installed file" sh -c "[ -z \"\$(find '$prefix' -type f -o -type l)\" ]"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
