/* Every warning rshm gives describes what Linux really does, and rshm gives none that
 * does not: each warning comes with the kernel behaviour it describes, shown for real.
 * - No warning for execute bits: they govern shmat(SHM_EXEC). As an unprivileged user, an
 *   own 0600 segment refuses SHM_EXEC (EACCES) and a 0700 one grants it; another user's
 *   0606 segment refuses it and a 0607 one grants it.
 * - "permissions 0666 let every user write the segment": another uid really attaches a
 *   0666 segment read-write and its write is seen; 0664 refuses it (and gets no warning).
 * - "IPC_CREAT without IPC_EXCL opened another user's segment instead of making one": a
 *   squatter's segment of the key is what the call returns (same id, the squatter's data,
 *   and the squatter reads what the victim writes).
 * Rows that need another user run as uid 65534 in a forked child (when root). */
#define _GNU_SOURCE
#include "check.h"
#include <grp.h>
#include <limits.h>
#include <sys/wait.h>

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

static int become_nobody(void) {
    return setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 ? -1 : 0;
}

/* shmat(SHM_EXEC) of `id` by the raw call: 0 if attached (then detached), else errno. */
static int exec_attach(int id) {
    void *p = shmat(id, NULL, SHM_EXEC);
    if (p == (void *)-1)
        return errno;
    shmdt(p);
    return 0;
}

/* In a child that is not privileged: the execute bits of its own segments decide
 * SHM_EXEC, through the raw call and through rshm_at. Returns the failed checks. */
static int own_exec_bits(void) {
    int bad = 0;
    int rw = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), rwx = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0700);
    bad += rw < 0 || rwx < 0;
    bad += exec_attach(rw) != EACCES;
    bad += exec_attach(rwx) != 0;
    errno = 0;
    bad += rshm_at(rw, NULL, SHM_EXEC) != (void *)-1 || errno != EACCES;
    bad += strstr(rshm_last_error(), "execute access, which SHM_EXEC asks for") == NULL;
    void *p = rshm_at(rwx, NULL, SHM_EXEC);
    bad += p == (void *)-1 || rshm_dt(p) != 0;
    shmctl(rw, IPC_RMID, NULL);
    shmctl(rwx, IPC_RMID, NULL);
    if (bad)
        fprintf(stderr, "own execute bits: %d check(s) failed; last error: %s\n", bad, rshm_last_error());
    return bad;
}

/* Runs `fn` in a forked child as uid 65534 (root) or as we are (not root); returns its
 * failed checks, or -1. */
static int as_unprivileged(int (*fn)(void *), void *arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && become_nobody() != 0)
            _exit(100);
        _exit(fn(arg));
    }
    int st = -1;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int own_exec_bits_fn(void *unused) {
    (void)unused;
    return own_exec_bits();
}

struct others {
    int id0606, id0607, id0666, id0664;
    char *p0666;
};

/* As uid 65534, on root's segments. */
static int others_fn(void *arg) {
    const struct others *o = arg;
    int bad = 0;
    bad += exec_attach(o->id0606) != EACCES;
    bad += exec_attach(o->id0607) != 0;
    /* World-writable means it: another user writes the segment. */
    char *w = shmat(o->id0666, NULL, 0);
    bad += w == (void *)-1;
    if (w != (void *)-1) {
        strcpy(w, "written by uid 65534");
        shmdt(w);
    }
    errno = 0;
    bad += shmat(o->id0664, NULL, 0) != (void *)-1 || errno != EACCES;
    if (bad)
        fprintf(stderr, "another user: %d check(s) failed\n", bad);
    return bad;
}

/* ---- re-executed modes: the calls whose warnings are looked at ---- */

static int child(int argc, char **argv) {
    const char *mode = argv[2];
    if (!strcmp(mode, "exec-bits") && argc > 3) {
        /* Execute bits, with and without IPC_CREAT: no warning. */
        key_t key = (key_t)strtol(argv[3], NULL, 0);
        int a = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0700);
        int b = rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0755);
        int c = rshm_get(key, 0, 0700);
        void *p = rshm_at(b, NULL, SHM_EXEC);
        int ok = a >= 0 && b >= 0 && c == b && p != (void *)-1 && rshm_dt(p) == 0;
        rshm_rmid(a);
        rshm_rmid(b);
        printf("%s\n", ok ? "ok" : "bad");
        return 0;
    }
    if (!strcmp(mode, "modes")) {
        /* 0666 warns, 0664 does not. */
        int a = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0666);
        int b = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0664);
        printf("%s\n", a >= 0 && b >= 0 && rshm_rmid(a) == 0 && rshm_rmid(b) == 0 ? "ok" : "bad");
        return 0;
    }
    if (!strcmp(mode, "squat") && argc > 4) {
        key_t key = (key_t)strtol(argv[3], NULL, 0);
        int theirs = atoi(argv[4]);
        int id = rshm_get(key, 4096, IPC_CREAT | 0600);
        char *p = id >= 0 ? rshm_at(id, NULL, 0) : (void *)-1;
        int same = id == theirs && p != (void *)-1 && !strcmp(p, "squatter's data");
        if (p != (void *)-1) {
            strcpy(p, "the victim's secret");
            rshm_dt(p);
        }
        printf("%s\n", same ? "ok" : "bad");
        return 0;
    }
    return 2;
}

static char self[PATH_MAX];

static int run_mode(char *const argv[], const char *const *env, char *out, size_t ocap, char *err, size_t ecap) {
    return spawn_capture(argv, env, NULL, out, ocap, err, ecap);
}

static void no_warning_for_execute_bits(void) {
    CHECK(as_unprivileged(own_exec_bits_fn, NULL) == 0,
          "unprivileged: an own 0600 segment refuses SHM_EXEC (EACCES, 'execute access'), a 0700 one grants it");
    char keytext[32], out[256], err[8192];
    snprintf(keytext, sizeof keytext, "%#x", (unsigned)unique_key());
    char *argv[] = {self, "child", "exec-bits", keytext, NULL};
    const char *env[] = {"RSHM_LOG", "warn", NULL};
    int st = run_mode(argv, env, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "execute bits with and without IPC_CREAT, SHM_EXEC: all work");
    CHECK(err[0] == 0, "and not one warning line");
    if (err[0])
        fprintf(stderr, "unexpected: %s", err);
}

static void world_writable_and_others(void) {
    char out[256], err[8192];
    char *argv[] = {self, "child", "modes", NULL};
    const char *env[] = {"RSHM_LOG", "warn", NULL};
    int st = run_mode(argv, env, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"), "0666 and 0664 made");
    CHECK(strstr(err, "flags=IPC_CREAT|0666) = ") && strstr(err, ": permissions 0666 let every user write the segment ["),
          "0666: the world-writable warning");
    /* Its flags, not a bare "0664" (an id or a time stamp may hold those digits). */
    CHECK(!strstr(err, "|0664)"), "0664: no warning");
    if (getuid() != 0) {
        CHECK(1, "another user's view needs root");
        return;
    }
    struct others o;
    o.id0606 = guard(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0606));
    o.id0607 = guard(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0607));
    o.id0666 = guard(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0666));
    o.id0664 = guard(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0664));
    char *mine = shmat(o.id0666, NULL, 0);
    CHECK(mine != (void *)-1, "root attaches the 0666 segment");
    CHECK(as_unprivileged(others_fn, &o) == 0,
          "uid 65534: SHM_EXEC refused on 0606 and granted on 0607; writes a 0666 segment; 0664 refuses it");
    CHECK(mine != (void *)-1 && !strcmp(mine, "written by uid 65534"), "root sees what uid 65534 wrote");
    if (mine != (void *)-1)
        shmdt(mine);
    shmctl(o.id0606, IPC_RMID, NULL);
    shmctl(o.id0607, IPC_RMID, NULL);
    shmctl(o.id0666, IPC_RMID, NULL);
    shmctl(o.id0664, IPC_RMID, NULL);
}

static void key_squatting(void) {
    if (getuid() != 0) {
        CHECK(1, "squatting needs root to create the other user");
        return;
    }
    key_t key = unique_key();
    int go[2], ready[2];
    CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipes");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* The squatter: makes the key's segment first, 0666, then waits to read it. */
        close(go[1]);
        close(ready[0]);
        if (become_nobody() != 0)
            _exit(100);
        int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666);
        char *s = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        if (s == (void *)-1)
            _exit(101);
        strcpy(s, "squatter's data");
        char c;
        if (write(ready[1], &id, sizeof id) != (ssize_t)sizeof id || read(go[0], &c, 1) != 1)
            _exit(102);
        _exit(strcmp(s, "the victim's secret") == 0 ? 0 : 103);
    }
    close(go[0]);
    close(ready[1]);
    int id = -1;
    if (read(ready[0], &id, sizeof id) != (ssize_t)sizeof id)
        id = -1;
    close(ready[0]);
    guard(id);
    struct shmid_ds ds;
    CHECK(id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == 65534, "uid 65534 squats the key");
    char keytext[32], idtext[32], out[256], err[8192];
    snprintf(keytext, sizeof keytext, "%#x", (unsigned)key);
    snprintf(idtext, sizeof idtext, "%d", id);
    char *argv[] = {self, "child", "squat", keytext, idtext, NULL};
    const char *env[] = {"RSHM_LOG", "warn", NULL};
    int st = run_mode(argv, env, out, sizeof out, err, sizeof err);
    CHECK(WIFEXITED(st) && !strcmp(out, "ok\n"),
          "IPC_CREAT without IPC_EXCL returned the squatter's segment (same id, the squatter's data)");
    char want[256];
    snprintf(want, sizeof want,
             ": key 0x%08x already had a segment, owned by uid 65534: IPC_CREAT without IPC_EXCL opened another user's "
             "segment instead of making one (a squatter's?) [",
             (unsigned)key);
    CHECK(strstr(err, want) != NULL, "and the squatting warning says so");
    CHECK(write(go[1], "x", 1) == 1, "wake the squatter");
    close(go[1]);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the squatter read the victim's write");
    shmctl(id, IPC_RMID, NULL);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child(argc, argv);
    snprintf(self, sizeof self, "%s", self_path());
    no_warning_for_execute_bits();
    world_writable_and_others();
    key_squatting();
    return check_done();
}
