/* A refusal that rests on a limit reads the limit again first: in an IPC namespace of
 * the test's own (a forked child does unshare(CLONE_NEWIPC), as root, and checks that its
 * namespace is not its parent's before it writes a limit; the namespace and its limits go
 * with the child), rshm_get refuses a size above a lowered kernel.shmmax, and after shmmax
 * is raised it accepts that size. The explanations that name SHMMNI and SHMALL give their
 * values as they are now, too. */
#define _GNU_SOURCE
#include "check.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>

/* In the child: every failed check counts; 255 when no namespace of its own. */
static int in_namespace(const char *parent_ns) {
    char ns[64] = {0};
    if (unshare(CLONE_NEWIPC) != 0 || readlink("/proc/self/ns/ipc", ns, sizeof ns - 1) <= 0 || !strcmp(ns, parent_ns))
        return 255;
    int bad = 0;
    size_t two_mib = 2 << 20;

    /* SHMMAX lowered, then raised. */
    bad += write_file("/proc/sys/kernel/shmmax", "1048576") != 0;
    errno = 0;
    bad += rshm_get(IPC_PRIVATE, two_mib, IPC_CREAT | 0600) != -1 || errno != EINVAL;
    bad += strcmp(rshm_last_error(), "rshm_get: size 2097152 is above SHMMAX (1048576) for a new segment") != 0;
    errno = 0;
    bad += rshm_get(IPC_PRIVATE, two_mib, IPC_CREAT | 0600) != -1 || errno != EINVAL;
    if (bad)
        fprintf(stderr, "shmmax 1 MiB: %s\n", rshm_last_error());
    bad += write_file("/proc/sys/kernel/shmmax", "4194304") != 0;
    int id = rshm_get(IPC_PRIVATE, two_mib, IPC_CREAT | 0600);
    bad += id < 0;
    if (id < 0)
        fprintf(stderr, "shmmax raised to 4 MiB, still refused: %s\n", rshm_last_error());
    else
        rshm_rmid(id);

    /* SHMMNI: the explanation gives the value of now. */
    bad += write_file("/proc/sys/kernel/shmmni", "1") != 0;
    int a = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    errno = 0;
    bad += a < 0 || rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600) != -1 || errno != ENOSPC;
    bad += strstr(rshm_last_error(), "all SHMMNI (1) segment ids are in use") == NULL;
    bad += write_file("/proc/sys/kernel/shmmni", "2") != 0;
    int b = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    errno = 0;
    bad += b < 0 || rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600) != -1 || errno != ENOSPC;
    bad += strstr(rshm_last_error(), "all SHMMNI (2) segment ids are in use") == NULL;
    if (bad)
        fprintf(stderr, "shmmni: %s\n", rshm_last_error());

    /* SHMALL: likewise. */
    bad += write_file("/proc/sys/kernel/shmmni", "4096") != 0 || write_file("/proc/sys/kernel/shmall", "3") != 0;
    errno = 0;
    bad += rshm_get(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600) != -1 || errno != ENOSPC;
    bad += strstr(rshm_last_error(), "8192 more bytes would exceed SHMALL (3 pages in all; 2 in use)") == NULL;
    bad += write_file("/proc/sys/kernel/shmall", "4") != 0;
    int c = rshm_get(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600);
    bad += c < 0;
    if (bad)
        fprintf(stderr, "shmall: %s\n", rshm_last_error());
    rshm_rmid(a);
    rshm_rmid(b);
    rshm_rmid(c);
    return bad;
}

int main(void) {
    if (getuid() != 0) {
        CHECK(1, "skipped: needs root for unshare(CLONE_NEWIPC)");
        return check_done();
    }
    char ns[64] = {0};
    CHECK(readlink("/proc/self/ns/ipc", ns, sizeof ns - 1) > 0, "our IPC namespace");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(in_namespace(ns));
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st), "namespace child ran");
    CHECK(WEXITSTATUS(st) != 255, "an IPC namespace of the child's own");
    CHECK(WEXITSTATUS(st) == 0, "SHMMAX raised: a size refused before is accepted; SHMMNI and SHMALL named as they are now");
    char now[64] = {0};
    CHECK(readlink("/proc/self/ns/ipc", now, sizeof now - 1) > 0 && !strcmp(now, ns), "we never left our namespace");
    return check_done();
}
