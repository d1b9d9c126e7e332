/* The calls behind the "rshm's own questions" test: an attach of a segment rshm never saw
 * made (created with a raw system call), a private segment, get-or-create of a new key
 * and of the same key again, and their removal. Under strace, every system call beyond
 * these is one of rshm's own questions. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    int unseen = (int)syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *p = shmat(unseen, NULL, 0);
    if (unseen < 0 || p == (void *)-1 || shmdt(p) != 0)
        return 1;
    int private = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    key_t key = (key_t)(0x52d00000 | (getpid() & 0xfffff));
    int made = shmget(key, 4096, IPC_CREAT | 0600);
    int found = shmget(key, 4096, IPC_CREAT | 0600);
    int rm = shmctl(made, IPC_RMID, NULL) | shmctl(private, IPC_RMID, NULL) | shmctl(unseen, IPC_RMID, NULL);
    printf("key 0x%x ids %d %d %d same %d rmid %d\n", (unsigned)key, unseen, private, made, found == made, rm);
    return private < 0 || made < 0 || rm != 0;
}
