/* The main thread makes raw shm system calls in a loop (each a --complete stop); a second
 * thread calls exit(3) once the main thread has made ARGV[1] calls (default 200), so the
 * leader is killed while it is somewhere in a stopped call. Without a tracer: exit 3. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_long made;
static long after = 200;

static void *quit(void *arg) {
    (void)arg;
    while (atomic_load(&made) < after)
        sched_yield();
    exit(3);
}

int main(int argc, char **argv) {
    if (argc > 1)
        after = atol(argv[1]);
    pthread_t t;
    pthread_create(&t, NULL, quit, NULL);
    for (;;) {
        long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id >= 0)
            syscall(SYS_shmctl, id, IPC_RMID, NULL);
        atomic_fetch_add(&made, 1);
    }
}
