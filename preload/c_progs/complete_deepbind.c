/* Loads the library argv[1] with RTLD_NOW|RTLD_DEEPBIND and runs its deep_run on a
 * segment made and removed here with libc's calls (the preload library sees these). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
    int (*run)(int) = h ? (int (*)(int))dlsym(h, "deep_run") : NULL;
    if (!run) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    int a = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("shmget = %d\n", a);
    if (a < 0)
        return 1;
    fflush(stdout);
    int bad = run(a);
    fflush(stdout);
    printf("IPC_RMID = %d\n", shmctl(a, IPC_RMID, NULL));
    return bad;
}
