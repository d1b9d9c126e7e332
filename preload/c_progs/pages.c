/* What the registry costs a program, as the kernel counts it: attaches one segment at 64
 * places at once and detaches them, and prints how much anonymous memory that made
 * resident ("rss_kb N", from /proc/self/status, read without stdio) and the minor faults
 * it took ("faults N"). Each attachment the preload library records takes a place in its
 * table, 64 places on about as many pages (the hash scatters them); with nothing shown,
 * it records nothing and touches none of them. Then it detaches one of the addresses
 * again ("second -1 22": EINVAL, explained in the log as already detached when that is
 * shown), and leaves one attachment held at exit (its segment marked for removal), for
 * the exit report. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <unistd.h>

#define N 64

/* RssAnon in kB, or -1. */
static long rss_anon_kb(void) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strstr(buf, "RssAnon:");
    return p ? strtol(p + 8, NULL, 10) : -1;
}

int main(void) {
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 1;
    fprintf(stderr, "seg %d\n", id);
    /* Once first: the code of the calls, and the kernel's side, are warm. */
    void *w = shmat(id, NULL, 0);
    if (w == (void *)-1 || shmdt(w) != 0)
        return 1;
    void *p[N];
    struct rusage a, b;
    long before = rss_anon_kb();
    getrusage(RUSAGE_SELF, &a);
    for (int i = 0; i < N; i++)
        if ((p[i] = shmat(id, NULL, 0)) == (void *)-1)
            return 1;
    for (int i = 0; i < N; i++)
        if (shmdt(p[i]) != 0)
            return 1;
    getrusage(RUSAGE_SELF, &b);
    long after = rss_anon_kb();
    errno = 0;
    int r = shmdt(p[0]);
    int e = errno;
    void *kept = shmat(id, NULL, 0);
    int rm = shmctl(id, IPC_RMID, NULL);
    printf("rss_kb %ld\nfaults %ld\nsecond %d %d\nkept %d rmid %d\n", after - before,
           b.ru_minflt - a.ru_minflt, r, e, kept != (void *)-1, rm);
    return before < 0 || after < 0;
}
