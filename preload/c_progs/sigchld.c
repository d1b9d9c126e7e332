/* What PostgreSQL's postmaster does: shmdt and IPC_RMID from inside a SIGCHLD handler,
 * while the main thread attaches and detaches in a loop and forks children. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 300
static int seg[N];
static void *att[N];
static volatile sig_atomic_t reaped, handler_failures;

static void on_chld(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
        int i = reaped;
        if (i < N) {
            if (shmdt(att[i]) != 0)
                handler_failures++;
            if (shmctl(seg[i], IPC_RMID, NULL) != 0)
                handler_failures++;
            reaped = i + 1;
        }
    }
    errno = saved;
}

int main(void) {
    for (int i = 0; i < N; i++) {
        seg[i] = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        att[i] = shmat(seg[i], NULL, 0);
    }
    int loop = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    alarm(60);
    long loops = 0, loop_failures = 0;
    for (int forked = 0; reaped < N; loops++) {
        if (forked < N && loops % 4 == 0) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(0);
            forked += pid > 0;
        }
        void *p = shmat(loop, NULL, 0);
        if (p == (void *)-1 || shmdt(p) != 0)
            loop_failures++;
    }
    shmctl(loop, IPC_RMID, NULL);
    int alive = 0;
    struct shmid_ds ds;
    for (int i = 0; i < N; i++)
        alive += shmctl(seg[i], IPC_STAT, &ds) == 0;
    printf("reaped %d, handler failures %d, loop failures %ld, alive %d\n", (int)reaped, (int)handler_failures,
           loop_failures, alive);
    return handler_failures || loop_failures || alive;
}
