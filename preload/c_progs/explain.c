/* Failures provoked for real, one per cause, by an ordinary program (built without rshm),
 * for the preload library's truth table of explanations. After each failing call it
 * prints a row, "row<TAB>call<TAB>ERRNO<TAB>cause<TAB>words", on stdout: the test pairs
 * the rows, in order, with the failed calls of the JSON log and checks the errno and that
 * the log's msg contains the words. The program checks the errno it got itself ("bad"
 * lines). Every other call succeeds. Rows of another user run in a forked child as uid
 * 65534 (when root); rows of lowered limits in a forked child with an IPC namespace of its
 * own (as root). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../c_tests/inject.h"

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#define HUGE_SHIFT 26

static int bad;

static const char *en(int e) {
    switch (e) {
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case EPERM: return "EPERM";
    case EIDRM: return "EIDRM";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case ENFILE: return "ENFILE";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "E?";
    }
}

static char words[512];
#define W(...) (snprintf(words, sizeof words, __VA_ARGS__), words)

/* After a call that must have failed (`failed`) with `want`: the row. */
static void row(const char *call, int failed, int got, int want, const char *cause, const char *text) {
    if (!failed || got != want) {
        printf("bad\t%s\t%s: failed %d with %s, not %s\n", call, cause, failed, en(got), en(want));
        bad++;
    }
    printf("row\t%s\t%s\t%s\t%s\n", call, en(want), cause, text);
    fflush(stdout);
}

#define ROW(call, expr, want, cause, text)                                                         \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int failed_ = (expr);                                                                      \
        int e_ = errno;                                                                            \
        row(call, failed_, e_, want, cause, text);                                                 \
    } while (0)

/* A segment made: its id goes to stderr, so the test removes it even if this program dies. */
static int track(int id) {
    if (id >= 0)
        fprintf(stderr, "seg %d\n", id);
    return id;
}

static key_t unique_key(void) {
    static int n;
    return (key_t)(0x7e000000 | ((getpid() & 0xffff) << 8) | (++n & 0xff));
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Runs `fn(arg)` in a forked child made ready by `setup`; adds its "bad" count. */
static void in_child(int (*setup)(void), void (*fn)(void *), void *arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setup() != 0) {
            printf("skip child\n");
            fflush(stdout);
            _exit(0);
        }
        bad = 0;
        fn(arg);
        fflush(stdout);
        _exit(bad > 100 ? 100 : bad);
    }
    int st = -1;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st)) {
        printf("bad\tchild died\n");
        bad++;
    } else {
        bad += WEXITSTATUS(st);
    }
}

static int become_nobody(void) {
    return setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 ? -1 : 0;
}

static int own_ipc_namespace(void) {
    return unshare(CLONE_NEWIPC);
}

static int have_hugetlb(void) {
    struct stat sb;
    return stat("/sys/kernel/mm/hugepages", &sb) == 0;
}

/* ---- shmget ---- */

static void get_rows(void) {
    key_t key = unique_key();
    ROW("shmget", shmget(key, 4096, 0600) == -1, ENOENT, "no segment, no IPC_CREAT",
        W("no segment has key 0x%08x and IPC_CREAT was not given", (unsigned)key));
    int id = track(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    ROW("shmget", shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) == -1, EEXIST, "IPC_EXCL on a taken key",
        W("key 0x%08x already has a segment (shmid %d) and IPC_EXCL asks for a new one", (unsigned)key, id));
    ROW("shmget", shmget(key, 8192, 0600) == -1, EINVAL, "larger than the existing segment",
        W("size 8192 is larger than the existing segment of key 0x%08x (shmid %d, 4096 bytes)", (unsigned)key, id));
    ROW("shmget", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1, EINVAL, "below SHMMIN (private key)",
        "size 0 is below SHMMIN (1) for a new segment");
    key_t fresh = unique_key();
    ROW("shmget", shmget(fresh, 0, IPC_CREAT | 0600) == -1, EINVAL, "below SHMMIN (named key)",
        "size 0 is below SHMMIN (1) for a new segment");
    ROW("shmget", shmget(IPC_PRIVATE, (size_t)-1, IPC_CREAT | 0600) == -1, EINVAL, "above SHMMAX (a negative size)",
        "size 18446744073709551615 is above SHMMAX (");
    struct stat sb;
    if (have_hugetlb() && stat("/sys/kernel/mm/hugepages/hugepages-8388608kB", &sb) != 0) {
        ROW("shmget", track(shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | (33 << HUGE_SHIFT) | 0600)) == -1, EINVAL,
            "a huge page size the system lacks",
            "huge pages of 2^33 bytes, which the SHM_HUGE_* bits in flags ask for, are not a size this system has");
    }
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long free_pages = -1;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "HugePages_Free: %ld", &free_pages);
    if (f)
        fclose(f);
    if (getuid() == 0 && free_pages == 0 && stat("/sys/kernel/mm/hugepages/hugepages-2048kB", &sb) == 0) {
        ROW("shmget", track(shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0600)) == -1, ENOMEM, "no free huge page",
            "not enough free huge pages for 2097152 bytes");
    }
    shmctl(id, IPC_RMID, NULL);
}

/* ---- another user ---- */

struct theirs {
    key_t key;
    int id0600, id0606, id0604;
};

static void own_exec_rows(void) {
    key_t mine = unique_key() ^ 0x10000;
    unsigned me = (unsigned)geteuid();
    int own = track(shmget(mine, 4096, IPC_CREAT | IPC_EXCL | 0600));
    ROW("shmget", shmget(mine, 0, 0700) == -1, EACCES, "execute asked of an own 0600 segment",
        W("does not grant uid %u the access flags 0700 ask for: execute (shmid %d, mode 0600, owner uid %u); 0100 in "
          "flags is the owner's execute bit (IPC_CREAT is 01000)",
          me, own, me));
    ROW("shmat", shmat(own, NULL, SHM_EXEC) == (void *)-1, EACCES, "SHM_EXEC on an own 0600 segment",
        W("segment %d (mode 0600, owner uid %u) does not grant uid %u execute access, which SHM_EXEC asks for", own, me,
          me));
    shmctl(own, IPC_RMID, NULL);
}

static void as_nobody(void *arg) {
    const struct theirs *t = arg;
    ROW("shmget", shmget(t->key, 0, 0600) == -1, EACCES, "read and write not granted",
        W("the segment of key 0x%08x does not grant uid 65534 the access flags 0600 ask for: read and write (shmid %d, "
          "mode 0600, owner uid 0)",
          (unsigned)t->key, t->id0600));
    ROW("shmget", shmget(t->key, 0, 0400) == -1, EACCES, "read not granted",
        W("the segment of key 0x%08x does not grant uid 65534 the access flags 0400 ask for: read (shmid %d, mode "
          "0600, owner uid 0)",
          (unsigned)t->key, t->id0600));
    if (have_hugetlb()) {
        ROW("shmget", track(shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | SHM_HUGETLB | 0600)) == -1, EPERM,
            "SHM_HUGETLB without the privilege",
            "SHM_HUGETLB needs CAP_IPC_LOCK or the group in /proc/sys/vm/hugetlb_shm_group");
    }
    ROW("shmat", shmat(t->id0600, NULL, 0) == (void *)-1, EACCES, "read and write not granted",
        W("segment %d (mode 0600, owner uid 0) does not grant uid 65534 read and write access", t->id0600));
    ROW("shmat", shmat(t->id0600, NULL, SHM_RDONLY) == (void *)-1, EACCES, "read not granted",
        W("segment %d (mode 0600, owner uid 0) does not grant uid 65534 read access", t->id0600));
    ROW("shmat", shmat(t->id0604, NULL, 0) == (void *)-1, EACCES, "write not granted",
        W("segment %d (mode 0604, owner uid 0) does not grant uid 65534 write access", t->id0604));
    ROW("shmat", shmat(t->id0606, NULL, SHM_EXEC) == (void *)-1, EACCES, "SHM_EXEC on another user's 0606 segment",
        W("segment %d (mode 0606, owner uid 0) does not grant uid 65534 execute access, which SHM_EXEC asks for",
          t->id0606));
    ROW("shmctl", shmctl(t->id0600, IPC_RMID, NULL) == -1, EPERM, "IPC_RMID of another user's segment",
        W("only the owner (uid 0), the creator (uid 0) or a privileged process may remove segment %d; this process is "
          "uid 65534",
          t->id0600));
    struct shmid_ds ds;
    int index = t->id0600 & 0x7fff;
    ROW("shmctl", shmctl(index, SHM_STAT, &ds) == -1, EACCES, "SHM_STAT without read permission",
        W("SHM_STAT needs read permission on the segment at index %d (SHM_STAT_ANY does not)", index));
    memset(&ds, 0, sizeof ds);
    ROW("shmctl", shmctl(t->id0600, IPC_SET, &ds) == -1, EPERM, "IPC_SET of another user's segment",
        W("IPC_SET on segment %d needs its owner, its creator or a privileged process", t->id0600));
    own_exec_rows();
}

/* ---- lowered limits, in an IPC namespace of our own ---- */

static void in_namespace(void *unused) {
    (void)unused;
    if (write_file("/proc/sys/kernel/shmmax", "1048576") != 0)
        printf("bad\tshmmax\n"), bad++;
    ROW("shmget", shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | 0600) == -1, EINVAL, "above SHMMAX (private key)",
        "size 2097152 is above SHMMAX (1048576) for a new segment");
    ROW("shmget", shmget(unique_key(), 2 << 20, IPC_CREAT | 0600) == -1, EINVAL, "above SHMMAX (named key)",
        "size 2097152 is above SHMMAX (1048576) for a new segment");
    if (write_file("/proc/sys/kernel/shmmni", "2") != 0)
        printf("bad\tshmmni\n"), bad++;
    int a = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600), b = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    ROW("shmget", shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600) == -1, ENOSPC, "SHMMNI reached",
        "all SHMMNI (2) segment ids are in use; no new segment can be made");
    if (write_file("/proc/sys/kernel/shmmni", "4096") != 0 || write_file("/proc/sys/kernel/shmall", "3") != 0)
        printf("bad\tshmall\n"), bad++;
    ROW("shmget", shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600) == -1, ENOSPC, "SHMALL reached",
        "8192 more bytes would exceed SHMALL (3 pages in all; 2 in use)");
    shmctl(a, IPC_RMID, NULL);
    shmctl(b, IPC_RMID, NULL);
    /* An index that holds no segment (a, b removed: nothing is left). */
    struct shmid_ds ds;
    ROW("shmctl", shmctl(3, SHM_STAT, &ds) == -1, EINVAL, "SHM_STAT of an index no segment holds (none at all)",
        "no segment is at index 3 (there is no segment at all; SHM_STAT takes an index into the kernel's table, not a "
        "shmid)");
}

/* ---- shmat, shmdt, shmctl ---- */

struct race {
    int id;
    volatile int go;
};

static void *remover(void *arg) {
    struct race *r = arg;
    while (!r->go)
        ;
    shmctl(r->id, IPC_RMID, NULL);
    return NULL;
}

/* One try of a call racing the remover: 0 if it succeeded (and was undone), else errno. */
static int try_attach(int id) {
    errno = 0;
    void *q = shmat(id, NULL, 0);
    if (q == (void *)-1)
        return errno;
    shmdt(q);
    return 0;
}

static int try_stat(int id) {
    struct shmid_ds sd;
    errno = 0;
    return shmctl(id, IPC_STAT, &sd) == 0 ? 0 : errno;
}

/* Rounds of `call` (made by `try`) racing a thread that removes the segment, until the
 * kernel says EIDRM (a row `cause`, its sentence `sentence` with the id) or 20000 rounds
 * pass; each round lost to the removal is a row of EINVAL (`lost`). */
static void eidrm_race(const char *call, int (*try)(int), const char *cause, const char *sentence, const char *lost) {
    int met = 0;
    for (int round = 0; round < 20000 && !met; round++) {
        struct race r = {.id = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600))};
        pthread_t t;
        pthread_create(&t, NULL, remover, &r);
        r.go = 1;
        int e;
        while ((e = try(r.id)) == 0)
            ;
        if (e == EIDRM) {
            met = 1;
            row(call, 1, e, EIDRM, cause, W(sentence, r.id));
        } else {
            row(call, 1, e, EINVAL, lost, W("no segment has id %d (never made, or removed and destroyed)", r.id));
        }
        pthread_join(t, NULL);
    }
    printf("%s EIDRM race: %s\n", call, met ? "met" : "not met");
}

static void at_dt_ctl_rows(void) {
    int id = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    ROW("shmat", shmat(-1, NULL, 0) == (void *)-1, EINVAL, "a negative shmid",
        "shmid -1 is negative, so it names no segment (a failed shmget's -1?)");
    int gone = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    shmctl(gone, IPC_RMID, NULL);
    ROW("shmat", shmat(gone, NULL, 0) == (void *)-1, EINVAL, "no such segment",
        W("no segment has id %d (never made, or removed and destroyed)", gone));
    char *p = shmat(id, NULL, 0);
    ROW("shmat", shmat(id, p + 1, 0) == (void *)-1, EINVAL, "unaligned without SHM_RND",
        W("address %p is not a multiple of SHMLBA (4096); pass SHM_RND to round it down", (void *)(p + 1)));
    ROW("shmat", shmat(id, (void *)0x123, SHM_RND | SHM_REMAP) == (void *)-1, EINVAL, "SHM_RND rounds to NULL, SHM_REMAP",
        "SHM_REMAP needs an address to replace, and address 0x123 rounds down (SHM_RND) to NULL");
    ROW("shmat", shmat(id, NULL, SHM_REMAP) == (void *)-1, EINVAL, "NULL with SHM_REMAP",
        "SHM_REMAP needs an address to replace, and the address is NULL");
    ROW("shmat", shmat(id, p, 0) == (void *)-1, EINVAL, "overlaps an attachment",
        W("address %p overlaps a mapping already there (an attachment of segment %d at %p-%p); SHM_REMAP replaces it",
          (void *)p, id, (void *)p, (void *)(p + 4096)));
    char *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ROW("shmat", shmat(id, anon, 0) == (void *)-1, EINVAL, "overlaps other memory",
        W("address %p overlaps a mapping already there (anonymous memory at %p-", (void *)anon, (void *)anon));
    munmap(anon, 4096);
    ROW("shmat", shmat(id, (void *)(uintptr_t)-4096, 0) == (void *)-1, EINVAL, "wraps past the end",
        W("segment %d (4096 bytes) at 0xfffffffffffff000 would wrap past the end of the address space", id));
#if defined(__x86_64__)
    ROW("shmat", shmat(id, (void *)0xffff800000000000ULL, 0) == (void *)-1, ENOMEM, "beyond the user address space",
        W("segment %d (4096 bytes) at 0xffff800000000000 would reach past the top of the user address space", id));
#endif

    ROW("shmdt", shmdt(NULL) == -1, EINVAL, "NULL", "address is NULL; nothing is attached there");
    ROW("shmdt", shmdt(p + 1) == -1, EINVAL, "unaligned",
        W("address %p is not page-aligned, so it is not the start of an attached segment", (void *)(p + 1)));
    int three = track(shmget(IPC_PRIVATE, 3 * 4096, IPC_CREAT | 0600));
    char *big = shmat(three, NULL, 0);
    ROW("shmdt", shmdt(big + 4096) == -1, EINVAL, "inside an attachment",
        W("address %p is not the start of an attached segment: it is inside an attachment of segment %d",
          (void *)(big + 4096), three));
    shmdt(big);
    shmctl(three, IPC_RMID, NULL);
    static char page[8192] __attribute__((aligned(4096)));
    ROW("shmdt", shmdt(page) == -1, EINVAL, "mapped, not a segment",
        W("address %p is not the start of an attached segment: it is in ", (void *)page));
    ROW("shmdt", shmdt((void *)0xffff800000000000ULL) == -1, EINVAL, "nothing mapped",
        "address 0xffff800000000000 is not the start of an attached segment: nothing is mapped there");
    shmdt(p);
    ROW("shmdt", shmdt(p) == -1, EINVAL, "already detached", W("address %p was already detached (at ", (void *)p));

    ROW("shmctl", shmctl(-5, IPC_RMID, NULL) == -1, EINVAL, "IPC_RMID of a negative shmid",
        "shmid -5 is negative, so it names no segment (a failed shmget's -1?)");
    ROW("shmctl", shmctl(0x7ffffff0, IPC_RMID, NULL) == -1, EINVAL, "IPC_RMID of an id never made",
        "no segment has id 2147483632 (never made, or already removed and destroyed)");
    ROW("shmctl", shmctl(gone, IPC_RMID, NULL) == -1, EINVAL, "IPC_RMID of a destroyed segment",
        W("no segment has id %d (never made, or already removed and destroyed)", gone));
    struct shmid_ds ds;
    /* Indexes stay below SHMMNI (4096 here): 30000 never holds a segment. */
    ROW("shmctl", shmctl(30000, SHM_STAT, &ds) == -1, EINVAL, "SHM_STAT of an index no segment holds",
        "no segment is at index 30000 (SHM_STAT takes an index into the kernel's table, 0 to ");
    ROW("shmctl", shmctl(30000, SHM_STAT_ANY, &ds) == -1, EINVAL, "SHM_STAT_ANY of an index no segment holds",
        "no segment is at index 30000 (SHM_STAT_ANY takes an index into the kernel's table, 0 to ");
    ROW("shmctl", shmctl(gone, IPC_STAT, &ds) == -1, EINVAL, "IPC_STAT of a destroyed segment",
        W("no segment has id %d (never made, or removed and destroyed)", gone));
    ROW("shmctl", shmctl(id, IPC_STAT, (struct shmid_ds *)1) == -1, EFAULT, "IPC_STAT into a bad buffer",
        "IPC_STAT's buffer is not in the address space");
    ROW("shmctl", shmctl(id, 99, &ds) == -1, EINVAL, "an unknown command",
        "99 is not a shmctl command this kernel knows");
    shmctl(id, IPC_RMID, NULL);

    /* EIDRM: destroyed between the kernel finding the segment and attaching it, or
     * locking it for IPC_STAT (races; the rounds that miss end in EINVAL, a row each). */
    eidrm_race("shmat", try_attach, "destroyed while being attached", "segment %d was destroyed while this call attached it",
               "no such segment (the race lost)");
    eidrm_race("shmctl", try_stat, "destroyed while being read", "segment %d was removed",
               "IPC_STAT, no such segment (the race lost)");
}

/* ---- causes that cannot be provoked for real (c_tests/inject.h says why) ---- */

#define INJECT_SIZE 12289u
static int victim;

static int injecting(void) {
    return inject(INJECT_SIZE, ENFILE, (unsigned)victim, IPC_STAT, EOVERFLOW);
}

static void injected_rows(void *arg) {
    (void)arg;
    ROW("shmget", shmget(IPC_PRIVATE, INJECT_SIZE, IPC_CREAT | 0600) == -1, ENFILE, "the file table is full (seccomp)",
        "the system-wide limit on open files is reached");
    struct shmid_ds ds;
    ROW("shmctl", shmctl(victim, IPC_STAT, &ds) == -1, EOVERFLOW, "too large for IPC_STAT (seccomp)",
        W("a value of segment %d does not fit the buffer of IPC_STAT", victim));
}

/* ---- memory ---- */

static void get_enomem(void) {
    int mode = overcommit_mode();
    if (mode != 0 && mode != 2)
        return;
    ROW("shmget", track(shmget(IPC_PRIVATE, (size_t)1 << 42, IPC_CREAT | 0600)) == -1, ENOMEM,
        "more memory than the overcommit policy allows",
        "the kernel could not allocate 4398046511104 bytes for a new segment (out of memory, or the overcommit limit)");
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
    ROW("shmat", shmat(big_id, NULL, 0) == (void *)-1, ENOMEM, "no room under RLIMIT_AS",
        W("no room in the address space to attach segment %d (268435456 bytes) within this process's RLIMIT_AS "
          "(%llu bytes)",
          big_id, (unsigned long long)r.rlim_cur));
}

/* ---- limits of the process: mappings, locked memory ---- */

/* Attaches one segment until the kernel refuses: the process reaches vm.max_map_count. */
static void map_count_rows(void *arg) {
    (void)arg;
    int id = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    void *p;
    int e = 0;
    for (long i = 0; i < 1000000; i++) {
        errno = 0;
        p = shmat(id, NULL, SHM_RDONLY);
        if (p == (void *)-1) {
            e = errno;
            break;
        }
    }
    row("shmat", 1, e, ENOMEM, "no room for one more mapping",
        W("no room for one more mapping to attach segment %d: this process has ", id));
    shmctl(id, IPC_RMID, NULL);
}

/* uid 65534, RLIMIT_MEMLOCK 0 (hard limit one page): SHM_LOCK of its own segment. */
static int nobody_without_memlock(void) {
    struct rlimit r = {0, 4096};
    return setrlimit(RLIMIT_MEMLOCK, &r) != 0 ? -1 : become_nobody();
}

static void memlock_rows(void *arg) {
    (void)arg;
    int id = track(shmget(IPC_PRIVATE, 65536, IPC_CREAT | 0600));
    ROW("shmctl", shmctl(id, SHM_LOCK, NULL) == -1, EPERM, "SHM_LOCK by its owner, RLIMIT_MEMLOCK 0",
        W("SHM_LOCK on segment %d needs CAP_IPC_LOCK or a RLIMIT_MEMLOCK above 0, and this process's is 0", id));
    struct rlimit r = {4096, 4096};
    setrlimit(RLIMIT_MEMLOCK, &r);
    ROW("shmctl", shmctl(id, SHM_LOCK, NULL) == -1, ENOMEM, "SHM_LOCK over RLIMIT_MEMLOCK",
        W("SHM_LOCK on segment %d (65536 bytes) would lock more than this process's RLIMIT_MEMLOCK (4096 bytes) "
          "allows its user",
          id));
    /* EPERM for the owner with RLIMIT_MEMLOCK above 0 is not the kernel's own rule (a
     * security module's): a seccomp filter makes it. */
    if (inject(0xffffffffu, ENFILE, (unsigned)id, SHM_LOCK, EPERM) == 0)
        ROW("shmctl", shmctl(id, SHM_LOCK, NULL) == -1, EPERM, "SHM_LOCK refused otherwise (seccomp)",
            W("the kernel refused SHM_LOCK on segment %d with EPERM, though this process's user owns or made it and "
              "its RLIMIT_MEMLOCK is 4096 bytes",
              id));
    shmctl(id, IPC_RMID, NULL);
}

static int nothing(void) {
    return 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    get_rows();
    get_enomem();
    at_dt_ctl_rows();
    victim = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    in_child(injecting, injected_rows, NULL);
    big_id = track(shmget(IPC_PRIVATE, 256 << 20, IPC_CREAT | 0600));
    in_child(capped, capped_rows, NULL);
    in_child(nothing, map_count_rows, NULL);
    if (getuid() == 0)
        in_child(nobody_without_memlock, memlock_rows, NULL);
    shmctl(victim, IPC_RMID, NULL);
    shmctl(big_id, IPC_RMID, NULL);
    if (getuid() == 0) {
        struct theirs t = {.key = unique_key()};
        t.id0600 = track(shmget(t.key, 4096, IPC_CREAT | IPC_EXCL | 0600));
        t.id0606 = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0606));
        t.id0604 = track(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0604));
        in_child(become_nobody, as_nobody, &t);
        shmctl(t.id0600, IPC_RMID, NULL);
        shmctl(t.id0606, IPC_RMID, NULL);
        shmctl(t.id0604, IPC_RMID, NULL);
        in_child(own_ipc_namespace, in_namespace, NULL);
    } else {
        own_exec_rows();
    }
    printf("done %d\n", bad);
    return bad != 0;
}
