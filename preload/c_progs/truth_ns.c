/* truth_ns MODE OP...: MODE raw (syscall(2)) or libc (shmget, preloaded); a trailing 0
 * (raw0, libc0) skips the first call. Makes one shmget(IPC_PRIVATE, 4096) (so a tracer
 * knows this process), then unshare(CLONE_NEWIPC) (needs root), then each OP:
 *   size:N    shmget(IPC_PRIVATE, N, 0600)
 *   goc:KEY   shmget(KEY, 4096, IPC_CREAT|0600) (get-or-create)
 * printing each result. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static int raw;
static long get(long key, long size, long flags) {
    return raw ? syscall(SYS_shmget, key, size, flags) : shmget((key_t)key, (size_t)size, (int)flags);
}
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    raw = strncmp(argv[1], "raw", 3) == 0;
    int late = argv[1][strlen(argv[1]) - 1] == '0';
    long first = late ? -2 : get(IPC_PRIVATE, 4096, 0600);
    printf("first = %ld\n", first);
    if (unshare(CLONE_NEWIPC) != 0) { perror("unshare"); return 3; }
    for (int i = 2; i < argc; i++) {
        long r;
        if (strncmp(argv[i], "size:", 5) == 0)
            r = get(IPC_PRIVATE, strtol(argv[i] + 5, NULL, 0), 0600);
        else if (strncmp(argv[i], "goc:", 4) == 0)
            r = get(strtol(argv[i] + 4, NULL, 0), 4096, IPC_CREAT | 0600);
        else return 2;
        printf("%s = %ld %s\n", argv[i], r, r < 0 ? strerrorname_np(errno) : "");
        fflush(stdout);
    }
    return 0;
}
