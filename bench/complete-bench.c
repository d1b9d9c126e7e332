/* The rshm-trace --complete rows of `make bench` (issue 14's targets), each the median of
 * ROUNDS runs, in ms, with the ratio the target is about:
 *
 * 1. 200,000 shm calls that go through the preload library: --complete against plain
 *    rshm-trace (target <= 1.05x: the filter lets the library's marked calls through).
 * 2. 20,000 raw syscall(2) shm calls, which only --complete sees (a stop at each, entry
 *    and exit): against strace -f following the same calls (target <= 1x strace).
 * 3. 1,000,000 getppid calls, no shm call: --complete against plain rshm-trace
 *    (target <= 1.05x: the kernel's seccomp cache allows them without running the filter).
 * 4. exec of a trivial program by a traced program: 200 fork+exec of /bin/true, --complete
 *    against plain rshm-trace (target <= 1.05x; each fork is followed, each exec stops
 *    once).
 *    The floor: the same loop untraced, under a one-instruction seccomp filter that
 *    allows everything (any filter sends every system call down the kernel's slow
 *    entry path).
 * 5. (no target) a whole run of /bin/true: rshm-trace -c against rshm-trace --complete
 *    -c (what --complete adds once per run: a thread that spawns, a handshake, a seize).
 *
 *   complete-bench RSHM_TRACE STRACE   (the bench)
 *   complete-bench --loop N | --raw N | --getppid N | --getppid-filtered N | --spawn N
 *                                      (the traced programs) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static int loop(long n, int raw) {
    int id = raw ? (int)syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600)
                 : shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    for (long i = 0; i < n / 2 - 1; i++) {
        void *p = raw ? (void *)syscall(SYS_shmat, id, NULL, 0) : shmat(id, NULL, 0);
        if (p == (void *)-1) { perror("shmat"); return 1; }
        if (raw) syscall(SYS_shmdt, p); else shmdt(p);
    }
    if (raw) syscall(SYS_shmctl, id, IPC_RMID, NULL); else shmctl(id, IPC_RMID, NULL);
    return 0;
}

static int getppids(long n) {
    long sum = 0;
    for (long i = 0; i < n; i++) sum += syscall(SYS_getppid);
    return sum == 0;
}

/* getppids() under a seccomp filter of one instruction: allow. */
static int getppids_filtered(long n) {
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
        perror("seccomp");
        return 1;
    }
    return getppids(n);
}

static int spawn(long n) {
    for (long i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int st;
        if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    }
    return 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Runs argv with stdout and stderr to /dev/null; returns ms. */
static double run(char *const argv[]) {
    fflush(stdout);
    double t0 = now_ms();
    pid_t p = fork();
    if (p == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    double ms = now_ms() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "complete-bench: %s failed (status %d)\n", argv[0], st);
        exit(1);
    }
    return ms;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The medians of a and b, run alternately (so drift hits both alike). */
static void pair(char *const a[], char *const b[], int rounds, double *ma, double *mb) {
    double ta[64], tb[64];
    for (int i = 0; i < rounds; i++) {
        ta[i] = run(a);
        tb[i] = run(b);
    }
    qsort(ta, rounds, sizeof ta[0], cmp);
    qsort(tb, rounds, sizeof tb[0], cmp);
    *ma = ta[rounds / 2];
    *mb = tb[rounds / 2];
}

static void row(const char *what, double a, double b, double target) {
    if (target > 0)
        printf("%-60s %9.1f %9.1f %6.3fx  target <= %.2fx %s\n", what, a, b, b / a, target,
               b / a <= target ? "MET" : "NOT MET");
    else
        printf("%-60s %9.1f %9.1f %6.3fx\n", what, a, b, b / a);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--loop") == 0) return loop(atol(argv[2]), 0);
    if (argc == 3 && strcmp(argv[1], "--raw") == 0) return loop(atol(argv[2]), 1);
    if (argc == 3 && strcmp(argv[1], "--getppid") == 0) return getppids(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "--spawn") == 0) return spawn(atol(argv[2]));
    if (argc == 3 && strcmp(argv[1], "--getppid-filtered") == 0) return getppids_filtered(atol(argv[2]));
    if (argc != 3) { fprintf(stderr, "usage: complete-bench RSHM_TRACE STRACE\n"); return 2; }
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k < 0) { perror("readlink"); return 1; }
    self[k] = 0;
    char *tr = argv[1], *st = argv[2];
    double a, b;
    printf("%-60s %9s %9s %7s\n", "rshm-trace --complete (ms, median of 5)", "base", "complete", "ratio");

    char *l1[] = {tr, "-c", "--", self, "--loop", "200000", NULL};
    char *l2[] = {tr, "-c", "--complete", "--", self, "--loop", "200000", NULL};
    pair(l1, l2, ROUNDS, &a, &b);
    row("200k preloaded shm calls: rshm-trace -c / --complete -c", a, b, 1.05);

    char *r1[] = {st, "-f", "-qq", "-e", "trace=ipc", "-o", "/dev/null", "--", self, "--raw", "20000", NULL};
    char *r2[] = {tr, "--complete", "-o", "/dev/null", "--", self, "--raw", "20000", NULL};
    pair(r1, r2, ROUNDS, &a, &b);
    row("20k raw shm syscalls: strace -f -e trace=ipc / --complete", a, b, 1.0);
    char *r3[] = {st, "-f", "-qq", "--seccomp-bpf", "-e", "trace=ipc", "-o", "/dev/null", "--", self, "--raw", "20000", NULL};
    pair(r3, r2, ROUNDS, &a, &b);
    row("20k raw shm syscalls: strace -f --seccomp-bpf / --complete", a, b, 1.0);
    char *r4[] = {self, "--raw", "20000", NULL};
    pair(r4, r2, ROUNDS, &a, &b);
    row("20k raw shm syscalls: untraced / --complete (the stops' cost)", a, b, 0);

    char *g1[] = {tr, "-c", "--", self, "--getppid", "1000000", NULL};
    char *g2[] = {tr, "-c", "--complete", "--", self, "--getppid", "1000000", NULL};
    pair(g1, g2, ROUNDS, &a, &b);
    row("1M getppid, no shm call: rshm-trace -c / --complete -c", a, b, 1.05);
    char *f1[] = {self, "--getppid", "1000000", NULL};
    char *f2[] = {self, "--getppid-filtered", "1000000", NULL};
    pair(f1, f2, ROUNDS, &a, &b);
    row("  the floor: untraced / an allow-all seccomp filter", a, b, 0);

    char *s1[] = {tr, "-c", "--", self, "--spawn", "200", NULL};
    char *s2[] = {tr, "-c", "--complete", "--", self, "--spawn", "200", NULL};
    pair(s1, s2, ROUNDS, &a, &b);
    row("200 fork+exec of /bin/true, traced: rshm-trace -c / --complete", a, b, 1.05);

    char *e1[] = {tr, "-c", "--", "/bin/true", NULL};
    char *e2[] = {tr, "-c", "--complete", "--", "/bin/true", NULL};
    pair(e1, e2, 21, &a, &b);
    row("a whole run of /bin/true: rshm-trace -c / --complete -c", a, b, 0);
    return 0;
}
