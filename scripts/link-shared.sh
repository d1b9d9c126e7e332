#!/bin/sh
# Links librshm.so from librshm.a: soname librshm.so.MAJOR, and each function that
# src/librshm.map lists exported under its version node (RSHM_0.1). rustc's own cdylib
# link brings a version script of its own that the linker would take first, so the
# shared library is linked here, by the C compiler, from the same objects.
# Usage: scripts/link-shared.sh LIBRSHM_A OUTPUT_SO MAJOR [EXTRA LINK FLAGS...]
set -eu
archive=$1 output=$2 major=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
map=$root/src/librshm.map
undefined=""
for s in $(sed -n 's/^ *\(rshm_[a-z0-9_]*\);$/\1/p' "$map"); do
    undefined="$undefined -Wl,--undefined=$s"
done
# shellcheck disable=SC2086 # one word a flag
${CC:-cc} -shared -o "$output.tmp.$$" $undefined "$archive" \
    -Wl,--version-script="$map" -Wl,-soname,"librshm.so.$major" -Wl,--gc-sections \
    -Wl,-z,relro,-z,now -lpthread -ldl -lm "$@"
mv -f "$output.tmp.$$" "$output"
