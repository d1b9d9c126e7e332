/* The tests' agent inside a private IPC namespace: it makes segments, attaches them,
 * forks processes that hold them, and runs rshm-ls there, as told on standard input.
 *
 * One command a line; one reply a line: "ok [VALUES]" or "err WHY". Actor 0 is this
 * process; `fork` makes actor N (a child of actor 0, holding what actor 0 holds);
 * "@N COMMAND" runs COMMAND in actor N.
 *   create KEY SIZE MODE   shmget(KEY, SIZE, IPC_CREAT|IPC_EXCL|MODE): ok ID (KEY hex, or 0)
 *   attach ID              shmat(ID, NULL, 0): ok ADDRESS (0x hex)
 *   detach ADDRESS         shmdt: ok
 *   rmid ID                shmctl(IPC_RMID): ok
 *   chown ID UID           shmctl(IPC_SET) with owner UID: ok
 *   info                   shmctl(SHM_INFO): ok USED_IDS PAGES
 *   lock ID                shmctl(SHM_LOCK): ok
 *   remap ID               (actor N) attaches ID, maps the same memory again through
 *                          /proc/self/map_files (no shmat: nattch does not count it), and
 *                          detaches the first: ok ADDRESS of the second mapping
 *   name HEX               prctl(PR_SET_NAME) with the bytes HEX spells: ok
 *   zleader                (actor N) the actor's first thread ends (pthread_exit) and a
 *                          second thread carries on: ok TID of the second
 *   setuid UID             this actor takes uid and gid UID, and stays dumpable: ok
 *   unshare                unshare(CLONE_NEWIPC): this actor moves to a new IPC namespace
 *   fork [PID]             (actor 0) a new actor; with PID, ns_last_pid is set so it gets
 *                          that pid: ok N ITS_PID
 *   exit                   (actor N) it exits, and actor 0 reaps it: ok
 *   run OUT ARGV...        runs ARGV (stdout to OUT.out, stderr to OUT.err), waits:
 *                          ok exit STATUS | ok signal SIGNAL
 *   spawn OUT ARGV...      the same without waiting: ok PID
 *   kill PID SIGNAL        ok
 *   wait PID               ok exit STATUS | ok signal SIGNAL
 * `helper hold KEY` (not the agent): makes a segment of key KEY (hex), prints "ID PID",
 * and waits for a signal.
 * At end of input every segment made in this namespace and not removed is removed, and
 * every actor ends; the namespace, and anything left in it, goes with the last of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pthread.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ACTORS 16
#define MAX_SEGMENTS 256
#define MAX_ARGS 32

struct actor {
    pid_t pid;
    FILE *to, *from;
    int unshared;
};

static struct actor actors[MAX_ACTORS];
static int nactors = 1;
static int segments[MAX_SEGMENTS];
static int nsegments;

/* An actor's command pipes (the actor loop may move to a second thread: zleader). */
static FILE *actor_in, *actor_out;
static int actor_self;

static void reply(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(FILE *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

static int split(char *line, char **argv) {
    int n = 0;
    for (char *w = strtok(line, " \t\n"); w && n < MAX_ARGS - 1; w = strtok(NULL, " \t\n"))
        argv[n++] = w;
    argv[n] = NULL;
    return n;
}

static void status_reply(FILE *out, int st) {
    if (WIFEXITED(st))
        reply(out, "ok exit %d", WEXITSTATUS(st));
    else
        reply(out, "ok signal %d", WTERMSIG(st));
}

/* Starts argv[0..] with stdout and stderr in OUT.out and OUT.err. */
static pid_t start(const char *out, char **argv) {
    char path[4096];
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    snprintf(path, sizeof path, "%s.out", out);
    int o = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    snprintf(path, sizeof path, "%s.err", out);
    int e = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(in, 0) < 0)
        _exit(126);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execvp(argv[0], argv);
    dprintf(2, "helper: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void *second_thread(void *unused);

/* Runs one command in this actor; the reply goes to `out`. */
static void command(int self, int argc, char **argv, FILE *out) {
    const char *c = argv[0];
    if (!strcmp(c, "create") && argc == 4) {
        key_t key = (key_t)strtoul(argv[1], NULL, 16);
        int id = shmget(key, strtoul(argv[2], NULL, 10), IPC_CREAT | IPC_EXCL | (int)strtol(argv[3], NULL, 8));
        if (id < 0)
            reply(out, "err shmget: %s", strerror(errno));
        else
            reply(out, "ok %d", id);
    } else if (!strcmp(c, "attach") && argc == 2) {
        void *p = shmat(atoi(argv[1]), NULL, 0);
        if (p == (void *)-1)
            reply(out, "err shmat: %s", strerror(errno));
        else
            reply(out, "ok %p", p);
    } else if (!strcmp(c, "detach") && argc == 2) {
        if (shmdt((void *)strtoul(argv[1], NULL, 16)) < 0)
            reply(out, "err shmdt: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "rmid") && argc == 2) {
        if (shmctl(atoi(argv[1]), IPC_RMID, NULL) < 0)
            reply(out, "err IPC_RMID: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "chown") && argc == 3) {
        struct shmid_ds ds;
        if (shmctl(atoi(argv[1]), IPC_STAT, &ds) < 0)
            reply(out, "err IPC_STAT: %s", strerror(errno));
        else if ((ds.shm_perm.uid = (uid_t)atoi(argv[2])), shmctl(atoi(argv[1]), IPC_SET, &ds) < 0)
            reply(out, "err IPC_SET: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "setuid") && argc == 2) {
        /* A change of uid makes a process undumpable (its /proc files root's) until its
         * next exec; dumpable again, it is as a program started as that user. */
        if (setgroups(0, NULL) < 0 || setgid((gid_t)atoi(argv[1])) < 0 || setuid((uid_t)atoi(argv[1])) < 0 ||
            prctl(PR_SET_DUMPABLE, 1) < 0)
            reply(out, "err setuid: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "info") && argc == 1) {
        struct shm_info si;
        if (shmctl(0, SHM_INFO, (struct shmid_ds *)&si) < 0)
            reply(out, "err SHM_INFO: %s", strerror(errno));
        else
            reply(out, "ok %d %lu", si.used_ids, (unsigned long)si.shm_tot);
    } else if (!strcmp(c, "lock") && argc == 2) {
        if (shmctl(atoi(argv[1]), SHM_LOCK, NULL) < 0)
            reply(out, "err SHM_LOCK: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "remap") && argc == 2) {
        char path[128];
        struct shmid_ds ds;
        int id = atoi(argv[1]);
        char *p = shmat(id, NULL, 0);
        if (p == (void *)-1 || shmctl(id, IPC_STAT, &ds) < 0) {
            reply(out, "err shmat: %s", strerror(errno));
            return;
        }
        size_t len = (ds.shm_segsz + 4095) & ~(size_t)4095;
        snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)(p + len));
        int fd = open(path, O_RDWR);
        void *q = fd < 0 ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        int e = errno;
        if (fd >= 0)
            close(fd);
        shmdt(p);
        if (q == MAP_FAILED)
            reply(out, "err map_files: %s", strerror(e));
        else
            reply(out, "ok %p", q);
    } else if (!strcmp(c, "name") && argc == 2) {
        char name[16] = {0};
        size_t n = strlen(argv[1]) / 2;
        for (size_t i = 0; i < n && i < sizeof name - 1; i++) {
            unsigned int b;
            sscanf(argv[1] + 2 * i, "%2x", &b);
            name[i] = (char)b;
        }
        if (prctl(PR_SET_NAME, name) < 0)
            reply(out, "err prctl: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "zleader") && argc == 1 && self > 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, second_thread, NULL) != 0) {
            reply(out, "err pthread_create");
            return;
        }
        pthread_exit(NULL);
    } else if (!strcmp(c, "unshare") && argc == 1) {
        if (unshare(CLONE_NEWIPC) < 0)
            reply(out, "err unshare: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if ((!strcmp(c, "run") || !strcmp(c, "spawn")) && argc >= 3) {
        pid_t pid = start(argv[1], argv + 2);
        int st;
        if (pid < 0)
            reply(out, "err fork: %s", strerror(errno));
        else if (c[0] == 's')
            reply(out, "ok %d", (int)pid);
        else if (waitpid(pid, &st, 0) < 0)
            reply(out, "err waitpid: %s", strerror(errno));
        else
            status_reply(out, st);
    } else if (!strcmp(c, "kill") && argc == 3) {
        if (kill(atoi(argv[1]), atoi(argv[2])) < 0)
            reply(out, "err kill: %s", strerror(errno));
        else
            reply(out, "ok");
    } else if (!strcmp(c, "wait") && argc == 2) {
        int st;
        if (waitpid(atoi(argv[1]), &st, 0) < 0)
            reply(out, "err waitpid: %s", strerror(errno));
        else
            status_reply(out, st);
    } else {
        reply(out, "err actor %d: unknown command or wrong arguments: %s", self, c);
    }
}

/* An actor's life: commands from actor 0 until `exit` or end of input. */
static void actor_loop(void) {
    char line[4096];
    char *argv[MAX_ARGS];
    while (fgets(line, sizeof line, actor_in)) {
        int argc = split(line, argv);
        if (argc == 0)
            continue;
        if (!strcmp(argv[0], "exit")) {
            reply(actor_out, "ok");
            _exit(0);
        }
        command(actor_self, argc, argv, actor_out);
    }
    _exit(0);
}

/* zleader's second thread: once the first has ended (its /proc stat says Z), it answers
 * and carries on the actor's loop. */
static void *second_thread(void *unused) {
    char path[64], buf[512];
    (void)unused;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)getpid());
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        char *close = strrchr(buf, ')');
        if (close && close[1] == ' ' && close[2] == 'Z')
            break;
        usleep(10000);
    }
    reply(actor_out, "ok %ld", (long)syscall(SYS_gettid));
    actor_loop();
    return NULL;
}

/* fork [PID]: a new actor, at that pid if one is given (ns_last_pid, in this pid namespace). */
static void new_actor(int argc, char **argv) {
    int to[2], from[2];
    if (nactors == MAX_ACTORS) {
        reply(stdout, "err too many actors");
        return;
    }
    if (argc == 2) {
        FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
        if (!f || fprintf(f, "%d", atoi(argv[1]) - 1) < 0 || fclose(f) != 0) {
            reply(stdout, "err ns_last_pid: %s", strerror(errno));
            return;
        }
    }
    if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
        reply(stdout, "err pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        reply(stdout, "err fork: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* Only actor 0 may hold the other actors' pipes, or they never see end of input. */
        for (int n = 1; n < nactors; n++)
            if (actors[n].to) {
                close(fileno(actors[n].to));
                close(fileno(actors[n].from));
            }
        close(to[1]);
        close(from[0]);
        actor_self = nactors;
        actor_in = fdopen(to[0], "r");
        actor_out = fdopen(from[1], "w");
        actor_loop();
    }
    close(to[0]);
    close(from[1]);
    actors[nactors] = (struct actor){pid, fdopen(to[1], "w"), fdopen(from[0], "r"), 0};
    reply(stdout, "ok %d %d", nactors, (int)pid);
    nactors++;
}

/* Notes what a reply says of this namespace's segments (made, removed). */
static void note(int unshared, char **argv, const char *answer) {
    if (unshared || strncmp(answer, "ok", 2) != 0)
        return;
    if (!strcmp(argv[0], "create") && nsegments < MAX_SEGMENTS)
        segments[nsegments++] = atoi(answer + 3);
    if (!strcmp(argv[0], "rmid"))
        for (int i = 0; i < nsegments; i++)
            if (segments[i] == atoi(argv[1]))
                segments[i] = -1;
}

/* "@N COMMAND": forwarded to actor N, its reply passed on. */
static void forward(int n, char *rest) {
    char copy[4096], answer[4096];
    char *argv[MAX_ARGS];
    if (n <= 0 || n >= nactors || !actors[n].to) {
        reply(stdout, "err no actor %d", n);
        return;
    }
    snprintf(copy, sizeof copy, "%s", rest);
    int argc = split(copy, argv);
    if (argc == 0) {
        reply(stdout, "err no command for actor %d", n);
        return;
    }
    fputs(rest, actors[n].to);
    fflush(actors[n].to);
    if (!fgets(answer, sizeof answer, actors[n].from)) {
        reply(stdout, "err actor %d did not answer", n);
        return;
    }
    answer[strcspn(answer, "\n")] = 0;
    if (!strcmp(argv[0], "unshare") && !strcmp(answer, "ok"))
        actors[n].unshared = 1;
    note(actors[n].unshared, argv, answer);
    if (!strcmp(argv[0], "exit")) {
        waitpid(actors[n].pid, NULL, 0);
        fclose(actors[n].to);
        fclose(actors[n].from);
        actors[n].to = actors[n].from = NULL;
    }
    reply(stdout, "%s", answer);
}

/* `helper hold KEY`: a segment of key KEY, "ID PID" on standard output, then a wait. */
static int hold(const char *key) {
    int id = shmget((key_t)strtoul(key, NULL, 16), 4096, IPC_CREAT | 0600);
    if (id < 0) {
        perror("helper hold: shmget");
        return 1;
    }
    printf("%d %d\n", id, (int)getpid());
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv0) {
    char line[4096], copy[4096];
    char *argv[MAX_ARGS];
    if (argc == 3 && !strcmp(argv0[1], "hold"))
        return hold(argv0[2]);
    /* The reply to a command goes out only after it is done, so a test reads facts. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        if (line[0] == '@') {
            char *rest;
            int n = (int)strtol(line + 1, &rest, 10);
            forward(n, rest + strspn(rest, " "));
            continue;
        }
        snprintf(copy, sizeof copy, "%s", line);
        int argc = split(copy, argv);
        if (argc == 0)
            continue;
        if (!strcmp(argv[0], "fork")) {
            new_actor(argc, argv);
            continue;
        }
        /* The reply is written to a buffer first, so it can be noted. */
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        command(0, argc, argv, mem);
        fclose(mem);
        buf[strcspn(buf, "\n")] = 0;
        note(actors[0].unshared, argv, buf);
        if (!strcmp(argv[0], "unshare") && !strcmp(buf, "ok"))
            actors[0].unshared = 1;
        reply(stdout, "%s", buf);
        free(buf);
    }
    for (int n = 1; n < nactors; n++) {
        if (actors[n].to) {
            fclose(actors[n].to);
            waitpid(actors[n].pid, NULL, 0);
        }
    }
    for (int i = 0; i < nsegments; i++)
        if (segments[i] >= 0 && !actors[0].unshared)
            shmctl(segments[i], IPC_RMID, NULL);
    return 0;
}
