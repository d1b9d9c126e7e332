/* Makes one segment of key 0x00002468 and 100 bytes with a libc shmget, and leaves it:
 * run before rshm-trace starts, in the same IPC namespace. Prints "mk = ID"; exits 0. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(void) {
    printf("mk = %d\n", shmget(0x2468, 100, IPC_CREAT | 0600));
    return 0;
}
