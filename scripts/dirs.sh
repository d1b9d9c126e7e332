#!/bin/sh
# The directories `make install` creates, so `make uninstall` removes those and no others.
#   scripts/dirs.sh missing DIR...   prints each DIR, and each parent of one, that does not exist
#   scripts/dirs.sh remove LIST      removes the directories LIST names, deepest first, when empty
case $1 in
missing)
    shift
    for d in "$@"; do
        while [ -n "$d" ] && [ "$d" != / ] && [ "$d" != . ] && [ ! -e "$d" ]; do
            echo "$d"
            d=$(dirname "$d")
        done
    done | sort -u
    ;;
remove)
    [ -f "$2" ] || exit 0
    list=$(awk '{ print length($0) "\t" $0 }' "$2" | sort -rn | cut -f2-)
    rm -f "$2"
    echo "$list" | while IFS= read -r d; do
        [ -n "$d" ] && rmdir "$d" 2>/dev/null
    done
    exit 0
    ;;
*)
    echo "usage: scripts/dirs.sh missing DIR... | remove LIST" >&2
    exit 2
    ;;
esac
