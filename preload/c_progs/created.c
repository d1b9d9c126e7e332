/* "created" through the preload library, by an ordinary program: threads racing on
 * get-or-create of one key (a fresh key each round), a reopen of its own key, a forked
 * child reopening the parent's segment, and (as root, in a pid namespace of its own) a
 * later process with the pid of the dead process that made the key's segment. Prints
 * "round KEY ID", "reopen KEY ID CHILDPID" and "reuse KEY ID PID1 PID2"; the test reads
 * "created" in the JSON log. Segment ids go to stderr as "seg N". Two more threads make
 * get-or-create calls on another key without a pause the whole time. CREATED_ROUNDS sets
 * the number of rounds (100). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define NOISE 2
static int ROUNDS = 100;

static pthread_barrier_t barrier;
static key_t race_key;
static int ids[THREADS];

static void *racer(void *arg) {
    int i = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&barrier);
        ids[i] = shmget(race_key, 4096, IPC_CREAT | 0600);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static key_t key_for(int n) {
    return (key_t)(0x7e000000 | ((getpid() & 0xffff) << 8) | (n & 0xff));
}

static volatile int noise_stop;

static void *noise(void *arg) {
    (void)arg;
    while (!noise_stop)
        shmget(key_for(250), 4096, IPC_CREAT | 0600);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("CREATED_ROUNDS"))
        ROUNDS = atoi(getenv("CREATED_ROUNDS"));
    pthread_t t[THREADS], n[NOISE];
    int noise_id = shmget(key_for(250), 4096, IPC_CREAT | IPC_EXCL | 0600);
    fprintf(stderr, "seg %d\n", noise_id);
    for (int i = 0; i < NOISE; i++)
        pthread_create(&n[i], NULL, noise, NULL);
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, racer, (void *)(long)i);
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        race_key = key_for(r);
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        for (int i = 1; i < THREADS; i++)
            bad += ids[i] != ids[0];
        fprintf(stderr, "seg %d\n", ids[0]);
        printf("round %#x %d\n", (unsigned)race_key, ids[0]);
        shmctl(ids[0], IPC_RMID, NULL);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    noise_stop = 1;
    for (int i = 0; i < NOISE; i++)
        pthread_join(n[i], NULL);
    bad += noise_id < 0;
    shmctl(noise_id, IPC_RMID, NULL);

    key_t key = key_for(200);
    int a = shmget(key, 4096, IPC_CREAT | 0600);
    fprintf(stderr, "seg %d\n", a);
    bad += shmget(key, 4096, IPC_CREAT | 0600) != a;
    bad += shmget(key, 0, 0) != a;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(shmget(key, 4096, IPC_CREAT | 0600) != a);
    int st = -1;
    waitpid(pid, &st, 0);
    bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    printf("reopen %#x %d %d\n", (unsigned)key, a, (int)pid);
    shmctl(a, IPC_RMID, NULL);

    if (getuid() == 0 && unshare(CLONE_NEWPID) == 0) {
        key_t k = key_for(201);
        fflush(stdout);
        pid_t init = fork();
        if (init == 0) {
            int p[2];
            if (pipe(p))
                _exit(1);
            pid_t g1 = fork();
            if (g1 == 0) {
                int id = shmget(k, 4096, IPC_CREAT | 0600);
                _exit(write(p[1], &id, sizeof id) != (ssize_t)sizeof id);
            }
            int id = -1, again = -1;
            if (read(p[0], &id, sizeof id) != (ssize_t)sizeof id)
                _exit(1);
            fprintf(stderr, "seg %d\n", id);
            waitpid(g1, NULL, 0);
            int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
            char last[32];
            int n = snprintf(last, sizeof last, "%d", (int)g1 - 1);
            if (fd < 0 || write(fd, last, n) != n)
                _exit(1);
            close(fd);
            pid_t g2 = fork();
            if (g2 == 0) {
                int id2 = shmget(k, 4096, IPC_CREAT | 0600);
                _exit(write(p[1], &id2, sizeof id2) != (ssize_t)sizeof id2);
            }
            if (read(p[0], &again, sizeof again) != (ssize_t)sizeof again)
                _exit(1);
            waitpid(g2, NULL, 0);
            printf("reuse %#x %d %d %d %d\n", (unsigned)k, id, (int)g1, (int)g2, again);
            fflush(stdout);
            shmctl(id, IPC_RMID, NULL);
            _exit(0);
        }
        waitpid(init, &st, 0);
        bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    printf("bad %d\n", bad);
    return bad != 0;
}
