/* Makes a segment with the raw system call, around libc's shmget and so around the
 * preload library, and leaves it behind. Prints "seg ID" and "pid PID". */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %ld\npid %d\n", id, (int)getpid());
    return id < 0;
}
