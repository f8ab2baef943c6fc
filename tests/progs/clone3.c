/* clone3: create a child with the raw clone3 syscall; the child reads PATH.
 *
 *   clone3 MODE PATH
 *
 * MODE: plain (flags 0), vfork (CLONE_VFORK, own address space),
 *       pidfd (CLONE_PIDFD, the parent waits through the pidfd with waitid(P_PIDFD)).
 * The child prints the file content (or "ERR <NAME>"), the parent then prints
 * "status=<code>". If clone3 itself fails: "ERR clone3 <NAME>", exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int child(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("ERR %s\n", strerrorname_np(errno));
        fflush(stdout);
        return 1;
    }
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    fflush(stdout);
    return n < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: clone3 plain|vfork|pidfd PATH\n");
        return 2;
    }
    const char *mode = argv[1];
    struct clone_args ca;
    int pidfd = -1;
    memset(&ca, 0, sizeof ca);
    ca.exit_signal = SIGCHLD;
    if (strcmp(mode, "vfork") == 0) {
        ca.flags = CLONE_VFORK;
    } else if (strcmp(mode, "pidfd") == 0) {
        ca.flags = CLONE_PIDFD;
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    } else if (strcmp(mode, "plain") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    fflush(stdout);
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) {
        printf("ERR clone3 %s\n", strerrorname_np(errno));
        return 1;
    }
    if (pid == 0)
        _exit(child(argv[2]));
    int code;
    if (pidfd >= 0) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL) < 0) {
            printf("ERR waitid %s\n", strerrorname_np(errno));
            return 1;
        }
        code = si.si_status;
    } else {
        int st;
        if (waitpid((pid_t)pid, &st, 0) != pid) {
            printf("ERR waitpid %s\n", strerrorname_np(errno));
            return 1;
        }
        code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    printf("status=%d\n", code);
    return 0;
}
