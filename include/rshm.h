/*
 * rshm: System V shared memory, checked, logged and tracked.
 *
 * Every function behaves like its libc counterpart (shmget, shmat, shmdt,
 * shmctl(IPC_RMID)): -1 (or (void *)-1) and errno on failure. rshm_last_error()
 * says why, in words. The stricter rules, the warnings, the environment and the
 * log format: man 3 rshm.
 *
 * This header is C89 (and compiles as C99 and C++98 too). Link with -lrshm, or
 * $(pkg-config --cflags --libs rshm).
 */

#ifndef RSHM_H
#define RSHM_H

/* Generated from src/ffi.rs by build.rs (cbindgen). Do not edit. */

#include <stddef.h>
#include <sys/types.h>
#include <sys/ipc.h>
#include <sys/shm.h>

/* The version of rshm this header belongs to; rshm_version() gives the library's. */
#define RSHM_VERSION_MAJOR 0
#define RSHM_VERSION_MINOR 1
#define RSHM_VERSION_PATCH 0
#define RSHM_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif /* __cplusplus */

/*
 Gets the identifier of the System V shared memory segment of `key`, creating it
 with `IPC_CREAT` (see shmget(2)). Returns the id, or -1 with errno set;
 `rshm_last_error()` then says why. Stricter than shmget: unknown flag bits and sizes
 above SSIZE_MAX fail with EINVAL.
 */
int rshm_get(key_t key, size_t size, int flags);

/*
 Attaches segment `shmid` at `addr` (NULL: the kernel chooses) with `flags`
 (`SHM_RDONLY`, `SHM_RND`, `SHM_REMAP`, `SHM_EXEC`; see shmat(2)). Returns the address,
 or `(void *)-1` with errno set. Stricter than shmat: unknown flag bits fail with EINVAL.
 */
void *rshm_at(int shmid, const void *addr, int flags);

/*
 Detaches the segment attached at `addr` (see shmdt(2)); `addr` is never read.
 Returns 0, or -1 with errno set (EINVAL for NULL, an address not attached, or one
 already detached).
 */
int rshm_dt(const void *addr);

/*
 Marks segment `shmid` for removal (shmctl(2) with `IPC_RMID`); it is destroyed when
 the last process detaches it. Returns 0, or -1 with errno set.
 */
int rshm_rmid(int shmid);

/*
 This thread's last failure as a sentence that names the call, the argument and the
 rule, e.g. "rshm_get: size 0 is below SHMMIN (1) for a new segment". Never NULL; the
 text changes at this thread's next failed rshm call.
 */
const char *rshm_last_error(void);

/*
 The number of attachments this process holds through rshm (made by `rshm_at` and not
 yet detached by `rshm_dt`, including those a forked child inherited), as the registry
 counts them. It walks the whole registry: for checks and reports, not for hot loops.
 */
size_t rshm_attachment_count(void);

/*
 The library's version, "MAJOR.MINOR.PATCH" (the header's `RSHM_VERSION_STRING` is the
 version it was compiled against). A static string; never NULL.
 */
const char *rshm_version(void);

#ifdef __cplusplus
}  /* extern "C" */
#endif  /* __cplusplus */

#endif  /* RSHM_H */
