/* Takes a name with a newline in it, as if to forge a line of rshm-trace's summary,
 * then makes a segment and leaves it. Prints "seg ID" and "pid PID". */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    if (prctl(PR_SET_NAME, "x)\nrshm-trace: ") != 0)
        return 1;
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\npid %d\n", id, (int)getpid());
    return id < 0;
}
