/* spawn: start a program with posix_spawn / vfork / clone(CLONE_VM|CLONE_VFORK)
 * and wait for it.
 *
 *   spawn MODE PROG [ARGS...]
 *
 * MODE is one of: posix_spawn, posix_spawnp, vfork, clone_vfork.
 * The child's output goes straight to stdout; afterwards the parent prints
 * "status=<exit code>" (or "signal=<N>").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **g_argv;

static int clone_child(void *arg)
{
    (void)arg;
    execv(g_argv[0], g_argv);
    _exit(127);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawn MODE PROG [ARGS...]\n");
        return 2;
    }
    const char *mode = argv[1];
    g_argv = argv + 2;
    fflush(stdout);
    pid_t pid;
    if (strcmp(mode, "posix_spawn") == 0 || strcmp(mode, "posix_spawnp") == 0) {
        int e = mode[11] == 'p' ? posix_spawnp(&pid, g_argv[0], NULL, NULL, g_argv, environ)
                                : posix_spawn(&pid, g_argv[0], NULL, NULL, g_argv, environ);
        if (e != 0) {
            printf("ERR spawn %s\n", strerrorname_np(e));
            return 1;
        }
    } else if (strcmp(mode, "vfork") == 0) {
        pid = vfork();
        if (pid == 0) {
            execv(g_argv[0], g_argv);
            _exit(127);
        }
    } else if (strcmp(mode, "clone_vfork") == 0) {
        size_t sz = 256 * 1024;
        char *stack = malloc(sz);
        if (!stack)
            return 3;
        pid = clone(clone_child, stack + sz, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    if (pid < 0) {
        printf("ERR fork %s\n", strerrorname_np(errno));
        return 1;
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) {
        printf("ERR waitpid %s\n", strerrorname_np(errno));
        return 1;
    }
    if (WIFEXITED(st))
        printf("status=%d\n", WEXITSTATUS(st));
    else
        printf("signal=%d\n", WTERMSIG(st));
    return 0;
}
