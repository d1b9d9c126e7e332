#!/bin/sh
# The rshm-ls rows of `make bench`, in a private IPC namespace, each listed by rshm-ls and
# by what people do by hand: `ipcs -m -p` plus a shell loop over /proc/*/maps that keeps
# the processes of this IPC namespace and greps their SYSV lines.
#   1. 4,000 segments and 500 processes, each attaching 8 of them (4,000 attachments);
#      medians of 5 runs.
#   2. 4,000 segments and 500 processes, each holding all 4,000 (inherited through fork:
#      2,000,000 attachments, 2,000,000 lines under the rows); medians of 3 runs. Most
#      of its time is the kernel writing the maps (`cat /proc/*/maps` alone takes about
#      2 s on 2 vCPUs; rshm-ls reads them in a few threads).
# Prints the medians (ms), their ratio, and whether rshm-ls met its target (under 1 s).
# Everything it makes lives in the private namespace and is removed at the end (the
# namespace goes with its last process).
set -eu
cd "$(dirname "$0")/.."
LS=${RSHM_LS:-target/release/rshm-ls}
SEGMENTS=4000 PROCESSES=500

if [ -z "${RSHM_LS_BENCH_NS:-}" ]; then
    export RSHM_LS_BENCH_NS=1
    if [ "$(id -u)" = 0 ] && unshare --ipc true 2>/dev/null; then
        exec unshare --ipc sh "$0" "$@"
    elif unshare --user --map-root-user --ipc true 2>/dev/null; then
        exec unshare --user --map-root-user --ipc sh "$0" "$@"
    fi
    echo "SKIP ls-bench: no private IPC namespace can be made here ($(unshare --ipc true 2>&1 | head -n 1))"
    exit 0
fi
[ -x "$LS" ] || { echo "ls-bench: $LS is not built (make)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/rshm-ls-bench-XXXXXX)
holder_pid=""
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -n "$holder_pid" ] && wait "$holder_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The holder: makes the segments, forks the processes that attach them, says "ready",
# and at end of input ends them and removes every segment it made. With a third argument
# `all`, it attaches every segment itself before forking, so each process holds them all.
cat > "$tmp/holder.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int nseg = atoi(argv[1]), nproc = atoi(argv[2]), per = nseg / nproc;
    int all = argc > 3 && argv[3][0] == 'a';
    if (all) /* the holder is one of the processes holding them all */
        nproc--;
    int *ids = calloc(nseg, sizeof *ids);
    pid_t *kids = calloc(nproc, sizeof *kids);
    int made = 0, started = 0, status = 0;
    for (; made < nseg; made++)
        if ((ids[made] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0) {
            perror("holder: shmget");
            status = 1;
            break;
        }
    for (int i = 0; all && status == 0 && i < made; i++)
        if (shmat(ids[i], NULL, 0) == (void *)-1) {
            perror("holder: shmat");
            status = 1;
        }
    for (; status == 0 && started < nproc; started++) {
        int p[2];
        char c;
        if (pipe(p) < 0 || (kids[started] = fork()) < 0) {
            perror("holder: fork");
            status = 1;
            break;
        }
        if (kids[started] == 0) {
            for (int i = started * per; !all && i < (started + 1) * per; i++)
                if (shmat(ids[i], NULL, 0) == (void *)-1)
                    _exit(1);
            close(p[0]);
            close(p[1]);
            pause();
            _exit(0);
        }
        close(p[1]);
        if (read(p[0], &c, 1) != 0) /* end of file: the child has attached (or died) */
            status = 1;
        close(p[0]);
    }
    if (status == 0) {
        printf("ready\n");
        fflush(stdout);
        while (getchar() != EOF)
            ;
    }
    for (int i = 0; i < started; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < started; i++)
        waitpid(kids[i], NULL, 0);
    for (int i = 0; i < made; i++)
        shmctl(ids[i], IPC_RMID, NULL);
    return status;
}
EOF
${CC:-cc} -O2 -o "$tmp/holder" "$tmp/holder.c"

mni=$(cat /proc/sys/kernel/shmmni)
if [ "$mni" -lt "$SEGMENTS" ]; then
    echo "ls-bench: kernel.shmmni is $mni in this namespace, below $SEGMENTS; raising it here" >&2
    echo "$SEGMENTS" > /proc/sys/kernel/shmmni
fi

# The same job by hand: the segment table, then each process of this IPC namespace's SYSV lines.
by_hand() {
    ns=$(readlink /proc/self/ns/ipc)
    ipcs -m -p
    for d in /proc/[0-9]*; do
        [ "$(readlink "$d/ns/ipc" 2>/dev/null)" = "$ns" ] || continue
        grep -H '/SYSV' "$d/maps" 2>/dev/null || true
    done
}
ms() { # ms COMMAND...: milliseconds one run takes (its output read through a pipe: GNU
     # grep writing to /dev/null itself would stop at its first match)
    t0=$(date +%s%N)
    "$@" | cat > /dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# row MODE RUNS: starts the holder (MODE: some or all), checks that rshm-ls and the loop
# see every attachment, times RUNS listings of each, ends the holder; sets ls_ms, hand_ms.
row() {
    mode=$1 runs=$2
    rm -f "$tmp/ctl" "$tmp/ready"
    mkfifo "$tmp/ctl"
    "$tmp/holder" "$SEGMENTS" "$PROCESSES" "$mode" < "$tmp/ctl" > "$tmp/ready" &
    holder_pid=$!
    exec 3> "$tmp/ctl"
    while [ ! -s "$tmp/ready" ]; do
        kill -0 "$holder_pid" 2>/dev/null || { echo "ls-bench: the holder failed" >&2; exit 1; }
        sleep 0.1
    done
    want=$SEGMENTS
    [ "$mode" = all ] && want=$((SEGMENTS * PROCESSES))
    # What rshm-ls found must be the whole picture, or the timing means nothing.
    seen=$("$LS" | grep -c '^    attached by pid ')
    segs=$("$LS" --id 0 --json | sed -n 's/.*"totals":{"segments":\([0-9]*\),.*/\1/p')
    if [ "$segs" != "$SEGMENTS" ] || [ "$seen" != "$want" ]; then
        echo "ls-bench: rshm-ls saw $segs segments and $seen attachers, not $SEGMENTS and $want" >&2
        exit 1
    fi
    [ "$(by_hand | grep -c '/SYSV')" = "$want" ] || { echo "ls-bench: the loop did not see every attachment" >&2; exit 1; }
    ls_ms=$(for i in $(seq "$runs"); do ms "$LS"; done | median)
    hand_ms=$(for i in $(seq "$runs"); do ms by_hand; done | median)
    exec 3>&-
    wait "$holder_pid"
    holder_pid=""
    left=$(ipcs -m | awk 'NR > 3 && NF >= 6' | wc -l)
    [ "$left" = 0 ] || { echo "ls-bench: $left segment(s) left in the namespace" >&2; exit 1; }
}

row some 5
some_ls=$ls_ms some_hand=$hand_ms
row all 3
all_ls=$ls_ms all_hand=$hand_ms

ratio() { echo "$1 $2" | awk '{ printf "%.4f", $1 / $2 }'; }
met() { echo "$1" | awk '{ print ($1 < 1000) ? "met" : "NOT MET" }'; }
printf '%-60s %10s %10s %9s\n' "row (ms per listing; medians of 5, and of 3)" "by hand" "rshm-ls" "ratio"
printf '%-60s %10.1f %10.1f %8.3fx\n' "4,000 segments, 500 processes: ipcs -m -p + maps loop" \
    "$some_hand" "$some_ls" "$(ratio "$some_ls" "$some_hand")"
printf '%-60s %10.1f %10.1f %8.3fx\n' "4,000 segments, 500 processes holding all: same" \
    "$all_hand" "$all_ls" "$(ratio "$all_ls" "$all_hand")"
printf 'target: %-66s %8.1f %s %-6g %s\n' "rshm-ls, 4,000 segments and 500 processes (ms)" "$some_ls" "<" 1000 "$(met "$some_ls")"
printf 'target: %-66s %8.1f %s %-6g %s\n' "rshm-ls, 4,000 segments, 500 processes holding all (ms)" "$all_ls" "<" 1000 "$(met "$all_ls")"
