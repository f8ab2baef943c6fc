/* exec_from_thread: a non-leader thread execs a program while the leader and
 * other threads are blocked in read() on a pipe.
 *
 *   exec_from_thread PROG [ARGS...]
 *
 * Prints "leader=<pid>" first. After the exec the new image runs with the
 * same pid (the kernel gives the exec'ing thread the leader's tid).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define READERS 4

static int g_pipe[2];
static atomic_int g_started;
static char **g_argv;

static void *reader(void *arg)
{
    (void)arg;
    char c;
    atomic_fetch_add(&g_started, 1);
    /* Never returns: nobody writes to the pipe and we keep the write end. */
    for (;;) {
        if (read(g_pipe[0], &c, 1) <= 0 && errno != EINTR)
            break;
    }
    return NULL;
}

static void *execer(void *arg)
{
    (void)arg;
    while (atomic_load(&g_started) < READERS)
        usleep(1000);
    /* Give the readers a moment to actually enter read(); correctness does
     * not depend on it, it only makes the interesting case the usual one. */
    usleep(50 * 1000);
    execv(g_argv[0], g_argv);
    printf("ERR exec %s\n", strerrorname_np(errno));
    fflush(stdout);
    _exit(126);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exec_from_thread PROG [ARGS...]\n");
        return 2;
    }
    g_argv = argv + 1;
    if (pipe(g_pipe) < 0)
        return 3;
    printf("leader=%d\n", (int)getpid());
    fflush(stdout);
    pthread_t t;
    for (int i = 0; i < READERS; i++)
        if (pthread_create(&t, NULL, reader, NULL) != 0)
            return 3;
    if (pthread_create(&t, NULL, execer, NULL) != 0)
        return 3;
    char c;
    for (;;) {
        if (read(g_pipe[0], &c, 1) <= 0 && errno != EINTR)
            break;
    }
    return 4;
}
