/* Prints, for each mapping of a file whose path contains argv[1], its permissions, file
 * offset, start address, length and resident kB (/proc/self/smaps), one line each:
 * "r--p 0 7f0000000000 4000 16" (numbers in hex but the kB). With "calls" as
 * argv[2], first makes shmget, shmat, shmdt and IPC_RMID, as the fork+exit child of the
 * bench does. */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    if (argc > 2 && !strcmp(argv[2], "calls")) {
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        void *p = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
        if (id < 0 || p == (void *)-1 || shmdt(p) != 0 || shmctl(id, IPC_RMID, NULL) != 0)
            return 3;
    }
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return 4;
    char line[4608], perms[8] = "", path[4096];
    unsigned long offset = 0, start = 0, len = 0;
    int mine = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        path[0] = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %4095s", &lo, &hi, perms, &offset, path) >= 4) {
            mine = strstr(path, argv[1]) != NULL;
            start = lo;
            len = hi - lo;
            continue;
        }
        int kb;
        if (mine && sscanf(line, "Rss: %d kB", &kb) == 1)
            printf("%s %lx %lx %lx %d\n", perms, offset, start, len, kb);
    }
    fclose(f);
    return 0;
}
