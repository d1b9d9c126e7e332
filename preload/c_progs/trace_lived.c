/* The usual idiom: make a segment, attach it, IPC_RMID it at once, use it for 300 ms,
 * detach it (the kernel destroys it only now). Prints "seg ID". */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\n", id);
    fflush(stdout);
    if (id < 0)
        return 1;
    char *p = shmat(id, NULL, 0);
    if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL) != 0)
        return 1;
    p[0] = 1;
    usleep(300 * 1000);
    return shmdt(p) != 0;
}
