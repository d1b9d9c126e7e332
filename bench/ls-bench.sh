#!/bin/sh
# The rshm-ls row of `make bench`: 4,000 segments and 500 processes (each attaching 8 of
# them), in a private IPC namespace, listed by rshm-ls and by what people do by hand:
# `ipcs -m -p` plus a shell loop over /proc/*/maps that keeps the processes of this IPC
# namespace and greps their SYSV lines. Prints the medians of 5 runs of each (ms), their
# ratio, and whether rshm-ls met its target (under 1 s). Everything it makes lives in the
# private namespace and is removed at the end (the namespace goes with its last process).
set -eu
cd "$(dirname "$0")/.."
LS=${RSHM_LS:-target/release/rshm-ls}
SEGMENTS=4000 PROCESSES=500 RUNS=5

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
# and at end of input ends them and removes every segment it made.
cat > "$tmp/holder.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int nseg = atoi(argv[1]), nproc = atoi(argv[2]), per = nseg / nproc;
    int *ids = calloc(nseg, sizeof *ids);
    pid_t *kids = calloc(nproc, sizeof *kids);
    int made = 0, started = 0, status = 0;
    for (; made < nseg; made++)
        if ((ids[made] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0) {
            perror("holder: shmget");
            status = 1;
            break;
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
            for (int i = started * per; i < (started + 1) * per; i++)
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

mkfifo "$tmp/ctl"
"$tmp/holder" "$SEGMENTS" "$PROCESSES" < "$tmp/ctl" > "$tmp/ready" &
holder_pid=$!
exec 3> "$tmp/ctl"
while [ ! -s "$tmp/ready" ]; do
    kill -0 "$holder_pid" 2>/dev/null || { echo "ls-bench: the holder failed" >&2; exit 1; }
    sleep 0.1
done

# What rshm-ls found must be the whole picture, or the timing means nothing.
seen=$("$LS" | grep -c '^    attached by pid ')
segs=$("$LS" --json | sed -n 's/.*"totals":{"segments":\([0-9]*\),.*/\1/p')
if [ "$segs" != "$SEGMENTS" ] || [ "$seen" != "$SEGMENTS" ]; then
    echo "ls-bench: rshm-ls saw $segs segments and $seen attachers, not $SEGMENTS of each" >&2
    exit 1
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
[ "$(by_hand | grep -c '/SYSV')" = "$SEGMENTS" ] || { echo "ls-bench: the loop did not see every attachment" >&2; exit 1; }

ms() { # ms COMMAND...: milliseconds one run takes
    t0=$(date +%s%N)
    "$@" > /dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ls_ms=$(for i in $(seq $RUNS); do ms "$LS"; done | median)
hand_ms=$(for i in $(seq $RUNS); do ms by_hand; done | median)

exec 3>&-
wait "$holder_pid"
holder_pid=""
left=$(ipcs -m | awk 'NR > 3 && NF >= 6' | wc -l)
[ "$left" = 0 ] || { echo "ls-bench: $left segment(s) left in the namespace" >&2; exit 1; }

printf '%-52s %10s %10s %9s\n' "row (ms per listing; medians of $RUNS)" "by hand" "rshm-ls" "ratio"
printf '%-52s %10.1f %10.1f %8.3fx\n' "4,000 segments, 500 processes: ipcs -m -p + maps loop" \
    "$hand_ms" "$ls_ms" "$(echo "$ls_ms $hand_ms" | awk '{ printf "%.4f", $1 / $2 }')"
met=$(echo "$ls_ms" | awk '{ print ($1 < 1000) ? "met" : "NOT MET" }')
printf 'target: %-58s %8.1f %s %-6g %s\n' "rshm-ls, 4,000 segments and 500 processes (ms)" "$ls_ms" "<" 1000 "$met"
