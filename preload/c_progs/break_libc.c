/* One libc shmget of an IPC_PRIVATE segment of 20480 bytes and its libc IPC_RMID: the
 * preload library sees both. Prints "get = ID" and "rm = 0"; exits 0. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 20480, IPC_CREAT | 0600);
    printf("get = %d\n", id);
    printf("rm = %d\n", shmctl(id, IPC_RMID, NULL));
    return 0;
}
