/* The log: JSON lines parse and carry the documented keys and values; the text format;
 * levels; the log file is 0600, append-only, close-on-exec, relative names are taken at
 * the first call, and `%p` gives a forked child its own file. Each scenario runs in a
 * re-executed copy of this program, since the configuration is read once per process. */
#define _GNU_SOURCE
#include "check.h"
#include "json.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* What the scripted child did, as it reports it on stdout. */
struct facts {
    int pid, tid, id, grandchild, fd_flags, fl_flags;
    void *addr;
    key_t missing;
};

/* The calls every scenario makes: successes, a warning, and failures. */
static void script(struct facts *f) {
    f->pid = getpid();
    f->tid = (int)syscall(SYS_gettid);
    f->missing = unique_key();
    f->id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    chdir("/"); /* a relative log name was fixed at the first call */
    f->addr = rshm_at(f->id, NULL, SHM_RDONLY);
    rshm_rmid(f->id);
    rshm_dt(f->addr);
    rshm_dt(f->addr);
    rshm_get(f->missing, 64, 0600);
    rshm_at(-1, NULL, 0);
}

/* Finds our log file among the open descriptors and reports its fd and file flags. */
static void fd_flags(const char *path, struct facts *f) {
    char link[64], target[PATH_MAX];
    f->fd_flags = f->fl_flags = -1;
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strcmp(target, path) == 0) {
            f->fd_flags = fcntl(fd, F_GETFD);
            f->fl_flags = fcntl(fd, F_GETFL);
        }
    }
}

static int child_main(const char *mode, const char *path) {
    struct facts f = {0};
    umask(0); /* the 0600 must come from rshm, not from the umask */
    script(&f);
    if (!strcmp(mode, "fork")) {
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            rshm_rmid(-7);
            _exit(0);
        }
        f.grandchild = g;
        waitpid(g, NULL, 0);
    }
    if (path)
        fd_flags(path, &f);
    printf("%d %d %d %p %d %d %d %d\n", f.pid, f.tid, f.id, f.addr, (int)f.missing, f.grandchild, f.fd_flags,
           f.fl_flags);
    return 0;
}

/* Runs this program as `child MODE [PATH]` in directory `dir` with `env` added. */
static int run_child(const char *mode, const char *dir, const char *const *env, const char *fd_path,
                     struct facts *f) {
    int fds[2];
    if (pipe(fds))
        return -1;
    const char *exe = self_path();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        unsetenv("RSHM_LOG");
        unsetenv("RSHM_LOG_FILE");
        unsetenv("RSHM_LOG_FORMAT");
        for (int i = 0; env[i]; i += 2)
            setenv(env[i], env[i + 1], 1);
        if (dir && chdir(dir))
            _exit(126);
        execl(exe, "test_log", "child", mode, fd_path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    int st = -1;
    waitpid(pid, &st, 0);
    if (n <= 0)
        return -1;
    int matched = sscanf(buf, "%d %d %d %p %d %d %d %d", &f->pid, &f->tid, &f->id, &f->addr, &f->missing,
                         &f->grandchild, &f->fd_flags, &f->fl_flags);
    return matched == 8 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int read_lines(const char *path, char lines[][1024], int max) {
    FILE *fp = fopen(path, "r");
    int n = 0;
    if (!fp)
        return -1;
    while (n < max && fgets(lines[n], 1024, fp))
        n++;
    fclose(fp);
    return n;
}

/* ts, pid, tid, level, call, args..., ret, [created], errno, [msg], dur_ns: in this order. */
static int keys_in_order(const struct jobj *o) {
    const char *want[] = {"ts", "pid", "tid", "level", "call"};
    for (int i = 0; i < 5; i++)
        if (o->n <= i || strcmp(o->f[i].key, want[i]))
            return 0;
    int i = 5;
    while (i < o->n && !strncmp(o->f[i].key, "args.", 5))
        i++;
    if (i == 5 || i + 3 > o->n || strcmp(o->f[i].key, "ret"))
        return 0;
    i++;
    if (!strcmp(o->f[i].key, "created"))
        i++;
    if (i >= o->n || strcmp(o->f[i].key, "errno"))
        return 0;
    i++;
    if (i < o->n && !strcmp(o->f[i].key, "msg"))
        i++;
    return i + 1 == o->n && !strcmp(o->f[i].key, "dur_ns") && o->f[i].type == J_NUM;
}

static int ts_ok(const struct jobj *o) {
    const struct jfield *t = json_get(o, "ts");
    int y, mo, d, h, mi, s, us;
    char z = 0;
    return t && t->type == J_STR && strlen(t->val) == 27 &&
           sscanf(t->val, "%4d-%2d-%2dT%2d:%2d:%2d.%6d%c", &y, &mo, &d, &h, &mi, &s, &us, &z) == 8 && z == 'Z' &&
           y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 61;
}

static void test_json(const char *dir) {
    char path[PATH_MAX], num[64], hex[64];
    snprintf(path, sizeof path, "%s/log.json", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FORMAT", "json", "RSHM_LOG_FILE", path, NULL};
    struct facts f;
    CHECK(run_child("json", NULL, env, path, &f) == 0, "json child ran");
    char lines[16][1024];
    int n = read_lines(path, lines, 16);
    CHECK(n == 7, "seven calls, seven JSON lines");
    struct jobj o[7];
    for (int i = 0; i < n && i < 7; i++) {
        CHECK(json_parse(lines[i], &o[i]) == 0, "line parses as one JSON object");
        CHECK(keys_in_order(&o[i]), "documented keys in documented order");
        CHECK(ts_ok(&o[i]), "ts is RFC 3339 UTC with microseconds");
        snprintf(num, sizeof num, "%d", f.pid);
        CHECK(json_is(&o[i], "pid", J_NUM, num), "pid");
        snprintf(num, sizeof num, "%d", f.tid);
        CHECK(json_is(&o[i], "tid", J_NUM, num), "tid");
    }
    if (n != 7)
        return;
    snprintf(num, sizeof num, "%d", f.id);
    snprintf(hex, sizeof hex, "%p", f.addr);
    /* 1: rshm_get succeeded */
    CHECK(json_is(&o[0], "level", J_STR, "info") && json_is(&o[0], "call", J_STR, "rshm_get"), "get: level, call");
    CHECK(json_is(&o[0], "args.key", J_STR, "IPC_PRIVATE") && json_is(&o[0], "args.size", J_NUM, "4096") &&
              json_is(&o[0], "args.flags", J_STR, "IPC_CREAT|0600"),
          "get: args decoded");
    CHECK(json_is(&o[0], "ret", J_NUM, num) && json_is(&o[0], "errno", J_NULL, "null") && !json_get(&o[0], "msg"),
          "get: ret is the id, errno null, no msg");
    CHECK(json_is(&o[0], "created", J_BOOL, "true"), "get: created is true for a new segment");
    CHECK(!json_get(&o[1], "created") && !json_get(&o[5], "created"), "created only on shmget successes");
    /* 2: rshm_at returned an address */
    CHECK(json_is(&o[1], "call", J_STR, "rshm_at") && json_is(&o[1], "args.shmid", J_NUM, num) &&
              json_is(&o[1], "args.addr", J_NULL, "null") && json_is(&o[1], "args.flags", J_STR, "SHM_RDONLY"),
          "at: args");
    CHECK(json_is(&o[1], "ret", J_STR, hex), "at: ret is the address as a hex string");
    /* 3: rshm_rmid while attached: a note, at info level (no mistake) */
    CHECK(json_is(&o[2], "level", J_STR, "info") && json_is(&o[2], "call", J_STR, "rshm_rmid") &&
              json_is(&o[2], "args.shmid", J_NUM, num) && json_is(&o[2], "args.cmd", J_STR, "IPC_RMID") &&
              json_is(&o[2], "ret", J_NUM, "0") && json_is(&o[2], "errno", J_NULL, "null"),
          "rmid: info, args, ret 0");
    char want[160];
    snprintf(want, sizeof want, "segment %d is still attached here (1 time); it is destroyed after the last detach",
             f.id);
    CHECK(json_is(&o[2], "msg", J_STR, want), "rmid: msg says how many attachments remain");
    /* 4, 5: detach, then detach again */
    CHECK(json_is(&o[3], "call", J_STR, "rshm_dt") && json_is(&o[3], "args.addr", J_STR, hex) &&
              json_is(&o[3], "ret", J_NUM, "0") && json_is(&o[3], "level", J_STR, "info"),
          "dt: ok");
    CHECK(json_is(&o[4], "level", J_STR, "warn") && json_is(&o[4], "ret", J_NUM, "-1") &&
              json_is(&o[4], "errno", J_STR, "EINVAL"),
          "dt twice: -1 EINVAL");
    const struct jfield *m = json_get(&o[4], "msg");
    snprintf(want, sizeof want, "address %s was already detached (at ", hex);
    CHECK(m && !strncmp(m->val, want, strlen(want)), "dt twice: msg says already detached, without the call prefix");
    /* 6: ENOENT with the key as hex */
    snprintf(want, sizeof want, "0x%08x", (unsigned)f.missing);
    CHECK(json_is(&o[5], "args.key", J_STR, want) && json_is(&o[5], "args.size", J_NUM, "64") &&
              json_is(&o[5], "args.flags", J_STR, "0600") && json_is(&o[5], "errno", J_STR, "ENOENT"),
          "get missing: ENOENT");
    /* 7: a validation failure */
    CHECK(json_is(&o[6], "args.shmid", J_NUM, "-1") && json_is(&o[6], "errno", J_STR, "EINVAL") &&
              json_is(&o[6], "msg", J_STR, "shmid -1 is negative, so it names no segment (a failed shmget's -1?)"),
          "at -1: EINVAL and why");

    /* The file: 0600 whatever the umask, append-only, close-on-exec. */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "log file created 0600");
    CHECK(f.fd_flags >= 0 && (f.fd_flags & FD_CLOEXEC), "log fd is close-on-exec");
    CHECK(f.fl_flags >= 0 && (f.fl_flags & O_APPEND) && (f.fl_flags & O_ACCMODE) == O_WRONLY, "log fd is O_APPEND|O_WRONLY");
    unlink(path);
}

/* Compares a text line from after the timestamp to before the duration. */
static int text_is(const char *line, int pid, int tid, const char *middle) {
    char head[64];
    snprintf(head, sizeof head, " %d/%d ", pid, tid);
    if (strncmp(line, "rshm ", 5) || strlen(line) < 33 || line[15] != 'T' || line[31] != 'Z')
        return 0;
    if (strncmp(line + 32, head, strlen(head)))
        return 0;
    const char *rest = line + 32 + strlen(head);
    size_t n = strlen(middle);
    return !strncmp(rest, middle, n) && !strncmp(rest + n, " [", 2) && line[strlen(line) - 2] == ']' &&
           line[strlen(line) - 1] == '\n';
}

static void test_text(const char *dir) {
    /* A relative name. At the library's default level (error) the same calls, four
     * failures and warnings among them, write nothing: a library is quiet unless asked. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rel.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "existing line\n", 14) == 14, "pre-existing content");
    close(fd);
    const char *quiet[] = {"RSHM_LOG_FILE", "rel.log", NULL};
    struct facts f;
    CHECK(run_child("text", dir, quiet, path, &f) == 0, "quiet child ran");
    char lines[16][1024];
    int n = read_lines(path, lines, 16);
    CHECK(n == 1, "the default level (error) logs no failure and no warning");
    /* Level warn: only warnings and failures. */
    const char *env[] = {"RSHM_LOG", "warn", "RSHM_LOG_FILE", "rel.log", NULL};
    CHECK(run_child("text", dir, env, path, &f) == 0, "text child ran");
    n = read_lines(path, lines, 16);
    CHECK(n == 4, "the old line and three warnings (removing a segment still attached is no mistake)");
    if (n != 4)
        return;
    CHECK(!strcmp(lines[0], "existing line\n"), "appended, not truncated");
    char want[256];
    snprintf(want, sizeof want, "WARN rshm_dt(addr=%p) = -1 EINVAL: address %p was already detached (at ", f.addr,
             f.addr);
    CHECK(!strncmp(lines[1] + 32 + 1 + snprintf(NULL, 0, "%d/%d ", f.pid, f.tid), want, strlen(want)),
          "text: double detach");
    snprintf(want, sizeof want,
             "WARN rshm_get(key=0x%08x, size=64, flags=0600) = -1 ENOENT: no segment has key 0x%08x and IPC_CREAT "
             "was not given",
             (unsigned)f.missing, (unsigned)f.missing);
    CHECK(text_is(lines[2], f.pid, f.tid, want), "text: ENOENT");
    CHECK(text_is(lines[3], f.pid, f.tid,
                  "WARN rshm_at(shmid=-1, addr=NULL, flags=0) = -1 EINVAL: shmid -1 is negative, so it names no "
                  "segment (a failed shmget's -1?)"),
          "text: validation failure");
    unlink(path);
}

static void test_debug(const char *dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/debug.log", dir);
    const char *env[] = {"RSHM_LOG", "debug", "RSHM_LOG_FILE", path, NULL};
    struct facts f;
    CHECK(run_child("debug", NULL, env, NULL, &f) == 0, "debug child ran");
    char lines[16][1024];
    int n = read_lines(path, lines, 16);
    CHECK(n == 8, "debug: the configuration line and the seven calls");
    CHECK(n > 0 && strstr(lines[0], " DEBUG config: level=debug format=text strict=0 report=0 log to file; limits ") &&
              strstr(lines[0], " SHMMIN=1 SHMMAX=") && strstr(lines[0], " SHMLBA=4096\n"),
          "debug: the first line gives the configuration and the limits");
    unlink(path);
}

static void test_off_and_fork(const char *dir) {
    char path[PATH_MAX], tmpl[PATH_MAX];
    snprintf(path, sizeof path, "%s/off.log", dir);
    const char *off[] = {"RSHM_LOG", "off", "RSHM_LOG_FILE", path, NULL};
    struct facts f;
    CHECK(run_child("off", NULL, off, NULL, &f) == 0, "off child ran");
    struct stat st;
    CHECK(stat(path, &st) != 0 || st.st_size == 0, "RSHM_LOG=off writes nothing");
    unlink(path);

    /* %p: the child and the grandchild it forks each write their own file. */
    snprintf(tmpl, sizeof tmpl, "%s/fork.%%p.log", dir);
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FORMAT", "json", "RSHM_LOG_FILE", tmpl, NULL};
    CHECK(run_child("fork", NULL, env, NULL, &f) == 0, "fork child ran");
    char lines[16][1024], num[32];
    snprintf(path, sizeof path, "%s/fork.%d.log", dir, f.pid);
    int n = read_lines(path, lines, 16);
    CHECK(n == 7, "the child's file has the child's seven lines");
    snprintf(num, sizeof num, "%d", f.pid);
    struct jobj o;
    for (int i = 0; i < n; i++)
        CHECK(json_parse(lines[i], &o) == 0 && json_is(&o, "pid", J_NUM, num), "child's lines carry its pid");
    unlink(path);
    snprintf(path, sizeof path, "%s/fork.%d.log", dir, f.grandchild);
    n = read_lines(path, lines, 16);
    CHECK(n == 1, "the grandchild's file has its one line");
    snprintf(num, sizeof num, "%d", f.grandchild);
    CHECK(n == 1 && json_parse(lines[0], &o) == 0 && json_is(&o, "pid", J_NUM, num) &&
              json_is(&o, "tid", J_NUM, num) && json_is(&o, "args.shmid", J_NUM, "-7"),
          "grandchild's line carries its own pid");
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child_main(argv[2], argc > 3 ? argv[3] : NULL);
    char dir[] = "/tmp/rshm-test-log-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    test_json(dir);
    test_text(dir);
    test_debug(dir);
    test_off_and_fork(dir);
    rmdir(dir);
    return check_done();
}
