/* Faults in the log sink never change a call's result: a full disk (/dev/full), a log
 * file that cannot be created, the log fd closed by the program (rshm opens its file
 * again), standard error a closed pipe (no SIGPIPE may reach the program). rshm says once,
 * on standard error, that logging failed, and at exit how many lines it dropped. Each
 * case runs in a re-executed child (the configuration is per process). */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

/* The child: a full round of calls; prints "ok" if every result was the real one. */
static int child(const char *mode) {
    if (!strcmp(mode, "closefd")) {
        /* The first call opens the log; then the program closes every fd rshm holds. */
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        char link[64], target[PATH_MAX];
        for (int fd = 3; fd < 1024; fd++) {
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0 && (target[n] = 0, strstr(target, "rshm-logfail")))
                close(fd);
        }
        rshm_rmid(id);
    }
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        void *p = id < 0 ? (void *)-1 : rshm_at(id, NULL, 0);
        bad += p == (void *)-1 || rshm_dt(p) != 0 || rshm_rmid(id) != 0;
        errno = 0;
        bad += rshm_dt(p) != -1 || errno != EINVAL; /* a failure, logged too */
    }
    printf(bad ? "bad\n" : "ok\n");
    return 0;
}

/* Gives the child, as its standard error, a pipe whose reader is gone. */
static void closed_pipe_as_stderr(void) {
    int p[2];
    if (pipe(p) == 0) {
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
    }
}

/* Runs this program as `child MODE` with `env`. */
static int run(const char *mode, const char *const *env, int closed_stderr, char *out, size_t ocap, char *err,
               size_t ecap) {
    char *argv[] = {(char *)self_path(), "child", (char *)mode, NULL};
    return spawn_capture(argv, env, closed_stderr ? closed_pipe_as_stderr : NULL, out, ocap, err, ecap);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child(argv[2]);
    char out[256], err[8192];
    int st;

    const char *full[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", "/dev/full", NULL};
    st = run("full", full, 0, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "ok\n"), "disk full: every call returns its real result");
    CHECK(count(err, "rshm: writing the log failed (ENOSPC); lines are dropped and counted\n") == 1,
          "disk full: said once");
    CHECK(count(err, "rshm: 15 log line(s) were dropped in this process (the log refused them, or could not take them within 50 ms)\n") == 1 &&
              count(err, "rshm") == 2,
          "disk full: the 15 dropped lines counted at exit, and nothing else said");

    const char *nodir[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", "/nonexistent-rshm-dir/log", NULL};
    st = run("nodir", nodir, 0, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "log file cannot be created: real results");
    CHECK(!strcmp(err, "rshm: cannot open log file /nonexistent-rshm-dir/log: ENOENT; logging is off\n"),
          "log file cannot be created: said once, with the name and errno");

    char path[] = "/tmp/rshm-logfail-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    const char *closefd[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    st = run("closefd", closefd, 0, out, sizeof out, err, sizeof err);
    char text[16384] = {0};
    int lf = open(path, O_RDONLY);
    ssize_t got = lf >= 0 ? read(lf, text, sizeof text - 1) : -1;
    if (lf >= 0)
        close(lf);
    unlink(path);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "log fd closed by the program: real results");
    CHECK(got > 0 && count(text, "\n") == 17 && count(text, " rshm_rmid(") == 4,
          "log fd closed: rshm opened its file again and lost no line (2 before the close, 15 after)");
    CHECK(count(err, "rshm") == 0, "log fd closed: nothing to say on standard error");

    const char *toerr[] = {"RSHM_LOG", "info", NULL};
    st = run("pipe", toerr, 1, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stderr a closed pipe: no SIGPIPE killed the program");
    CHECK(!strcmp(out, "ok\n"), "stderr a closed pipe: real results");

    /* The program's own SIGPIPE disposition and pending set are left as they were. */
    struct sigaction sa;
    CHECK(sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL, "SIGPIPE still default here");
    return check_done();
}
