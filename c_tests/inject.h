/* Helpers that provoke failures for the truth tables of explanations (used by
 * c_tests/test_explain.c and preload/c_progs/explain.c):
 * - overcommit_mode() and cap_address_space(), for shmget's and shmat's ENOMEM;
 * - inject(), which makes the kernel refuse chosen shm system calls with a chosen errno,
 *   for the causes that cannot be provoked for real: ENFILE from shmget needs the system-wide file table
 * full (every program on the machine would fail), and shmctl's EOVERFLOW comes only from
 * the old 32-bit IPC_STAT, which x86-64 programs do not have. A seccomp filter (in a forked
 * child: a filter cannot be removed) refuses only the calls whose arguments match, so
 * every other call, rshm's questions included, reaches the kernel. */
#ifndef RSHM_INJECT_H
#define RSHM_INJECT_H
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>

/* /proc/sys/vm/overcommit_memory: 0 heuristic, 1 always, 2 strict; -1 if unreadable. */
static inline int overcommit_mode(void) {
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = -1;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = -1;
        fclose(f);
    }
    return mode;
}

/* Sets RLIMIT_AS to what the process maps now (VmSize) plus `extra` bytes. 0, or -1. */
static inline int cap_address_space(unsigned long long extra) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "VmSize: %llu", &kb);
    if (f)
        fclose(f);
    struct rlimit r = {.rlim_cur = (kb << 10) + extra, .rlim_max = (kb << 10) + extra};
    return kb == 0 ? -1 : setrlimit(RLIMIT_AS, &r);
}
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#if defined(__x86_64__)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/* shmget of size `get_size` fails with `get_errno`; shmctl(`ctl_id`, `ctl_cmd`) with
 * `ctl_errno`. Returns 0, or -1 if the kernel will not install the filter. */
static inline int inject(unsigned get_size, int get_errno, unsigned ctl_id, int ctl_cmd, int ctl_errno) {
#define ARG_LO(n) (offsetof(struct seccomp_data, args) + 8 * (n))
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_shmget, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, get_size, 0, 8),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)get_errno),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_shmctl, 0, 6),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ctl_id, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff), /* without IPC_64 */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)ctl_cmd, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)ctl_errno),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
#undef ARG_LO
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -1;
}
#else
static inline int inject(unsigned get_size, int get_errno, unsigned ctl_id, int ctl_cmd, int ctl_errno) {
    (void)get_size, (void)get_errno, (void)ctl_id, (void)ctl_cmd, (void)ctl_errno;
    errno = ENOSYS;
    return -1;
}
#endif
#endif
