/* A little of everything rshm-trace counts, the same on every run: 11 calls in 2
 * processes (shmget 3, shmat 3, shmdt 2, shmctl 3: IPC_STAT 1, IPC_RMID 2), one failure
 * (shmat of id -1: EINVAL), one call that succeeds with a warning (an unknown flag bit
 * the kernel ignores), 3 segments made, 2 removed, 1 leaked on purpose.
 * Prints "seg ID" for every segment it makes, before anything can go wrong. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int kept = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int leaked = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    printf("seg %d\nseg %d\nleaked %d\n", kept, leaked, leaked);
    fflush(stdout);
    if (kept < 0 || leaked < 0)
        return 1;
    char *p = shmat(kept, NULL, 0);
    if (p == (void *)-1)
        return 1;
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        char *q = shmat(kept, NULL, 0);
        _exit(q == (void *)-1 || shmdt(q) != 0);
    }
    int st;
    if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 1;
    struct shmid_ds ds;
    if (shmctl(kept, IPC_STAT, &ds) != 0)
        return 1;
    if (shmat(-1, NULL, 0) != (void *)-1)
        return 1;
    if (shmdt(p) != 0 || shmctl(kept, IPC_RMID, NULL) != 0)
        return 1;
    int odd = shmget(IPC_PRIVATE, 4096, 0100000 | IPC_CREAT | 0600);
    printf("seg %d\n", odd);
    fflush(stdout);
    if (odd < 0 || shmctl(odd, IPC_RMID, NULL) != 0)
        return 1;
    return 0;
}
