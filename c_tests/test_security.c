/* Security: RSHM_LOG_FILE is ignored by a setuid program (tested with a real setuid copy
 * of this program, run by uid 65534); a warning for a world-writable segment and, under
 * RSHM_STRICT=1, a failure; the same for IPC_CREAT without IPC_EXCL opening another
 * user's segment of the key (key squatting). */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Re-executed modes; each prints one result line. */
static int child(int argc, char **argv) {
    const char *mode = argv[2];
    if (!strcmp(mode, "setuid")) {
        /* euid 0, real uid 65534: AT_SECURE. A call that logs at info. */
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        printf("%s euid %d uid %d\n", id >= 0 && rshm_rmid(id) == 0 ? "ok" : "bad", (int)geteuid(), (int)getuid());
        return 0;
    }
    if (!strcmp(mode, "world")) {
        errno = 0;
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0666);
        printf("%d %s\n", id >= 0 ? 0 : errno, rshm_last_error());
        if (id >= 0)
            rshm_rmid(id);
        return 0;
    }
    if (!strcmp(mode, "squat") && argc > 3) {
        key_t key = (key_t)strtol(argv[3], NULL, 0);
        errno = 0;
        int id = rshm_get(key, 4096, IPC_CREAT | 0600);
        printf("%d %s\n", id >= 0 ? 0 : errno, rshm_last_error());
        return 0;
    }
    return 2;
}

/* In the child, before exec: become uid 65534. */
static void become_nobody(void) {
    if (setgid(65534) != 0 || setuid(65534) != 0)
        _exit(126);
}

/* Runs `argv` with `env`, as uid 65534 if `nobody`. */
static int run(char *const argv[], const char *const *env, int nobody, char *out, size_t ocap, char *err,
               size_t ecap) {
    return spawn_capture(argv, env, nobody ? become_nobody : NULL, out, ocap, err, ecap);
}

static char self[PATH_MAX];

static void setuid_ignores_log_file(void) {
    char dir[] = "/tmp/rshm-setuid-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "temp dir");
        return;
    }
    chmod(dir, 0777);
    char prog[PATH_MAX], log[PATH_MAX], out[256], err[4096];
    snprintf(prog, sizeof prog, "%s/setuid-copy", dir);
    snprintf(log, sizeof log, "%s/should-not-exist.log", dir);
    /* A setuid-root copy of this very program. */
    int in = open(self, O_RDONLY), to = open(prog, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && to >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(to, buf, n) != n)
            break;
    close(in);
    close(to);
    CHECK(chmod(prog, 04755) == 0, "setuid copy");
    char *argv[] = {prog, "child", "setuid", NULL};
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", log, NULL};
    int st = run(argv, env, 1, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok euid 0 uid 65534\n"), "the setuid copy ran setuid (euid 0, uid 65534)");
    struct stat sb;
    CHECK(stat(log, &sb) != 0 && errno == ENOENT, "RSHM_LOG_FILE ignored: the setuid program made no log file");
    CHECK(strstr(err, " INFO rshm_get(key=IPC_PRIVATE") != NULL, "it logged to standard error instead");
    unlink(log);
    unlink(prog);
    rmdir(dir);
}

static void world_writable(void) {
    char out[512], err[4096];
    char *argv[] = {self, "child", "world", NULL};
    const char *warn[] = {"RSHM_LOG", "warn", NULL};
    run(argv, warn, 0, out, sizeof out, err, sizeof err);
    CHECK(!strncmp(out, "0 ", 2), "world-writable: allowed by default");
    CHECK(strstr(err, " WARN rshm_get(key=IPC_PRIVATE, size=4096, flags=IPC_CREAT|0666) = ") &&
              strstr(err, ": permissions 0666 let every user write the segment ["),
          "world-writable: a warning");
    const char *strict[] = {"RSHM_LOG", "warn", "RSHM_STRICT", "1", NULL};
    run(argv, strict, 0, out, sizeof out, err, sizeof err);
    char want[160];
    snprintf(want, sizeof want, "%d rshm_get: RSHM_STRICT=1 refuses this: permissions 0666 let every user write the segment\n",
             EINVAL);
    CHECK(!strcmp(out, want), "world-writable under RSHM_STRICT=1: EINVAL and why");
}

static void key_squatting(void) {
    /* uid 65534 makes the segment of a key first; root then asks for it with IPC_CREAT. */
    key_t key = unique_key();
    char keytext[32], out[512], err[4096];
    snprintf(keytext, sizeof keytext, "%#x", (unsigned)key);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(1);
        _exit(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666) < 0);
    }
    int st;
    waitpid(pid, &st, 0);
    int id = guard(shmget(key, 0, 0));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && id >= 0, "another user made the key's segment");
    char *argv[] = {self, "child", "squat", keytext, NULL};
    const char *warn[] = {"RSHM_LOG", "warn", NULL};
    run(argv, warn, 0, out, sizeof out, err, sizeof err);
    char want[256];
    snprintf(want, sizeof want,
             ": key 0x%08x already had a segment, owned by uid 65534: IPC_CREAT without IPC_EXCL opened another user's "
             "segment instead of making one (a squatter's?) [",
             (unsigned)key);
    CHECK(!strncmp(out, "0 ", 2) && strstr(err, want), "squatting: opened, with a warning");
    const char *strict[] = {"RSHM_LOG", "warn", "RSHM_STRICT", "1", NULL};
    run(argv, strict, 0, out, sizeof out, err, sizeof err);
    snprintf(want, sizeof want, "%d rshm_get: RSHM_STRICT=1 refuses this: key 0x%08x already had a segment", EACCES,
             (unsigned)key);
    CHECK(!strncmp(out, want, strlen(want)), "squatting under RSHM_STRICT=1: EACCES and why");
    CHECK(rshm_rmid(id) == 0, "remove it");
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child(argc, argv);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    world_writable();
    if (getuid() == 0) {
        setuid_ignores_log_file();
        key_squatting();
    } else {
        CHECK(1, "setuid and squatting cases need root to create the other user");
    }
    return check_done();
}
