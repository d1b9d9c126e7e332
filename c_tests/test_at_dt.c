/* rshm_at and rshm_dt: the failure cases of shmat/shmdt, SHM_RDONLY, and the registry. */
#define _GNU_SOURCE
#include "check.h"
#include <stdint.h>
#include <time.h>

/* The wall-clock time in "(at 2026-11-26T18:40:10.123456Z;" of `msg`, in seconds; -1 if none. */
static double time_in(const char *msg) {
    const char *at = strstr(msg, "(at ");
    struct tm tm = {0};
    int micros = 0;
    if (!at || sscanf(at + 4, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &micros) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (double)timegm(&tm) + micros / 1e6;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
    /* rshm's first calls in a process must not map anything: a new mapping would land in
     * the hole the program has just made by detaching, and the program could not attach
     * at that address again. */
    int first = guard(shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600));
    void *hole = shmat(first, NULL, 0);
    CHECK(hole != (void *)-1 && shmdt(hole) == 0, "a hole where a segment was");
    int other = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    void *o = rshm_at(other, NULL, SHM_RDONLY);
    CHECK(other >= 0 && o != (void *)-1 && rshm_dt(o) == 0 && rshm_rmid(other) == 0, "rshm's first calls");
    void *again = shmat(first, hole, 0);
#ifndef __SANITIZE_ADDRESS__
    /* (AddressSanitizer's own runtime maps memory on first use of a library's TLS.) */
    CHECK(again == hole, "the hole is still free for the program");
#endif
    if (again != (void *)-1)
        shmdt(again);

    int id = guard(rshm_get(IPC_PRIVATE, 8192, IPC_CREAT | 0600));
    CHECK(id >= 0, "create");
    size_t base = rshm_attachment_count();

    /* shmat: a bad id, negative and positive. */
    CHECK_ERR(rshm_at(-1, NULL, 0) == (void *)-1, EINVAL, "rshm_at: shmid -1 is negative", "shmat -1");
    CHECK_ERR(rshm_at(0x7ffffff0, NULL, 0) == (void *)-1, EINVAL, "no segment has id 2147483632", "shmat unknown id");

    /* shmat: a removed (and destroyed) id. */
    int gone = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    CHECK(rshm_rmid(gone) == 0, "remove");
    char want[96];
    snprintf(want, sizeof want, "no segment has id %d (never made, or removed and destroyed)", gone);
    CHECK_ERR(rshm_at(gone, NULL, 0) == (void *)-1, EINVAL, want, "shmat removed id");

    /* shmat: an unaligned address without SHM_RND; with SHM_RND it is rounded down. */
    char *p = rshm_at(id, NULL, 0);
    CHECK(p != (void *)-1, "attach");
    CHECK(rshm_attachment_count() == base + 1, "registry counts the attachment");
    CHECK(rshm_dt(p) == 0, "detach");
    CHECK_ERR(rshm_at(id, p + 1, 0) == (void *)-1, EINVAL, "is not a multiple of SHMLBA (4096); pass SHM_RND", "unaligned");
    char *r = rshm_at(id, p + 1, SHM_RND);
    CHECK(r == p, "SHM_RND rounds down to the page");
    CHECK(r == (void *)-1 || rshm_dt(r) == 0, "detach rounded");
    CHECK_ERR(rshm_at(id, NULL, SHM_REMAP) == (void *)-1, EINVAL, "SHM_REMAP needs an address", "SHM_REMAP NULL");
    CHECK_ERR(rshm_at(id, NULL, 04) == (void *)-1, EINVAL, "unknown flag bits 04", "unknown shmat flag");

    /* SHM_RDONLY: a read-only view sees what a read-write view writes. */
    char *rw = rshm_at(id, NULL, 0);
    const char *ro = rshm_at(id, NULL, SHM_RDONLY);
    CHECK(rw != (void *)-1 && ro != (void *)-1 && rw != ro, "two views");
    strcpy(rw, "written through the rw view");
    CHECK(strcmp(ro, "written through the rw view") == 0, "rdonly view sees the write");
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2, "kernel counts 2 attachments");
    CHECK(rshm_attachment_count() == base + 2, "registry counts 2");

    /* shmdt: NULL, an address never attached, a double detach. */
    CHECK_ERR(rshm_dt(NULL) == -1, EINVAL, "rshm_dt: address is NULL", "shmdt NULL");
    static char page[8192] __attribute__((aligned(4096)));
    snprintf(want, sizeof want, "address %p is not the start of an attached segment", (void *)page);
    CHECK_ERR(rshm_dt(page) == -1, EINVAL, want, "shmdt never attached");
    CHECK_ERR(rshm_dt(page + 1) == -1, EINVAL, "is not page-aligned", "shmdt unaligned");
    double before = wall_now();
    CHECK(rshm_dt(rw) == 0, "detach rw");
    double after = wall_now();
    usleep(300 * 1000);
    snprintf(want, sizeof want, "address %p was already detached (at ", (void *)rw);
    CHECK_ERR(rshm_dt(rw) == -1, EINVAL, want, "double detach says already detached");
    /* The time is when the first detach ran, not now, 300 ms later (to 10 ms: the clocks
     * are read apart; 100 ms under valgrind, whose slow clock reads on a loaded machine
     * can place the TSC's anchor some milliseconds off). */
    double shown = time_in(rshm_last_error()), slack = under_valgrind() ? 0.1 : 0.01;
    CHECK(shown > before - slack && shown < after + slack, "double detach gives the time of the first detach");
    snprintf(want, sizeof want, "it held segment %d)", id);
    CHECK(strstr(rshm_last_error(), want) != NULL, "double detach names the segment");
    CHECK(rshm_dt(ro) == 0, "detach ro");
    CHECK(rshm_attachment_count() == base, "registry back to where it was");

    /* An address attached by raw shmat: rshm_dt detaches it (with a warning in the log). */
    void *raw = shmat(id, NULL, 0);
    CHECK(raw != (void *)-1, "raw shmat");
    CHECK(rshm_dt(raw) == 0, "rshm_dt of a raw attachment works");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0, "nothing attached at the end");

    /* The kernel-half address and an address far away: clean EINVAL, no crash. */
    CHECK_ERR(rshm_dt((void *)0xffff800000000000ULL) == -1, EINVAL, "is not the start of an attached segment", "kernel half");
    CHECK_ERR(rshm_dt((void *)(uintptr_t)-4096) == -1, EINVAL, "is not the start", "top page");

    CHECK(rshm_rmid(id) == 0, "remove");
    return check_done();
}
