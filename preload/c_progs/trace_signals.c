/* Prints how it was started: "INT ignored" or "INT default", then "blocked" followed by
 * the names of the signals blocked among INT, TERM, HUP, QUIT, CHLD, USR1 and USR2. */
#include <signal.h>
#include <stdio.h>

int main(void) {
    struct sigaction sa;
    if (sigaction(SIGINT, NULL, &sa) != 0)
        return 1;
    printf("INT %s\n", sa.sa_handler == SIG_IGN ? "ignored" : "default");
    sigset_t set;
    if (sigprocmask(SIG_BLOCK, NULL, &set) != 0)
        return 1;
    static const struct { int sig; const char *name; } sigs[] = {
        {SIGINT, "INT"}, {SIGTERM, "TERM"}, {SIGHUP, "HUP"}, {SIGQUIT, "QUIT"},
        {SIGCHLD, "CHLD"}, {SIGUSR1, "USR1"}, {SIGUSR2, "USR2"},
    };
    printf("blocked");
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigismember(&set, sigs[i].sig))
            printf(" %s", sigs[i].name);
    printf("\n");
    return 0;
}
