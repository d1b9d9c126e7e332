/* Built with -static (no preload library can load into it): makes a segment, attaches
 * it, writes to it, asks IPC_STAT, fails a detach of an unaligned address, detaches,
 * removes it, then fails to attach the removed id. Prints what each call returned, no
 * address; exits 0 when every call did what it should. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int bad = 0;
    int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    printf("shmget = %d\n", id);
    if (id < 0)
        return 1;
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1) {
        shmctl(id, IPC_RMID, NULL);
        return 1;
    }
    strcpy(p, "static");
    struct shmid_ds ds;
    int r = shmctl(id, IPC_STAT, &ds);
    printf("IPC_STAT = %d size %zu nattch %lu\n", r, (size_t)ds.shm_segsz,
           (unsigned long)ds.shm_nattch);
    r = shmdt(p + 1);
    printf("shmdt(unaligned) = %d %s\n", r, strerrorname_np(errno));
    bad |= r != -1 || errno != EINVAL;
    printf("shmdt = %d\n", shmdt(p));
    printf("IPC_RMID = %d\n", shmctl(id, IPC_RMID, NULL));
    p = shmat(id, NULL, 0);
    printf("shmat(removed) = %s\n", p == (void *)-1 ? strerrorname_np(errno) : "attached");
    bad |= p != (void *)-1;
    return bad;
}
