/* Calls before main (a constructor), a raw syscall attachment the library never saw,
 * then an exec'd copy of itself that makes a call of its own. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static int early_id = -1;

/* Runs during exit, after main returned. */
static void at_exit(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    fprintf(stderr, "fact exit_id %d\n", id);
    shmctl(id, IPC_RMID, NULL);
}

__attribute__((constructor)) static void before_main(void) {
    early_id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "exec")) {
        atexit(at_exit);
        /* The constructor ran again in this new image: remove its segment too. */
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        fprintf(stderr, "fact exec_pid %d\nfact exec_id %d\n", (int)getpid(), id);
        return (shmctl(id, IPC_RMID, NULL) != 0) | (shmctl(early_id, IPC_RMID, NULL) != 0);
    }
    fprintf(stderr, "fact early_id %d\n", early_id);
    void *raw = (void *)syscall(SYS_shmat, early_id, NULL, 0);
    fprintf(stderr, "fact raw %p\n", raw);
    int dt = shmdt(raw);
    int rm = shmctl(early_id, IPC_RMID, NULL);
    printf("raw attach detached: %d, removed: %d\n", dt, rm);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
    return 99;
}
