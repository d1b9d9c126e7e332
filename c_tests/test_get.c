/* rshm_get: the classic shmget failure cases, the stricter rules, and the sentences. */
#define _GNU_SOURCE
#include "check.h"
#include <limits.h>
#include <stdint.h>

int main(void) {
    key_t key = unique_key();

    /* A new keyed segment, then the same key again. */
    int id = guard(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(id >= 0, "create a keyed segment");
    CHECK(rshm_get(key, 4096, 0600) == id, "same key, same id");
    CHECK(rshm_get(key, 0, 0) == id, "size 0 opens an existing segment");

    /* EEXIST: IPC_CREAT|IPC_EXCL on an existing key; the sentence names the key. */
    errno = 0;
    char keytext[96];
    snprintf(keytext, sizeof keytext, "key 0x%08x already has a segment (shmid %d)", (unsigned)key, id);
    CHECK_ERR(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600) == -1, EEXIST, keytext, "EEXIST");
    CHECK(strncmp(rshm_last_error(), "rshm_get: ", 10) == 0, "message starts with the call");

    /* EINVAL: size larger than the existing segment. */
    CHECK_ERR(rshm_get(key, 8192, 0600) == -1, EINVAL, "size 8192 is larger than the existing segment", "EINVAL bigger");

    /* ENOENT: no segment for the key without IPC_CREAT. */
    key_t missing = unique_key();
    CHECK_ERR(rshm_get(missing, 4096, 0600) == -1, ENOENT, "and IPC_CREAT was not given", "ENOENT");

    /* EINVAL: size 0 for a new segment, and above SHMMAX. */
    CHECK_ERR(rshm_get(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1, EINVAL,
              "rshm_get: size 0 is below SHMMIN (1) for a new segment", "size 0");
    CHECK_ERR(guard(rshm_get(missing, 0, IPC_CREAT | 0600)) == -1, EINVAL, "size 0 is below SHMMIN (1) for a new segment",
              "size 0 keyed, kernel's EINVAL explained");
    struct shminfo si;
    CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&si) >= 0, "IPC_INFO");
    if (si.shmmax < (unsigned long)SSIZE_MAX) {
        CHECK_ERR(rshm_get(IPC_PRIVATE, si.shmmax + 1, IPC_CREAT | 0600) == -1, EINVAL, "above SHMMAX", "above SHMMAX");
    }
    /* Stricter: above SSIZE_MAX (a negative int cast to size_t) is EINVAL with its own words. */
    CHECK_ERR(rshm_get(IPC_PRIVATE, (size_t)-1, IPC_CREAT | 0600) == -1, EINVAL,
              "size 18446744073709551615 is above SSIZE_MAX; it looks like the negative number -1 converted to size_t",
              "SIZE_MAX");
    CHECK_ERR(rshm_get(key, (size_t)-4096, 0600) == -1, EINVAL, "the negative number -4096", "negative size, existing key");

    /* ENOMEM: the kernel cannot back 1 TiB (default overcommit). */
    errno = 0;
    int big = guard(rshm_get(IPC_PRIVATE, (size_t)1 << 40, IPC_CREAT | 0600));
    CHECK_ERR(big == -1, ENOMEM, "could not allocate 1099511627776 bytes", "ENOMEM 1 TiB");

    /* Stricter: unknown flag bits (O_CREAT-style mistakes land in valid bits, these not). */
    CHECK_ERR(rshm_get(IPC_PRIVATE, 4096, 0100000 | IPC_CREAT | 0600) == -1, EINVAL, "unknown flag bits 0100000",
              "unknown flag bit");

    /* Warnings do not fail the call. */
    int ww = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0666));
    CHECK(ww >= 0, "world-writable still works");
    CHECK(rshm_rmid(ww) == 0, "remove world-writable");

    /* errno untouched by a successful call. */
    errno = 12345;
    int p = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    CHECK(p >= 0 && errno == 12345, "success leaves errno alone");
    CHECK(rshm_rmid(p) == 0, "remove private");

    CHECK(rshm_rmid(id) == 0, "remove keyed");

    /* The version: the header's macros and the library agree. */
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", RSHM_VERSION_MAJOR, RSHM_VERSION_MINOR, RSHM_VERSION_PATCH);
    CHECK(strcmp(rshm_version(), v) == 0 && strcmp(RSHM_VERSION_STRING, v) == 0, "version macros match rshm_version()");
    CHECK_ERR(rshm_get(key, 0, 0) == -1, ENOENT, "no segment has key", "removed key is gone");
    return check_done();
}
