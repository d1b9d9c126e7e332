/* Resource exhaustion, provoked safely in a private IPC namespace (unshare(CLONE_NEWIPC),
 * as root): with kernel.shmmni lowered to 3 the fourth segment fails with ENOSPC and the
 * sentence names SHMMNI and its value; with kernel.shmall lowered, a big segment fails
 * with ENOSPC naming SHMALL. The namespace, and every segment in it, goes with the child. */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>

/* In the child, in its own IPC namespace; rshm has not run here yet, so it reads the
 * lowered limits. Returns the number of failed checks (255: could not set up). */
static int in_namespace(void) {
    if (unshare(CLONE_NEWIPC) != 0 || write_file("/proc/sys/kernel/shmmni", "3") != 0 ||
        write_file("/proc/sys/kernel/shmall", "4") != 0)
        return 255;
    int bad = 0, ids[3];
    for (int i = 0; i < 3; i++)
        bad += (ids[i] = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600)) < 0;
    errno = 0;
    bad += rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600) != -1 || errno != ENOSPC;
    bad += strcmp(rshm_last_error(), "rshm_get: all SHMMNI (3) segment ids are in use; no new segment can be made") != 0;
    if (bad)
        fprintf(stderr, "shmmni: %s\n", rshm_last_error());
    rshm_rmid(ids[2]);
    /* 3 pages are in use by two segments of one page... 4 pages in all: 3 more pages fail. */
    errno = 0;
    int r = rshm_get(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600);
    bad += r != -1 || errno != ENOSPC;
    bad += strstr(rshm_last_error(), "12288 more bytes would exceed SHMALL (4 pages in all; 2 in use)") == NULL;
    if (bad)
        fprintf(stderr, "shmall: %s\n", rshm_last_error());
    return bad;
}

int main(void) {
    if (getuid() != 0) {
        /* No namespace without privilege: the sentence is checked by the unit tests. */
        CHECK(1, "skipped: needs root for unshare(CLONE_NEWIPC)");
        return check_done();
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(in_namespace());
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "namespace child ran");
    CHECK(WEXITSTATUS(st) != 255, "private IPC namespace with lowered limits");
    CHECK(WEXITSTATUS(st) == 0, "ENOSPC for SHMMNI and for SHMALL, each naming the limit and its value");
    return check_done();
}
