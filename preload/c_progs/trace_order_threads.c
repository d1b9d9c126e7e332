/* Failing calls made at once by several threads of several processes that share one
 * connection to rshm-trace: the main thread makes a failing shmat first (the connection
 * is made then, and inherited by the children), forks 2 children, and each of the 3
 * processes runs 2 threads that each make 100 failing shmat calls, each followed by the
 * program's own message "own TID I" on stderr. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void *fail(void *arg) {
    (void)arg;
    int tid = (int)syscall(SYS_gettid);
    for (int i = 0; i < 100; i++)
        if (shmat(-1, NULL, 0) == (void *)-1)
            fprintf(stderr, "own %d %d\n", tid, i);
    return NULL;
}

static int threads(void) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, fail, NULL) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}

int main(void) {
    if (shmat(-1, NULL, 0) != (void *)-1)
        return 1;
    for (int c = 0; c < 2; c++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0)
            _exit(threads());
    }
    int bad = threads();
    int st;
    while (wait(&st) > 0)
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    return bad;
}
