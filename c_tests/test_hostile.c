/* A hostile host: rshm's calls made where a library is least welcome. Inside a signal
 * handler nothing on rshm's path may allocate or register an exit handler (glibc's
 * locks for both may be held by the interrupted code): a spy on malloc, calloc, realloc
 * and __cxa_atexit aborts the program if one is called from this test's handlers, with
 * RSHM_REPORT=1, with the first call of the process made in a handler, with a handler
 * that interrupts the main thread inside atexit(), and with librshm.so loaded by
 * dlopen (whose thread-locals glibc would allocate on first use). A child that shares
 * the parent's memory (clone with CLONE_VM) logs under its own pid and leaves the
 * parent's pid alone. Each case runs in a re-executed child. */
#define _GNU_SOURCE
#include "check.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if defined(__SANITIZE_ADDRESS__)
#define SPY 0 /* AddressSanitizer owns malloc: no spy of ours */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPY 0
#else
#define SPY 1
#endif
#else
#define SPY 1
#endif

static volatile sig_atomic_t in_handler;

__attribute__((unused)) static void spy_abort(const char *what) {
    static const char pre[] = "SPY: ";
    ssize_t r = write(2, pre, sizeof pre - 1);
    r += write(2, what, strlen(what));
    r += write(2, " called inside a signal handler\n", 32);
    (void)r;
    abort();
}

#if SPY
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n) {
    if (in_handler)
        spy_abort("malloc");
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
    if (in_handler)
        spy_abort("calloc");
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
    if (in_handler)
        spy_abort("realloc");
    return __libc_realloc(p, n);
}

/* atexit() in a program is __cxa_atexit underneath. The test's own atexit() call raises
 * the signal from inside it, as a signal arriving at that moment would. */
static volatile sig_atomic_t raise_inside_atexit;

int __cxa_atexit(void (*f)(void *), void *arg, void *dso) {
    static int (*real)(void (*)(void *), void *, void *);
    if (in_handler)
        spy_abort("__cxa_atexit");
    if (raise_inside_atexit) {
        raise_inside_atexit = 0;
        raise(SIGUSR1);
    }
    if (!real)
        real = (int (*)(void (*)(void *), void *, void *))dlsym(RTLD_NEXT, "__cxa_atexit");
    return real ? real(f, arg, dso) : -1;
}
#endif

/* A spy on opening /proc/self/maps: counts each time (a read of every mapping, some 30
 * times the cost of a shmdt). */
static volatile int maps_opens;

static int spy_open(const char *path, int flags, va_list ap) {
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
    if (path && !strcmp(path, "/proc/self/maps"))
        maps_opens++;
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int r = spy_open(path, flags, ap);
    va_end(ap);
    return r;
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int r = spy_open(path, flags, ap);
    va_end(ap);
    return r;
}

/* The four calls through pointers: the linked library, or one loaded by dlopen. */
static int (*get_)(key_t, size_t, int) = rshm_get;
static void *(*at_)(int, const void *, int) = rshm_at;
static int (*dt_)(const void *) = rshm_dt;
static int (*rmid_)(int) = rshm_rmid;
static const char *(*last_)(void) = rshm_last_error;

static volatile sig_atomic_t handler_bad, handler_runs;

/* A round of calls, one failure among them (its sentence read back), from a handler. */
static void on_usr1(int sig) {
    (void)sig;
    int saved = errno;
    in_handler = 1;
    int id = get_(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *p = id < 0 ? (void *)-1 : at_(id, NULL, 0);
    int bad = id < 0 || p == (void *)-1 || dt_(p) != 0 || rmid_(id) != 0;
    bad += dt_(p) != -1 || errno != EINVAL;
    const char *why = last_();
    bad += why == NULL || strstr(why, "detached") == NULL;
    in_handler = 0;
    handler_bad += bad;
    handler_runs++;
    errno = saved;
}

static void *thread_raises(void *unused) {
    (void)unused;
    pthread_kill(pthread_self(), SIGUSR1);
    return NULL;
}

static void nothing(void) {}

static int child(const char *mode) {
    alarm(20);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    if (!strcmp(mode, "first-in-handler")) {
        /* RSHM_REPORT=1: the first call of the process is a handler's. */
        raise(SIGUSR1);
        printf("%d %d\n", (int)handler_runs, (int)handler_bad);
        return 0;
    }
    if (!strcmp(mode, "inside-atexit")) {
#if SPY
        raise_inside_atexit = 1;
#endif
        atexit(nothing);
        if (handler_runs == 0)
            raise(SIGUSR1);
        printf("%d %d\n", (int)handler_runs, (int)handler_bad);
        return 0;
    }
    if (!strcmp(mode, "dlopen")) {
        const char *so = getenv("RSHM_TEST_SHARED_LIB");
        void *h = so ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (!h) {
            printf("no dlopen: %s\n", so ? dlerror() : "RSHM_TEST_SHARED_LIB unset");
            return 0;
        }
        get_ = (int (*)(key_t, size_t, int))dlsym(h, "rshm_get");
        at_ = (void *(*)(int, const void *, int))dlsym(h, "rshm_at");
        dt_ = (int (*)(const void *))dlsym(h, "rshm_dt");
        rmid_ = (int (*)(int))dlsym(h, "rshm_rmid");
        last_ = (const char *(*)(void))dlsym(h, "rshm_last_error");
        if (!get_ || !at_ || !dt_ || !rmid_ || !last_) {
            printf("no symbols\n");
            return 0;
        }
        /* The main thread's first touch of the library is in a handler, and so is a new
         * thread's. */
        raise(SIGUSR1);
        pthread_t t;
        pthread_create(&t, NULL, thread_raises, NULL);
        pthread_join(t, NULL);
        printf("%d %d\n", (int)handler_runs, (int)handler_bad);
        return 0;
    }
    return 2;
}

/* ---- CLONE_VM ---- */

static int clone_child(void *unused) {
    (void)unused;
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    return id < 0 || rshm_rmid(id) != 0;
}

static int clone_vm_mode(void) {
    alarm(20);
    size_t sz = 256 * 1024;
    char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return 2;
    pid_t kid = clone(clone_child, stack + sz, CLONE_VM | SIGCHLD, NULL);
    int st = -1;
    if (kid < 0 || waitpid(kid, &st, 0) != kid)
        return 3;
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int bad = id < 0 || rshm_rmid(id) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    printf("%s %d %d\n", bad ? "bad" : "ok", (int)getpid(), (int)kid);
    munmap(stack, sz);
    return 0;
}

/* ---- vfork and posix_spawn ---- */

extern char **environ;

static int spawned_mode(void) {
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    return id < 0 || rshm_rmid(id) != 0;
}

/* A round of calls, a child by posix_spawn and one by vfork (each exec'd into "spawned",
 * which makes two calls), another round. Prints "ok PARENT SPAWNED VFORKED". */
static int spawn_mode(const char *self_exe) {
    alarm(20);
    int bad = spawned_mode();
    char *argv[] = {(char *)self_exe, "child", "spawned", NULL};
    pid_t a = -1, b;
    bad += posix_spawn(&a, self_exe, NULL, NULL, argv, environ) != 0;
    b = vfork();
    if (b == 0) {
        execve(self_exe, argv, environ);
        _exit(127);
    }
    int st;
    bad += a < 0 || waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    bad += b < 0 || waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    bad += spawned_mode();
    printf("%s %d %d %d\n", bad ? "bad" : "ok", (int)getpid(), (int)a, (int)b);
    return 0;
}

/* ---- the parent ---- */

static char self[PATH_MAX];

static int run(const char *mode, const char *const *env, char *out, size_t ocap, char *err, size_t ecap) {
    char *argv[] = {self, "child", (char *)mode, NULL};
    return spawn_capture(argv, env, NULL, out, ocap, err, ecap);
}

static int pid_of_line(const char *line) {
    /* "rshm <ts> <pid>/<tid> ..." */
    const char *sp = strchr(line, ' ');
    sp = sp ? strchr(sp + 1, ' ') : NULL;
    return sp ? atoi(sp + 1) : -1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child")) {
        if (!strcmp(argv[2], "spawned"))
            return spawned_mode();
        if (!strcmp(argv[2], "spawn"))
            return spawn_mode(self_path());
        return !strcmp(argv[2], "clonevm") ? clone_vm_mode() : child(argv[2]);
    }
    snprintf(self, sizeof self, "%s", self_path());
    char out[4096], err[16384];
    int st;

    const char *report[] = {"RSHM_REPORT", "1", "RSHM_LOG", "info", NULL};
    st = run("first-in-handler", report, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "1 0\n"),
          "RSHM_REPORT=1, the first call in a signal handler: no allocation, no atexit, every result right");
    CHECK(!strstr(err, "SPY"), "the spy saw nothing");
    CHECK(strstr(err, " report: ") != NULL, "and the exit report still comes, at exit");

    st = run("inside-atexit", report, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "1 0\n"),
          "a handler's first call while the main thread is inside atexit(): no deadlock, no abort");

    if (getenv("RSHM_TEST_SHARED_LIB")) {
        const char *quiet[] = {"RSHM_LOG", "info", NULL};
        st = run("dlopen", quiet, out, sizeof out, err, sizeof err);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "2 0\n"),
              "librshm.so loaded by dlopen, first touched in handlers of two threads: no allocation");
        CHECK(!strstr(err, "SPY"), "the spy saw nothing (dlopen)");
    }

    /* An attachment made by plain shmat, detached by rshm_dt: the kernel detaches it, rshm
     * says it did not see it made, and reads no /proc/self/maps to find out more. */
    int raw_id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *raw = raw_id < 0 ? (void *)-1 : shmat(raw_id, NULL, 0);
    CHECK(raw != (void *)-1, "a plain shmat attachment");
    size_t before = rshm_attachment_count();
    int opens = maps_opens;
    CHECK(rshm_dt(raw) == 0, "rshm_dt detaches an attachment rshm never saw");
    CHECK(maps_opens == opens, "without reading /proc/self/maps");
    CHECK(rshm_attachment_count() == before, "and the registry's count is untouched");
    struct shmid_ds ds;
    CHECK(shmctl(raw_id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0, "the kernel agrees: detached");
    shmctl(raw_id, IPC_RMID, NULL);
    /* The spy sees the maps read where there is one: a failed detach's explanation. */
    opens = maps_opens;
    CHECK(rshm_dt((void *)0x10000) == -1 && errno == EINVAL, "a detach of an address nothing attached fails");
    CHECK(maps_opens == opens + 1, "and its explanation reads the maps once (the spy works)");

    char log[] = "/tmp/rshm-hostile-XXXXXX";
    int fd = mkstemp(log);
    close(fd);
    const char *clonelog[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", log, NULL};
    st = run("clonevm", clonelog, out, sizeof out, err, sizeof err);
    int parent = 0, kid = 0;
    char word[8] = "";
    sscanf(out, "%7s %d %d", word, &parent, &kid);
    CHECK(WIFEXITED(st) && !strcmp(word, "ok"), "a CLONE_VM child's calls and the parent's: real results");
    FILE *fp = fopen(log, "r");
    char line[1024];
    int lines = 0, kid_lines = 0, parent_lines = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        lines++;
        int p = pid_of_line(line);
        kid_lines += p == kid && lines <= 2;
        parent_lines += p == parent && lines > 2;
    }
    if (fp)
        fclose(fp);
    unlink(log);
    CHECK(lines == 4 && kid_lines == 2, "the CLONE_VM child's two lines carry its own pid");
    CHECK(parent_lines == 2, "and the parent's later lines carry the parent's pid");

    /* posix_spawn and vfork children (CLONE_VM|CLONE_VFORK, then exec). */
    strcpy(log, "/tmp/rshm-hostile-XXXXXX");
    fd = mkstemp(log);
    CHECK(fd >= 0, "a second log file");
    close(fd);
    st = run("spawn", clonelog, out, sizeof out, err, sizeof err);
    int spawned = 0, vforked = 0;
    word[0] = 0;
    sscanf(out, "%7s %d %d %d", word, &parent, &spawned, &vforked);
    CHECK(WIFEXITED(st) && !strcmp(word, "ok"), "posix_spawn and vfork children: every call's real result");
    fp = fopen(log, "r");
    int by_parent = 0, by_spawned = 0, by_vforked = 0, others = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        int p = pid_of_line(line);
        by_parent += p == parent;
        by_spawned += p == spawned;
        by_vforked += p == vforked;
        others += p != parent && p != spawned && p != vforked;
    }
    if (fp)
        fclose(fp);
    unlink(log);
    CHECK(by_parent == 4 && by_spawned == 2 && by_vforked == 2 && others == 0,
          "each process's lines carry its own pid (4 the parent's, 2 each child's)");
    return check_done();
}
