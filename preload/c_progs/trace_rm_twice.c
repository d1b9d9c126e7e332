/* The parent removes a segment it still has attached; a child then removes it again,
 * which the kernel accepts too (the segment is only marked). Prints "seg ID",
 * "parent PID", "child PID" and what each IPC_RMID returned. */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("seg %d\nparent %d\n", id, (int)getpid());
    fflush(stdout);
    if (id < 0)
        return 1;
    void *p = shmat(id, NULL, 0);
    if (p == (void *)-1)
        return 1;
    int first = shmctl(id, IPC_RMID, NULL);
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        printf("child %d\nsecond %d\n", (int)getpid(), shmctl(id, IPC_RMID, NULL));
        fflush(stdout);
        _exit(0);
    }
    int st;
    if (waitpid(child, &st, 0) != child)
        return 1;
    printf("first %d\n", first);
    return shmdt(p) != 0;
}
