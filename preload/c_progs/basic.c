/* An ordinary program using System V shared memory, built without rshm. Its stdout is
 * the same with and without the preload library; the ids and addresses it got go to
 * stderr as "fact NAME VALUE" lines, for the test to compare with the trace. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *en(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case ENOMEM: return "ENOMEM";
    default: return "E?";
    }
}

int main(int argc, char **argv) {
    key_t missing = argc > 1 ? (key_t)strtol(argv[1], NULL, 0) : 0x7ead0001;
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("shmget: %s\n", id >= 0 ? "ok" : en(errno));
    fprintf(stderr, "fact id %d\n", id);
    char *p = shmat(id, NULL, 0);
    printf("shmat: %s\n", p != (void *)-1 ? "ok" : en(errno));
    fprintf(stderr, "fact addr %p\n", (void *)p);
    strcpy(p, "parent");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *q = shmat(id, NULL, 0);
        int ok = q != (void *)-1 && !strcmp(q, "parent");
        if (ok)
            strcpy(q + 100, "child");
        fprintf(stderr, "fact child %d\n", (int)getpid());
        _exit(ok && shmdt(q) == 0 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child: %d, wrote \"%s\"\n", WEXITSTATUS(st), p + 100);
    printf("shmdt: %d\n", shmdt(p));
    errno = 0;
    int r = shmdt(p);
    printf("shmdt again: %d %s\n", r, en(errno));
    struct shmid_ds ds;
    r = shmctl(id, IPC_STAT, &ds);
    printf("IPC_STAT: %d size %zu\n", r, (size_t)ds.shm_segsz);
    struct shminfo si;
    int top = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
    printf("IPC_INFO: %s\n", top >= 0 ? "ok" : en(errno));
    fprintf(stderr, "fact ipc_info %d\n", top);
    int idx = id & 0x7fff;
    int stat_id = shmctl(idx, SHM_STAT, &ds);
    printf("SHM_STAT: %s\n", stat_id == id ? "same id" : "other");
    fprintf(stderr, "fact index %d\n", idx);

    /* shmat at a fixed address inside a reservation of our own. */
    void *res = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *fixed = shmat(id, (char *)res + 65536, SHM_REMAP);
    printf("fixed shmat: %s\n", fixed == (char *)res + 65536 ? "at the address" : en(errno));
    fprintf(stderr, "fact fixed %p\n", (void *)fixed);
    printf("fixed sees: %s\n", fixed);
    printf("shmdt fixed: %d\n", shmdt(fixed));
    munmap(res, 1 << 20);

    /* Removed while attached, and never detached: it goes when the process exits. */
    char *kept = shmat(id, NULL, SHM_RDONLY);
    printf("IPC_RMID while attached: %d\n", shmctl(id, IPC_RMID, NULL));
    printf("still readable: %s\n", kept);
    errno = 0;
    r = shmget(missing, 64, 0600);
    printf("shmget missing: %d %s\n", r, en(errno));
    errno = 0;
    void *bad = shmat(-1, NULL, 0);
    printf("shmat -1: %s %s\n", bad == (void *)-1 ? "-1" : "?", en(errno));
    /* Huge pages: ENOMEM where none are reserved (the usual case), else a segment. */
    errno = 0;
    int huge = shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0600);
    printf("SHM_HUGETLB: %s\n", huge >= 0 ? "ok" : en(errno));
    if (huge >= 0)
        shmctl(huge, IPC_RMID, NULL);
    return 0;
}
