/* Makes a segment and exits at once, leaving a child that removes it 1 s later (its
 * standard descriptors on /dev/null, so that nobody waits for them). Prints "seg ID"
 * and "child PID". */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\n", id);
    fflush(stdout);
    if (id < 0)
        return 1;
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        int null = open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3; fd++)
            dup2(null, fd);
        sleep(1);
        _exit(shmctl(id, IPC_RMID, NULL) != 0);
    }
    printf("child %d\n", (int)child);
    return 0;
}
