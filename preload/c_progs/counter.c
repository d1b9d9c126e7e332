/* An interposer of its own, preloaded after librshm_preload.so: it counts the calls that
 * reach it and forwards them with RTLD_NEXT. rshm must call it, never go around it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/shm.h>

static int gets, ats, dts, rmids, infos, others;
/* Each shmget as it reached this library: "size/flags" (octal), in order. */
static char seen[512];
static size_t seen_len;

int shmget(key_t key, size_t size, int flags) {
    gets++;
    (void)key;
    if (seen_len < sizeof seen - 32)
        seen_len += (size_t)snprintf(seen + seen_len, sizeof seen - seen_len, "%s%zu/%o", seen_len ? "," : "",
                                     size, (unsigned)flags);
    int (*next)(key_t, size_t, int) = (int (*)(key_t, size_t, int))dlsym(RTLD_NEXT, "shmget");
    return next(key, size, flags);
}

void *shmat(int id, const void *addr, int flags) {
    ats++;
    void *(*next)(int, const void *, int) = (void *(*)(int, const void *, int))dlsym(RTLD_NEXT, "shmat");
    return next(id, addr, flags);
}

int shmdt(const void *addr) {
    dts++;
    int (*next)(const void *) = (int (*)(const void *))dlsym(RTLD_NEXT, "shmdt");
    return next(addr);
}

int shmctl(int id, int cmd, struct shmid_ds *buf) {
    if (cmd == IPC_RMID)
        rmids++;
    else if (cmd == IPC_INFO)
        infos++;
    else
        others++;
    int (*next)(int, int, struct shmid_ds *) = (int (*)(int, int, struct shmid_ds *))dlsym(RTLD_NEXT, "shmctl");
    return next(id, cmd, buf);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "fact interposed get=%d at=%d dt=%d rmid=%d info=%d other=%d\n", gets, ats, dts, rmids, infos,
            others);
    fprintf(stderr, "fact shmgets %s\n", seen);
}
