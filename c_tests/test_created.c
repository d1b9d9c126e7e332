/* "created" is exact: true only on the call that made the segment. Read from the JSON log
 * of re-executed children (the configuration is per process):
 * - threads racing on get-or-create of one key: exactly one call says created, and all
 *   get the same id (200 rounds of 8 threads, a fresh key each round), while two more
 *   threads make get-or-create calls on another key without a pause;
 * - a reopen of one's own key (IPC_CREAT, or no flag): not created;
 * - a forked child reopening the segment its parent made: not created;
 * - pid reuse (as root, in a pid namespace of its own): a process that gets the pid of
 *   the dead process that made the key's segment, and reopens it, did not create it. */
#define _GNU_SOURCE
#include "check.h"
#include "json.h"
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>

#define THREADS 8
#define NOISE 2
#define ROUNDS 200

/* ---- the children ---- */

static pthread_barrier_t barrier;
static key_t race_key;
static int race_ids[THREADS];

static void *racer(void *arg) {
    int i = (int)(long)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&barrier);
        race_ids[i] = rshm_get(race_key, 4096, IPC_CREAT | 0600);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

/* Noise: get-or-create calls on another key, without a pause, for the whole race (so
 * creating calls of this process are always in flight). */
static volatile int noise_stop;
static key_t noise_key;

static void *noise(void *arg) {
    (void)arg;
    while (!noise_stop)
        rshm_get(noise_key, 4096, IPC_CREAT | 0600);
    return NULL;
}

/* Prints "key id" for each round; the log says who created. */
static int race_mode(void) {
    pthread_t t[THREADS], n[NOISE];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    noise_key = unique_key() ^ 0x5000000;
    int noise_id = rshm_get(noise_key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    for (int i = 0; i < NOISE; i++)
        pthread_create(&n[i], NULL, noise, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, racer, (void *)(long)i);
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        race_key = unique_key() ^ (r << 12);
        pthread_barrier_wait(&barrier); /* go */
        pthread_barrier_wait(&barrier); /* all returned */
        for (int i = 1; i < THREADS; i++)
            bad += race_ids[i] != race_ids[0];
        bad += race_ids[0] < 0;
        printf("%#x %d\n", (unsigned)race_key, race_ids[0]);
        rshm_rmid(race_ids[0]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    noise_stop = 1;
    for (int i = 0; i < NOISE; i++)
        pthread_join(n[i], NULL);
    bad += noise_id < 0;
    rshm_rmid(noise_id);
    printf("bad %d\nnoise %#x\n", bad, (unsigned)noise_key);
    return 0;
}

/* Make, reopen twice, and a forked child reopens. */
static int reopen_mode(void) {
    key_t key = unique_key();
    int a = rshm_get(key, 4096, IPC_CREAT | 0600);
    int b = rshm_get(key, 4096, IPC_CREAT | 0600);
    int c = rshm_get(key, 0, 0);
    int d = rshm_get(key, 4096, IPC_CREAT | 0600);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int e = rshm_get(key, 4096, IPC_CREAT | 0600);
        _exit(e == a ? 0 : 1);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    printf("%#x %d %d %d %d %d %d\n", (unsigned)key, a, b, c, d, (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    rshm_rmid(a);
    return 0;
}

/* In a pid namespace of its own: G1 makes the key's segment and exits; G2, given G1's pid
 * again (ns_last_pid), reopens it. Prints "key id pid1 pid2 id2". */
static int pidreuse_mode(void) {
    if (unshare(CLONE_NEWPID) != 0) {
        printf("skip\n");
        return 0;
    }
    key_t key = unique_key();
    fflush(stdout);
    pid_t init = fork();
    if (init == 0) {
        int p[2];
        if (pipe(p))
            _exit(1);
        pid_t g1 = fork();
        if (g1 == 0) {
            int id = rshm_get(key, 4096, IPC_CREAT | 0600);
            if (write(p[1], &id, sizeof id) != (ssize_t)sizeof id)
                _exit(1);
            _exit(0);
        }
        int id = -1;
        if (read(p[0], &id, sizeof id) != (ssize_t)sizeof id)
            id = -1;
        waitpid(g1, NULL, 0);
        char last[32];
        snprintf(last, sizeof last, "%d", (int)g1 - 1);
        if (write_file("/proc/sys/kernel/ns_last_pid", last) != 0)
            _exit(2);
        pid_t g2 = fork();
        if (g2 == 0) {
            int again = rshm_get(key, 4096, IPC_CREAT | 0600);
            if (write(p[1], &again, sizeof again) != (ssize_t)sizeof again)
                _exit(1);
            _exit(0);
        }
        int again = -1;
        if (read(p[0], &again, sizeof again) != (ssize_t)sizeof again)
            again = -1;
        waitpid(g2, NULL, 0);
        printf("%#x %d %d %d %d\n", (unsigned)key, id, (int)g1, (int)g2, again);
        fflush(stdout);
        rshm_rmid(id);
        _exit(0);
    }
    int st;
    waitpid(init, &st, 0);
    /* _exit: after unshare(CLONE_NEWPID), LeakSanitizer's exit check cannot stop the world
     * (its helper would be born in the new namespace) and fails the run (make check-asan). */
    fflush(stdout);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* ---- the parent ---- */

static char self[PATH_MAX];
static char out[1 << 16], err[1 << 12];

/* Runs `mode` with a JSON log at info into `log`. */
static int run_mode(const char *mode, const char *log) {
    char *argv[] = {self, "child", (char *)mode, NULL};
    const char *env[] = {"RSHM_LOG", "info", "RSHM_LOG_FORMAT", "json", "RSHM_LOG_FILE", log, NULL};
    unlink(log);
    return spawn_capture(argv, env, NULL, out, sizeof out, err, sizeof err);
}

/* One successful rshm_get line of the log. */
struct got {
    char key[16];
    int ret, pid, created;
};

static struct got gots[THREADS * ROUNDS + 64];
/* The noise key of the race ("0x%08x"): its lines are not read. */
static char noise_hex[16];

/* Reads every successful rshm_get of `log`; returns how many, or -1. */
static int read_gets(const char *log) {
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    static char line[2048];
    static struct jobj o;
    int n = 0;
    while (fgets(line, sizeof line, f) && n < (int)(sizeof gots / sizeof gots[0])) {
        if (json_parse(line, &o) != 0 || !json_is(&o, "call", J_STR, "rshm_get"))
            continue;
        const struct jfield *ret = json_get(&o, "ret"), *key = json_get(&o, "args.key"), *pid = json_get(&o, "pid"),
                            *created = json_get(&o, "created");
        if (!ret || !key || !pid || !created || atoi(ret->val) < 0)
            continue;
        if (noise_hex[0] && !strcmp(key->val, noise_hex))
            continue;
        snprintf(gots[n].key, sizeof gots[n].key, "%.15s", key->val);
        gots[n].ret = atoi(ret->val);
        gots[n].pid = atoi(pid->val);
        gots[n].created = !strcmp(created->val, "true");
        n++;
    }
    fclose(f);
    return n;
}

static void threads_race(const char *log) {
    int st = run_mode("race", log);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "bad 0\n"), "every racing thread got the same id");
    unsigned nk = 0;
    const char *nl = strstr(out, "noise ");
    CHECK(nl && sscanf(nl, "noise %x", &nk) == 1, "the noise key");
    snprintf(noise_hex, sizeof noise_hex, "0x%08x", nk);
    int n = read_gets(log);
    noise_hex[0] = 0;
    CHECK(n == THREADS * ROUNDS, "one line per racing call");
    int exact = 0, rounds = 0;
    for (char *line = out; *line && strncmp(line, "bad", 3); line = strchr(line, '\n') + 1) {
        unsigned key;
        int id;
        if (sscanf(line, "%x %d", &key, &id) != 2)
            break;
        char hex[16];
        snprintf(hex, sizeof hex, "0x%08x", key);
        int calls = 0, made = 0;
        for (int i = 0; i < n; i++)
            if (!strcmp(gots[i].key, hex) && gots[i].ret == id) {
                calls++;
                made += gots[i].created;
            }
        rounds++;
        exact += calls == THREADS && made == 1;
        if (calls != THREADS || made != 1)
            fprintf(stderr, "round key %s: %d calls, %d say created\n", hex, calls, made);
    }
    CHECK(rounds == ROUNDS && exact == ROUNDS, "each round: exactly one of the racing calls says created");
}

static void reopen(const char *log) {
    int st = run_mode("reopen", log);
    unsigned key;
    int a, b, c, d, child, child_ok;
    CHECK(WIFEXITED(st) && sscanf(out, "%x %d %d %d %d %d %d", &key, &a, &b, &c, &d, &child, &child_ok) == 7 &&
              a >= 0 && a == b && a == c && a == d && child_ok == 0,
          "make, reopen (IPC_CREAT, none, IPC_CREAT), a child reopens: one segment");
    int n = read_gets(log);
    CHECK(n == 5, "five successful gets logged");
    if (n != 5)
        return;
    CHECK(gots[0].created, "the call that made it: created");
    CHECK(!gots[1].created && !gots[2].created && !gots[3].created, "reopens of one's own key: not created");
    CHECK(gots[4].pid == child && !gots[4].created, "a child reopening its parent's segment: not created");
}

static void pid_reuse(const char *log) {
    if (getuid() != 0) {
        CHECK(1, "pid reuse needs root (a pid namespace and ns_last_pid)");
        return;
    }
    int st = run_mode("pidreuse", log);
    if (!strcmp(out, "skip\n")) {
        CHECK(1, "no pid namespace here: skipped");
        return;
    }
    unsigned key;
    int id, g1, g2, again;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sscanf(out, "%x %d %d %d %d", &key, &id, &g1, &g2, &again) == 5,
          "pid namespace child ran");
    CHECK(id >= 0 && again == id, "the second process reopened the first one's segment");
    CHECK(g1 == g2, "with the same pid (ns_last_pid)");
    int n = read_gets(log);
    CHECK(n == 2 && gots[0].pid == gots[1].pid, "two gets logged, under one pid");
    CHECK(n == 2 && gots[0].created && !gots[1].created, "the maker: created; the later process with its pid: not");
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child")) {
        if (!strcmp(argv[2], "race"))
            return race_mode();
        if (!strcmp(argv[2], "reopen"))
            return reopen_mode();
        if (!strcmp(argv[2], "pidreuse"))
            return pidreuse_mode();
        return 2;
    }
    snprintf(self, sizeof self, "%s", self_path());
    char log[] = "/tmp/rshm-created-XXXXXX";
    int fd = mkstemp(log);
    CHECK(fd >= 0, "log file");
    close(fd);
    threads_race(log);
    reopen(log);
    pid_reuse(log);
    unlink(log);
    return check_done();
}
