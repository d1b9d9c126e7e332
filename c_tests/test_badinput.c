/* Bad input to every exported function: NULL, -1, INT_MIN, INT_MAX, SIZE_MAX, unaligned,
 * unmapped, PROT_NONE and kernel-half addresses. Each call fails cleanly with -1 and
 * EINVAL (or the errno libc gives), leaves a sentence, and never touches the memory it
 * is handed: a PROT_NONE page would turn any read into a crash. */
#define _GNU_SOURCE
#include "check.h"
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>

int main(void) {
    char *guard_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(guard_page != MAP_FAILED, "a PROT_NONE page");
    void *addrs[] = {NULL,
                     (void *)-1,
                     (void *)1,
                     (void *)(uintptr_t)4095,
                     guard_page,
                     guard_page + 1,
                     (void *)0x10000000000ULL,
                     (void *)0xffff800000000000ULL,
                     (void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)4095),
                     (void *)main};
    int n = sizeof addrs / sizeof *addrs;
    for (int i = 0; i < n; i++) {
        errno = 0;
        CHECK(rshm_dt(addrs[i]) == -1 && errno == EINVAL, "rshm_dt of a bad address: -1 EINVAL");
        CHECK(rshm_last_error() != NULL && !strncmp(rshm_last_error(), "rshm_dt: ", 9), "rshm_dt says why");
    }
    int ids[] = {-1, INT_MIN, INT_MAX, 0x7ffffff0};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        errno = 0;
        CHECK(rshm_rmid(ids[i]) == -1 && errno == EINVAL, "rshm_rmid of a bad id: -1 EINVAL");
        for (int j = 0; j < n; j++) {
            errno = 0;
            CHECK(rshm_at(ids[i], addrs[j], 0) == (void *)-1 && errno == EINVAL, "rshm_at of a bad id: -1 EINVAL");
        }
    }
    /* A real segment at bad addresses: without SHM_REMAP nothing is replaced; the
     * kernel's half has no room (ENOMEM, as libc says); free space is simply used. */
    int id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    /* A free address, found by mapping and unmapping a page (a fixed guess such as
     * 0x10000000000 may be taken: AddressSanitizer keeps its shadow there). */
    char *free_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(free_page, 4096);
    void *p = rshm_at(id, free_page, 0);
    CHECK(p == free_page && rshm_dt(p) == 0, "rshm_at at a free, aligned address attaches there");
    for (int j = 1; j < n; j++) {
        errno = 0;
        p = rshm_at(id, addrs[j], 0);
        if (addrs[j] == (void *)0x10000000000ULL) {
            CHECK(p == (void *)-1 || rshm_dt(p) == 0, "rshm_at at an address that may be free: attached or refused");
        } else if ((uintptr_t)addrs[j] >= 0xffff800000000000ULL) {
            CHECK(p == (void *)-1 && (errno == EINVAL || errno == ENOMEM), "rshm_at in the kernel's half: -1");
            CHECK(p != (void *)-1 || shmat(id, addrs[j], 0) == (void *)-1, "and libc agrees");
        } else {
            CHECK(p == (void *)-1 && errno == EINVAL, "rshm_at at a bad or occupied address: -1 EINVAL");
        }
    }
    /* -1 and INT_MAX carry unknown bits; INT_MIN is only the huge-page size field. */
    int flags[] = {-1, INT_MAX};
    size_t sizes[] = {0, SIZE_MAX, (size_t)SSIZE_MAX + 1, (size_t)INT_MIN};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        errno = 0;
        CHECK(guard(rshm_get(IPC_PRIVATE, 4096, flags[i])) == -1 && errno == EINVAL, "rshm_get with bad flags");
        errno = 0;
        CHECK(rshm_at(id, NULL, flags[i]) == (void *)-1 && errno == EINVAL, "rshm_at with bad flags");
    }
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        key_t keys[] = {IPC_PRIVATE, -1, INT_MIN, INT_MAX};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            errno = 0;
            int r = guard(rshm_get(keys[k], sizes[i], IPC_CREAT | IPC_EXCL | 0600));
            CHECK(r == -1 && (errno == EINVAL || errno == EEXIST), "rshm_get with a bad size");
        }
    }
    int odd = guard(rshm_get(IPC_PRIVATE, 4096, INT_MIN));
    CHECK(odd >= 0, "INT_MIN flags: a valid (if odd) word, as for libc");
    CHECK(rshm_rmid(id) == 0, "remove");
    CHECK(rshm_last_error() != NULL && rshm_version() != NULL, "never NULL");
    munmap(guard_page, 4096);
    return check_done();
}
