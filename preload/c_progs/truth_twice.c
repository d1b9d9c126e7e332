/* truth_twice MODE: MODE raw (syscall(2)) or libc (preloaded). Makes a 64 KiB private
 * segment, attaches it twice (the kernel puts the two side by side), prints nattch, then
 * IPC_RMID while both are held. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    int raw = strcmp(argv[1], "raw") == 0;
    long id = raw ? syscall(SYS_shmget, IPC_PRIVATE, 65536, IPC_CREAT | 0600)
                  : shmget(IPC_PRIVATE, 65536, IPC_CREAT | 0600);
    if (id < 0)
        return 3;
    for (int i = 0; i < 2; i++) {
        long p = raw ? syscall(SYS_shmat, id, NULL, 0) : (long)shmat((int)id, NULL, 0);
        if (p == -1)
            return 4;
        printf("at %d = %lx\n", i, (unsigned long)p);
    }
    struct shmid_ds ds;
    shmctl((int)id, IPC_STAT, &ds);
    printf("nattch %lu\n", (unsigned long)ds.shm_nattch);
    long r = raw ? syscall(SYS_shmctl, id, IPC_RMID, NULL) : shmctl((int)id, IPC_RMID, NULL);
    printf("rm = %ld\n", r);
    return 0;
}
