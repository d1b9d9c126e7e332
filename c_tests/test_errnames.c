/* Every errno rshm prints has its name, never "E?": RSHM_LOG_FILE naming a directory
 * (EISDIR), a path through a regular file (ENOTDIR), a missing directory (ENOENT), a name
 * too long (ENAMETOOLONG), a symbolic-link loop (ELOOP), a file another user may not
 * create (EACCES, as uid 65534 when root). Each runs in a re-executed child (the
 * configuration is read once per process) that makes one call. (The names of every other
 * errno are checked against glibc's by the unit tests of core/src/names.rs.) */
#define _GNU_SOURCE
#include "check.h"
#include <grp.h>
#include <limits.h>
#include <sys/stat.h>

static int child(void) {
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id >= 0)
        rshm_rmid(id);
    printf("%s\n", id >= 0 ? "ok" : "bad");
    return 0;
}

static void become_nobody(void) {
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        _exit(126);
}

static void expect(const char *path, const char *name, void (*prepare)(void)) {
    static char out[256], err[8192];
    char *argv[] = {(char *)self_path(), "child", NULL};
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FILE", path, NULL};
    int st = spawn_capture(argv, env, prepare, out, sizeof out, err, sizeof err);
    char what[128], word[32];
    snprintf(what, sizeof what, "RSHM_LOG_FILE failing with %s: the call works and the errno is named", name);
    snprintf(word, sizeof word, ": %s", name);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n") && strstr(err, word) && !strstr(err, "E?"), what);
    if (!strstr(err, word))
        fprintf(stderr, "%s: %s", name, err);
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "child"))
        return child();
    char dir[] = "/tmp/rshm-errnames-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "a directory of our own");
    char path[PATH_MAX + 64], a[256], b[256], file[256];
    expect(dir, "EISDIR", NULL);
    snprintf(file, sizeof file, "%s/file", dir);
    FILE *f = fopen(file, "w");
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/log", file);
    expect(path, "ENOTDIR", NULL);
    snprintf(path, sizeof path, "%s/missing/log", dir);
    expect(path, "ENOENT", NULL);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    snprintf(path, sizeof path, "%s/%s", dir, longname);
    expect(path, "ENAMETOOLONG", NULL);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    CHECK(symlink(a, b) == 0 && symlink(b, a) == 0, "a symbolic-link loop");
    expect(a, "ELOOP", NULL);
    if (getuid() == 0) {
        chmod(dir, 0755);
        snprintf(path, sizeof path, "%s/log", dir);
        expect(path, "EACCES", become_nobody);
    }
    snprintf(path, sizeof path, "%s/log", dir);
    unlink(path);
    unlink(a);
    unlink(b);
    unlink(file);
    CHECK(rmdir(dir) == 0, "nothing left behind");
    return check_done();
}
