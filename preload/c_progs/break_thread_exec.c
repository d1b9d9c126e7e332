/* Three threads and the main thread make raw shm system calls in a loop; a fifth thread
 * (not the leader) execs this program again with "after", which makes one raw shmget of
 * 12288 bytes, removes it, prints "after get = ID" and exits 7. Without a tracer: exit 7. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void loop(void) {
    for (;;) {
        long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id >= 0)
            syscall(SYS_shmctl, id, IPC_RMID, NULL);
    }
}

static void *calls(void *arg) {
    (void)arg;
    loop();
    return NULL;
}

static void *execs(void *arg) {
    usleep(20000);
    char *av[] = {(char *)arg, "after", NULL};
    execv("/proc/self/exe", av);
    perror("execv");
    exit(9);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "after") == 0) {
        long id = syscall(SYS_shmget, IPC_PRIVATE, 12288, IPC_CREAT | 0600);
        printf("after get = %ld\n", id);
        syscall(SYS_shmctl, id, IPC_RMID, NULL);
        return 7;
    }
    pthread_t t;
    for (int i = 0; i < 3; i++)
        pthread_create(&t, NULL, calls, NULL);
    pthread_create(&t, NULL, execs, argv[0]);
    loop();
}
