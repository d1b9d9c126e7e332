/* Data written by one process is read by another, both ways; a forked child inherits
 * the parent's attachments in rshm's registry too. */
#define _GNU_SOURCE
#include "check.h"
#include <sys/wait.h>

/* Runs `child` in a forked process; returns its exit status (0 = all good). */
static int in_child(int (*child)(int, char *), int id, char *p) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(id, p));
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The child reads what the parent wrote, then writes its answer through a new attach. */
static int child_reads_and_answers(int id, char *inherited) {
    if (strcmp(inherited, "parent to child") != 0)
        return 10;
    char *q = rshm_at(id, NULL, 0);
    if (q == (void *)-1)
        return 11;
    if (strcmp(q + 64, "") != 0 || strcmp(q, "parent to child") != 0)
        return 12;
    strcpy(q + 64, "child to parent");
    if (rshm_dt(q) != 0)
        return 13;
    /* The inherited attachment is in the child's registry: detaching it is no surprise. */
    if (rshm_attachment_count() != 1)
        return 14;
    if (rshm_dt(inherited) != 0 || rshm_attachment_count() != 0)
        return 15;
    return 0;
}

int main(void) {
    int id = guard(rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    CHECK(id >= 0, "create");
    char *p = rshm_at(id, NULL, 0);
    CHECK(p != (void *)-1, "attach");
    strcpy(p, "parent to child");

    CHECK(in_child(child_reads_and_answers, id, p) == 0, "child read the parent's data and answered");
    CHECK(strcmp(p + 64, "child to parent") == 0, "parent reads the child's answer");
    CHECK(rshm_attachment_count() == 1, "the child's detaches did not touch the parent's registry");

    /* A second, unrelated process (fork + keyed get) writes; the parent reads. */
    key_t key = unique_key();
    int kid = guard(rshm_get(key, 4096, IPC_CREAT | IPC_EXCL | 0600));
    CHECK(kid >= 0, "keyed create");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int cid = rshm_get(key, 0, 0);
        char *c = cid < 0 ? (void *)-1 : rshm_at(cid, NULL, 0);
        if (c == (void *)-1)
            _exit(20);
        strcpy(c, "written by key");
        _exit(rshm_dt(c) == 0 ? 0 : 21);
    }
    int st = -1;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "keyed writer child");
    char *k = rshm_at(kid, NULL, SHM_RDONLY);
    CHECK(k != (void *)-1 && strcmp(k, "written by key") == 0, "parent reads what the keyed child wrote");
    CHECK(k == (void *)-1 || rshm_dt(k) == 0, "detach keyed");

    CHECK(rshm_dt(p) == 0, "detach");
    CHECK(rshm_rmid(id) == 0 && rshm_rmid(kid) == 0, "remove both");
    return check_done();
}
