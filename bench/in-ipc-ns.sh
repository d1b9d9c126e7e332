#!/bin/sh
# Runs its arguments in a private IPC namespace when one can be made (as root, or as a
# user with user namespaces), so a bench's segments never meet another program's; else
# as they are.
if [ "$(id -u)" = 0 ] && unshare --ipc true 2>/dev/null; then
    exec unshare --ipc "$@"
elif unshare --user --map-root-user --ipc true 2>/dev/null; then
    exec unshare --user --map-root-user --ipc "$@"
fi
exec "$@"
