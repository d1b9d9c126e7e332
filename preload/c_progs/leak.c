/* Leaves one segment behind (attached, never detached), removes another, and makes a
 * call that only strict mode refuses (an unknown flag bit the kernel ignores). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int leaked = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0640);
    int removed = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *kept = shmat(leaked, NULL, 0);
    shmctl(removed, IPC_RMID, NULL);
    fprintf(stderr, "fact leaked %d\nfact removed %d\nfact kept %p\n", leaked, removed, kept);
    errno = 0;
    int odd = shmget(IPC_PRIVATE, 4096, 0100000 | IPC_CREAT | 0600);
    printf("unknown flag bit: %s\n", odd >= 0 ? "ok" : errno == EINVAL ? "EINVAL" : strerror(errno));
    if (odd >= 0)
        shmctl(odd, IPC_RMID, NULL);
    return 0;
}
