/* Looks shmget, shmat, shmdt and shmctl up with dlsym on dlopen("libc.so.6") (libc's
 * own, not the preload library's) and calls them, around libc's own names (which the
 * preload library sees). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    void *h = dlopen("libc.so.6", RTLD_NOW);
    int (*get)(key_t, size_t, int) = h ? (int (*)(key_t, size_t, int))dlsym(h, "shmget") : 0;
    void *(*at)(int, const void *, int) =
        h ? (void *(*)(int, const void *, int))dlsym(h, "shmat") : 0;
    int (*dt)(const void *) = h ? (int (*)(const void *))dlsym(h, "shmdt") : 0;
    int (*ctl)(int, int, struct shmid_ds *) =
        h ? (int (*)(int, int, struct shmid_ds *))dlsym(h, "shmctl") : 0;
    if (!get || !at || !dt || !ctl) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    int id = get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("dlsym shmget = %d\n", id);
    int mine = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("libc shmget = %d\n", mine);
    if (id < 0 || mine < 0)
        return 1;
    char *p = at(id, NULL, 0);
    if (p == (void *)-1)
        return 1;
    strcpy(p, "dlsym");
    struct shmid_ds ds;
    int r = ctl(id, IPC_STAT, &ds);
    printf("dlsym IPC_STAT = %d nattch %lu\n", r, (unsigned long)ds.shm_nattch);
    r = dt(p + 4096);
    printf("dlsym shmdt(past the end) = %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    printf("dlsym shmdt = %d\n", dt(p));
    printf("libc IPC_RMID = %d\n", shmctl(mine, IPC_RMID, NULL));
    printf("dlsym IPC_RMID = %d\n", ctl(id, IPC_RMID, NULL));
    r = get(0x5eed, 0, 0);
    printf("dlsym shmget(missing key) = %d %s\n", r, r < 0 ? strerrorname_np(errno) : "");
    return 0;
}
