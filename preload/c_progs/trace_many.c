/* Exactly 200,000 calls: one shmget, 99,999 shmat and shmdt pairs, one IPC_RMID.
 * Prints "seg ID" first. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\n", id);
    fflush(stdout);
    if (id < 0)
        return 1;
    int bad = 0;
    for (int i = 0; i < 99999; i++) {
        void *p = shmat(id, NULL, 0);
        if (p == (void *)-1 || shmdt(p) != 0)
            bad++;
    }
    if (shmctl(id, IPC_RMID, NULL) != 0)
        bad++;
    return bad != 0;
}
