/* The rshm-trace rows of `make bench`: a program that makes N shm calls (one segment,
 * N/2 - 2 shmat+shmdt pairs, its shmget and its IPC_RMID), run plain and under
 * rshm-trace (every line formatted and written to a file; and -c, the summary alone),
 * at N = 100,000 and 1,000,000. Prints the medians of ROUNDS runs (ms), the ratio to the
 * plain run, rshm-trace's peak RSS (ru_maxrss of the tracer: bounded memory means the
 * same at both N), and whether the target holds: traced <= 1.2 x plain + 2 s.
 *
 *   trace-bench RSHM_TRACE            (the bench)
 *   trace-bench --loop N              (the traced program) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 3

static int loop(long n) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    for (long i = 0; i < n / 2 - 1; i++) {
        void *p = shmat(id, NULL, 0);
        if (p == (void *)-1) { perror("shmat"); return 1; }
        shmdt(p);
    }
    shmctl(id, IPC_RMID, NULL);
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Runs argv with stdout and stderr to /dev/null; returns ms, and the child's max RSS. */
static double run(char *const argv[], long *rss_kb) {
    fflush(stdout);
    double t0 = now_ms();
    pid_t p = fork();
    if (p == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    wait4(p, &st, 0, &ru);
    double ms = now_ms() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "trace-bench: %s failed (status %d)\n", argv[0], st);
        exit(1);
    }
    *rss_kb = ru.ru_maxrss;
    return ms;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(char *const argv[], long *rss) {
    double t[ROUNDS];
    *rss = 0;
    for (int i = 0; i < ROUNDS; i++) {
        long r;
        t[i] = run(argv, &r);
        if (r > *rss) *rss = r;
    }
    qsort(t, ROUNDS, sizeof t[0], cmp);
    return t[ROUNDS / 2];
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--loop") == 0) return loop(atol(argv[2]));
    if (argc != 2) { fprintf(stderr, "usage: trace-bench RSHM_TRACE\n"); return 2; }
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k < 0) { perror("readlink"); return 1; }
    self[k] = 0;
    char log[] = "/tmp/rshm-trace-bench.XXXXXX";
    int fd = mkstemp(log);
    if (fd < 0) { perror("mkstemp"); return 1; }
    close(fd);
    int ok = 1;
    long ns[] = {100000, 1000000};
    for (int i = 0; i < 2; i++) {
        char n[32];
        snprintf(n, sizeof n, "%ld", ns[i]);
        char *plain[] = {self, "--loop", n, NULL};
        char *traced[] = {argv[1], "-o", log, "--", self, "--loop", n, NULL};
        char *count[] = {argv[1], "-c", "--", self, "--loop", n, NULL};
        long r0, r1, r2;
        double p = median(plain, &r0), t = median(traced, &r1), c = median(count, &r2);
        printf("%-52s %10.0f %10.0f %7.2fx  rss %ld kB\n", ns[i] == 1000000 ? "1M calls, rshm-trace -o FILE (ms, plain/traced)"
                                                                            : "100k calls, rshm-trace -o FILE (ms, plain/traced)",
               p, t, t / p, r1);
        printf("%-52s %10.0f %10.0f %7.2fx  rss %ld kB\n", ns[i] == 1000000 ? "1M calls, rshm-trace -c (ms, plain/traced)"
                                                                            : "100k calls, rshm-trace -c (ms, plain/traced)",
               p, c, c / p, r2);
        if (ns[i] == 1000000) {
            double limit = 1.2 * p + 2000;
            printf("target: 1M calls traced to a file <= 1.2 x plain + 2 s (%.0f ms): %.0f ms %s\n", limit, t,
                   t <= limit ? "MET" : "NOT MET");
            ok &= t <= limit;
        }
    }
    unlink(log);
    (void)ok;
    return 0;
}
