/* Differential test: thousands of random calls, each made through the reference and
 * through the measured path on the same state, must give the same success or failure
 * and the same errno; the only differences allowed are the stricter rules the README
 * lists (EINVAL for unknown flag bits, and for sizes above SSIZE_MAX).
 *
 * Built two ways. Linked with rshm: reference = libc, measured = rshm_*. With
 * -DVIA_PRELOAD (run under LD_PRELOAD by the preload tests): reference = raw system
 * calls, measured = libc's names, which the preload library hooks; there no difference
 * at all is allowed (it only observes).
 *
 * "The same state" is two twin environments, one per path: twin segments (same size,
 * mode, key kind), twin attachments, twin PROT_NONE reservations for fixed-address
 * attaches, so nothing of the test process is ever clobbered. Seeded (RSHM_DIFF_SEED, or
 * the time); the seed is printed, and printed again with any mismatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifndef VIA_PRELOAD
#include <rshm.h>
#endif

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#define GET_VALID (0777 | IPC_CREAT | IPC_EXCL | 04000 | 010000 | (0x3f << 26))
#define AT_VALID (SHM_RDONLY | SHM_RND | SHM_REMAP | SHM_EXEC)

/* ---- the two paths ---- */

#ifdef VIA_PRELOAD
static int ref_get(key_t k, size_t s, int f) { return (int)syscall(SYS_shmget, k, s, f); }
static void *ref_at(int id, const void *a, int f) { return (void *)syscall(SYS_shmat, id, a, f); }
static int ref_dt(const void *a) { return (int)syscall(SYS_shmdt, a); }
static int ref_rmid(int id) { return (int)syscall(SYS_shmctl, id, IPC_RMID, NULL); }
static int m_get(key_t k, size_t s, int f) { return shmget(k, s, f); }
static void *m_at(int id, const void *a, int f) { return shmat(id, a, f); }
static int m_dt(const void *a) { return shmdt(a); }
static int m_rmid(int id) { return shmctl(id, IPC_RMID, NULL); }
#define STRICTER_ALLOWED 0
#define WHAT "preload"
#else
static int ref_get(key_t k, size_t s, int f) { return shmget(k, s, f); }
static void *ref_at(int id, const void *a, int f) { return shmat(id, a, f); }
static int ref_dt(const void *a) { return shmdt(a); }
static int ref_rmid(int id) { return shmctl(id, IPC_RMID, NULL); }
static int m_get(key_t k, size_t s, int f) { return rshm_get(k, s, f); }
static void *m_at(int id, const void *a, int f) { return rshm_at(id, a, f); }
static int m_dt(const void *a) { return rshm_dt(a); }
static int m_rmid(int id) { return rshm_rmid(id); }
#define STRICTER_ALLOWED 1
#define WHAT "librshm"
#endif

/* ---- randomness ---- */

static uint64_t rng;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int pick(int n) { return (int)(next() % (uint64_t)n); }

/* ---- twin state ---- */

#define PAGE 4096
#define RES (16 * PAGE)

struct twin {
    int id;         /* a live 2-page segment, keyed */
    key_t key;
    char *att;      /* an attachment of it */
    char *res;      /* a PROT_NONE reservation for fixed attaches */
};
static struct twin tw[2];
static int removed_id; /* the id of a segment that no longer exists */
static key_t key_base;
static int key_n;

static key_t fresh_key(void) { return key_base + (++key_n & 0xffff); }

static void die(const char *what) {
    fprintf(stderr, "differential: setup failed: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void make_twin(struct twin *t) {
    t->key = fresh_key();
    t->id = shmget(t->key, 2 * PAGE, IPC_CREAT | IPC_EXCL | 0600);
    if (t->id < 0)
        die("shmget");
    t->att = shmat(t->id, NULL, 0);
    if (t->att == (void *)-1)
        die("shmat");
    t->res = mmap(NULL, RES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (t->res == MAP_FAILED)
        die("mmap");
}

static void drop_twin(struct twin *t) {
    shmdt(t->att);
    shmctl(t->id, IPC_RMID, NULL);
    munmap(t->res, RES);
}

/* Undo what a successful call made, so both twins stay alike. */
static void undo_get(int id) {
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
}
static void undo_at(struct twin *t, void *p) {
    if (p == (void *)-1)
        return;
    shmdt(p);
    /* A fixed attach replaced part of the reservation: put the PROT_NONE pages back. */
    if ((char *)p >= t->res && (char *)p < t->res + RES)
        mmap(t->res, RES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

/* ---- argument pools ---- */

static size_t pick_size(void) {
    static const size_t sizes[] = {0, 1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 3 * PAGE, (size_t)1 << 40,
                                   SIZE_MAX, (size_t)SSIZE_MAX + 1, (size_t)SSIZE_MAX, (size_t)-PAGE};
    return sizes[pick(sizeof sizes / sizeof *sizes)];
}

static int pick_get_flags(void) {
    static const int combos[] = {0, 0600, IPC_CREAT | 0600, IPC_CREAT | IPC_EXCL | 0600, IPC_EXCL | 0600,
                                 IPC_CREAT | 0666, IPC_CREAT | 0400, 010000 | IPC_CREAT | 0600,
                                 04000 | IPC_CREAT | 0600, 0100 | 0600, (21 << 26) | IPC_CREAT | 0600};
    switch (pick(3)) {
    case 0: return 1 << pick(32);                         /* every single bit */
    case 1: return combos[pick(sizeof combos / sizeof *combos)];
    default: return (1 << pick(32)) | IPC_CREAT | 0600;  /* one odd bit on a valid word */
    }
}

static int pick_at_flags(void) {
    static const int combos[] = {0, SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC, SHM_RDONLY | SHM_RND,
                                 SHM_REMAP | SHM_RND, SHM_RDONLY | SHM_EXEC};
    return pick(3) ? combos[pick(sizeof combos / sizeof *combos)] : 1 << pick(32);
}

/* An id, the same kind for both twins. */
static int pick_id(int twin, int kind) {
    switch (kind) {
    case 0: return tw[twin].id;
    case 1: return -1;
    case 2: return INT_MAX;
    case 3: return INT_MIN;
    default: return removed_id;
    }
}

/* An address, the same kind for both twins. */
static const void *pick_addr(int twin, int kind, int unaligned) {
    static char on_stack_twin[2][64];
    const char *a;
    switch (kind) {
    case 0: a = NULL; break;
    case 1: a = tw[twin].att; break;                   /* the start of an attachment */
    case 2: a = tw[twin].att + PAGE; break;            /* inside it */
    case 3: a = on_stack_twin[twin]; break;           /* not a mapping of ours to give */
    case 4: a = tw[twin].res + 4 * PAGE; break;        /* inside the reservation */
    case 5: a = (const char *)0xffff800000000000ULL; break; /* the kernel's half */
    default: a = (const char *)0x10000000000ULL; break;     /* unmapped */
    }
    return unaligned && a ? a + 8 : a;
}

/* ---- the comparison ---- */

static long inputs, stricter, mismatches;
static unsigned long long seed;

struct outcome {
    int ok, err;
};

static void compare(const char *what, struct outcome r, struct outcome m, int stricter_rule) {
    inputs++;
    if (r.ok == m.ok && (r.ok || r.err == m.err))
        return;
    if (STRICTER_ALLOWED && stricter_rule && !m.ok && m.err == EINVAL) {
        stricter++;
        return;
    }
    mismatches++;
    if (mismatches <= 20)
        fprintf(stderr, "MISMATCH (seed %llu) %s: reference %s %s, measured %s %s\n", seed, what, r.ok ? "ok" : "-1",
                r.ok ? "" : strerror(r.err), m.ok ? "ok" : "-1", m.ok ? "" : strerror(m.err));
}

static void one_get(void) {
    int kind = pick(3); /* private, existing, missing */
    size_t size = pick_size();
    int flags = pick_get_flags();
    key_t k[2];
    for (int t = 0; t < 2; t++)
        k[t] = kind == 0 ? IPC_PRIVATE : kind == 1 ? tw[t].key : fresh_key();
    errno = 0;
    int a = ref_get(k[0], size, flags);
    struct outcome r = {a >= 0, errno};
    errno = 0;
    int b = m_get(k[1], size, flags);
    struct outcome m = {b >= 0, errno};
    /* Undo only what the call made (an existing twin's id stays). */
    if (a >= 0 && a != tw[0].id)
        undo_get(a);
    if (b >= 0 && b != tw[1].id)
        undo_get(b);
    char what[128];
    snprintf(what, sizeof what, "shmget(key %s, size %zu, flags %#o)", kind == 0 ? "private" : kind == 1 ? "existing" : "missing",
             size, flags);
    compare(what, r, m, (flags & ~GET_VALID) != 0 || size > (size_t)SSIZE_MAX);
}

static int under_valgrind;

static void one_at(void) {
    int idk = pick(5), ak = pick(7), un = pick(4) == 0, flags = pick_at_flags();
    /* Only the reservation may be attached over at a fixed address: never clobber. */
    if (ak != 0 && ak != 4 && (flags & SHM_REMAP))
        flags &= ~SHM_REMAP;
    /* valgrind picks the address of shmat(NULL) itself, so it lets SHM_REMAP with NULL
     * through where the kernel says EINVAL: no reference to compare with there. */
    if (under_valgrind && ak == 0 && (flags & SHM_REMAP))
        flags &= ~SHM_REMAP;
    errno = 0;
    void *a = ref_at(pick_id(0, idk), pick_addr(0, ak, un), flags);
    struct outcome r = {a != (void *)-1, errno};
    undo_at(&tw[0], a);
    errno = 0;
    void *b = m_at(pick_id(1, idk), pick_addr(1, ak, un), flags);
    struct outcome m = {b != (void *)-1, errno};
    undo_at(&tw[1], b);
    char what[128];
    snprintf(what, sizeof what, "shmat(id kind %d, addr kind %d%s, flags %#o)", idk, ak, un ? " +8" : "", flags);
    compare(what, r, m, (flags & ~AT_VALID) != 0);
}

static void one_dt(void) {
    int ak = pick(7), un = pick(3) == 0;
    errno = 0;
    int a = ref_dt(pick_addr(0, ak, un));
    struct outcome r = {a == 0, errno};
    errno = 0;
    int b = m_dt(pick_addr(1, ak, un));
    struct outcome m = {b == 0, errno};
    /* A successful detach of a twin's attachment: attach it again, at the same place. */
    for (int t = 0; t < 2; t++)
        if ((t ? b : a) == 0 && shmat(tw[t].id, tw[t].att, 0) != tw[t].att)
            die("re-attach");
    char what[96];
    snprintf(what, sizeof what, "shmdt(addr kind %d%s)", ak, un ? " +8" : "");
    compare(what, r, m, 0);
}

static void one_rmid(void) {
    int idk = pick(5);
    if (idk == 0) {
        /* A live segment: each path removes its own fresh twin. */
        int a0 = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600), b0 = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
        errno = 0;
        int a = ref_rmid(a0);
        struct outcome r = {a == 0, errno};
        errno = 0;
        int b = m_rmid(b0);
        struct outcome m = {b == 0, errno};
        /* Whatever happened, neither twin may outlive the trial. */
        shmctl(a0, IPC_RMID, NULL);
        shmctl(b0, IPC_RMID, NULL);
        compare("IPC_RMID(live)", r, m, 0);
        return;
    }
    errno = 0;
    int a = ref_rmid(pick_id(0, idk));
    struct outcome r = {a == 0, errno};
    errno = 0;
    int b = m_rmid(pick_id(1, idk));
    struct outcome m = {b == 0, errno};
    char what[64];
    snprintf(what, sizeof what, "IPC_RMID(id kind %d)", idk);
    compare(what, r, m, 0);
}

int main(void) {
    const char *s = getenv("RSHM_DIFF_SEED");
    seed = s ? strtoull(s, NULL, 0) : (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
    rng = seed ? seed : 1;
    printf("differential (%s): seed %llu\n", WHAT, seed);
    const char *pre = getenv("LD_PRELOAD");
    under_valgrind = pre && strstr(pre, "vgpreload") != NULL; /* as check.h's under_valgrind() */
    key_base = (key_t)(0x30000000 | ((getpid() & 0xfff) << 16));
    make_twin(&tw[0]);
    make_twin(&tw[1]);
    removed_id = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
    shmctl(removed_id, IPC_RMID, NULL);
    int n = 4000;
    for (int i = 0; i < n; i++) {
        switch (pick(4)) {
        case 0: one_get(); break;
        case 1: one_at(); break;
        case 2: one_dt(); break;
        default: one_rmid(); break;
        }
    }
    drop_twin(&tw[0]);
    drop_twin(&tw[1]);
    printf("differential (%s): %ld inputs, %ld refused by a stricter rule, %ld mismatches\n", WHAT, inputs, stricter,
           mismatches);
    printf("%ld passed, %ld failed\n", inputs - mismatches, mismatches);
    return mismatches != 0;
}
