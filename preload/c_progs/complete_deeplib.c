/* A shared library the program loads with RTLD_DEEPBIND: its shm calls bind to libc
 * itself, not to the preload library. deep_run(A) makes and removes its own segment,
 * attaches A, and fails an IPC_STAT of the removed id. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int deep_run(int a) {
    int b = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("deep shmget = %d\n", b);
    char *p = shmat(a, NULL, 0);
    if (p == (void *)-1 || b < 0)
        return 1;
    strcpy(p, "deep");
    struct shmid_ds ds;
    int r = shmctl(a, IPC_STAT, &ds);
    printf("deep IPC_STAT = %d nattch %lu\n", r, (unsigned long)ds.shm_nattch);
    printf("deep shmdt = %d\n", shmdt(p));
    printf("deep IPC_RMID = %d\n", shmctl(b, IPC_RMID, NULL));
    r = shmctl(b, IPC_STAT, &ds);
    printf("deep IPC_STAT(removed) = %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    return 0;
}
