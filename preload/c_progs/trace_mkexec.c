/* Makes a segment, then becomes `ipcrm -m ID` (the same process, another program), which
 * removes it. Prints "seg ID" and "pid PID". */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\npid %d\n", id, (int)getpid());
    fflush(stdout);
    if (id < 0)
        return 1;
    char arg[16];
    snprintf(arg, sizeof arg, "%d", id);
    execlp("ipcrm", "ipcrm", "-m", arg, (char *)NULL);
    perror("trace_mkexec: ipcrm");
    return 1;
}
