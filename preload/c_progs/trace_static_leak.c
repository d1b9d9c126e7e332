/* Built with -static: makes a segment no preload library can see, and leaves it.
 * Prints "seg ID" and "pid PID". */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\npid %d\n", id, (int)getpid());
    return id < 0;
}
