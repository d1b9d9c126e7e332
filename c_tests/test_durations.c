/* A log line's duration (dur_ns, and the text line's [..]) is the kernel call's time
 * alone: rshm's own work, here explaining a failure, is left out. A re-executed child makes
 * /proc/self/maps long (thousands of mappings) and attaches over the one listed last, so
 * the kernel refuses at once (EINVAL) and the explanation reads the whole of the maps to
 * name what is there. The child times the call; its logged duration must be a small part
 * of that. */
#define _GNU_SOURCE
#include "check.h"
#include "json.h"
#include <limits.h>
#include <sys/mman.h>
#include <time.h>

#define MAPPINGS 20000

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Prints "elapsed_ns ok". */
static int child(void) {
    int id = rshm_get(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 1;
    /* Pages of alternating protection, so no two merge: one line each in the maps. The
     * first one made is the highest, so the maps list it last. */
    char *first = NULL;
    int made = 0;
    for (int i = 0; i < MAPPINGS; i++) {
        char *p = mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break;
        if (!first)
            first = p;
        made++;
    }
    long long t0 = now_ns();
    void *r = rshm_at(id, first, 0);
    long long elapsed = now_ns() - t0;
    int ok = r == (void *)-1 && errno == EINVAL && strstr(rshm_last_error(), "overlaps a mapping already there");
    rshm_rmid(id);
    printf("%lld %d %d\n", elapsed, ok, made);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "child"))
        return child();
    char log[] = "/tmp/rshm-durations-XXXXXX";
    int fd = mkstemp(log);
    CHECK(fd >= 0, "log file");
    close(fd);
    char *args[] = {(char *)self_path(), "child", "x", NULL};
    const char *env[] = {"RSHM_LOG", "warn", "RSHM_LOG_FORMAT", "json", "RSHM_LOG_FILE", log, NULL};
    static char out[256], err[4096];
    int st = spawn_capture(args, env, NULL, out, sizeof out, err, sizeof err);
    long long elapsed = -1;
    int ok = 0, made = 0;
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && sscanf(out, "%lld %d %d", &elapsed, &ok, &made) == 3 && ok,
          "the attach over the last mapping failed with EINVAL, explained as an overlap");
    FILE *f = fopen(log, "r");
    static char line[2048];
    static struct jobj o;
    long long dur = -1;
    while (f && fgets(line, sizeof line, f))
        if (json_parse(line, &o) == 0 && json_is(&o, "call", J_STR, "rshm_at") && json_is(&o, "errno", J_STR, "EINVAL"))
            dur = atoll(json_get(&o, "dur_ns")->val);
    if (f)
        fclose(f);
    unlink(log);
    printf("%d mappings: the call took %lld ns, the log says %lld ns\n", made, elapsed, dur);
    CHECK(dur >= 0, "the failure was logged with its duration");
    /* The explanation read the maps: the call took long. (If the machine is so fast that
     * it did not, there is nothing to tell apart.) */
    if (elapsed < 500000) {
        CHECK(1, "the explanation was too quick to tell apart");
    } else {
        CHECK(dur * 4 < elapsed, "the logged duration leaves the explanation out");
    }
    CHECK(dur < 10000000, "a refused shmat takes the kernel well under 10 ms");
    return check_done();
}
