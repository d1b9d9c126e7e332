/* An interposer loaded after librshm_preload.so that forwards shmget unchanged, 1 ms
 * later, as a slow tracer or a loaded machine would: calls of one process overlap more. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int shmget(key_t key, size_t size, int flags) {
    int (*next)(key_t, size_t, int) = (int (*)(key_t, size_t, int))dlsym(RTLD_NEXT, "shmget");
    usleep(1000);
    return next(key, size, flags);
}
