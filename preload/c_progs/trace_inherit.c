/* Attaches a segment once, then forks 3 children that hold the inherited attachment for
 * 400 ms without a call of their own; prints "seg ID" and, from the parent while all
 * hold it, "nattch N" as IPC_STAT says. Removes the segment at the end. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    printf("seg %d\n", id);
    fflush(stdout);
    if (shmat(id, NULL, 0) == (void *)-1) { perror("shmat"); return 1; }
    for (int i = 0; i < 3; i++)
        if (fork() == 0) { usleep(400000); _exit(0); }
    usleep(200000);
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("nattch %lu\n", (unsigned long)ds.shm_nattch);
    while (wait(NULL) > 0) {}
    shmctl(id, IPC_RMID, NULL);
    return 0;
}
