#!/bin/sh
# `make demo`: the writer and the reader (examples/), every call logged.
# Usage: examples/demo.sh DEMO_DIR RELEASE_DIR
set -e
demo=$1
key=0x52534d31
# A run interrupted between the writer and the reader leaves the demo's own segment.
if ipcs -m | awk -v k="$key" '$1 == k { found = 1 } END { exit !found }'; then
    ipcrm -M "$key"
    echo "demo: removed segment key $key, left by an interrupted demo run"
fi
RSHM_LOG=info "$demo/writer" "hello from the writer, pid $$"
RSHM_LOG=info "$demo/reader"
