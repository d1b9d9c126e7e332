/* Job control under a tracer, as a shell sees it: a forked child attaches a segment
 * (raw) and counts in it; the parent stops it with SIGSTOP, sees it stopped
 * (waitpid WUNTRACED, /proc state T or t) and not counting, continues it with SIGCONT
 * (waitpid WCONTINUED), sees it count again, then lets it detach (raw) and exit. Prints
 * each step's outcome, nothing that differs between runs; exits 0 when all went so. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
    volatile unsigned long count;
    volatile int done;
};

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The state letter of /proc/PID/stat, or '?'. */
static char state(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits up to 10 s for the count to move past `from`. */
static int counts_past(struct shared *s, unsigned long from) {
    for (int i = 0; i < 10000 && s->count == from; i++)
        pause_ms(1);
    return s->count != from;
}

int main(void) {
    long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 1;
    struct shared *s = (struct shared *)syscall(SYS_shmat, id, NULL, 0);
    syscall(SYS_shmctl, id, IPC_RMID, NULL);
    if (s == (void *)-1)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        while (!s->done)
            s->count++;
        _exit(syscall(SYS_shmdt, s) != 0);
    }
    int bad = !counts_past(s, 0);
    printf("child counts: %s\n", bad ? "no" : "yes");
    kill(pid, SIGSTOP);
    int st = 0;
    int r = waitpid(pid, &st, WUNTRACED);
    int stopped = r == pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
    printf("waitpid WUNTRACED: %s\n", stopped ? "stopped by SIGSTOP" : "something else");
    char c = state(pid);
    printf("state: %s\n", c == 'T' || c == 't' ? "stopped" : "not stopped");
    unsigned long at = s->count;
    pause_ms(200);
    int still = s->count == at;
    printf("while stopped it counts: %s\n", still ? "no" : "yes");
    kill(pid, SIGCONT);
    r = waitpid(pid, &st, WCONTINUED);
    int cont = r == pid && WIFCONTINUED(st);
    printf("waitpid WCONTINUED: %s\n", cont ? "continued" : "something else");
    int again = counts_past(s, at);
    printf("after SIGCONT it counts: %s\n", again ? "yes" : "no");
    s->done = 1;
    r = waitpid(pid, &st, 0);
    int ok = r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    printf("child exit: %s\n", ok ? "0" : "not 0");
    syscall(SYS_shmdt, s);
    return bad || !stopped || (c != 'T' && c != 't') || !still || !cont || !again || !ok;
}
