/* A daemon: the parent exits at once; the child starts a session, makes a segment,
 * closes every descriptor from 0 to 1024 (rshm's channel among them), puts /dev/null on
 * 0, 1 and 2 and the write end of a pipe on 512 (where rshm's descriptor was), then
 * attaches, detaches and removes the segment. It writes to the file named by argv[1]
 * "seg ID" and "pipe N" (the bytes somebody wrote into its pipe: rshm must write none). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child > 0)
        return 0;
    setsid();
    struct timespec t = {0, 200 * 1000000L};
    nanosleep(&t, NULL);
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    for (int fd = 0; fd <= 1024; fd++)
        close(fd);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0)
        _exit(1);
    dup2(p[1], 512);
    close(p[1]);
    FILE *out = fopen(argv[1], "w");
    if (!out)
        _exit(1);
    fprintf(out, "seg %d\n", id);
    fflush(out);
    char *a = shmat(id, NULL, 0);
    if (a != (void *)-1)
        shmdt(a);
    shmctl(id, IPC_RMID, NULL);
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf);
    fprintf(out, "pipe %zd\n", n < 0 ? (ssize_t)0 : n);
    fclose(out);
    _exit(0);
}
