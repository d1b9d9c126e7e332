/* writer: creates a keyed segment, writes a message into it, detaches and leaves it for
 * the reader. Build: cc writer.c -lrshm (or `pkg-config --cflags --libs rshm`). */
#include <rshm.h>
#include <stdio.h>
#include <string.h>
#include "demo.h"

int main(int argc, char **argv) {
    const char *msg = argc > 1 ? argv[1] : "hello from the writer";

    int id = rshm_get(DEMO_KEY, DEMO_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (id == -1) {
        fprintf(stderr, "writer: %s\n", rshm_last_error());
        return 1;
    }
    char *p = rshm_at(id, NULL, 0);
    if (p == (void *)-1) {
        fprintf(stderr, "writer: %s\n", rshm_last_error());
        rshm_rmid(id);
        return 1;
    }
    snprintf(p, DEMO_SIZE, "%s", msg);
    printf("writer: wrote \"%s\" into segment %d (key 0x%08x)\n", p, id, (unsigned)DEMO_KEY);
    if (rshm_dt(p) == -1) {
        fprintf(stderr, "writer: %s\n", rshm_last_error());
        return 1;
    }
    return 0;
}
