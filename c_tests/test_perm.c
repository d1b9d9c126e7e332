/* EACCES and EPERM as another user: as root, a forked child drops to uid 65534. */
#define _GNU_SOURCE
#include "check.h"
#include <sys/wait.h>

/* In the unprivileged child: every check must hold, exit status counts the failures. */
static int as_nobody(key_t key, int id) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 100;
    int bad = 0;
    errno = 0;
    bad += rshm_get(key, 0, 0600) != -1 || errno != EACCES;
    bad += strstr(rshm_last_error(), "does not grant uid 65534 the access flags 0600 ask for") == NULL;
    /* (valgrind answers EINVAL here: see under_valgrind.) */
    int want = under_valgrind() ? EINVAL : EACCES;
    errno = 0;
    bad += rshm_at(id, NULL, 0) != (void *)-1 || errno != want;
    bad += !under_valgrind() &&
           strstr(rshm_last_error(), "(mode 0600, owner uid 0) does not grant uid 65534 read and write access") == NULL;
    errno = 0;
    bad += rshm_at(id, NULL, SHM_RDONLY) != (void *)-1 || errno != want;
    errno = 0;
    bad += rshm_rmid(id) != -1 || errno != EPERM;
    bad += strstr(rshm_last_error(), "only the owner (uid 0), the creator (uid 0) or a privileged process") == NULL;
    if (bad)
        fprintf(stderr, "as uid %d: %d check(s) failed; last error: %s\n", (int)getuid(), bad, rshm_last_error());
    return bad;
}

int main(void) {
    if (getuid() != 0) {
        /* Without root there is no other user to become: EACCES from a mode-0 segment. */
        int id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0));
        CHECK(id >= 0, "create mode 0");
        errno = 0;
        CHECK(rshm_at(id, NULL, 0) == (void *)-1 && errno == EACCES, "EACCES on a mode-0 segment");
        CHECK(rshm_rmid(id) == 0, "owner may remove");
        return check_done();
    }
    key_t key = unique_key();
    int id = guard(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(id >= 0, "root creates a 0600 segment");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(as_nobody(key, id));
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "child ran");
    CHECK(WEXITSTATUS(st) == 0, "uid 65534: EACCES for get and at, EPERM for rmid, each with its sentence");
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "the segment survived the unprivileged rmid");

    /* A segment 0604 lets others read: the child may attach read-only, not read-write. */
    int ro = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0604));
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(100);
        void *p = rshm_at(ro, NULL, SHM_RDONLY);
        int bad = p == (void *)-1 || rshm_dt(p) != 0;
        errno = 0;
        bad += rshm_at(ro, NULL, 0) != (void *)-1 || errno != EACCES;
        _exit(bad);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "0604: read-only attach only");

    CHECK(rshm_rmid(id) == 0 && rshm_rmid(ro) == 0, "root removes");
    return check_done();
}
