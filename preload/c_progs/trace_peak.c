/* The kernel's attachment count, which never exceeds 1 here, after attaches that end
 * with no shmdt (the run's own count of attachments overcounts them):
 *   exit    the parent attaches and exits (the kernel detaches it); then a child attaches;
 *   exec    a child forked before keeps the process's trace connection open; the process
 *           attaches, then execs itself (the kernel detaches it) and attaches again;
 *   munmap  three times: attach, munmap the attachment (the kernel detaches it), and map
 *           something else there (so that the next attach lands elsewhere).
 * Prints "seg ID" first, then "nattch N" as IPC_STAT says after each attach, and holds
 * each attachment 100 ms (time for rshm-trace to ask the kernel while it is there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

static void *attach(int id) {
    void *p = shmat(id, NULL, 0);
    struct shmid_ds ds;
    if (p == (void *)-1 || shmctl(id, IPC_STAT, &ds) != 0)
        exit(1);
    printf("nattch %lu\n", (unsigned long)ds.shm_nattch);
    fflush(stdout);
    usleep(100 * 1000);
    return p;
}

int main(int argc, char **argv) {
    if (argc == 3) { /* exec, after the exec */
        int id = atoi(argv[2]);
        void *p = attach(id);
        return shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0;
    }
    if (argc != 2)
        return 2;
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\n", id);
    fflush(stdout);
    if (id < 0)
        return 1;
    if (!strcmp(argv[1], "exit")) {
        pid_t child = fork();
        if (child < 0)
            return 1;
        if (child == 0) {
            usleep(300 * 1000);
            void *p = attach(id);
            _exit(shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0);
        }
        attach(id);
        return 0;
    }
    if (!strcmp(argv[1], "exec")) {
        pid_t child = fork();
        if (child < 0)
            return 1;
        if (child == 0) {
            sleep(1);
            _exit(0);
        }
        attach(id);
        char arg[16];
        snprintf(arg, sizeof arg, "%d", id);
        execl("/proc/self/exe", argv[0], "again", arg, (char *)NULL);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        void *p = attach(id);
        if (munmap(p, 4096) != 0 ||
            mmap(p, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
            return 1;
    }
    return shmctl(id, IPC_RMID, NULL) != 0;
}
