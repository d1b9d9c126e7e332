/* Makes the raw shm system calls its arguments name, one after the other, and prints
 * one line each ("get = 0", "at = -1 EINVAL"; an attach prints "at = attached", never
 * the address):
 *   get:KEY:SIZE:FLAGS   shmget (numbers as strtol base 0 reads them: 0x1f, 0644)
 *   at:ID:FLAGS          shmat(ID, NULL, FLAGS); ID "$" is the last shmget's result
 *   dt:OFF               shmdt of the last attach's address plus OFF (NULL if none)
 *   stat:ID              IPC_STAT, printing nattch
 *   rm:ID                IPC_RMID
 *   used                 SHM_INFO, printing the number of segments there are
 *   wait                 reads a line from stdin first (after printing "pid PID")
 * Exits 0 (the calls' results are in what it prints). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

static long last_id = -1;
static char *last_at = NULL;

static long num(const char *s) {
    return strcmp(s, "$") == 0 ? last_id : strtol(s, NULL, 0);
}

static void said(const char *what, long r, const char *more) {
    if (r < 0)
        printf("%s = %ld %s\n", what, r, strerrorname_np(errno));
    else
        printf("%s = %s\n", what, more);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char op[256];
        snprintf(op, sizeof op, "%s", argv[i]);
        char *f[4] = {0};
        int n = 0;
        for (char *s = strtok(op, ":"); s && n < 4; s = strtok(NULL, ":"))
            f[n++] = s;
        char buf[64];
        if (strcmp(f[0], "get") == 0 && n == 4) {
            long r = syscall(SYS_shmget, num(f[1]), num(f[2]), num(f[3]));
            if (r >= 0)
                last_id = r;
            snprintf(buf, sizeof buf, "%ld", r);
            said("get", r, buf);
        } else if (strcmp(f[0], "at") == 0 && n == 3) {
            long r = syscall(SYS_shmat, num(f[1]), NULL, num(f[2]));
            if (r != -1)
                last_at = (char *)r;
            said("at", r == -1 ? -1 : 0, "attached");
        } else if (strcmp(f[0], "dt") == 0 && n == 2) {
            said("dt", syscall(SYS_shmdt, last_at ? last_at + num(f[1]) : NULL), "0");
        } else if (strcmp(f[0], "stat") == 0 && n == 2) {
            struct shmid_ds ds = {0};
            long r = syscall(SYS_shmctl, num(f[1]), IPC_STAT, &ds);
            snprintf(buf, sizeof buf, "0 nattch %lu", (unsigned long)ds.shm_nattch);
            said("stat", r, buf);
        } else if (strcmp(f[0], "rm") == 0 && n == 2) {
            said("rm", syscall(SYS_shmctl, num(f[1]), IPC_RMID, NULL), "0");
        } else if (strcmp(f[0], "used") == 0 && n == 1) {
            struct shm_info si = {0};
            long r = syscall(SYS_shmctl, 0, SHM_INFO, &si);
            snprintf(buf, sizeof buf, "%d", si.used_ids);
            said("used", r, buf);
        } else if (strcmp(f[0], "wait") == 0 && n == 1) {
            printf("pid %d\n", (int)getpid());
            fflush(stdout);
            if (!fgets(buf, sizeof buf, stdin))
                return 3;
        } else {
            fprintf(stderr, "complete_call: what is %s?\n", argv[i]);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
