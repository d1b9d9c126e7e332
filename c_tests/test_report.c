/* RSHM_REPORT=1: at exit, each process lists what it leaves, at info level, and never
 * calls anything a leak (another process may still remove a segment; rshm-trace gives
 * the verdict at the end of a run). The list is the kernel's view: a segment already
 * marked for removal is said to go with its last detach (the JVM's attach-then-remove
 * idiom), an attachment the kernel dropped (munmap, then a shmdt that fails) is not
 * listed, and an attachment a forked child inherited is listed as inherited. */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int child(const char *mode) {
    if (!strcmp(mode, "raw")) {
        /* Attached with plain shmat, never through rshm, and held at exit. */
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
        if (p == (void *)-1 || shmctl(id, IPC_RMID, NULL) != 0)
            return 2;
        printf("%d %p\n", id, p);
        return 0;
    }
    if (!strcmp(mode, "idreuse")) {
        /* In an IPC namespace of its own: made here through rshm, then removed and its id
         * given to a segment of another key, both by raw system calls rshm does not see. */
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0 || syscall(SYS_shmctl, id, IPC_RMID, NULL) != 0)
            return 2;
        char next[32];
        snprintf(next, sizeof next, "%d", id);
        if (write_file("/proc/sys/kernel/shm_next_id", next) != 0)
            return 3;
        int again = (int)syscall(SYS_shmget, (key_t)0x52e00001, 8192, IPC_CREAT | 0600);
        printf("%d %d\n", id, again);
        return again == id ? 0 : 4;
    }
    if (!strcmp(mode, "unreadable")) {
        /* Made here write-only (0200): IPC_STAT needs read, which its owner lacks. */
        int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0200);
        if (id < 0)
            return 2;
        printf("%d\n", id);
        return 0;
    }
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *p = rshm_at(id, NULL, 0);
    if (id < 0 || p == (void *)-1)
        return 2;
    if (!strcmp(mode, "jvm")) {
        rshm_rmid(id); /* attached, then marked for removal: the kernel frees it at exit */
    } else if (!strcmp(mode, "stale")) {
        munmap(p, 4096); /* the kernel detaches it; rshm's entry is stale */
        if (rshm_dt(p) != -1 || errno != EINVAL)
            return 3;
        rshm_rmid(id);
    } else if (!strcmp(mode, "inherit")) {
        pid_t kid = fork();
        if (kid == 0)
            exit(0); /* holds the inherited attachment at exit */
        waitpid(kid, NULL, 0);
        rshm_dt(p);
        rshm_rmid(id);
        printf("%d ", (int)kid);
    } else if (!strcmp(mode, "made")) {
        /* Made here, left for another process (the parent test) to remove. */
        rshm_dt(p);
    } else if (!strcmp(mode, "chmod")) {
        /* Made 0600, then set to 0640 with IPC_SET: the report says what the kernel has. */
        struct shmid_ds ds;
        rshm_dt(p);
        if (shmctl(id, IPC_STAT, &ds) != 0)
            return 3;
        ds.shm_perm.mode = 0640;
        if (shmctl(id, IPC_SET, &ds) != 0)
            return 3;
    }
    printf("%d %p\n", id, p);
    return 0;
}

static char self[PATH_MAX];

/* The report lines of process `pid` in `log`, messages only, one per line, into `out`. */
static int report_of(const char *log, int pid, char *out, size_t cap) {
    FILE *fp = fopen(log, "r");
    char line[1024], head[64];
    int n = 0;
    out[0] = 0;
    snprintf(head, sizeof head, " %d/", pid);
    while (fp && fgets(line, sizeof line, fp)) {
        char *r = strstr(line, " report: ");
        if (!r || !strstr(line, head))
            continue;
        n++;
        if (strlen(out) + strlen(r + 9) + 1 < cap)
            strcat(out, r + 9);
    }
    if (fp)
        fclose(fp);
    return n;
}

/* As another user when this runs as root: root reads any segment. */
static void as_nobody(void) {
    if (getuid() == 0 && setuid(65534) != 0)
        _exit(126);
}

/* An IPC namespace of its own (root): its segments and shm_next_id go with it. */
static void own_ipc_namespace(void) {
    if (unshare(CLONE_NEWIPC) != 0)
        _exit(125);
}

static int run_as(const char *mode, const char *log, char *out, size_t cap, void (*prepare)(void)) {
    char *argv[] = {self, "child", (char *)mode, NULL};
    const char *env[] = {"RSHM_REPORT", "1", "RSHM_LOG_FILE", log, NULL};
    char err[4096];
    fflush(stdout);
    int st = spawn_capture(argv, env, prepare, out, cap, err, sizeof err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *mode, const char *log, char *out, size_t cap, int *pid) {
    char *argv[] = {self, "child", (char *)mode, NULL};
    const char *env[] = {"RSHM_REPORT", "1", "RSHM_LOG_FILE", log, NULL};
    char err[4096];
    fflush(stdout);
    int st = spawn_capture(argv, env, NULL, out, cap, err, sizeof err);
    (void)pid;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The pid of the process that wrote the first report line of `log`. */
static int first_pid(const char *log, int not) {
    FILE *fp = fopen(log, "r");
    char line[1024];
    int pid = -1;
    while (fp && fgets(line, sizeof line, fp)) {
        int p = -1;
        if (strstr(line, " report: ") && sscanf(line, "rshm %*s %d/", &p) == 1 && p != not) {
            pid = p;
            break;
        }
    }
    if (fp)
        fclose(fp);
    return pid;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child(argv[2]);
    snprintf(self, sizeof self, "%s", self_path());
    char log[] = "/tmp/rshm-report-XXXXXX";
    int fd = mkstemp(log);
    close(fd);
    char out[256], rep[4096], want[512];
    int id, pid;
    void *p;

    CHECK(run("jvm", log, out, sizeof out, &pid) == 0 && sscanf(out, "%d %p", &id, &p) == 2, "jvm child ran");
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 2, "attach-then-remove: two report lines");
    snprintf(want, sizeof want, "segment %d at %p (4096 bytes, attached here at ", id, p);
    CHECK(!strncmp(rep, want, strlen(want)) &&
              strstr(rep, ") is still attached; the segment is marked for removal: the kernel detaches it at exit "
                          "and frees it with the last detach\n"),
          "attach-then-remove: the attachment goes with the process, and the segment with it");
    CHECK(strstr(rep, "at exit: 0 segment(s) made here still exist, 1 attachment(s) still held\n") != NULL,
          "attach-then-remove: a segment marked for removal is not one that outlives the process");
    CHECK(!strstr(rep, "leak"), "attach-then-remove: no word of a leak");
    CHECK(shmctl(id, IPC_STAT, &(struct shmid_ds){0}) == -1, "and the kernel agrees: the segment is gone");
    truncate(log, 0);

    CHECK(run("stale", log, out, sizeof out, &pid) == 0, "stale child ran");
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 1 &&
              !strcmp(rep, "at exit: 0 segment(s) made here still exist, 0 attachment(s) still held\n"),
          "munmap then a failed shmdt: the stale entry is not listed");
    truncate(log, 0);

    int kid = 0;
    CHECK(run("inherit", log, out, sizeof out, &pid) == 0 && sscanf(out, "%d %d %p", &kid, &id, &p) == 3,
          "inherit child ran");
    CHECK(report_of(log, kid, rep, sizeof rep) == 2, "the forked child reports the inherited attachment");
    int parent = first_pid(log, kid);
    snprintf(want, sizeof want, "segment %d at %p (4096 bytes, inherited: attached by pid %d at ", id, p, parent);
    CHECK(!strncmp(rep, want, strlen(want)) && strstr(rep, ") is still attached; the kernel detaches it at exit\n"),
          "listed as inherited, with the pid that attached it");
    CHECK(strstr(rep, "at exit: 0 segment(s) made here still exist, 1 attachment(s) still held\n") != NULL,
          "the child made no segment");
    CHECK(report_of(log, parent, rep, sizeof rep) == 1 &&
              !strcmp(rep, "at exit: 0 segment(s) made here still exist, 0 attachment(s) still held\n"),
          "the parent, which detached and removed, leaves nothing");
    truncate(log, 0);

    CHECK(run("made", log, out, sizeof out, &pid) == 0 && sscanf(out, "%d %p", &id, &p) == 2, "made child ran");
    guard(id);
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 2, "a segment left for another process: two lines");
    snprintf(want, sizeof want, "segment %d (key IPC_PRIVATE, 4096 bytes, mode 0600, created here at ", id);
    CHECK(!strncmp(rep, want, strlen(want)) &&
              strstr(rep, ") still exists at exit; another process may still remove it\n") && !strstr(rep, "leak"),
          "it still exists, said at info level, never called a leak");
    CHECK(shmctl(id, IPC_RMID, NULL) == 0, "and another process (this one) removes it");
    truncate(log, 0);

    CHECK(run("raw", log, out, sizeof out, &pid) == 0 && sscanf(out, "%d %p", &id, &p) == 2, "raw child ran");
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 2, "an attachment made without rshm: two lines");
    snprintf(want, sizeof want,
             "segment %d at %p (attached without rshm) is still attached; the segment is marked for removal: the "
             "kernel detaches it at exit and frees it with the last detach\n",
             id, p);
    CHECK(!strncmp(rep, want, strlen(want)), "listed from the kernel's view, as attached without rshm");
    CHECK(shmctl(id, IPC_STAT, &(struct shmid_ds){0}) == -1, "and the kernel agrees: it went with the process");
    truncate(log, 0);

    CHECK(run("chmod", log, out, sizeof out, &pid) == 0 && sscanf(out, "%d %p", &id, &p) == 2, "chmod child ran");
    guard(id);
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 2, "a segment whose mode changed: two lines");
    snprintf(want, sizeof want, "segment %d (key IPC_PRIVATE, 4096 bytes, mode 0640, created here at ", id);
    CHECK(!strncmp(rep, want, strlen(want)), "its mode as the kernel has it now (IPC_SET), not as it was made");
    CHECK(shmctl(id, IPC_RMID, NULL) == 0, "it did exist: removed now");
    truncate(log, 0);

    if (getuid() == 0) {
        /* The id of a segment made here now names another key's segment: not listed. */
        int again = -1;
        CHECK(run_as("idreuse", log, out, sizeof out, own_ipc_namespace) == 0 &&
                  sscanf(out, "%d %d", &id, &again) == 2 && again == id,
              "idreuse child ran (its id was given to a segment of another key)");
        pid = first_pid(log, -1);
        CHECK(report_of(log, pid, rep, sizeof rep) == 1 &&
                  !strcmp(rep, "at exit: 0 segment(s) made here still exist, 0 attachment(s) still held\n"),
              "a reused id is not taken for the segment made here");
        truncate(log, 0);
    }

    /* Write-only for its owner: IPC_STAT is refused, SHM_STAT_ANY is not: listed as it is. */
    chmod(log, 0666);
    CHECK(run_as("unreadable", log, out, sizeof out, as_nobody) == 0 && sscanf(out, "%d", &id) == 1,
          "unreadable child ran");
    guard(id);
    pid = first_pid(log, -1);
    CHECK(report_of(log, pid, rep, sizeof rep) == 2, "a segment its owner cannot read: two lines");
    snprintf(want, sizeof want, "segment %d (key IPC_PRIVATE, 4096 bytes, mode 0200, created here at ", id);
    CHECK(!strncmp(rep, want, strlen(want)) && strstr(rep, ") still exists at exit; another process may still remove it\n"),
          "still exists, read with SHM_STAT_ANY (its owner's IPC_STAT gets EACCES)");
    CHECK(shmctl(id, IPC_RMID, NULL) == 0, "it did exist: removed now");
    unlink(log);
    return check_done();
}
