/* Installs its own seccomp filter that fails shmget with EPERM (SECCOMP_RET_ERRNO, which
 * takes precedence over any SECCOMP_RET_TRACE), then makes one raw shmget and prints
 * "raw get = -1 EPERM". strace -f shows that call; exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_shmget, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {4, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) < 0) {
        perror("seccomp");
        return 2;
    }
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("raw get = %ld %s\n", id, id < 0 ? strerrorname_np(errno) : "");
    return 0;
}
