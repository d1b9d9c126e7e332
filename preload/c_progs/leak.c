/* Leaves one segment behind (attached, never detached), removes another, and makes a
 * call that only strict mode refuses (an unknown flag bit the kernel ignores). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int leaked = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0640);
    int removed = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *kept = shmat(leaked, NULL, 0);
    shmctl(removed, IPC_RMID, NULL);
    /* Made here, removed by another process: not a leak of this one. */
    int theirs = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (fork() == 0)
        _exit(shmctl(theirs, IPC_RMID, NULL) != 0);
    wait(NULL);
    fprintf(stderr, "fact leaked %d\nfact removed %d\nfact kept %p\nfact theirs %d\n", leaked, removed, kept, theirs);
    errno = 0;
    int odd = shmget(IPC_PRIVATE, 4096, 0100000 | IPC_CREAT | 0600);
    printf("unknown flag bit: %s\n", odd >= 0 ? "ok" : errno == EINVAL ? "EINVAL" : strerror(errno));
    if (odd >= 0)
        shmctl(odd, IPC_RMID, NULL);
    return 0;
}
