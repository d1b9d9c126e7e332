/* make bench: what rshm costs over raw libc, measured as users call it.
 *
 * Every row alternates blocks of the raw libc call and the measured variant in the same
 * process (or, for the preload library and strace, alternating runs of the same loop) so
 * that machine drift cancels. An in-process row is the median of IN_PROCS processes, each
 * the median of IN_ROUNDS rounds; a row of processes is the median of PROC_ROUNDS rounds. The
 * configuration is read once per process, so each rshm setting runs in a re-executed copy
 * of this program. Ratios > 1 mean slower than raw. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <rshm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 31       /* rounds of the two-thread row */
#define PROC_ROUNDS 101 /* rounds of the preload rows, which run separate processes */
#define MAX_ROUNDS 256  /* the most rounds a row may take (the arrays' size) */
/* Loading the preload library: EXEC_ROUNDS rounds of 4 execs of /bin/true (2 plain, 2
 * with the preload); LOAD_ROUNDS alternating processes of CHILDREN fork-and-exit children
 * each; STATUS_RUNS processes each way for the memory footprint. */
#define EXEC_ROUNDS 255
#define LOAD_ROUNDS 31
#define CHILDREN 101
#define STATUS_RUNS 101
_Static_assert(EXEC_ROUNDS <= MAX_ROUNDS && CHILDREN <= MAX_ROUNDS && STATUS_RUNS <= MAX_ROUNDS && LOAD_ROUNDS <= PROC_ROUNDS, "array sizes");
/* An in-process row: IN_ROUNDS rounds of short blocks (BLOCK pairs measured, BLOCK raw)
 * in each of IN_PROCS processes. The blocks are short on purpose. The kernel's side of
 * a pair is lumpy (a segment's memory is freed in RCU batches; a block that catches a
 * batch can cost twice the next one), and machine noise comes in bursts: short blocks
 * keep most rounds clear of both, and the median drops the rounds that are not. With
 * blocks of 300-400 pairs and 41 rounds, a null wrapper (libc behind a function of its
 * own) measured anywhere from 0.93x to 1.04x; with 60 and 201 rounds, 0.994x to 1.006x. */
#define BLOCK 60
#define IN_ROUNDS 201
#define IN_PROCS 11

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    double tmp[MAX_ROUNDS];
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void die(const char *what) {
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- the pairs, raw and through rshm ---- */

static int seg;

static void at_raw(int n) {
    for (int i = 0; i < n; i++) {
        void *p = shmat(seg, NULL, 0);
        if (p == (void *)-1 || shmdt(p) != 0)
            die("raw shmat/shmdt");
    }
}

static void at_rshm(int n) {
    for (int i = 0; i < n; i++) {
        void *p = rshm_at(seg, NULL, 0);
        if (p == (void *)-1 || rshm_dt(p) != 0)
            die("rshm_at/rshm_dt");
    }
}

/* The same pairs as raw system calls, which no interposer sees (syscall(2), as glibc's
 * wrappers make them): the base of the preload library's in-process row. */
static void at_sys(int n) {
    for (int i = 0; i < n; i++) {
        long p = syscall(SYS_shmat, seg, NULL, 0);
        if (p == -1 || syscall(SYS_shmdt, (void *)p) != 0)
            die("shmat/shmdt system calls");
    }
}

static void get_raw(int n) {
    for (int i = 0; i < n; i++) {
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0 || shmctl(id, IPC_RMID, NULL) != 0)
            die("raw shmget/IPC_RMID");
    }
}

static void get_rshm(int n) {
    for (int i = 0; i < n; i++) {
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0 || rshm_rmid(id) != 0)
            die("rshm_get/rshm_rmid");
    }
}

/* Alternates blocks in ABBA order, the roles swapped every other round (raw, measured,
 * measured, raw; then measured, raw, raw, measured), so that neither variant always runs
 * in the middle, after the other one's code and kernel work. Prints "raw_ns measured_ns
 * ratio" (medians; the ratio is the median of the per-round ratios). */
static void alternate(void (*raw)(int), void (*measured)(int), int n, int rounds) {
    double r[MAX_ROUNDS], m[MAX_ROUNDS], q[MAX_ROUNDS];
    raw(10 * n); /* warm up both paths */
    measured(10 * n);
    for (int i = 0; i < rounds; i++) {
        void (*outer)(int) = i % 2 ? measured : raw;
        void (*inner)(int) = i % 2 ? raw : measured;
        double t0 = now_ns();
        outer(n / 2);
        double t1 = now_ns();
        inner(n);
        double t2 = now_ns();
        outer(n / 2);
        double t3 = now_ns();
        double edges = ((t1 - t0) + (t3 - t2)) / n, middle = (t2 - t1) / n;
        r[i] = i % 2 ? middle : edges;
        m[i] = i % 2 ? edges : middle;
        q[i] = m[i] / r[i];
    }
    printf("%.1f %.1f %.4f\n", median(r, rounds), median(m, rounds), median(q, rounds));
}

/* ---- detaches alone ---- */

/* Detaching `n` attachments of `seg`, made beforehand (untimed) by plain shmat or by
 * rshm_at, with shmdt or rshm_dt, first to last or last to first. ns per detach. */
static double detach_block(int n, int made_by_rshm, int by_rshm, int reverse) {
    static void *p[60000];
    for (int i = 0; i < n; i++)
        if ((p[i] = made_by_rshm ? rshm_at(seg, NULL, 0) : shmat(seg, NULL, 0)) == (void *)-1)
            die("attaching for a detach row");
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        void *a = p[reverse ? n - 1 - i : i];
        if ((by_rshm ? rshm_dt(a) : shmdt(a)) != 0)
            die("detaching");
    }
    return (now_ns() - t0) / n;
}

/* "foreign": rshm_dt of addresses rshm never saw (plain shmat) against shmdt, in blocks of
 * BLOCK. "many": 60,000 attachments made by rshm_at and detached last to first by rshm_dt,
 * against 60,000 by shmat and shmdt. Prints "raw_ns measured_ns ratio" (medians). */
static int mode_detach(const char *which) {
    seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (seg < 0)
        die("shmget");
    int many = !strcmp(which, "many");
    int n = many ? 60000 : BLOCK, rounds = many ? 5 : IN_ROUNDS;
    double r[MAX_ROUNDS], m[MAX_ROUNDS], q[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++) {
        int rshm_first = i % 2;
        double a, b;
        if (rshm_first) {
            b = detach_block(n, many, 1, many);
            a = detach_block(n, 0, 0, many);
        } else {
            a = detach_block(n, 0, 0, many);
            b = detach_block(n, many, 1, many);
        }
        r[i] = a;
        m[i] = b;
        q[i] = b / a;
    }
    shmctl(seg, IPC_RMID, NULL);
    printf("%.1f %.1f %.4f\n", median(r, rounds), median(m, rounds), median(q, rounds));
    return 0;
}

/* ---- child modes ---- */

static int mode_inproc(const char *pair, int held) {
    seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (seg < 0)
        die("shmget");
    void **keep = calloc(held ? held : 1, sizeof *keep);
    int hold = held ? shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) : -1;
    for (int i = 0; i < held; i++)
        if ((keep[i] = rshm_at(hold, NULL, 0)) == (void *)-1)
            die("holding attachments");
    if (!strcmp(pair, "at"))
        alternate(at_raw, at_rshm, BLOCK, IN_ROUNDS);
    else
        alternate(get_raw, get_rshm, BLOCK, IN_ROUNDS);
    for (int i = 0; i < held; i++)
        rshm_dt(keep[i]);
    if (hold >= 0)
        shmctl(hold, IPC_RMID, NULL);
    shmctl(seg, IPC_RMID, NULL);
    return 0;
}

/* "interposed": run under the preload library, libc's shmat+shmdt (which it interposes)
 * alternated in this one process with the same pairs as raw system calls (which it does
 * not see). Both sides share one address space, so the row is what a call costs through
 * the library, free of what merely loading it changes (one library more, a few mappings
 * more, a kernel mapping tree of another shape, which moves the kernel's cost of a pair
 * run in another process by a few percent either way; see docs/BENCHMARKS.md). */
static int mode_interposed(void) {
    seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (seg < 0)
        die("shmget");
    alternate(at_sys, at_raw, BLOCK, IN_ROUNDS);
    shmctl(seg, IPC_RMID, NULL);
    return 0;
}

/* A plain loop of raw pairs, for the preload library and strace: `n` pairs in blocks of
 * BLOCK; prints the median block's ns per pair (the blocks that catch a burst of machine
 * noise or an RCU batch are left out, as in the in-process rows). */
static int mode_loop(int n) {
    seg = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (seg < 0)
        die("shmget");
    at_raw(n / 10);
    int blocks = n / BLOCK < MAX_ROUNDS ? n / BLOCK : MAX_ROUNDS;
    double t[MAX_ROUNDS];
    for (int b = 0; b < blocks; b++) {
        double t0 = now_ns();
        at_raw(BLOCK);
        t[b] = (now_ns() - t0) / BLOCK;
    }
    shmctl(seg, IPC_RMID, NULL);
    printf("%.1f\n", median(t, blocks));
    return 0;
}

/* "children N": N fork-and-exit children, one after the other, each making the 4 calls
 * (shmget IPC_PRIVATE, shmat, shmdt, IPC_RMID) and leaving by exit(), so that the exit
 * path (destructors) runs as in a real program; the parent makes no call. Prints the
 * median child's ns from fork to the end of waitpid. Run plain and under the preload
 * library with RSHM_LOG=off. */
static int mode_children(int n) {
    double t[MAX_ROUNDS];
    n = n < MAX_ROUNDS ? n : MAX_ROUNDS;
    fflush(stdout);
    for (int i = -10; i < n; i++) { /* 10 warm-up children */
        double t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
            void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
            int ok = p != (void *)-1 && shmdt(p) == 0;
            ok = id >= 0 && shmctl(id, IPC_RMID, NULL) == 0 && ok;
            exit(ok ? 0 : 1);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("a child's calls");
        if (i >= 0)
            t[i] = now_ns() - t0;
    }
    printf("%.1f\n", median(t, n));
    return 0;
}

/* "status": this process's VmRSS and VmSize (kB), as /proc/self/status has them. */
static int mode_status(void) {
    FILE *f = fopen("/proc/self/status", "r");
    long rss = -1, size = -1;
    for (char line[256]; f && fgets(line, sizeof line, f);) {
        sscanf(line, "VmRSS: %ld", &rss);
        sscanf(line, "VmSize: %ld", &size);
    }
    if (!f || rss < 0 || size < 0)
        die("reading /proc/self/status");
    fclose(f);
    printf("%ld %ld\n", rss, size);
    return 0;
}

struct thread_arg {
    int id, n, use_rshm;
};

static void *thread_pairs(void *v) {
    struct thread_arg *a = v;
    for (int i = 0; i < a->n; i++) {
        void *p = a->use_rshm ? rshm_at(a->id, NULL, 0) : shmat(a->id, NULL, 0);
        if (p == (void *)-1 || (a->use_rshm ? rshm_dt(p) : shmdt(p)) != 0)
            die("thread pair");
    }
    return NULL;
}

static double two_threads(int ids[2], int n, int use_rshm) {
    pthread_t t[2];
    struct thread_arg a[2] = {{ids[0], n, use_rshm}, {ids[1], n, use_rshm}};
    double t0 = now_ns();
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_pairs, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return now_ns() - t0;
}

static int mode_threads(void) {
    int ids[2] = {shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)};
    double q[ROUNDS], r[ROUNDS], m[ROUNDS];
    int n = 2000;
    two_threads(ids, n / 4, 0);
    two_threads(ids, n / 4, 1);
    for (int i = 0; i < ROUNDS; i++) {
        double r1 = two_threads(ids, n / 2, 0);
        m[i] = two_threads(ids, n, 1) / (2.0 * n);
        r[i] = (r1 + two_threads(ids, n / 2, 0)) / (2.0 * n);
        q[i] = m[i] / r[i];
    }
    shmctl(ids[0], IPC_RMID, NULL);
    shmctl(ids[1], IPC_RMID, NULL);
    printf("%.1f %.1f %.4f\n", median(r, ROUNDS), median(m, ROUNDS), median(q, ROUNDS));
    return 0;
}

static int mode_memory(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    enum { N = 10000 };
    static void *keep[N];
    rshm_at(id, NULL, 0) == (void *)-1 ? die("attach") : (void)0;
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < N; i++)
        if ((keep[i] = rshm_at(id, NULL, 0)) == (void *)-1)
            die("attach");
    struct mallinfo2 after = mallinfo2();
    for (int i = 0; i < N; i++)
        rshm_dt(keep[i]);
    shmctl(id, IPC_RMID, NULL);
    printf("%.2f\n", ((double)after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) / N);
    return 0;
}

/* ---- the orchestrator ---- */

static char self[4096];

/* Runs this program with `args` and extra `env` (NULL-terminated name=value list), optionally
 * under `wrapper` (argv prefix); returns its first stdout line. */
static char *run(char *const *wrapper, const char *const *args, char *const *env, char *out, size_t cap) {
    int fds[2];
    if (pipe(fds))
        die("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        char *argv[32];
        int k = 0;
        for (int i = 0; wrapper && wrapper[i]; i++)
            argv[k++] = wrapper[i];
        argv[k++] = self;
        for (int i = 0; args[i]; i++)
            argv[k++] = (char *)args[i];
        argv[k] = NULL;
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    char junk[256];
    while (read(fds[0], junk, sizeof junk) > 0) {
    }
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    out[n > 0 ? n : 0] = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n <= 0) {
        fprintf(stderr, "bench: %s %s failed\n", wrapper ? wrapper[0] : self, args[0]);
        exit(1);
    }
    return out;
}

struct row {
    const char *name;
    double raw, measured, ratio;
};

static void print_row(const struct row *r) {
    printf("%-52s %10.1f %10.1f %8.3fx\n", r->name, r->raw, r->measured, r->ratio);
}

static struct row inproc_mode(const char *name, const char *mode, const char *pair, const char *held,
                              char *const *env) {
    char out[256];
    const char *args[] = {mode, pair, held, NULL};
    double r[IN_PROCS], m[IN_PROCS], q[IN_PROCS];
    for (int i = 0; i < IN_PROCS; i++)
        sscanf(run(NULL, args, env, out, sizeof out), "%lf %lf %lf", &r[i], &m[i], &q[i]);
    struct row row = {name, median(r, IN_PROCS), median(m, IN_PROCS), median(q, IN_PROCS)};
    print_row(&row);
    return row;
}

static struct row inproc(const char *name, const char *pair, const char *held, char *const *env) {
    return inproc_mode(name, "inproc", pair, held, env);
}

/* Alternating runs of this program with `args`: plain, then under `env`/`wrapper`. */
static struct row processes_of(const char *name, char *const *wrapper, char *const *env, const char *const *args,
                               int rounds) {
    char out[256];
    double r[PROC_ROUNDS], m[PROC_ROUNDS], q[PROC_ROUNDS];
    for (int i = 0; i < rounds; i++) {
        /* ABBA across rounds: odd rounds run the measured process first. */
        double a, b;
        if (i % 2) {
            b = atof(run(wrapper, args, env, out, sizeof out));
            a = atof(run(NULL, args, NULL, out, sizeof out));
        } else {
            a = atof(run(NULL, args, NULL, out, sizeof out));
            b = atof(run(wrapper, args, env, out, sizeof out));
        }
        r[i] = a;
        m[i] = b;
        q[i] = m[i] / r[i];
    }
    struct row row = {name, median(r, rounds), median(m, rounds), median(q, rounds)};
    print_row(&row);
    return row;
}

/* Alternating runs of the raw loop: plain, then under `env`/`wrapper`. */
static struct row processes(const char *name, char *const *wrapper, char *const *env, int n, int rounds) {
    char count[32];
    snprintf(count, sizeof count, "%d", n);
    const char *args[] = {"loop", count, NULL};
    return processes_of(name, wrapper, env, args, rounds);
}

/* ---- loading the preload library ---- */

static double exec_once(const char *prog, char *const *env) {
    double t0 = now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)prog, NULL};
        execve(prog, argv, env);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: running %s failed\n", prog);
        exit(1);
    }
    return now_ns() - t0;
}

/* Exec of `prog` (fork, execve, waitpid) with `plain` and with `env` as its whole
 * environment, alternating single runs in ABBA order (the roles swapped every other
 * round), EXEC_ROUNDS rounds after 20 warm-up pairs. ns an exec; the ratio is the median
 * of the per-round ratios. */
static struct row execs(const char *name, const char *prog, char *const *plain, char *const *env) {
    static double r[EXEC_ROUNDS], m[EXEC_ROUNDS], q[EXEC_ROUNDS];
    for (int i = 0; i < 20; i++) {
        exec_once(prog, plain);
        exec_once(prog, env);
    }
    for (int i = 0; i < EXEC_ROUNDS; i++) {
        char *const *outer = i % 2 ? env : plain, *const *inner = i % 2 ? plain : env;
        double a = exec_once(prog, outer);
        double b = exec_once(prog, inner) + exec_once(prog, inner);
        double c = exec_once(prog, outer);
        r[i] = (i % 2 ? b : a + c) / 2;
        m[i] = (i % 2 ? a + c : b) / 2;
        q[i] = m[i] / r[i];
    }
    struct row row = {name, median(r, EXEC_ROUNDS), median(m, EXEC_ROUNDS), median(q, EXEC_ROUNDS)};
    print_row(&row);
    return row;
}

/* VmRSS and VmSize (kB) of this program at the start of main, plain and with `env`
 * (the preload library loaded), medians of STATUS_RUNS processes each. Prints two rows,
 * the third column being what the preload adds; returns the VmRSS added. */
static double footprint(char *const *env) {
    char out[256];
    const char *args[] = {"status", NULL};
    double rss[2][STATUS_RUNS], size[2][STATUS_RUNS];
    for (int i = 0; i < STATUS_RUNS; i++)
        for (int k = 0; k < 2; k++)
            sscanf(run(NULL, args, k ? env : NULL, out, sizeof out), "%lf %lf", &rss[k][i], &size[k][i]);
    double r0 = median(rss[0], STATUS_RUNS), r1 = median(rss[1], STATUS_RUNS);
    double s0 = median(size[0], STATUS_RUNS), s1 = median(size[1], STATUS_RUNS);
    printf("%-52s %10.0f %10.0f %+8.0f kB\n", "VmRSS added by the preload (kB)", r0, r1, r1 - r0);
    printf("%-52s %10.0f %10.0f %+8.0f kB\n", "VmSize added by the preload (kB)", s0, s1, s1 - s0);
    return r1 - r0;
}

static int have(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static void target(const char *what, double value, const char *op, double limit) {
    int met = !strcmp(op, "<=") ? value <= limit : value >= limit;
    printf("target: %-58s %8.3f %s %-6g %s\n", what, value, op, limit, met ? "met" : "NOT MET");
}

/* "load": the preload library's rows alone (its calls with the log off, and the three rows
 * of loading it), with their targets: a quicker loop for work on the preload library;
 * `make bench` runs them among the others. */
static int mode_load(const char *preload) {
    if (!preload || access(preload, R_OK) != 0) {
        fprintf(stderr, "bench load: set RSHM_BENCH_PRELOAD to the preload library\n");
        return 2;
    }
    if (readlink("/proc/self/exe", self, sizeof self - 1) < 0)
        die("readlink");
    static char ld[4200];
    snprintf(ld, sizeof ld, "LD_PRELOAD=%s", preload);
    char *off[] = {ld, "RSHM_LOG=off", NULL};
    char *plain[] = {"RSHM_LOG=off", NULL};
    struct row pre_in = inproc_mode("shmat+shmdt, preload, RSHM_LOG=off (one process)", "interposed", NULL, NULL, off);
    processes("shmat+shmdt, preload, RSHM_LOG=off (processes)", NULL, off, 6000, PROC_ROUNDS);
    struct row load_exec = execs("exec of /bin/true, preload loaded (ns an exec)", "/bin/true", plain, off);
    char nchildren[32];
    snprintf(nchildren, sizeof nchildren, "%d", CHILDREN);
    const char *cargs[] = {"children", nchildren, NULL};
    struct row load_child =
        processes_of("fork+exit child with 4 calls, logging off, preload", NULL, off, cargs, LOAD_ROUNDS);
    double load_rss = footprint(off);
    target("preload, RSHM_LOG=off, one process (ratio to raw)", pre_in.ratio, "<=", 1.03);
    target("exec of /bin/true, preload loaded (ratio)", load_exec.ratio, "<=", 1.10);
    target("fork+exit child with 4 calls, logging off, preload (ratio)", load_child.ratio, "<=", 1.05);
    target("VmRSS added by the preload (kB)", load_rss, "<=", 100);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "inproc"))
        return mode_inproc(argv[2], argc > 3 ? atoi(argv[3]) : 0);
    if (argc >= 3 && !strcmp(argv[1], "detach"))
        return mode_detach(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "loop"))
        return mode_loop(atoi(argv[2]));
    if (argc >= 2 && !strcmp(argv[1], "threads"))
        return mode_threads();
    if (argc >= 2 && !strcmp(argv[1], "memory"))
        return mode_memory();
    if (argc >= 3 && !strcmp(argv[1], "children"))
        return mode_children(atoi(argv[2]));
    if (argc >= 2 && !strcmp(argv[1], "status"))
        return mode_status();
    if (argc >= 2 && !strcmp(argv[1], "interposed"))
        return mode_interposed();

    const char *preload = getenv("RSHM_BENCH_PRELOAD");
    if (argc >= 2 && !strcmp(argv[1], "load"))
        return mode_load(preload);
    if (readlink("/proc/self/exe", self, sizeof self - 1) < 0)
        die("readlink");
    char dir[] = "/tmp/rshm-bench-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    static char text_file[256], json_file[256], pre_file[256], strace_file[256];
    snprintf(text_file, sizeof text_file, "RSHM_LOG_FILE=%s/text.log", dir);
    snprintf(json_file, sizeof json_file, "RSHM_LOG_FILE=%s/json.log", dir);
    snprintf(pre_file, sizeof pre_file, "RSHM_LOG_FILE=%s/preload.log", dir);
    snprintf(strace_file, sizeof strace_file, "%s/strace.log", dir);
    char *defaults[] = {"RSHM_LOG=error", NULL}; /* the library's default */
    char *text[] = {"RSHM_LOG=info", "RSHM_LOG_FORMAT=text", text_file, NULL};
    char *json[] = {"RSHM_LOG=info", "RSHM_LOG_FORMAT=json", json_file, NULL};

    char cpu[256] = "unknown cpu";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    for (char line[512]; ci && fgets(line, sizeof line, ci);)
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    if (ci)
        fclose(ci);
    printf("machine: %s, %ld cpus\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-52s %10s %10s %9s\n", "row (ns per pair; medians, docs/BENCHMARKS.md)", "raw", "measured", "ratio");
    struct row at = inproc("shmat+shmdt, rshm default settings", "at", "0", defaults);
    struct row get = inproc("shmget(IPC_PRIVATE)+IPC_RMID, rshm default settings", "get", "0", defaults);
    inproc("shmat+shmdt, RSHM_LOG=info text to a file", "at", "0", text);
    inproc("shmget+IPC_RMID, RSHM_LOG=info text to a file", "get", "0", text);
    struct row at_json = inproc("shmat+shmdt, RSHM_LOG=info JSON to a file", "at", "0", json);
    struct row get_json = inproc("shmget+IPC_RMID, RSHM_LOG=info JSON to a file", "get", "0", json);
    inproc("shmat+shmdt, default, 10 live attachments held", "at", "10", defaults);
    inproc("shmat+shmdt, default, 1,000 live attachments held", "at", "1000", defaults);
    struct row held = inproc("shmat+shmdt, default, 10,000 live attachments held", "at", "10000", defaults);

    char out[256];
    const char *targs[] = {"threads", NULL};
    struct row foreign = inproc_mode("shmdt of an address rshm never saw (ns a detach)", "detach", "foreign",
                                     NULL, defaults);
    struct row many = inproc_mode("60,000 attachments detached last to first", "detach", "many", NULL, defaults);
    struct row threads = {"two threads, shmat+shmdt each, rshm default", 0, 0, 0};
    sscanf(run(NULL, targs, defaults, out, sizeof out), "%lf %lf %lf", &threads.raw, &threads.measured,
           &threads.ratio);
    print_row(&threads);

    struct row pre_in = {0}, pre_json = {0}, strace = {0}, load_exec = {0}, load_child = {0};
    double load_rss = 0;
    int have_preload = preload && access(preload, R_OK) == 0;
    if (have_preload) {
        static char ld[4200];
        snprintf(ld, sizeof ld, "LD_PRELOAD=%s", preload);
        char *off[] = {ld, "RSHM_LOG=off", NULL};
        char *pjson[] = {ld, "RSHM_LOG=info", "RSHM_LOG_FORMAT=json", pre_file, NULL};
        pre_in = inproc_mode("shmat+shmdt, preload, RSHM_LOG=off (one process)", "interposed", NULL, NULL, off);
        processes("shmat+shmdt, preload, RSHM_LOG=off (processes)", NULL, off, 6000, PROC_ROUNDS);
        pre_json = processes("shmat+shmdt, preload, JSON to a file (processes)", NULL, pjson, 6000, PROC_ROUNDS);
        char *plain[] = {"RSHM_LOG=off", NULL};
        load_exec = execs("exec of /bin/true, preload loaded (ns an exec)", "/bin/true", plain, off);
        char nchildren[32];
        snprintf(nchildren, sizeof nchildren, "%d", CHILDREN);
        const char *cargs[] = {"children", nchildren, NULL};
        load_child = processes_of("fork+exit child with 4 calls, logging off, preload", NULL, off, cargs, LOAD_ROUNDS);
        load_rss = footprint(off);
    } else {
        printf("%-52s (set RSHM_BENCH_PRELOAD to the preload library)\n", "preload rows skipped");
    }
    if (have("strace")) {
        char *wrap[] = {"strace", "-f", "-qq", "-e", "trace=ipc", "-o", strace_file, NULL};
        strace = processes("shmat+shmdt, strace -f -e trace=ipc -o FILE", wrap, NULL, 1500, 15);
    } else {
        printf("%-52s (strace is not installed)\n", "strace row skipped");
    }
    const char *margs[] = {"memory", NULL};
    double bytes = atof(run(NULL, margs, defaults, out, sizeof out));
    printf("%-52s %10.2f bytes\n", "heap per live attachment (mallinfo2, 10,000 held)", bytes);

    printf("\n");
    target("rshm default, shmat+shmdt (ratio to raw)", at.ratio, "<=", 1.03);
    target("rshm default, shmget+IPC_RMID (ratio to raw)", get.ratio, "<=", 1.03);
    target("10,000 live attachments, shmat+shmdt (ratio to raw)", held.ratio, "<=", 1.03);
    target("JSON logging to a file, shmat+shmdt (ratio to raw)", at_json.ratio, "<=", 1.6);
    target("JSON logging to a file, shmget+IPC_RMID (ratio to raw)", get_json.ratio, "<=", 1.6);
    if (have_preload) {
        target("preload, RSHM_LOG=off, one process (ratio to raw)", pre_in.ratio, "<=", 1.03);
        target("exec of /bin/true, preload loaded (ratio)", load_exec.ratio, "<=", 1.10);
        target("fork+exit child with 4 calls, logging off, preload (ratio)", load_child.ratio, "<=", 1.05);
        target("VmRSS added by the preload (kB)", load_rss, "<=", 100);
    }
    if (have_preload && strace.raw > 0) {
        double pre_cost = pre_json.measured - pre_json.raw, strace_cost = strace.measured - strace.raw;
        target("strace's added cost / preload JSON's added cost", strace_cost / (pre_cost > 1 ? pre_cost : 1), ">=",
               5);
    }
    target("two threads (throughput ratio to raw)", threads.ratio, "<=", 1.10);
    target("detach of an address rshm never saw (ratio to shmdt)", foreign.ratio, "<=", 3);
    target("60,000 attachments detached in reverse (ratio to shmdt)", many.ratio, "<=", 2);
    target("heap bytes per live attachment", bytes, "<=", 64);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
