/* A failing shmat, then the program's own message about it on stderr. */
#include <stdio.h>
#include <sys/shm.h>

int main(void) {
    if (shmat(-1, NULL, 0) == (void *)-1)
        perror("trace_order: my own message");
    return 0;
}
