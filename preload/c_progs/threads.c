/* Several threads attach and detach one segment at once; argv: threads, rounds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

static int id, rounds, failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *run(void *arg) {
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        void *p = shmat(id, NULL, 0);
        if (p == (void *)-1 || shmdt(p) != 0) {
            pthread_mutex_lock(&mu);
            failures++;
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 4;
    rounds = argc > 2 ? atoi(argv[2]) : 500;
    id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    pthread_t t[64];
    for (int i = 0; i < n && i < 64; i++)
        pthread_create(&t[i], NULL, run, NULL);
    for (int i = 0; i < n && i < 64; i++)
        pthread_join(t[i], NULL);
    shmctl(id, IPC_RMID, NULL);
    printf("failures %d\n", failures);
    return failures != 0;
}
