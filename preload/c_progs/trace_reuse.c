/* Id reuse: makes a segment, removes it, has the kernel give the next segment the same
 * id (/proc/sys/kernel/shm_next_id, root only), makes another and leaves it. Prints
 * "pid PID", then "seg ID" for each. Exits 3 if shm_next_id cannot be written, 4 if the
 * id was not reused. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int first = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("pid %d\nseg %d\n", (int)getpid(), first);
    fflush(stdout);
    if (first < 0 || shmctl(first, IPC_RMID, NULL) != 0)
        return 1;
    FILE *f = fopen("/proc/sys/kernel/shm_next_id", "w");
    if (!f || fprintf(f, "%d", first) < 0 || fclose(f) != 0)
        return 3;
    int second = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    printf("seg %d\n", second);
    return second < 0 ? 1 : second != first ? 4 : 0;
}
