/* The truth table of explanations, through the library: for each errno each call can
 * return and each distinct cause behind it, the failure is provoked for real, and the
 * test checks the exact errno and that rshm_last_error() names that cause. Rows that need
 * another user run in a forked child as uid 65534 (when root); rows that need lowered
 * limits run in a forked child with an IPC namespace of its own (unshare(CLONE_NEWIPC),
 * as root), which takes its segments and limits with it. The closing lines count the
 * rows per call. (The preload library's rows are in preload/tests/preload.rs.) */
#define _GNU_SOURCE
#include "check.h"
#include "inject.h"
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif
#ifndef SHM_HUGETLB
#define SHM_HUGETLB 04000
#endif
#define HUGE_SHIFT 26

enum { GET, AT, DT, CTL, CALLS };
static const char *call_names[CALLS] = {"rshm_get", "rshm_at", "rshm_dt", "rshm_rmid"};
static int rows[CALLS];

/* One row: `failed` must hold, errno must be `want_errno` and the last error must
 * contain `want_text`. */
#define ROW(call, failed, want_errno, want_text, what)                                                  \
    do {                                                                                               \
        rows[call]++;                                                                                  \
        errno = 0;                                                                                     \
        CHECK_ERR(failed, want_errno, want_text, what);                                                \
    } while (0)

static char want[512];

/* A text with printf arguments, for the rows' expected sentences. */
#define W(...) (snprintf(want, sizeof want, __VA_ARGS__), want)

/* Runs `fn(arg)` in a forked child (made ready by `setup`, which returns 0 when it could)
 * and adds its checks and rows to ours. Returns 0 if the child ran, -1 if `setup` failed. */
static int in_child(int (*setup)(void), void (*fn)(void *), void *arg) {
    int p[2];
    if (pipe(p))
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        int counts[2 + CALLS] = {0};
        if (setup() == 0) {
            check_passed = check_failed = 0;
            memset(rows, 0, sizeof rows);
            guard_n = 0;
            fn(arg);
            guard_cleanup();
            counts[0] = check_passed;
            counts[1] = check_failed;
            memcpy(counts + 2, rows, sizeof rows);
        } else {
            counts[0] = -1;
        }
        fflush(stdout);
        fflush(stderr);
        if (write(p[1], counts, sizeof counts) != (ssize_t)sizeof counts)
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    int counts[2 + CALLS] = {0};
    ssize_t n = read(p[0], counts, sizeof counts);
    close(p[0]);
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(n == (ssize_t)sizeof counts && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child ran and reported");
    if (n != (ssize_t)sizeof counts || counts[0] < 0)
        return -1;
    check_passed += counts[0];
    check_failed += counts[1];
    for (int i = 0; i < CALLS; i++)
        rows[i] += counts[2 + i];
    return 0;
}

static int become_nobody(void) {
    return setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 ? -1 : 0;
}

static int own_ipc_namespace(void) {
    return unshare(CLONE_NEWIPC);
}

/* ---- shmget ---- */

static void get_rows(void) {
    key_t key = unique_key();
    ROW(GET, rshm_get(key, 4096, 0600) == -1, ENOENT,
        W("rshm_get: no segment has key 0x%08x and IPC_CREAT was not given", (unsigned)key), "ENOENT: no segment");

    int id = guard(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(id >= 0, "make the key's segment");
    ROW(GET, rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600) == -1, EEXIST,
        W("rshm_get: key 0x%08x already has a segment (shmid %d) and IPC_EXCL asks for a new one", (unsigned)key, id),
        "EEXIST: IPC_EXCL on a key that has a segment");
    ROW(GET, rshm_get(key, 8192, 0600) == -1, EINVAL,
        W("rshm_get: size 8192 is larger than the existing segment of key 0x%08x (shmid %d, 4096 bytes)", (unsigned)key,
          id),
        "EINVAL: larger than the existing segment");

    ROW(GET, rshm_get(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1, EINVAL,
        "rshm_get: size 0 is below SHMMIN (1) for a new segment", "EINVAL: below SHMMIN (rshm's check)");
    key_t fresh = unique_key();
    ROW(GET, rshm_get(fresh, 0, IPC_CREAT | 0600) == -1, EINVAL,
        "rshm_get: size 0 is below SHMMIN (1) for a new segment", "EINVAL: below SHMMIN (the kernel's refusal)");
    ROW(GET, rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0100000 | 0600) == -1, EINVAL,
        "rshm_get: unknown flag bits 0100000 in flags", "EINVAL: unknown flag bits (rshm's stricter rule)");
    ROW(GET, rshm_get(IPC_PRIVATE, (size_t)-1, IPC_CREAT | 0600) == -1, EINVAL,
        "is above SSIZE_MAX; it looks like the negative number -1 converted to size_t",
        "EINVAL: a negative size (rshm's stricter rule)");

    struct stat sb;
    /* (Valgrind makes SHM_HUGETLB segments of its own accord: no huge page rows under it.) */
    if (!under_valgrind() && stat("/sys/kernel/mm/hugepages", &sb) == 0 &&
        stat("/sys/kernel/mm/hugepages/hugepages-8388608kB", &sb) != 0) {
        ROW(GET, guard(rshm_get(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | (33 << HUGE_SHIFT) | 0600)) == -1, EINVAL,
            "rshm_get: huge pages of 2^33 bytes, which the SHM_HUGE_* bits in flags ask for, are not a size this "
            "system has",
            "EINVAL: a huge page size the system does not have");
    }
    CHECK(rshm_rmid(id) == 0, "remove");
}

/* Root, and no free huge page: ENOMEM for SHM_HUGETLB. */
static void get_hugetlb_enomem(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long free_pages = -1;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "HugePages_Free: %ld", &free_pages);
    if (f)
        fclose(f);
    struct stat sb;
    if (under_valgrind() || getuid() != 0 || free_pages != 0 || stat("/sys/kernel/mm/hugepages/hugepages-2048kB", &sb) != 0)
        return;
    ROW(GET, guard(rshm_get(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0600)) == -1, ENOMEM,
        "rshm_get: not enough free huge pages for 2097152 bytes (see /proc/sys/vm/nr_hugepages)",
        "ENOMEM: no free huge page");
}

/* The execute bits are real: as an unprivileged user, one's own 0600 segment refuses
 * execute access (shmget asking 0700, shmat with SHM_EXEC). */
static void own_exec_rows(void) {
    key_t mine = unique_key() ^ 0x10000;
    unsigned me = (unsigned)geteuid();
    int own = guard(rshm_get(mine, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(own >= 0, "make a 0600 segment");
    ROW(GET, rshm_get(mine, 0, 0700) == -1, EACCES,
        W("rshm_get: the segment of key 0x%08x does not grant uid %u the access flags 0700 ask for: execute (shmid "
          "%d, mode 0600, owner uid %u); 0100 in flags is the owner's execute bit (IPC_CREAT is 01000)",
          (unsigned)mine, me, own, me),
        "EACCES: execute asked of one's own 0600 segment");
    if (!under_valgrind()) {
        ROW(AT, rshm_at(own, NULL, SHM_EXEC) == (void *)-1, EACCES,
            W("rshm_at: segment %d (mode 0600, owner uid %u) does not grant uid %u execute access, which SHM_EXEC "
              "asks for",
              own, me, me),
            "EACCES: SHM_EXEC on one's own 0600 segment");
    }
    CHECK(rshm_rmid(own) == 0, "remove our own");
}

/* ---- rows as uid 65534 (the parent, root, made the segments) ---- */

struct theirs {
    key_t key;
    int id0600, id0606, id0604;
};

static void as_nobody(void *arg) {
    const struct theirs *t = arg;
    ROW(GET, rshm_get(t->key, 0, 0600) == -1, EACCES,
        W("rshm_get: the segment of key 0x%08x does not grant uid 65534 the access flags 0600 ask for: read and write "
          "(shmid %d, mode 0600, owner uid 0)",
          (unsigned)t->key, t->id0600),
        "EACCES: read and write not granted to another user");
    ROW(GET, rshm_get(t->key, 0, 0400) == -1, EACCES,
        W("rshm_get: the segment of key 0x%08x does not grant uid 65534 the access flags 0400 ask for: read "
          "(shmid %d, mode 0600, owner uid 0)",
          (unsigned)t->key, t->id0600),
        "EACCES: read not granted to another user");

    if (!under_valgrind() && stat("/sys/kernel/mm/hugepages", &(struct stat){0}) == 0) {
        ROW(GET, guard(rshm_get(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0600)) == -1, EPERM,
            "rshm_get: SHM_HUGETLB needs CAP_IPC_LOCK or the group in /proc/sys/vm/hugetlb_shm_group",
            "EPERM: SHM_HUGETLB without the privilege");
    }

    if (!under_valgrind()) {
        ROW(AT, rshm_at(t->id0600, NULL, 0) == (void *)-1, EACCES,
            W("rshm_at: segment %d (mode 0600, owner uid 0) does not grant uid 65534 read and write access", t->id0600),
            "EACCES: read and write not granted to another user");
        ROW(AT, rshm_at(t->id0600, NULL, SHM_RDONLY) == (void *)-1, EACCES,
            W("rshm_at: segment %d (mode 0600, owner uid 0) does not grant uid 65534 read access", t->id0600),
            "EACCES: read not granted (SHM_RDONLY)");
        ROW(AT, rshm_at(t->id0604, NULL, 0) == (void *)-1, EACCES,
            W("rshm_at: segment %d (mode 0604, owner uid 0) does not grant uid 65534 write access", t->id0604),
            "EACCES: write not granted");
        ROW(AT, rshm_at(t->id0606, NULL, SHM_EXEC) == (void *)-1, EACCES,
            W("rshm_at: segment %d (mode 0606, owner uid 0) does not grant uid 65534 execute access, which SHM_EXEC "
              "asks for",
              t->id0606),
            "EACCES: SHM_EXEC on another user's 0606 segment");
    }
    ROW(CTL, rshm_rmid(t->id0600) == -1, EPERM,
        W("rshm_rmid: only the owner (uid 0), the creator (uid 0) or a privileged process may remove segment %d; this "
          "process is uid 65534",
          t->id0600),
        "EPERM: another user's segment");
    own_exec_rows();
}

/* ---- rows in an IPC namespace of our own, with lowered limits ---- */

static void in_namespace(void *unused) {
    (void)unused;
    /* SHMMAX, lowered: rshm's own refusal (re-read before refusing) and the kernel's. */
    CHECK(write_file("/proc/sys/kernel/shmmax", "1048576") == 0, "lower shmmax");
    ROW(GET, rshm_get(IPC_PRIVATE, 2 << 20, IPC_CREAT | 0600) == -1, EINVAL,
        "rshm_get: size 2097152 is above SHMMAX (1048576) for a new segment", "EINVAL: above SHMMAX (private key)");
    key_t key = unique_key();
    ROW(GET, rshm_get(key, 2 << 20, IPC_CREAT | 0600) == -1, EINVAL,
        "rshm_get: size 2097152 is above SHMMAX (1048576) for a new segment",
        "EINVAL: above SHMMAX (named key, the kernel's refusal)");

    /* SHMMNI: every id in use. */
    CHECK(write_file("/proc/sys/kernel/shmmni", "2") == 0, "lower shmmni");
    int a = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600), b = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    CHECK(a >= 0 && b >= 0, "two segments");
    ROW(GET, rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600) == -1, ENOSPC,
        "rshm_get: all SHMMNI (2) segment ids are in use; no new segment can be made", "ENOSPC: SHMMNI");
    /* SHMALL: the pages in all. */
    CHECK(write_file("/proc/sys/kernel/shmmni", "4096") == 0 && write_file("/proc/sys/kernel/shmall", "3") == 0,
          "lower shmall");
    ROW(GET, rshm_get(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600) == -1, ENOSPC,
        "rshm_get: 8192 more bytes would exceed SHMALL (3 pages in all; 2 in use)", "ENOSPC: SHMALL");
    rshm_rmid(a);
    rshm_rmid(b);
}

/* ---- shmat ---- */

struct race {
    int id;
    volatile int go, done;
};

static void *remover(void *arg) {
    struct race *r = arg;
    while (!r->go)
        ;
    rshm_rmid(r->id);
    r->done = 1;
    return NULL;
}

static void at_rows(void) {
    int id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    CHECK(id >= 0, "segment");
    ROW(AT, rshm_at(-1, NULL, 0) == (void *)-1, EINVAL,
        "rshm_at: shmid -1 is negative, so it names no segment (a failed shmget's -1?)", "EINVAL: a negative shmid");
    int gone = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    CHECK(gone >= 0 && rshm_rmid(gone) == 0, "a segment made and destroyed");
    ROW(AT, rshm_at(gone, NULL, 0) == (void *)-1, EINVAL,
        W("rshm_at: no segment has id %d (never made, or removed and destroyed)", gone), "EINVAL: no such segment");
    ROW(AT, rshm_at(id, NULL, 0100000000) == (void *)-1, EINVAL, "rshm_at: unknown flag bits",
        "EINVAL: unknown flag bits (rshm's stricter rule)");

    char *p = rshm_at(id, NULL, 0);
    CHECK(p != (void *)-1, "attach");
    ROW(AT, rshm_at(id, p + 1, 0) == (void *)-1, EINVAL,
        W("rshm_at: address %p is not a multiple of SHMLBA (4096); pass SHM_RND to round it down", (void *)(p + 1)),
        "EINVAL: an unaligned address without SHM_RND");
    ROW(AT, rshm_at(id, (void *)0x123, SHM_RND | SHM_REMAP) == (void *)-1, EINVAL,
        "rshm_at: SHM_REMAP needs an address to replace, and address 0x123 rounds down (SHM_RND) to NULL",
        "EINVAL: SHM_RND rounds to NULL with SHM_REMAP");
    ROW(AT, rshm_at(id, NULL, SHM_REMAP) == (void *)-1, EINVAL,
        "rshm_at: SHM_REMAP needs an address to replace, and the address is NULL", "EINVAL: NULL with SHM_REMAP");
    ROW(AT, rshm_at(id, p, 0) == (void *)-1, EINVAL,
        W("rshm_at: address %p overlaps a mapping already there (an attachment of segment %d at %p-%p); SHM_REMAP "
          "replaces it",
          (void *)p, id, (void *)p, (void *)(p + 4096)),
        "EINVAL: the address overlaps an attachment");
    char *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ROW(AT, rshm_at(id, anon, 0) == (void *)-1, EINVAL,
        W("rshm_at: address %p overlaps a mapping already there (anonymous memory at %p-", (void *)anon, (void *)anon),
        "EINVAL: the address overlaps other memory");
    munmap(anon, 4096);
    ROW(AT, rshm_at(id, (void *)(uintptr_t)-4096, 0) == (void *)-1, EINVAL,
        W("rshm_at: segment %d (4096 bytes) at 0xfffffffffffff000 would wrap past the end of the address space", id),
        "EINVAL: the range wraps past the end of the address space");
#if defined(__x86_64__)
    ROW(AT, rshm_at(id, (void *)0xffff800000000000ULL, 0) == (void *)-1, ENOMEM,
        W("rshm_at: segment %d (4096 bytes) at 0xffff800000000000 would reach past the top of the user address space",
          id),
        "ENOMEM: the address is beyond the user address space");
#endif

    /* ---- shmdt, on the same segment ---- */
    ROW(DT, rshm_dt(NULL) == -1, EINVAL, "rshm_dt: address is NULL; nothing is attached there", "EINVAL: NULL");
    ROW(DT, rshm_dt(p + 1) == -1, EINVAL,
        W("rshm_dt: address %p is not page-aligned, so it is not the start of an attached segment", (void *)(p + 1)),
        "EINVAL: unaligned");
    char *big = rshm_at(guard(rshm_get(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600)), NULL, 0);
    CHECK(big != (void *)-1, "a three-page attachment");
    ROW(DT, rshm_dt(big + 4096) == -1, EINVAL,
        W("rshm_dt: address %p is not the start of an attached segment: it is inside an attachment of segment ",
          (void *)(big + 4096)),
        "EINVAL: inside an attachment, not at its start");
    rshm_dt(big);
    static char page[8192] __attribute__((aligned(4096)));
    ROW(DT, rshm_dt(page) == -1, EINVAL,
        W("rshm_dt: address %p is not the start of an attached segment: it is in ", (void *)page),
        "EINVAL: mapped, but not by a segment");
    ROW(DT, rshm_dt((void *)0xffff800000000000ULL) == -1, EINVAL,
        "rshm_dt: address 0xffff800000000000 is not the start of an attached segment: nothing is mapped there",
        "EINVAL: nothing mapped there");
    CHECK(rshm_dt(p) == 0, "detach");
    ROW(DT, rshm_dt(p) == -1, EINVAL, W("rshm_dt: address %p was already detached (at ", (void *)p),
        "EINVAL: already detached");

    /* ---- shmctl(IPC_RMID) ---- */
    ROW(CTL, rshm_rmid(-5) == -1, EINVAL,
        "rshm_rmid: shmid -5 is negative, so it names no segment (a failed shmget's -1?)", "EINVAL: a negative shmid");
    ROW(CTL, rshm_rmid(0x7ffffff0) == -1, EINVAL,
        "rshm_rmid: no segment has id 2147483632 (never made, or already removed and destroyed)",
        "EINVAL: never made");
    ROW(CTL, rshm_rmid(gone) == -1, EINVAL,
        W("rshm_rmid: no segment has id %d (never made, or already removed and destroyed)", gone),
        "EINVAL: removed and destroyed");
    CHECK(rshm_rmid(id) == 0, "remove");

    /* EIDRM: the segment is destroyed between the kernel finding it and attaching it. A
     * race; each round is short, and a few thousand rounds meet it (a few hundred here). */
    if (under_valgrind())
        return;
    int met = 0;
    for (int round = 0; round < 20000 && !met; round++) {
        struct race r = {.id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600)};
        if (r.id < 0)
            break;
        pthread_t t;
        pthread_create(&t, NULL, remover, &r);
        r.go = 1;
        for (;;) {
            void *q = rshm_at(r.id, NULL, 0);
            if (q != (void *)-1) {
                rshm_dt(q);
                continue;
            }
            int e = errno;
            if (e == EIDRM) {
                met = 1;
                ROW(AT, (errno = e) == EIDRM, EIDRM,
                    W("rshm_at: segment %d was destroyed while this call attached it (it was removed, and no "
                      "attachment was left)",
                      r.id),
                    "EIDRM: destroyed while being attached");
            } else {
                CHECK(e == EINVAL && strstr(rshm_last_error(), "no segment has id"), "the race's other end");
            }
            break;
        }
        pthread_join(t, NULL);
        rshm_rmid(r.id);
    }
    printf("EIDRM race: %s\n", met ? "met" : "not met in 20000 rounds (row skipped)");
}

/* ---- causes that cannot be provoked for real (c_tests/inject.h says why) ---- */

#define INJECT_SIZE 12289u

static int injecting(void) {
    return inject(INJECT_SIZE, ENFILE, 0xffffffffu, IPC_STAT, EOVERFLOW);
}

static void injected_rows(void *arg) {
    (void)arg;
    ROW(GET, rshm_get(IPC_PRIVATE, INJECT_SIZE, IPC_CREAT | 0600) == -1, ENFILE,
        "rshm_get: the system-wide limit on open files is reached",
        "ENFILE: the system's file table is full (a seccomp filter's refusal)");
}

/* ---- memory ---- */

/* More memory than this machine has, under the kernel's heuristic (0) or strict (2)
 * overcommit policy: shmget reserves it, and refuses. */
static void get_enomem(void) {
    int mode = overcommit_mode();
    if (mode != 0 && mode != 2)
        return;
    ROW(GET, guard(rshm_get(IPC_PRIVATE, (size_t)1 << 42, IPC_CREAT | 0600)) == -1, ENOMEM,
        "rshm_get: the kernel could not allocate 4398046511104 bytes for a new segment (out of memory, or the "
        "overcommit limit)",
        "ENOMEM: more memory than the overcommit policy allows");
}

/* RLIMIT_AS at what the process maps now plus 16 MiB: a 256 MiB segment has no room. */
static int big_id;

static int capped(void) {
    return cap_address_space(16 << 20);
}

static void capped_rows(void *arg) {
    (void)arg;
    struct rlimit r;
    getrlimit(RLIMIT_AS, &r);
    ROW(AT, rshm_at(big_id, NULL, 0) == (void *)-1, ENOMEM,
        W("rshm_at: no room in the address space to attach segment %d (268435456 bytes) within this process's "
          "RLIMIT_AS (%llu bytes)",
          big_id, (unsigned long long)r.rlim_cur),
        "ENOMEM: no room under RLIMIT_AS");
}

/* Attaches one segment until the kernel refuses: the process reaches vm.max_map_count. */
static int map_id;

static int nothing(void) {
    return 0;
}

static void map_count_rows(void *arg) {
    (void)arg;
    int e = 0;
    for (long i = 0; i < 1000000 && !e; i++)
        if (rshm_at(map_id, NULL, SHM_RDONLY) == (void *)-1)
            e = errno;
    /* (ROW clears errno before its expression: the refusal's errno is put back there.) */
    ROW(AT, (errno = e) == ENOMEM, ENOMEM,
        W("rshm_at: no room for one more mapping to attach segment %d: this process has ", map_id),
        "ENOMEM: vm.max_map_count reached");
}

int main(void) {
    get_rows();
    get_hugetlb_enomem();
    get_enomem();
    at_rows();
    /* (Valgrind maps its own memory under the process's limits, and runs no seccomp
     * filter of ours: these rows run natively.) */
    if (!under_valgrind()) {
        CHECK(in_child(injecting, injected_rows, NULL) == 0, "rows of a seccomp filter's refusals");
        big_id = guard(rshm_get(IPC_PRIVATE, 256 << 20, IPC_CREAT | 0600));
        CHECK(big_id >= 0, "a 256 MiB segment");
        CHECK(in_child(capped, capped_rows, NULL) == 0, "rows under RLIMIT_AS");
        CHECK(rshm_rmid(big_id) == 0, "remove it");
        map_id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
        CHECK(in_child(nothing, map_count_rows, NULL) == 0, "rows at vm.max_map_count");
        CHECK(rshm_rmid(map_id) == 0, "remove it");
    }
    if (getuid() == 0) {
        struct theirs t = {.key = unique_key()};
        t.id0600 = guard(rshm_get(t.key, 4096, IPC_CREAT | IPC_EXCL | 0600));
        t.id0606 = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0606));
        t.id0604 = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0604));
        CHECK(t.id0600 >= 0 && t.id0606 >= 0 && t.id0604 >= 0, "root's segments");
        CHECK(in_child(become_nobody, as_nobody, &t) == 0, "rows as uid 65534");
        CHECK(rshm_rmid(t.id0600) == 0 && rshm_rmid(t.id0606) == 0 && rshm_rmid(t.id0604) == 0, "remove");
        CHECK(in_child(own_ipc_namespace, in_namespace, NULL) == 0, "rows in an IPC namespace of our own");
    } else {
        /* Without root: no other user, no namespace; the execute rows need no other user. */
        printf("not root: the rows of another user and of lowered limits are skipped\n");
        own_exec_rows();
    }
    printf("truth table rows:");
    for (int i = 0; i < CALLS; i++)
        printf(" %s %d", call_names[i], rows[i]);
    printf("\n");
    return check_done();
}
