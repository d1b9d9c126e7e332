/* Counts that cannot drift: after threads racing on one segment and on one address, after
 * as many attachments as the kernel allows, and across fork, rshm's counts equal the
 * kernel's: rshm_attachment_count() and rshm_rmid's note "still attached here (N times)"
 * against shm_nattch (IPC_STAT) and the SYSV mappings in /proc/self/maps.
 *
 * Each case runs in a child started with RSHM_LOG=info (the note is logged at info),
 * whose log file this program reads; the segment is made and removed here, so it goes even if
 * the child dies. */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

/* The SYSV mappings of segment `shmid` in /proc/self/maps (read with read(2) into a
 * static buffer: at the map count limit, stdio's allocations may fail). -1 if unreadable. */
static int maps_count(int shmid) {
    static char buf[1 << 16];
    static char line[512];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int n = 0;
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (len + 1 < sizeof line)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = 0;
            len = 0;
            unsigned long start, end, off, inode;
            char perms[8], dev[16];
            if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &start, &end, perms, &off, dev, &inode) == 6 &&
                strstr(line, "/SYSV") != NULL && (long)inode == shmid)
                n++;
        }
    }
    close(fd);
    return got < 0 ? -1 : n;
}

static long nattch(int shmid) {
    struct shmid_ds ds;
    return shmctl(shmid, IPC_STAT, &ds) == 0 ? (long)ds.shm_nattch : -1;
}

/* The three views agree on `want` attachments held by this process (`kernel_total`: the
 * kernel's count over every process). */
static void agree(int shmid, long want, long kernel_total, const char *when) {
    char what[160];
    snprintf(what, sizeof what, "%s: rshm_attachment_count() is %ld", when, want);
    CHECK((long)rshm_attachment_count() == want, what);
    if ((long)rshm_attachment_count() != want)
        fprintf(stderr, "  (it is %zu)\n", rshm_attachment_count());
    snprintf(what, sizeof what, "%s: /proc/self/maps has %ld SYSV mappings of it", when, want);
    CHECK(maps_count(shmid) == want, what);
    snprintf(what, sizeof what, "%s: shm_nattch is %ld", when, kernel_total);
    CHECK(nattch(shmid) == kernel_total, what);
}

/* ---- the cases, run in the child ---- */

/* The figure was 200k each (built with -DRACE_ROUNDS=200000: some 6 s here, the
 * kernel serializing the two threads' mappings); 50k each drifted too, in a second. */
#ifndef RACE_ROUNDS
#define RACE_ROUNDS 50000
#endif

static int race_id;

static void *attach_detach(void *arg) {
    (void)arg;
    long bad = 0;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        void *p = rshm_at(race_id, NULL, 0);
        if (p == (void *)-1 || rshm_dt(p) != 0)
            bad++;
    }
    return (void *)bad;
}

/* Two threads attach and detach the same segment RACE_ROUNDS times each: the kernel hands an
 * address one thread let go to the other, often before the first recorded its detach. */
static void case_race(int id) {
    race_id = id;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, attach_detach, NULL);
    long bad = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0, "every attach and detach succeeded");
    agree(id, 0, 0, "after 2 threads x RACE_ROUNDS attach/detach");
    CHECK(rshm_rmid(id) == 0, "rmid: nothing held, so no note (checked by the parent)");
}

static void *remap_at;

static void *remap(void *arg) {
    (void)arg;
    long bad = 0;
    for (int i = 0; i < 10000; i++)
        if (rshm_at(race_id, remap_at, SHM_REMAP) != remap_at)
            bad++;
    return (void *)bad;
}

/* Four threads attach the segment at one address with SHM_REMAP, each replacing what is
 * there: one attachment is left, counted once. */
static void case_remap(int id) {
    race_id = id;
    remap_at = rshm_at(id, NULL, 0);
    CHECK(remap_at != (void *)-1, "first attach");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, remap, NULL);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    CHECK(bad == 0, "every SHM_REMAP attach gave the address asked for");
    agree(id, 1, 1, "after 4 x 10k SHM_REMAP at one address");
    CHECK(rshm_rmid(id) == 0, "rmid: the note says 1 time (checked by the parent)");
    CHECK(rshm_dt(remap_at) == 0, "detach");
    CHECK((long)rshm_attachment_count() == 0 && maps_count(id) == 0, "nothing left");
}

/* As many attachments of one 4096-byte segment as vm.max_map_count allows (65530 by
 * default, less the process's other mappings): the registry holds them all. */
static void case_capacity(int id) {
    enum { MAX = 70000 };
    static void *p[MAX];
    int n = 0;
    while (n < MAX && (p[n] = rshm_at(id, NULL, SHM_RDONLY)) != (void *)-1)
        n++;
    CHECK(n < MAX && errno == ENOMEM, "attached until the kernel said ENOMEM (the map count limit)");
    /* Headroom for what the checks themselves map. */
    for (int i = 0; i < 16 && n > 0; i++)
        CHECK(rshm_dt(p[--n]) == 0, "detach for headroom");
    printf("held=%d\n", n);
    CHECK(n > 60000, "tens of thousands attached");
    agree(id, n, n, "with the map count limit reached");
    CHECK(rshm_rmid(id) == 0, "rmid: the note says how many (checked by the parent)");
    int bad = 0;
    for (int i = 0; i < n; i += 2)
        bad += rshm_dt(p[i]) != 0;
    CHECK(bad == 0, "detach every other one");
    agree(id, n / 2, n / 2, "after detaching half");
    for (int i = 1; i < n; i += 2)
        bad += rshm_dt(p[i]) != 0;
    CHECK(bad == 0, "detach the rest");
    CHECK((long)rshm_attachment_count() == 0 && maps_count(id) == 0, "nothing left");
}

/* Attachments inherited across fork: the child holds (and counts) what the parent held,
 * detaches them and makes its own; the parent's counts are its own. */
static void case_fork(int id) {
    void *a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = rshm_at(id, NULL, 0);
        CHECK(a[i] != (void *)-1, "attach");
    }
    agree(id, 3, 3, "before fork");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        check_passed = check_failed = 0;
        agree(id, 3, 6, "in the child, inherited");
        for (int i = 0; i < 3; i++)
            CHECK(rshm_dt(a[i]) == 0, "child detaches an inherited attachment");
        agree(id, 0, 3, "in the child, after detaching them");
        void *b = rshm_at(id, NULL, 0), *c = rshm_at(id, NULL, 0);
        CHECK(b != (void *)-1 && c != (void *)-1, "child attaches twice");
        agree(id, 2, 5, "in the child, its own two");
        CHECK(rshm_dt(b) == 0 && rshm_dt(c) == 0, "child detaches them");
        fflush(NULL);
        _exit(check_failed ? 1 : 0);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "the forked child's checks passed");
    agree(id, 3, 3, "in the parent, after the child");
    CHECK(rshm_rmid(id) == 0, "rmid: the note says 3 times (checked by the parent)");
    for (int i = 0; i < 3; i++)
        CHECK(rshm_dt(a[i]) == 0, "detach");
    CHECK((long)rshm_attachment_count() == 0 && maps_count(id) == 0, "nothing left");
}

/* ---- the parent: runs each case, reads its output and log ---- */

struct seen {
    char rmid[1024];
    int held;
};

static void take_line(const char *line, struct seen *s) {
    int p, f;
    if (strncmp(line, "FAIL ", 5) == 0 || strncmp(line, "  (", 3) == 0)
        fprintf(stderr, "child: %s\n", line);
    else if (sscanf(line, "%d passed, %d failed", &p, &f) == 2) {
        check_passed += p;
        check_failed += f;
    } else if (sscanf(line, "held=%d", &p) == 1)
        s->held = p;
    else if (strstr(line, "rshm_rmid(") != NULL)
        snprintf(s->rmid, sizeof s->rmid, "%.1000s", line);
}

/* Feeds every line read from `fd` to take_line. */
static void read_lines(int fd, struct seen *s) {
    static char buf[1 << 16], line[4096];
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR)) {
        char *p = buf, *end = buf + (got > 0 ? got : 0);
        while (p < end) {
            char *nl = memchr(p, '\n', end - p);
            size_t n = (nl ? nl : end) - p;
            if (n > sizeof line - 1 - len)
                n = sizeof line - 1 - len;
            memcpy(line + len, p, n);
            len += n;
            if (!nl)
                break;
            line[len] = 0;
            len = 0;
            take_line(line, s);
            p = nl + 1;
        }
    }
}

/* Runs case `name` on segment `id` in a child; its output comes back through a pipe, its
 * log through a regular file (a file never makes rshm drop a line, as a full pipe may). */
static int run_case(const char *name, int id, struct seen *s) {
    memset(s, 0, sizeof *s);
    char log[] = "/tmp/rshm-test-counts-XXXXXX";
    int lfd = mkstemp(log);
    int fd[2];
    if (lfd < 0 || pipe(fd))
        return -1;
    char ids[16];
    snprintf(ids, sizeof ids, "%d", id);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        unsetenv("RSHM_LOG_FORMAT");
        unsetenv("RSHM_STRICT");
        unsetenv("RSHM_REPORT");
        setenv("RSHM_LOG", "info", 1);
        setenv("RSHM_LOG_FILE", log, 1);
        char *argv[] = {(char *)self_path(), "case", (char *)name, ids, NULL};
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    read_lines(fd[0], s);
    close(fd[0]);
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        st = -1;
    read_lines(lfd, s);
    close(lfd);
    unlink(log);
    return st;
}

static void expect_note(const char *name, const struct seen *s, int id, int times) {
    char what[256], want[128];
    snprintf(what, sizeof what, "%s: the child logged its rshm_rmid", name);
    CHECK(s->rmid[0] != 0, what);
    if (times == 0) {
        snprintf(what, sizeof what, "%s: rshm_rmid says nothing is still attached", name);
        CHECK(strstr(s->rmid, "still attached") == NULL, what);
    } else {
        snprintf(want, sizeof want, "segment %d is still attached here (%d time%s)", id, times,
                 times == 1 ? "" : "s");
        snprintf(what, sizeof what, "%s: rshm_rmid says \"%s\"", name, want);
        CHECK(strstr(s->rmid, want) != NULL, what);
    }
    if (!strstr(s->rmid, "rshm_rmid") || (times == 0) != (strstr(s->rmid, "still attached") == NULL))
        fprintf(stderr, "  the child's line: %s\n", s->rmid);
}

/* Attachments the kernel dropped without rshm: one unmapped (munmap), one with a mapping
 * placed over it (mmap MAP_FIXED). The registry still counts them; rshm_rmid's note says
 * what the kernel has: 1. */
static void case_dropped(int id) {
    void *a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = rshm_at(id, NULL, 0);
        CHECK(a[i] != (void *)-1, "attach");
    }
    CHECK(munmap(a[0], 4096) == 0, "munmap one");
    CHECK(mmap(a[1], 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == a[1],
          "map anonymous memory over another");
    CHECK(maps_count(id) == 1 && nattch(id) == 1, "the kernel holds one");
    CHECK(rshm_rmid(id) == 0, "rmid: the note says 1 time (checked by the parent)");
    CHECK(rshm_dt(a[2]) == 0, "detach the last");
    munmap(a[1], 4096);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "case") == 0) {
        int id = atoi(argv[3]);
        if (strcmp(argv[2], "race") == 0)
            case_race(id);
        else if (strcmp(argv[2], "remap") == 0)
            case_remap(id);
        else if (strcmp(argv[2], "capacity") == 0)
            case_capacity(id);
        else if (strcmp(argv[2], "fork") == 0)
            case_fork(id);
        else if (strcmp(argv[2], "dropped") == 0)
            case_dropped(id);
        printf("%d passed, %d failed\n", check_passed, check_failed);
        return check_failed == 0 ? 0 : 1;
    }
    const char *cases[] = {"race", "remap", "capacity", "fork", "dropped"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *name = cases[i];
        int id = guard(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
        CHECK(id >= 0, "make the segment");
        struct seen s;
        int st = run_case(name, id, &s);
        char what[96];
        snprintf(what, sizeof what, "%s: the child exited with 0", name);
        CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, what);
        if (strcmp(name, "race") == 0)
            expect_note(name, &s, id, 0);
        else if (strcmp(name, "remap") == 0)
            expect_note(name, &s, id, 1);
        else if (strcmp(name, "capacity") == 0)
            expect_note(name, &s, id, s.held);
        else if (strcmp(name, "dropped") == 0)
            expect_note(name, &s, id, 1);
        else
            expect_note(name, &s, id, 3);
        shmctl(id, IPC_RMID, NULL);
        errno = 0;
        snprintf(what, sizeof what, "%s: the segment is gone", name);
        CHECK(nattch(id) == -1 && errno == EINVAL, what);
    }
    return check_done();
}
