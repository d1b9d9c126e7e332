/* rshm_rmid: a bad id, and a segment marked while attached lives until the last detach. */
#define _GNU_SOURCE
#include "check.h"

int main(void) {
    CHECK_ERR(rshm_rmid(-1) == -1, EINVAL, "rshm_rmid: shmid -1 is negative", "rmid -1");
    CHECK_ERR(rshm_rmid(0x7ffffff0) == -1, EINVAL, "rshm_rmid: no segment has id 2147483632", "rmid unknown");

    key_t key = unique_key();
    int id = guard(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(id >= 0, "create");
    char *a = rshm_at(id, NULL, 0);
    char *b = rshm_at(id, NULL, 0);
    CHECK(a != (void *)-1 && b != (void *)-1, "attach twice");
    strcpy(a, "still here");

    CHECK(rshm_rmid(id) == 0, "mark for removal while attached");
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT after the mark: it lives on");
    CHECK(ds.shm_perm.mode & SHM_DEST, "marked SHM_DEST");
    CHECK(ds.shm_nattch == 2, "two attachments remain");
    CHECK(strcmp(b, "still here") == 0, "data still readable");
    CHECK_ERR(rshm_get(key, 0, 0) == -1, ENOENT, "no segment has key", "the key is gone once marked");

    CHECK(rshm_dt(a) == 0, "first detach");
    CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "still alive with one attachment");
    CHECK(rshm_dt(b) == 0, "last detach");
    errno = 0;
    CHECK(shmctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL, "destroyed after the last detach");
    char want[96];
    snprintf(want, sizeof want, "rshm_rmid: no segment has id %d (never made, or already removed and destroyed)", id);
    CHECK_ERR(rshm_rmid(id) == -1, EINVAL, want, "rmid again after destruction");
    return check_done();
}
