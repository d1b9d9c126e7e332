/* Makes a segment with libc's shmget (traced), then attaches and detaches it with the
 * raw system calls, around the preload library; leaves it behind. Prints "seg ID" and
 * "pid PID". */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\npid %d\n", id, (int)getpid());
    fflush(stdout);
    if (id < 0)
        return 1;
    long p = syscall(SYS_shmat, id, NULL, 0);
    if (p == -1)
        return 1;
    return syscall(SYS_shmdt, (void *)p) != 0;
}
