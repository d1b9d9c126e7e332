/* Three threads make raw shm system calls (IPC_PRIVATE shmget, then IPC_RMID) in a loop
 * forever, while the main thread waits for them; prints "ready" once started. Ends only
 * by a signal. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *calls(void *arg) {
    (void)arg;
    for (;;) {
        long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id >= 0)
            syscall(SYS_shmctl, id, IPC_RMID, NULL);
    }
    return NULL;
}

int main(void) {
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, calls, NULL);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}
