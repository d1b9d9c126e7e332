/* A raw shmctl(IPC_STAT) whose buffer is a page userfaultfd leaves missing: the call
 * waits in the kernel until the handler thread fills the page, and the handler makes a
 * raw shmget (a --complete stop) before it does. Prints "handler get = ID" and
 * "stat = 0 size 8192"; exits 0, or 77 when userfaultfd cannot catch kernel faults here. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static int uffd;
static char *page;
static char src[4096] __attribute__((aligned(4096)));

static void *handler(void *arg) {
    (void)arg;
    struct pollfd p = {uffd, POLLIN, 0};
    poll(&p, 1, -1);
    struct uffd_msg m;
    if (read(uffd, &m, sizeof m) != sizeof m)
        exit(2);
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    printf("handler get = %ld\n", id);
    fflush(stdout);
    struct uffdio_copy c = {.dst = (unsigned long)page, .src = (unsigned long)src, .len = 4096};
    if (ioctl(uffd, UFFDIO_COPY, &c) < 0)
        exit(2);
    syscall(SYS_shmctl, id, IPC_RMID, NULL);
    return NULL;
}

int main(void) {
    uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
    struct uffdio_api api = {.api = UFFD_API};
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
        return 77;
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct uffdio_register r = {.range = {(unsigned long)page, 4096},
                                .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (page == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &r) < 0)
        return 77;
    long id = syscall(SYS_shmget, IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    pthread_t t;
    pthread_create(&t, NULL, handler, NULL);
    long s = syscall(SYS_shmctl, id, IPC_STAT, page);
    printf("stat = %ld size %zu\n", s, ((struct shmid_ds *)page)->shm_segsz);
    pthread_join(t, NULL);
    syscall(SYS_shmctl, id, IPC_RMID, NULL);
    return 0;
}
