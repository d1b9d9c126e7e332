/* The C tests' shared pieces: CHECK, the closing "N passed, N failed" line, and a
 * guard that removes every segment a test made, also when a check fails. */
#ifndef RSHM_CHECK_H
#define RSHM_CHECK_H

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include <rshm.h>

static int check_passed, check_failed;

#define CHECK(cond, what)                                                          \
    do {                                                                           \
        if (cond) {                                                                \
            check_passed++;                                                        \
        } else {                                                                   \
            check_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s (errno %d: %s; last error: %s)\n",     \
                    __FILE__, __LINE__, what, errno, strerror(errno),              \
                    rshm_last_error());                                            \
        }                                                                          \
    } while (0)

/* errno and rshm_last_error() both as expected. */
#define CHECK_ERR(expr_ok, want_errno, want_text, what)                            \
    do {                                                                           \
        int ok_ = (expr_ok);                                                       \
        int e_ = errno;                                                            \
        CHECK(ok_, what ": return value");                                         \
        CHECK(e_ == (want_errno), what ": errno");                                 \
        CHECK(strstr(rshm_last_error(), (want_text)) != NULL, what ": message");   \
    } while (0)

/* Segments to remove at exit, whatever happened. */
static int guard_ids[256];
static int guard_n;

static void guard_cleanup(void) {
    for (int i = 0; i < guard_n; i++)
        shmctl(guard_ids[i], IPC_RMID, NULL);
    guard_n = 0;
}

__attribute__((unused)) static int guard(int shmid) {
    static int registered;
    if (!registered) {
        atexit(guard_cleanup);
        registered = 1;
    }
    if (shmid >= 0 && guard_n < 256)
        guard_ids[guard_n++] = shmid;
    return shmid;
}

/* Ends a test that hangs after `seconds`, removing the guarded segments first: a plain
 * alarm() would kill the process and leave them behind. Only async-signal-safe calls. */
__attribute__((unused)) static void guard_on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: the test hung (alarm); its segments are removed\n";
    for (int i = 0; i < guard_n; i++)
        shmctl(guard_ids[i], IPC_RMID, NULL);
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

__attribute__((unused)) static void guard_alarm(unsigned seconds) {
    signal(SIGALRM, guard_on_alarm);
    alarm(seconds);
}

/* A key no other live process uses: the pid and a counter. */
__attribute__((unused)) static key_t unique_key(void) {
    static int n;
    return (key_t)(0x40000000 | ((getpid() & 0x3fffff) << 8) | (++n & 0xff));
}

/* Writes `text` to the existing file `path` (a /proc/sys setting, say): 0, or -1. */
__attribute__((unused)) static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* This program's path, for re-executing itself. (Not "/proc/self/exe" itself: under
 * valgrind that is valgrind; readlink of it is the program's path.) */
__attribute__((unused)) static const char *self_path(void) {
    static char path[4096];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        path[n > 0 ? n : 0] = 0;
    }
    return path;
}

/* True under valgrind, whose shmat wrapper asks IPC_STAT first and turns the kernel's
 * EACCES (no read permission) into EINVAL, and picks shmat(NULL)'s address itself. */
__attribute__((unused)) static int under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

/* Runs argv[0] with argv, the RSHM_* settings cleared and then `env` (name, value, ...,
 * NULL) set, and `prepare` (if any) called in the child just before exec. Its standard
 * output goes to `out`, its standard error to `err` (both NUL-terminated, cut to fit).
 * Returns the wait status, or -1. */
__attribute__((unused)) static int spawn_capture(char *const argv[], const char *const *env,
                                                 void (*prepare)(void), char *out, size_t ocap,
                                                 char *err, size_t ecap) {
    int o[2], e[2];
    if (pipe(o) || pipe(e))
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(o[0]);
        close(e[0]);
        unsetenv("RSHM_LOG");
        unsetenv("RSHM_LOG_FILE");
        unsetenv("RSHM_LOG_FORMAT");
        unsetenv("RSHM_STRICT");
        for (int i = 0; env[i]; i += 2)
            setenv(env[i], env[i + 1], 1);
        if (prepare)
            prepare();
        execv(argv[0], argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < ocap && (n = read(o[0], out + got, ocap - 1 - got)) > 0)
        got += n;
    out[got] = 0;
    got = 0;
    while (got + 1 < ecap && (n = read(e[0], err + got, ecap - 1 - got)) > 0)
        got += n;
    err[got] = 0;
    close(o[0]);
    close(e[0]);
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return st;
}

static int check_done(void) {
    guard_cleanup();
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif
