/* reader: attaches the writer's segment read-only, prints the message, detaches and
 * removes the segment. Build: cc reader.c -lrshm (or `pkg-config --cflags --libs rshm`). */
#include <rshm.h>
#include <stdio.h>
#include "demo.h"

int main(void) {
    int id = rshm_get(DEMO_KEY, 0, 0);
    if (id == -1) {
        fprintf(stderr, "reader: %s (run the writer first)\n", rshm_last_error());
        return 1;
    }
    const char *p = rshm_at(id, NULL, SHM_RDONLY);
    if (p == (void *)-1) {
        fprintf(stderr, "reader: %s\n", rshm_last_error());
        return 1;
    }
    printf("reader: read \"%s\" from segment %d\n", p, id);
    int status = 0;
    if (rshm_dt(p) == -1 || rshm_rmid(id) == -1) {
        fprintf(stderr, "reader: %s\n", rshm_last_error());
        status = 1;
    }
    return status;
}
