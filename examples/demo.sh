#!/bin/sh
# `make demo`: rshm at work in four short steps, for someone who has just cloned it.
# Usage: sh examples/demo.sh DEMO_DIR RELEASE_DIR
#   DEMO_DIR holds the example programs, built (writer, reader); RELEASE_DIR rshm-trace.
# The demo touches one segment of its own, key 0x52534d31 (examples/demo.h), and no other;
# step 4's segment is made and removed by the traced commands themselves.
set -eu
demo=$1
release=$2
key=0x52534d31

# The demo shows rshm's defaults, whatever this shell has set.
unset RSHM_LOG RSHM_LOG_FILE RSHM_LOG_FORMAT RSHM_STRICT RSHM_REPORT

# The owner and size of the segment of the demo's key, if there is one ("" if none).
owner_of_key() {
    ipcs -m | awk -v k="$key" '$1 == k { print $3, $5 }'
}

# Removes the demo's own segment (that key only), if there is one, and says so. A segment
# of that key that another user owns, or of another size, is not the demo's: it is left
# alone, and the demo stops and says why.
remove_ours() {
    found=$(owner_of_key)
    [ -n "$found" ] || return 0
    if [ "$found" != "$(id -un) 4096" ]; then
        echo "demo: key $key already has a segment (owner and size: $found) that is not this demo's;" >&2
        echo "demo: it is left alone. Remove it yourself if it is yours (ipcrm -M $key), then run make demo again." >&2
        trap - EXIT
        exit 1
    fi
    ipcrm -M "$key"
    echo "demo: removed the segment of key $key, $1"
}

heading() { printf '\n== %s ==\n' "$*"; }

# A run interrupted between the writer and the reader leaves the demo's segment: then
# step 1 would fail (EEXIST). However this run ends, it leaves none behind either.
remove_ours "left by an interrupted earlier run"
trap 'remove_ours "left by this run, which did not finish"' EXIT
trap 'exit 130' INT TERM HUP

echo "rshm demo: two small C programs linked with librshm (examples/writer.c, reader.c)"
echo "pass a message through a System V shared memory segment of key $key."

heading "1. The writer creates the segment and writes a message"
echo "RSHM_LOG=info logs every call, one line each on standard error."
echo "\$ RSHM_LOG=info $demo/writer \"hello from the writer\""
RSHM_LOG=info "$demo/writer" "hello from the writer"

heading "2. An explained failure: the writer again, while its segment exists"
echo "rshm_get fails with EEXIST, as shmget would (IPC_EXCL asks for a new segment)."
echo "The library prints nothing itself (RSHM_LOG unset: quiet by default); the"
echo "sentence is rshm_last_error(), which the writer prints with strerror(errno)."
echo "\$ $demo/writer \"a second message\""
if "$demo/writer" "a second message"; then
    echo "demo: the second writer should have failed, and did not" >&2
    exit 1
fi
echo "(exit status 1, as expected)"

heading "3. The reader reads the message, detaches and removes the segment"
echo "\$ RSHM_LOG=info $demo/reader"
RSHM_LOG=info "$demo/reader"

heading "4. rshm-trace on programs that know nothing of rshm"
echo "ipcmk makes a segment and ipcrm removes it; rshm-trace preloads librshm_preload.so"
echo "into both, logs their shmget and shmctl calls, and sums up at the end."
echo "\$ $release/rshm-trace -- sh -c 'ipcrm -m \$(ipcmk -M 4096 | sed \"s/.*: //\")'"
"$release/rshm-trace" -- sh -c 'ipcrm -m $(ipcmk -M 4096 | sed "s/.*: //")'

if [ -n "$(owner_of_key)" ]; then
    echo "demo: the segment of key $key is still there" >&2
    exit 1
fi
heading "Done: no segment left behind"
echo "Next: README.md (linking your own program), man -l man/rshm.3, man -l man/rshm-trace.1, $release/rshm-ls (every segment, and who attaches it)."
