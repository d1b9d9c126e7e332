/* Four calls and a failing fifth, then get-or-create of a new key, of the same key again,
 * a lookup, a refused IPC_CREAT|IPC_EXCL and its removal, for the chain-of-interposers
 * test. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    char *p = shmat(id, NULL, 0);
    if (id < 0 || p == (void *)-1)
        return 1;
    strcpy(p, "through the chain");
    printf("%s\n", p);
    int dt = shmdt(p), rm = shmctl(id, IPC_RMID, NULL);
    errno = 0;
    int again = shmdt(p);
    printf("shmdt %d, IPC_RMID %d, shmdt again %d %s\n", dt, rm, again, errno == EINVAL ? "EINVAL" : "?");
    key_t key = (key_t)(0x52c00000 | (getpid() & 0xfffff));
    int made = shmget(key, 4096, IPC_CREAT | 0600);
    int found = shmget(key, 4096, IPC_CREAT | 0600);
    int looked = shmget(key, 0, 0);
    errno = 0;
    int excl = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    int excl_errno = errno;
    int removed = shmctl(made, IPC_RMID, NULL);
    printf("same id %d %d, IPC_CREAT|IPC_EXCL %d %s, IPC_RMID %d\n", found == made, looked == made, excl,
           excl_errno == EEXIST ? "EEXIST" : "?", removed);
    return 0;
}
