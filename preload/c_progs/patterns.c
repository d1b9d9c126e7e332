/* What real clients of System V shared memory do, none of it a mistake: a child creates
 * and the parent removes; remove while attached (the JVM's idiom); attach in the parent
 * and detach in a forked child; a reopen of one's own key; get-or-create twice. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int bad = 0;
    key_t key = (key_t)strtol(argc > 1 ? argv[1] : "0x7e00005b", NULL, 0);

    /* A child creates, the parent removes. */
    int fds[2];
    if (pipe(fds))
        return 2;
    pid_t kid = fork();
    if (kid == 0) {
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        _exit(write(fds[1], &id, sizeof id) == sizeof id && id >= 0 ? 0 : 1);
    }
    int made = -1;
    bad += read(fds[0], &made, sizeof made) != sizeof made;
    waitpid(kid, NULL, 0);
    bad += shmctl(made, IPC_RMID, NULL) != 0;

    /* Remove while attached, detach later. */
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void *p = shmat(id, NULL, 0);
    bad += shmctl(id, IPC_RMID, NULL) != 0;
    bad += shmdt(p) != 0;

    /* Attach in the parent, detach in a forked child (and in the parent). */
    id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    p = shmat(id, NULL, 0);
    kid = fork();
    if (kid == 0)
        _exit(shmdt(p) != 0);
    int st;
    waitpid(kid, &st, 0);
    bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    bad += shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0;

    /* Get-or-create on a named key, twice; the second is a reopen of one's own segment. */
    int a = shmget(key, 4096, IPC_CREAT | 0600);
    int b = shmget(key, 4096, IPC_CREAT | 0600);
    int c = shmget(key, 0, 0);
    bad += a < 0 || b != a || c != a;
    bad += shmctl(a, IPC_RMID, NULL) != 0;
    printf("%s\n", bad ? "bad" : "ok");
    return 0;
}
