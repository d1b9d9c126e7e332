/* Makes a segment only its owner may write and nobody may read (mode 0200: only
 * SHM_STAT_ANY shows it to another user) and leaves it behind. Prints "seg ID" and
 * nothing else; writes nothing to stderr. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0200);
    if (id < 0)
        return 1;
    printf("seg %d\n", id);
    return 0;
}
