/* The call path is async-signal-safe: a thread loops rshm_at/rshm_dt on one segment while
 * a timer signal, delivered to that same thread, runs a handler that calls rshm_dt and
 * rshm_rmid on other segments, thousands of times, with every call logged. Meanwhile the
 * main thread forks children that use rshm at once. Nothing deadlocks (an alarm kills the
 * test if it does), every call succeeds, and the registry comes out exact. */
#define _GNU_SOURCE
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define SEGS 16
#define PER_SEG 200
#define TOTAL (SEGS * PER_SEG)

static int seg[SEGS];
static void *addr[TOTAL];
static atomic_int next_detach;
static atomic_int handler_failures;
static atomic_int stop;
static atomic_int worker_tid;
static int loop_id;
static long loops, loop_failures;

static void on_tick(int sig) {
    (void)sig;
    int saved = errno;
    int i = atomic_fetch_add(&next_detach, 1);
    if (i < TOTAL) {
        if (rshm_dt(addr[i]) != 0)
            atomic_fetch_add(&handler_failures, 1);
        /* Mark each segment for removal at its first detach, still attached 199 times. */
        if (i % PER_SEG == 0 && rshm_rmid(seg[i / PER_SEG]) != 0)
            atomic_fetch_add(&handler_failures, 1);
    }
    if (errno != saved)
        atomic_fetch_add(&handler_failures, 1000); /* rshm must leave errno alone on success */
    errno = saved;
}

static void *worker(void *arg) {
    (void)arg;
    atomic_store(&worker_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop)) {
        void *p = rshm_at(loop_id, NULL, 0);
        if (p == (void *)-1 || rshm_dt(p) != 0)
            loop_failures++;
        loops++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    /* Log every call, inside the handler too, to a sink that swallows it. rshm reads its
     * configuration when it is loaded: the program runs itself again with it set. (Under
     * valgrind, which follows no exec here, that run is native: memcheck delivers the
     * timer's signals to a thread in a tight loop too rarely to finish in time.) */
    if (!getenv("RSHM_LOG_FILE")) {
        setenv("RSHM_LOG", "info", 1);
        setenv("RSHM_LOG_FILE", "/dev/null", 1);
        fflush(stdout);
        execv(self_path(), argv);
        perror("re-executing with RSHM_LOG set");
        return 1;
    }
    (void)argc;
    guard_alarm(120); /* a deadlock ends the test, its segments removed, instead of hanging it */

    loop_id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    CHECK(loop_id >= 0, "loop segment");
    for (int s = 0; s < SEGS; s++) {
        seg[s] = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
        CHECK(seg[s] >= 0, "pool segment");
        for (int k = 0; k < PER_SEG; k++) {
            addr[s * PER_SEG + k] = rshm_at(seg[s], NULL, 0);
            if (addr[s * PER_SEG + k] == (void *)-1)
                check_failed++;
        }
    }
    CHECK(rshm_attachment_count() == TOTAL, "registry holds every pool attachment");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGRTMIN, &sa, NULL);

    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    while (!atomic_load(&worker_tid))
        sched_yield();

    /* The timer's signal goes to the worker thread itself, interrupting its rshm calls. */
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGRTMIN;
    sev._sigev_un._tid = atomic_load(&worker_tid);
    timer_t timer;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0, "timer");
    struct itimerspec its = {{0, 100000}, {0, 100000}};
    timer_settime(timer, 0, &its, NULL);

    /* Fork children of this threaded process while all that runs; each uses rshm at once. */
    int max_children = 200;
    int children = 0, child_ok = 0;
    while (atomic_load(&next_detach) < TOTAL) {
        if (children < max_children) {
            pid_t pid = fork();
            if (pid == 0) {
                int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
                void *p = id < 0 ? (void *)-1 : rshm_at(id, NULL, 0);
                int bad = p == (void *)-1 || rshm_dt(p) != 0;
                bad |= id < 0 || rshm_rmid(id) != 0;
                _exit(bad);
            }
            int st = -1;
            if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
                child_ok++;
            children++;
        } else {
            usleep(1000);
        }
    }
    timer_delete(timer);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);

    CHECK(atomic_load(&handler_failures) == 0, "every rshm_dt/rshm_rmid in the handler succeeded, errno kept");
    CHECK(loop_failures == 0, "every rshm_at/rshm_dt in the interrupted loop succeeded");
    CHECK(loops > 0, "the loop ran");
    CHECK(child_ok == children && children > 0, "every forked child used rshm without deadlock");
    CHECK(rshm_attachment_count() == 0, "registry is exact: nothing left attached");
    struct shmid_ds ds;
    int alive = 0;
    for (int s = 0; s < SEGS; s++)
        alive += shmctl(seg[s], IPC_STAT, &ds) == 0;
    CHECK(alive == 0, "every pool segment was destroyed after its last detach");
    CHECK(shmctl(loop_id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0, "loop segment has no attachment left");
    CHECK(rshm_rmid(loop_id) == 0, "remove loop segment");
    printf("signal test: %d handler detaches, %ld loop iterations, %d forked children\n", TOTAL, loops, children);
    return check_done();
}
