/* Threads attach and detach in a loop while the main thread forks 200 children that use
 * rshm at once, all logging JSON to one file: no child deadlocks, the registry comes out
 * exact (counts and the kernel's shm_nattch), and every line is whole JSON and none is
 * missing (they are counted). Runs in a re-executed child so the log settings apply. */
#define _GNU_SOURCE
#include "check.h"
#include "json.h"
#include <pthread.h>
#include <sys/wait.h>

#define THREADS 3
#define ROUNDS 1500
#define CHILDREN 200

static int seg[THREADS];
static int thread_failures;

static void *loop(void *arg) {
    int id = seg[(long)arg];
    for (int i = 0; i < ROUNDS; i++) {
        void *p = rshm_at(id, NULL, 0);
        if (p == (void *)-1 || rshm_dt(p) != 0)
            __atomic_add_fetch(&thread_failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* SysV attachments in this process, as the kernel lists them. */
static size_t sysv_mappings(void) {
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    size_t n = 0;
    while (m && fgets(line, sizeof line, m))
        n += strstr(line, "/SYSV") != NULL;
    if (m)
        fclose(m);
    return n;
}

static int storm(void) {
    guard_alarm(120);
    for (int t = 0; t < THREADS; t++)
        seg[t] = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    void *held = rshm_at(seg[0], NULL, 0); /* one attachment that stays, for the counts */
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, loop, (void *)t);
    int ok = 0;
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child inherits `held` (and whatever a thread had attached at the fork);
             * it makes and drops a segment of its own. Its registry matches what the
             * kernel says it has, but for calls the other threads were in the middle of
             * at the fork (between the system call and the registry): at most one each. */
            int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
            void *p = id < 0 ? (void *)-1 : rshm_at(id, NULL, 0);
            int bad = p == (void *)-1 || rshm_dt(p) != 0 || rshm_rmid(id) != 0;
            long diff = (long)rshm_attachment_count() - (long)sysv_mappings();
            bad |= (diff < -THREADS || diff > THREADS) << 1;
            _exit(bad);
        }
        int st;
        ok += pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    struct shmid_ds ds;
    int nattch = shmctl(seg[0], IPC_STAT, &ds) == 0 ? (int)ds.shm_nattch : -1;
    size_t count = rshm_attachment_count();
    rshm_dt(held);
    for (int t = 0; t < THREADS; t++)
        rshm_rmid(seg[t]);
    printf("%d %d %d %zu\n", ok, thread_failures, nattch, count);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "storm"))
        return storm();
    char path[] = "/tmp/rshm-forkstorm-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int o[2];
    if (pipe(o))
        return 1;
    const char *exe = self_path();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(o[1], 1);
        setenv("RSHM_LOG", "info", 1);
        setenv("RSHM_LOG_FORMAT", "json", 1);
        setenv("RSHM_LOG_FILE", path, 1);
        execl(exe, "test_forkstorm", "storm", (char *)NULL);
        _exit(127);
    }
    close(o[1]);
    char out[128] = {0};
    ssize_t n = read(o[0], out, sizeof out - 1);
    int st;
    waitpid(pid, &st, 0);
    int ok = -1, failures = -1, nattch = -1;
    size_t count = 0;
    CHECK(n > 0 && sscanf(out, "%d %d %d %zu", &ok, &failures, &nattch, &count) == 4, "storm ran");
    CHECK(ok == CHILDREN, "every forked child used rshm without deadlock");
    CHECK(failures == 0, "every threaded attach/detach succeeded");
    CHECK(nattch == 1 && count == 1, "registry exact: one attachment held, and the kernel agrees");

    /* Lines: 3 gets, 1 held attach, 2 per thread round, 4 per child, 1 detach, 3 removals. */
    long want = 3 + 1 + 2L * THREADS * ROUNDS + 4L * CHILDREN + 1 + 3;
    FILE *fp = fopen(path, "r");
    char line[1100];
    long lines = 0, whole = 0, child_lines = 0;
    static struct jobj o_;
    char parent[32];
    snprintf(parent, sizeof parent, "%d", (int)pid);
    while (fp && fgets(line, sizeof line, fp)) {
        lines++;
        if (json_parse(line, &o_) == 0 && json_get(&o_, "call") && json_get(&o_, "dur_ns"))
            whole++;
        child_lines += json_get(&o_, "pid") && strcmp(json_get(&o_, "pid")->val, parent) != 0;
    }
    if (fp)
        fclose(fp);
    unlink(path);
    printf("fork storm: %ld lines (want %ld), %ld whole JSON, %ld from children\n", lines, want, whole, child_lines);
    CHECK(lines == want, "no line missing");
    CHECK(whole == lines, "every line whole JSON");
    CHECK(child_lines == 4L * CHILDREN, "each child logged its own four lines under its own pid");
    return check_done();
}
