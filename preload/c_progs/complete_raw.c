/* Raw syscall(2) shm calls (only a seccomp stop sees them) mixed with libc's (the
 * preload library sees them): two segments, attached, written and stated both ways,
 * failing raw and libc calls, both removed, and a raw second removal that fails. Prints
 * what each call returned, no address. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static void said(const char *what, long r) {
    printf("%s = %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    int a = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    said("libc shmget", a);
    long b = syscall(SYS_shmget, IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0640);
    said("raw shmget", b);
    if (a < 0 || b < 0)
        return 1;
    char *p = (char *)syscall(SYS_shmat, b, NULL, 0);
    char *q = shmat(a, NULL, SHM_RDONLY);
    said("raw shmat", p == (void *)-1 ? -1 : 0);
    said("libc shmat", q == (void *)-1 ? -1 : 0);
    if (p != (void *)-1)
        strcpy(p, "raw");
    said("raw shmdt(p+8)", syscall(SYS_shmdt, p + 8));
    said("libc shmdt(q+1)", shmdt(q + 1));
    struct shmid_ds ds;
    long r = syscall(SYS_shmctl, a, IPC_STAT, &ds);
    printf("raw IPC_STAT = %ld size %zu\n", r, (size_t)ds.shm_segsz);
    r = shmctl((int)b, IPC_STAT, &ds);
    printf("libc IPC_STAT = %ld size %zu\n", r, (size_t)ds.shm_segsz);
    said("raw shmdt", syscall(SYS_shmdt, p));
    said("libc shmdt", shmdt(q));
    said("raw IPC_RMID", syscall(SYS_shmctl, a, IPC_RMID, NULL));
    said("libc IPC_RMID", shmctl((int)b, IPC_RMID, NULL));
    said("raw IPC_RMID again", syscall(SYS_shmctl, b, IPC_RMID, NULL));
    return 0;
}
