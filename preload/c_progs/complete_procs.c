/* Shm calls in several processes and a thread, one after the other (so segment ids are
 * the same in every run): the parent makes segment A (libc) and attaches it (raw); a
 * forked child attaches and detaches it; a vfork child and a posix_spawn child exec this
 * program again ("child TAG A"), which makes, states and removes a segment of its own;
 * a thread makes and removes one with raw calls; the parent detaches and removes A.
 * Prints what each call returned, no address or pid. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int waited(pid_t pid) {
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The exec'd child: a segment of its own, made raw and removed through libc. */
static int child(const char *tag, int a) {
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    struct shmid_ds ds;
    long r = syscall(SYS_shmctl, a, IPC_STAT, &ds);
    int rm = shmctl((int)id, IPC_RMID, NULL);
    printf("%s: shmget = %ld, IPC_STAT(A) = %ld nattch %lu, IPC_RMID = %d\n", tag, id, r,
           (unsigned long)ds.shm_nattch, rm);
    return id < 0 || r != 0 || rm != 0;
}

static void *thread(void *arg) {
    (void)arg;
    long id = syscall(SYS_shmget, IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600);
    long r = syscall(SYS_shmctl, id, IPC_RMID, NULL);
    long again = syscall(SYS_shmctl, id, IPC_RMID, NULL);
    printf("thread: shmget = %ld, IPC_RMID = %ld, again = %ld %s\n", id, r, again,
           again < 0 ? strerrorname_np(errno) : "");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child(argv[2], atoi(argv[3]));
    int a = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("parent: shmget = %d\n", a);
    if (a < 0)
        return 1;
    char *p = (char *)syscall(SYS_shmat, a, NULL, 0);
    if (p == (void *)-1) {
        shmctl(a, IPC_RMID, NULL);
        return 1;
    }
    fflush(stdout);
    int bad = 0;

    pid_t pid = fork();
    if (pid == 0) {
        char *c = (char *)syscall(SYS_shmat, a, NULL, SHM_RDONLY);
        long r = c == (void *)-1 ? -1 : shmdt(c);
        long again = syscall(SYS_shmdt, c);
        printf("fork: shmat, shmdt = %ld, raw shmdt again = %ld %s\n", r, again,
               again < 0 ? strerrorname_np(errno) : "");
        fflush(stdout);
        _exit(r != 0);
    }
    bad |= waited(pid) != 0;

    char arg[16];
    snprintf(arg, sizeof arg, "%d", a);
    char *vargv[] = {argv[0], "child", "vfork", arg, NULL};
    pid = vfork();
    if (pid == 0) {
        execve("/proc/self/exe", vargv, environ);
        _exit(127);
    }
    bad |= waited(pid) != 0;

    char *sargv[] = {argv[0], "child", "spawn", arg, NULL};
    int e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, sargv, environ);
    bad |= e != 0 || waited(pid) != 0;

    pthread_t t;
    bad |= pthread_create(&t, NULL, thread, NULL) != 0 || pthread_join(t, NULL) != 0;

    long r = syscall(SYS_shmdt, p);
    int rm = shmctl(a, IPC_RMID, NULL);
    printf("parent: raw shmdt = %ld, IPC_RMID = %d\n", r, rm);
    return bad || r != 0 || rm != 0;
}
