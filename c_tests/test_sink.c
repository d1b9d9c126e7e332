/* The log sink never harms the program: opening a FIFO with no reader does not block, a
 * full pipe costs a bounded wait and the lost lines are counted in the next line that
 * gets through, SIGPIPE never reaches the program whatever its standard error becomes,
 * rshm never writes to or closes a descriptor the program reused, a daemon that closes
 * every descriptor keeps its trace, a line is whole in the file or absent, the log file's
 * name is taken byte for byte (and refused whole when too long), and RSHM_STRICT and
 * RSHM_REPORT take yes/no words in any case. Each case runs in a re-executed child: the
 * configuration is read once per process, in the library's constructor. */
#define _GNU_SOURCE
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

static char self[PATH_MAX];
static char dir[] = "/tmp/rshm-sink-XXXXXX";

/* One round of logged calls: get, attach, detach, remove (4 lines at level info). */
static int round_trip(void) {
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 1;
    void *p = rshm_at(id, NULL, 0);
    int bad = p == (void *)-1 || rshm_dt(p) != 0;
    return bad + (rshm_rmid(id) != 0);
}

static int rounds(int n) {
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += round_trip();
    return bad;
}

/* The descriptor this process holds on a file whose name contains `part`, or -1. */
static int fd_of(const char *part) {
    char link[64], target[PATH_MAX];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0 && (target[n] = 0, strstr(target, part)))
            return fd;
    }
    return -1;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static ssize_t slurp(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
        got += n;
    buf[got] = 0;
    close(fd);
    return got;
}

/* Every line of `text` is a whole rshm text line: "rshm " ... "]\n" or a report line. */
static int whole_lines(const char *text) {
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl || strncmp(p, "rshm ", 5))
            return 0;
        if (nl[-1] != ']' && strncmp(nl - 6, " lost)", 6) && !strstr(p, " report: "))
            return 0;
        p = nl + 1;
    }
    return 1;
}

/* ---- the children ---- */

static int child(const char *mode) {
    alarm(20); /* a hang is a failure, not a stuck test run */
    if (!strcmp(mode, "rounds")) {
        printf(rounds(3) ? "bad\n" : "ok\n");
        return 0;
    }
    if (!strcmp(mode, "sigpipe")) {
        /* Standard error starts as a file, then becomes a pipe nobody reads. */
        int bad = rounds(1);
        int p[2];
        if (pipe(p))
            return 2;
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        bad += rounds(2);
        printf(bad ? "bad\n" : "ok\n");
        return 0;
    }
    if (!strcmp(mode, "fill")) {
        /* Standard error is a one-page pipe this process reads only later. */
        int p[2];
        if (pipe(p) || fcntl(p[0], F_SETPIPE_SZ, 4096) < 0)
            return 2;
        dup2(p[1], 2);
        int bad = rounds(30); /* 120 lines of about 120 bytes: most cannot fit */
        char buf[65536];
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        while (read(p[0], buf, sizeof buf) > 0) {
        }
        bad += round_trip();
        ssize_t n = read(p[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        /* The first line after the drain says how many went missing. */
        printf("%s %d %s", bad ? "bad" : "ok", (int)n, buf);
        return 0;
    }
    if (!strcmp(mode, "pfork")) {
        /* A child forked with %p in the log name: the parent's log descriptor number now
         * holds the child's own data file, which must get no log line and stay open. */
        int bad = round_trip();
        int logfd = fd_of("/log.");
        if (logfd < 0)
            return 3;
        pid_t kid = fork();
        if (kid == 0) {
            char data[PATH_MAX];
            snprintf(data, sizeof data, "%s/data", dir);
            int d = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(d, logfd); /* closes rshm's inherited copy, as a program may */
            close(d);
            int kbad = rounds(2);
            kbad += write(logfd, "data\n", 5) != 5; /* still the child's, still open */
            _exit(kbad ? 1 : 0);
        }
        int st;
        waitpid(kid, &st, 0);
        bad += round_trip();
        printf("%s %d\n", bad ? "bad" : "ok", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
    }
    if (!strcmp(mode, "lowfd")) {
        /* RLIMIT_NOFILE at 64 (set before exec): the log descriptor stays low. The program
         * closes it and opens a data file, which gets the same number. */
        int logfd = fd_of("/low.log");
        if (logfd < 0 || logfd >= 64)
            return 3;
        close(logfd);
        char data[PATH_MAX];
        snprintf(data, sizeof data, "%s/lowdata", dir);
        int d = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int bad = d != logfd;
        bad += rounds(2);
        printf("%s %d %d\n", bad ? "bad" : "ok", logfd, d);
        return 0;
    }
    if (!strcmp(mode, "highreuse")) {
        /* The program puts a file of its own at the log's (high) descriptor number. */
        int bad = round_trip();
        int logfd = fd_of("/high.log");
        if (logfd < 512)
            return 3;
        char data[PATH_MAX];
        snprintf(data, sizeof data, "%s/highdata", dir);
        int d = open(data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        bad += dup2(d, logfd) != logfd;
        close(d);
        bad += rounds(2);
        bad += write(logfd, "data\n", 5) != 5;
        printf(bad ? "bad\n" : "ok\n");
        return 0;
    }
    if (!strcmp(mode, "gone")) {
        /* Like a daemon, but the log's directory is gone when rshm must open it again. */
        int bad = round_trip();
        char sub[PATH_MAX], log[PATH_MAX + 8];
        snprintf(sub, sizeof sub, "%s/sub", dir);
        snprintf(log, sizeof log, "%s/x.log", sub);
        unlink(log);
        rmdir(sub);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        bad += rounds(2);
        printf(bad ? "bad\n" : "ok\n");
        return 0;
    }
    if (!strcmp(mode, "daemon")) {
        int bad = round_trip();
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        bad += rounds(2);
        printf(bad ? "bad\n" : "ok\n");
        return 0;
    }
    if (!strcmp(mode, "stdclosed")) {
        /* A daemon under RLIMIT_NOFILE 64 (no room at 512): it closes every descriptor,
         * standard ones too, makes its calls, then opens /dev/null three times and expects
         * 0, 1 and 2. The answer is the exit status (standard output is gone). */
        int bad = round_trip();
        for (int fd = 0; fd < 64; fd++)
            close(fd);
        bad += rounds(2);
        int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_WRONLY), c = open("/dev/null", O_WRONLY);
        bad += round_trip();
        _exit(bad ? 4 : a == 0 && b == 1 && c == 2 ? 0 : 5);
    }
    if (!strcmp(mode, "strict")) {
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0666);
        printf("%d %d\n", id >= 0 ? 0 : -1, id >= 0 ? 0 : errno);
        if (id >= 0)
            rshm_rmid(id);
        return 0;
    }
    return 2;
}

/* ---- the parent ---- */

static int run(const char *mode, const char *const *env, void (*prepare)(void), char *out, size_t ocap, char *err,
               size_t ecap) {
    char *argv[] = {self, "child", (char *)mode, NULL};
    return spawn_capture(argv, env, prepare, out, ocap, err, ecap);
}

/* Run in the child before exec: its current directory is removed under it. */
static void cwd_removed(void) {
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/cwd", dir);
    if (mkdir(sub, 0700) != 0 || chdir(sub) != 0 || rmdir(sub) != 0)
        _exit(126);
}

static void a_relative_name_without_a_current_directory(void) {
    char out[256], err[4096];
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", "trace.log", NULL};
    int st = run("rounds", env, cwd_removed, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "ok\n"), "the current directory removed: real results");
    CHECK(!strcmp(err, "rshm: RSHM_LOG_FILE (trace.log) is a relative name and the current directory cannot be named "
                       "(getcwd: ENOENT); logging is off\n"),
          "said as it is: getcwd's ENOENT, not a length");
    if (strncmp(err, "rshm: RSHM_LOG_FILE (trace.log) is a relative", 40))
        fprintf(stderr, "  said: %s", err);
}

/* Run in the child before exec: a current directory whose path is over 4095 bytes (24
 * levels of 200-byte names under `dir`, entered one at a time). */
#define DEEP_LEVELS 24
static void deep_name(char *out, size_t cap) {
    memset(out, 'd', cap - 1);
    out[cap - 1] = 0;
}

static void cwd_too_deep(void) {
    char name[201];
    deep_name(name, sizeof name);
    if (chdir(dir) != 0)
        _exit(126);
    for (int i = 0; i < DEEP_LEVELS; i++)
        if ((mkdir(name, 0700) != 0 && errno != EEXIST) || chdir(name) != 0)
            _exit(126);
}

static void a_relative_name_under_a_too_deep_directory(void) {
    char out[256], err[4096], name[201];
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", "trace.log", NULL};
    int st = run("rounds", env, cwd_too_deep, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "ok\n"), "a current directory too deep: real results");
    CHECK(!strcmp(err, "rshm: RSHM_LOG_FILE (trace.log) is a relative name and the current directory cannot be named "
                       "(getcwd: ERANGE): its path is longer than the limit of 4095 bytes; logging is off\n"),
          "said as it is: getcwd's ERANGE, and why");
    if (strncmp(err, "rshm: RSHM_LOG_FILE (trace.log) is a relative", 40))
        fprintf(stderr, "  said: %s", err);
    /* Remove the levels, deepest first. */
    deep_name(name, sizeof name);
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    if (chdir(dir) == 0) {
        int made = 0;
        for (; made < DEEP_LEVELS && chdir(name) == 0; made++)
            ;
        for (; made > 0; made--)
            if (chdir("..") != 0 || rmdir(name) != 0)
                break;
    }
    CHECK(fd >= 0 && fchdir(fd) == 0, "back to where the test was");
    if (fd >= 0)
        close(fd);
}

static void a_socket_as_the_log(void) {
    char path[sizeof ((struct sockaddr_un *)0)->sun_path], out[256], err[4096];
    if (strlen(dir) + 6 > sizeof path) {
        CHECK(0, "the test directory's name fits a socket address");
        return;
    }
    memcpy(path, dir, strlen(dir));
    memcpy(path + strlen(dir), "/sock", 6);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, path, strlen(path) + 1);
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 1) == 0, "a listening socket");
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("rounds", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "ok\n"), "a socket as the log: real results");
    char want[PATH_MAX + 100];
    snprintf(want, sizeof want, "rshm: log file %s is a socket, which cannot be opened as a file; logging is off\n", path);
    CHECK(!strcmp(err, want), "said once as a socket, not as a FIFO waiting for a reader");
    if (strcmp(err, want))
        fprintf(stderr, "  said: %s", err);
    close(s);
    unlink(path);
}

static void fifo_without_reader(void) {
    char fifo[PATH_MAX], out[256], err[4096];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", fifo, NULL};
    int st = run("rounds", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(out, "ok\n"),
          "a FIFO with no reader as the log: the program runs to the end, no hang");
    char want[PATH_MAX + 160];
    snprintf(want, sizeof want,
             "rshm: log file %s is a FIFO with no reader; lines are dropped and counted until one opens it\n", fifo);
    CHECK(!strncmp(err, want, strlen(want)), "the FIFO without reader is said");
    CHECK(strstr(err, "rshm: 12 log line(s) were dropped in this process (the log refused them, or could not take them within 50 ms)\n") !=
              NULL,
          "the 12 dropped lines are counted at exit");
    unlink(fifo);
}

static void stderr_becomes_a_closed_pipe(void) {
    char path[PATH_MAX], out[256], err[4096];
    snprintf(path, sizeof path, "%s/err.txt", dir);
    const char *env[] = {"RSHM_LOG", "info", NULL};
    int st = run("sigpipe", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "standard error later a pipe with no reader: no SIGPIPE (exit 0)");
    CHECK(!strcmp(out, "ok\n"), "and every call returned its real result");
    CHECK(count(err, " INFO rshm_get(") == 1, "the line before the switch went to the old standard error");
}

static void a_full_pipe_is_bounded_and_counted(void) {
    char out[8192], err[4096];
    const char *env[] = {"RSHM_LOG", "info", NULL};
    int st = run("fill", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strncmp(out, "ok ", 3),
          "a pipe nobody reads: the program finishes (bounded wait, no hang)");
    int lost = 0;
    const char *p = strstr(out, " earlier line(s) lost)");
    while (p && p > out && p[-1] >= '0' && p[-1] <= '9')
        p--;
    if (p)
        lost = atoi(p);
    CHECK(p && lost > 0 && lost < 120, "the next line that gets through says how many were lost");
    const char *line = strstr(out, "rshm ");
    CHECK(line && whole_lines(line) && strstr(line, " INFO rshm_get("), "and it is a whole line, the next call's");
}

static void a_full_pipe_counts_in_json_too(void) {
    char out[8192], err[4096];
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FORMAT", "json", NULL};
    int st = run("fill", env, NULL, out, sizeof out, err, sizeof err);
    const char *k = strstr(out, ",\"lost\":");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && k && atoi(k + 8) > 0 && atoi(k + 8) < 120,
          "JSON: the next line that gets through carries \"lost\": N");
    CHECK(k && strstr(out, "{\"ts\":\"") && strstr(k, ",\"dur_ns\":") == k + strcspn(k + 1, ",") + 1,
          "JSON: \"lost\" stands right before \"dur_ns\"");
}

static void no_foreign_descriptor_after_fork(void) {
    char tmpl[PATH_MAX], out[256], err[4096], text[8192];
    snprintf(tmpl, sizeof tmpl, "%s/log.%%p", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", tmpl, NULL};
    int st = run("pfork", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok 0\n"),
          "fork with %p: the child's data file at the parent's log descriptor number stayed open and its own");
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data", dir);
    CHECK(slurp(data, text, sizeof text) == 5 && !strcmp(text, "data\n"), "the data file holds only the child's data");
    /* The child's own log: 8 lines, in log.<childpid>; the parent's: 8 lines. */
    DIR *d = opendir(dir);
    int logs = 0, whole = 1, lines = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "log.", 4))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        logs++;
        slurp(path, text, sizeof text);
        whole &= whole_lines(text);
        lines += count(text, "\n");
        unlink(path);
    }
    if (d)
        closedir(d);
    CHECK(logs == 2 && lines == 16 && whole, "two logs, parent's and child's, 8 whole lines each");
    unlink(data);
}

static void low_limit(void) {
    struct rlimit r = {64, 64};
    setrlimit(RLIMIT_NOFILE, &r);
}

static void a_reused_low_descriptor_gets_no_line(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192], data[PATH_MAX];
    snprintf(path, sizeof path, "%s/low.log", dir);
    snprintf(data, sizeof data, "%s/lowdata", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("lowfd", env, low_limit, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strncmp(out, "ok ", 3),
          "RLIMIT_NOFILE 64: the program reopened the log's low descriptor number for its data");
    CHECK(slurp(data, text, sizeof text) == 0, "the program's data file got no log line");
    CHECK(slurp(path, text, sizeof text) > 0 && count(text, "\n") == 8 && whole_lines(text),
          "the log got all 8 lines: rshm opened its file again");
    unlink(path);
    unlink(data);
}

static void a_reused_high_descriptor_gets_no_line(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192], data[PATH_MAX];
    snprintf(path, sizeof path, "%s/high.log", dir);
    snprintf(data, sizeof data, "%s/highdata", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("highreuse", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "the program dup2'd a file of its own onto the log's descriptor");
    CHECK(slurp(data, text, sizeof text) == 5 && !strcmp(text, "data\n"), "the program's file got only its own data");
    CHECK(slurp(path, text, sizeof text) > 0 && count(text, "\n") == 12 && whole_lines(text),
          "the log got all 12 lines: rshm opened its file again");
    unlink(path);
    unlink(data);
}

static void a_daemon_keeps_its_trace(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192];
    snprintf(path, sizeof path, "%s/daemon.log", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("daemon", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "a program that closes every descriptor: real results");
    CHECK(slurp(path, text, sizeof text) > 0 && count(text, "\n") == 12 && whole_lines(text),
          "the trace has all 12 lines, before and after the close");
    CHECK(!strstr(err, "rshm"), "nothing said on standard error");
    unlink(path);
}

static void a_daemon_gets_its_standard_descriptors_back(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192];
    snprintf(path, sizeof path, "%s/stdclosed.log", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("stdclosed", env, low_limit, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "every descriptor closed, no room at 512: the program's opens get 0, 1 and 2 (rshm's log is not there)");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "  exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(slurp(path, text, sizeof text) > 0 && count(text, "\n") == 16 && whole_lines(text),
          "and the trace has all 16 lines");
    unlink(path);
}

static void a_log_that_cannot_be_opened_again_is_said_once(void) {
    char sub[PATH_MAX], log[PATH_MAX + 8], out[256], err[4096];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(log, sizeof log, "%s/x.log", sub);
    CHECK(mkdir(sub, 0700) == 0, "a directory for the log");
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", log, NULL};
    int st = run("gone", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "the log's directory gone: real results");
    char want[PATH_MAX + 120];
    snprintf(want, sizeof want, "rshm: cannot open log file %s again: ENOENT; log lines are being lost\n", log);
    CHECK(count(err, want) == 1 && count(err, "cannot open log file") == 1, "said once, with the name and errno");
    CHECK(strstr(err, "rshm: 8 log line(s) were dropped in this process") != NULL, "the 8 lines lost are counted at exit");
    rmdir(sub);
}

static void small_file_limit(void) {
    struct rlimit r = {1000, 1000};
    setrlimit(RLIMIT_FSIZE, &r);
    signal(SIGXFSZ, SIG_IGN);
}

static void lines_are_whole_or_absent(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192];
    snprintf(path, sizeof path, "%s/full.log", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("rounds", env, small_file_limit, out, sizeof out, err, sizeof err);
    ssize_t n = slurp(path, text, sizeof text);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "a file that fills up: real results");
    CHECK(n > 0 && n < 1000 && text[n - 1] == '\n' && whole_lines(text),
          "the file holds only whole lines: the cut one was taken back");
    int kept = count(text, "\n");
    char want[160];
    snprintf(want, sizeof want,
             "rshm: %d log line(s) were dropped in this process (the log refused them, or could not take them within 50 ms)\n",
             12 - kept);
    CHECK(strstr(err, "rshm: writing the log failed (EFBIG); lines are dropped and counted\n") != NULL,
          "the failure is said once");
    CHECK(strstr(err, want) != NULL, "and the dropped lines (the exit line among them) are counted");
    unlink(path);
}

static void the_name_is_kept_byte_for_byte(void) {
    char path[PATH_MAX], out[256], err[4096], text[8192];
    snprintf(path, sizeof path, "%s/log-\xff\xfe.txt", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = run("rounds", env, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "a non-UTF-8 log name: real results");
    CHECK(slurp(path, text, sizeof text) > 0 && count(text, "\n") == 12, "the file with exactly those bytes got the lines");
    unlink(path);

    static char longname[5100];
    snprintf(longname, sizeof longname, "/tmp/");
    memset(longname + 5, 'a', 5000);
    longname[5005] = 0;
    const char *env2[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", longname, NULL};
    st = run("rounds", env2, NULL, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "a name too long: real results");
    char want[256];
    snprintf(want, sizeof want,
             "rshm: RSHM_LOG_FILE (%.40s...) is 5005 bytes long once made absolute; the limit is 4095; logging is off\n",
             longname);
    CHECK(!strcmp(err, want), "a name too long is refused whole, in one sentence");
}

static void switch_words(void) {
    char out[256], err[4096];
    const char *yes[] = {"RSHM_STRICT", "Yes", NULL};
    int st = run("strict", yes, NULL, out, sizeof out, err, sizeof err);
    char want[64];
    snprintf(want, sizeof want, "-1 %d\n", EINVAL);
    CHECK(WIFEXITED(st) && !strcmp(out, want), "RSHM_STRICT=Yes enforces (world-writable refused with EINVAL)");
    const char *on[] = {"RSHM_STRICT", "ON", NULL};
    run("strict", on, NULL, out, sizeof out, err, sizeof err);
    CHECK(!strcmp(out, want), "RSHM_STRICT=ON enforces");
    const char *off[] = {"RSHM_STRICT", "false", NULL};
    run("strict", off, NULL, out, sizeof out, err, sizeof err);
    CHECK(!strcmp(out, "0 0\n") && err[0] == 0, "RSHM_STRICT=false: off, silently");
    const char *bad[] = {"RSHM_STRICT", "maybe", NULL};
    run("strict", bad, NULL, out, sizeof out, err, sizeof err);
    CHECK(!strcmp(out, "0 0\n") &&
              !strcmp(err, "rshm: RSHM_STRICT=maybe is not one of 1 yes true on / 0 no false off; using off\n"),
          "RSHM_STRICT=maybe: off, and one warning naming the variable and the words");
    const char *rep[] = {"RSHM_REPORT", "TRUE", NULL};
    run("rounds", rep, NULL, out, sizeof out, err, sizeof err);
    CHECK(count(err, " report: ") == 1 && count(err, "\n") == 1,
          "RSHM_REPORT=TRUE turns the exit report on, shown at the default level (error) too, alone");
    const char *lvl[] = {"RSHM_LOG", "INFO", NULL};
    run("rounds", lvl, NULL, out, sizeof out, err, sizeof err);
    CHECK(count(err, " INFO rshm_") == 12, "RSHM_LOG=INFO is info");
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child")) {
        const char *d = getenv("RSHM_SINK_DIR");
        if (d)
            snprintf(dir, sizeof dir, "%s", d);
        return child(argv[2]);
    }
    snprintf(self, sizeof self, "%s", self_path());
    CHECK(mkdtemp(dir) != NULL, "a directory for the logs");
    setenv("RSHM_SINK_DIR", dir, 1);
    fifo_without_reader();
    a_relative_name_without_a_current_directory();
    a_relative_name_under_a_too_deep_directory();
    a_socket_as_the_log();
    stderr_becomes_a_closed_pipe();
    a_full_pipe_is_bounded_and_counted();
    a_full_pipe_counts_in_json_too();
    no_foreign_descriptor_after_fork();
    if (under_valgrind()) /* valgrind keeps descriptors of its own under a low limit */
        printf("skipped under valgrind: a reused low descriptor (RLIMIT_NOFILE 64)\n");
    else
        a_reused_low_descriptor_gets_no_line();
    a_reused_high_descriptor_gets_no_line();
    a_daemon_keeps_its_trace();
    if (under_valgrind())
        printf("skipped under valgrind: standard descriptors closed under RLIMIT_NOFILE 64\n");
    else
        a_daemon_gets_its_standard_descriptors_back();
    a_log_that_cannot_be_opened_again_is_said_once();
    lines_are_whole_or_absent();
    the_name_is_kept_byte_for_byte();
    switch_words();
    rmdir(dir);
    return check_done();
}
