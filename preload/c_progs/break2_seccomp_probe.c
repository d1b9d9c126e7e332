/* Asks the kernel about seccomp without installing any filter, as libseccomp does when it
 * probes the API: seccomp(SECCOMP_GET_ACTION_AVAIL) for SECCOMP_RET_LOG (succeeds), and
 * prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL), which fails with EFAULT (no
 * program: nothing installed). Then one raw shmget and its raw IPC_RMID, which are not
 * refused by anything. Prints "avail = 0", "probe = -1 EFAULT", "get = ID", "rm = 0";
 * exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    uint32_t action = SECCOMP_RET_LOG;
    long r = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    printf("avail = %ld\n", r);
    r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL, 0, 0);
    printf("probe = %ld %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("get = %ld\n", id);
    printf("rm = %ld\n", syscall(SYS_shmctl, id, IPC_RMID, NULL));
    return 0;
}
