/* Built with -static: makes and removes a segment that no preload library can see.
 * Prints "seg ID". */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\n", id);
    fflush(stdout);
    return id < 0 || shmctl(id, IPC_RMID, NULL) != 0;
}
