/* writer: creates a keyed segment, writes a message into it, detaches and leaves it for
 * the reader. Build: cc writer.c -lrshm (or `pkg-config --cflags --libs rshm`). */
#include <errno.h>
#include <rshm.h>
#include <stdio.h>
#include <string.h>
#include "demo.h"

/* On failure errno is what shmget & co. would set; rshm_last_error() says why, in words. */
static int fail(void) {
    int e = errno;
    fprintf(stderr, "writer: %s (errno: %s)\n", rshm_last_error(), strerror(e));
    return 1;
}

int main(int argc, char **argv) {
    const char *msg = argc > 1 ? argv[1] : "hello from the writer";

    int id = rshm_get(DEMO_KEY, DEMO_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (id == -1)
        return fail();
    char *p = rshm_at(id, NULL, 0);
    if (p == (void *)-1) {
        int status = fail();
        rshm_rmid(id);
        return status;
    }
    snprintf(p, DEMO_SIZE, "%s", msg);
    printf("writer: wrote \"%s\" into segment %d (key 0x%08x)\n", p, id, (unsigned)DEMO_KEY);
    if (rshm_dt(p) == -1)
        return fail();
    return 0;
}
