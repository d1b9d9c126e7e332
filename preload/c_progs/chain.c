/* Four calls and a failing fifth, for the chain-of-interposers test. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    char *p = shmat(id, NULL, 0);
    if (id < 0 || p == (void *)-1)
        return 1;
    strcpy(p, "through the chain");
    printf("%s\n", p);
    int dt = shmdt(p), rm = shmctl(id, IPC_RMID, NULL);
    errno = 0;
    int again = shmdt(p);
    printf("shmdt %d, IPC_RMID %d, shmdt again %d %s\n", dt, rm, again, errno == EINVAL ? "EINVAL" : "?");
    return 0;
}
