/* Makes shmget, shmat, shmdt and IPC_RMID on one private segment and prints each
 * result as "call ret errno" ("shmat 0 0" for an address), then "alive". A call that
 * fails is made again as a raw system call, which no interposer sees, so the segment is
 * removed whichever call failed. Run under a preload library built to panic in one of
 * them (RSHM_TEST_PANIC). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *call, int failed) {
    printf("%s %d %d\n", call, failed ? -1 : 0, failed ? errno : 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    show("shmget", id < 0);
    if (id < 0 && (id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0)
        return 2;
    void *p = shmat(id, NULL, 0);
    show("shmat", p == (void *)-1);
    if (p == (void *)-1 && (p = (void *)syscall(SYS_shmat, id, NULL, 0)) == (void *)-1)
        return 3;
    int r = shmdt(p);
    show("shmdt", r != 0);
    if (r != 0 && syscall(SYS_shmdt, p) != 0)
        return 4;
    r = shmctl(id, IPC_RMID, NULL);
    show("shmctl", r != 0);
    if (r != 0 && syscall(SYS_shmctl, id, IPC_RMID, NULL) != 0)
        return 5;
    printf("alive\n");
    return 0;
}
