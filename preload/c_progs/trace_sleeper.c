/* Makes and removes a segment (2 calls), says "ready" on stdout, then sleeps up to
 * 20 s: a command for a signal to end. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0 || shmctl(id, IPC_RMID, NULL) != 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    sleep(20);
    return 0;
}
