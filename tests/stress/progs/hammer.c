/* hammer: workloads for the torture tests in tests/stress/.
 *
 *   hammer check FILE TEXT
 *       open+read FILE once; exit 0 when it holds exactly TEXT, 1 otherwise.
 *   hammer exitrace ROUNDS THREADS FILE TEXT
 *       ROUNDS times: fork a child whose THREADS threads loop open+read+compare
 *       of FILE; half of the rounds the threads also pthread_exit one by one
 *       while their siblings are mid-syscall, then (every round) the main thread
 *       calls exit_group while the rest are still inside open/read.
 *       Prints "ok ROUNDS" when every child exited 0 (no wrong content seen).
 *   hammer execthread ROUNDS FILE TEXT SELF
 *       ROUNDS times: fork a child with 4 threads blocked in read() on a pipe
 *       and 4 threads looping on FILE; one more thread execs
 *       "SELF check FILE TEXT". Prints "ok ROUNDS" when every exec'd image
 *       exited 0.
 *   hammer spin FILE TEXT SECONDS FORKS READY
 *       FORKS processes (plus the first) each with 3 threads loop on FILE for
 *       SECONDS seconds, forking short-lived children that also read FILE.
 *       Creates file READY when all are running. A wrong content makes that
 *       process exit 1; the first process prints "ok" and exits 0 when all of
 *       its workers exited 0 (workers killed by a signal are counted apart:
 *       "ok killed=K").
 *   hammer tree FILE TEXT READY
 *       A process tree that stays until killed: 3 children with threads
 *       looping on FILE, 2 threads blocked in read(), one child stopped
 *       (SIGSTOP), one grandchild daemon (setsid). Creates READY (with the
 *       pids, one per line) when everything runs; then sleeps forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_file;
static const char *g_text;
static atomic_int g_bad;
static atomic_int g_started;
static atomic_int g_stop;

/* 1: FILE holds exactly TEXT; 0: it does not; -1: open failed. */
static char g_last[64];

static int check_once(void)
{
    char buf[4096];
    int fd = open(g_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return 0;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got >= sizeof buf - 1)
            break;
    }
    close(fd);
    if (got == strlen(g_text) && memcmp(buf, g_text, got) == 0)
        return 1;
    size_t o = 0;
    for (size_t i = 0; i < got && o + 5 < sizeof g_last; i++)
        o += (size_t)snprintf(g_last + o, sizeof g_last - o,
                              buf[i] >= 32 && buf[i] < 127 ? "%c" : "\\x%02x",
                              (unsigned char)buf[i]);
    g_last[o] = 0;
    return 0;
}

static void note_bad(int r)
{
    if (r != 1) {
        atomic_fetch_add(&g_bad, 1);
        fprintf(stderr, "hammer %d: %s %s\n", (int)getpid(),
                r < 0 ? strerror(errno) : "wrong content:", r < 0 ? "" : g_last);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- exitrace ---- */
struct racer {
    int leave_after; /* >0: pthread_exit after this many reads */
};

static void *race_loop(void *arg)
{
    struct racer *r = arg;
    atomic_fetch_add(&g_started, 1);
    for (int i = 0;; i++) {
        if (r->leave_after > 0 && i >= r->leave_after)
            pthread_exit(NULL);
        note_bad(check_once());
        if (atomic_load(&g_bad))
            _exit(1);
    }
    return NULL;
}

static int exitrace_child(int threads, int leave)
{
    pthread_t t;
    struct racer *rs = calloc((size_t)threads, sizeof(*rs));
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    for (int i = 0; i < threads; i++) {
        rs[i].leave_after = leave && i % 2 ? 1 + i % 5 : 0;
        if (pthread_create(&t, &at, race_loop, &rs[i]))
            return 2;
    }
    while (atomic_load(&g_started) < threads)
        sched_yield();
    /* a few reads of our own, then exit_group while the others are mid-syscall */
    for (int i = 0; i < 3; i++)
        note_bad(check_once());
    syscall(SYS_exit_group, atomic_load(&g_bad) ? 1 : 0);
    return 3;
}

static int wait_ok(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 1;
    fprintf(stderr, "%s: child %d status %#x\n", what, (int)pid, st);
    return 0;
}

static int cmd_exitrace(int rounds, int threads)
{
    int ok = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0)
            _exit(exitrace_child(threads, r % 2));
        ok += wait_ok(pid, "exitrace");
    }
    printf("ok %d\n", ok);
    return ok == rounds ? 0 : 1;
}

/* ---- execthread ---- */
static int g_pipe[2];
static char **g_exec_argv;

static void *blocked_reader(void *arg)
{
    (void)arg;
    char c;
    atomic_fetch_add(&g_started, 1);
    for (;;)
        if (read(g_pipe[0], &c, 1) <= 0 && errno != EINTR)
            return NULL;
}

static void *looper(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_started, 1);
    for (;;)
        note_bad(check_once());
    return NULL;
}

static void *execer(void *arg)
{
    (void)arg;
    while (atomic_load(&g_started) < 8)
        sched_yield();
    execv(g_exec_argv[0], g_exec_argv);
    _exit(4);
}

static int cmd_execthread(int rounds, char *self)
{
    char *argv[] = { self, "check", (char *)g_file, (char *)g_text, NULL };
    g_exec_argv = argv;
    int ok = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid < 0)
            return 2;
        if (pid == 0) {
            pthread_t t;
            if (pipe(g_pipe))
                _exit(2);
            for (int i = 0; i < 4; i++) {
                pthread_create(&t, NULL, blocked_reader, NULL);
                pthread_create(&t, NULL, looper, NULL);
            }
            pthread_create(&t, NULL, execer, NULL);
            for (;;)
                pause();
        }
        ok += wait_ok(pid, "execthread");
    }
    printf("ok %d\n", ok);
    return ok == rounds ? 0 : 1;
}

/* ---- spin ---- */
static double g_until;

static void *spin_thread(void *arg)
{
    (void)arg;
    while (now() < g_until && !atomic_load(&g_stop))
        note_bad(check_once());
    return NULL;
}

static int spin_proc(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, spin_thread, NULL);
    int forks = 0;
    while (now() < g_until) {
        pid_t c = fork();
        if (c == 0)
            {
                int r = check_once();
                note_bad(r);
                _exit(r == 1 ? 0 : 1);
            }
        if (c > 0) {
            int st;
            while (waitpid(c, &st, 0) < 0 && errno == EINTR)
                ;
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
                atomic_fetch_add(&g_bad, 1);
            forks++;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return atomic_load(&g_bad) ? 1 : 0;
}

static int cmd_spin(double seconds, int nforks, const char *ready)
{
    g_until = now() + seconds;
    pid_t kids[256];
    if (nforks > 256)
        nforks = 256;
    for (int i = 0; i < nforks; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(spin_proc());
    }
    int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    int rc = spin_proc();
    int killed = 0, bad = 0;
    for (int i = 0; i < nforks; i++) {
        int st;
        while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFSIGNALED(st))
            killed++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    if (rc || bad) {
        printf("bad %d\n", bad + rc);
        return 1;
    }
    printf("ok killed=%d\n", killed);
    return 0;
}

/* ---- tree ---- */
static void *forever_reader(void *arg)
{
    (void)arg;
    char c;
    for (;;)
        if (read(g_pipe[0], &c, 1) <= 0 && errno != EINTR)
            pause();
    return NULL;
}

static void *forever_looper(void *arg)
{
    (void)arg;
    for (;;) {
        check_once();
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int cmd_tree(const char *ready)
{
    if (pipe(g_pipe))
        return 2;
    int rp[2];
    if (pipe(rp))
        return 2;
    pid_t pids[8];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        pid_t c = fork();
        if (c == 0) {
            pthread_t t;
            for (int k = 0; k < 3; k++)
                pthread_create(&t, NULL, forever_looper, NULL);
            pthread_create(&t, NULL, forever_reader, NULL);
            if (write(rp[1], "x", 1) != 1)
                _exit(2);
            for (;;)
                pause();
        }
        pids[n++] = c;
    }
    pid_t s = fork();
    if (s == 0) {
        if (write(rp[1], "x", 1) != 1)
            _exit(2);
        raise(SIGSTOP);
        for (;;)
            pause();
    }
    pids[n++] = s;
    pid_t d = fork();
    if (d == 0) {
        setsid();
        pid_t g = fork();
        if (g == 0) {
            pthread_t t;
            pthread_create(&t, NULL, forever_looper, NULL);
            if (write(rp[1], "x", 1) != 1)
                _exit(2);
            for (;;)
                pause();
        }
        _exit(0);
    }
    waitpid(d, NULL, 0);
    pthread_t t;
    pthread_create(&t, NULL, forever_reader, NULL);
    pthread_create(&t, NULL, forever_reader, NULL);
    pthread_create(&t, NULL, forever_looper, NULL);
    for (int i = 0; i < 5; i++) {
        char c;
        if (read(rp[0], &c, 1) != 1)
            return 2;
    }
    /* the stopped child has stopped */
    for (int i = 0; i < 2000; i++) {
        int st;
        if (waitpid(s, &st, WUNTRACED | WNOHANG) == s && WIFSTOPPED(st))
            break;
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", ready);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 2;
    fprintf(f, "%d\n", (int)getpid());
    for (int i = 0; i < n; i++)
        fprintf(f, "%d\n", (int)pids[i]);
    fclose(f);
    rename(tmp, ready);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "check")) {
        g_file = argv[2];
        g_text = argv[3];
        return check_once() == 1 ? 0 : 1;
    }
    if (argc >= 6 && !strcmp(argv[1], "exitrace")) {
        g_file = argv[4];
        g_text = argv[5];
        return cmd_exitrace(atoi(argv[2]), atoi(argv[3]));
    }
    if (argc >= 6 && !strcmp(argv[1], "execthread")) {
        g_file = argv[3];
        g_text = argv[4];
        return cmd_execthread(atoi(argv[2]), argv[5]);
    }
    if (argc >= 7 && !strcmp(argv[1], "spin")) {
        g_file = argv[2];
        g_text = argv[3];
        return cmd_spin(atof(argv[4]), atoi(argv[5]), argv[6]);
    }
    if (argc >= 5 && !strcmp(argv[1], "tree")) {
        g_file = argv[2];
        g_text = argv[3];
        return cmd_tree(argv[4]);
    }
    fprintf(stderr, "usage: see the comment at the top of hammer.c\n");
    return 2;
}
