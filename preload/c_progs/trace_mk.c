/* Makes a segment of key argv[1] (hex) and size argv[2] and prints its id; with a third
 * argument "rm", removes it again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: trace_mk KEY SIZE [rm]\n"); return 2; }
    key_t k = (key_t)strtoul(argv[1], NULL, 16);
    int id = shmget(k, (size_t)atoi(argv[2]), IPC_CREAT | 0600);
    if (id < 0) { perror("shmget"); return 1; }
    printf("%d\n", id);
    if (argc > 3 && strcmp(argv[3], "rm") == 0 && shmctl(id, IPC_RMID, NULL) != 0) {
        perror("shmctl");
        return 1;
    }
    return 0;
}
