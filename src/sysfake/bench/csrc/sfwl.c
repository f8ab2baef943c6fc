/*
 * sfwl.c - workloads and the timer of the sysfake benchmark harness.
 *
 *   sfwl stat PATH N            N x stat(PATH); prints the st_size it saw
 *   sfwl getppid N PATH         N x getppid(), then one stat(PATH)
 *   sfwl openread PATH N        N x open+read+close of PATH; prints what it read
 *   sfwl threads PATH T N       T threads x N stat(PATH)
 *   sfwl recv N PATH            N x send+receive of 64 bytes over a Unix socket
 *                               pair (recvfrom and recvmsg in turn), then one
 *                               stat(PATH)
 *   sfwl time [-p CPU] -- CMD   runs CMD, prints "SFBENCH_NS=<ns> RC=<rc>" on stderr
 *
 * Every workload ends with one line that shows what PATH looked like, so the
 * harness can check that a run was really redirected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long num(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v < 0) {
        fprintf(stderr, "sfwl: bad number: %s\n", s);
        exit(2);
    }
    return v;
}

static int do_stat(const char *path, long n) {
    struct stat st;
    long long size = -1;
    for (long i = 0; i < n; i++) {
        if (stat(path, &st) < 0) {
            perror(path);
            return 1;
        }
        size = (long long)st.st_size;
    }
    printf("sfwl stat n=%ld size=%lld\n", n, size);
    return 0;
}

static int do_getppid(long n, const char *path) {
    long sum = 0;
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid);
    struct stat st;
    if (stat(path, &st) < 0) {
        perror(path);
        return 1;
    }
    printf("sfwl getppid n=%ld ppid_ok=%d size=%lld\n", n,
           n == 0 || sum == n * (long)getppid(), (long long)st.st_size);
    return 0;
}

static int do_openread(const char *path, long n) {
    char buf[256];
    ssize_t got = 0;
    for (long i = 0; i < n; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        got = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (got < 0) {
            perror("read");
            return 1;
        }
    }
    buf[got > 0 ? got : 0] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    printf("sfwl openread n=%ld bytes=%zd content=%s\n", n, got, buf);
    return 0;
}

/* What a program that talks over sockets does (containerd's shims, netlink
 * users): receives, which no redirect traps but a profile's emulation may. */
static int do_recv(long n, const char *path) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        return 1;
    }
    char out[64], in[128];
    memset(out, 'r', sizeof(out));
    long bytes = 0;
    for (long i = 0; i < n; i++) {
        out[0] = (char)i;
        if (send(sv[0], out, sizeof(out), 0) != (ssize_t)sizeof(out)) {
            perror("send");
            return 1;
        }
        ssize_t got;
        if (i & 1) {
            struct iovec iov = { in, sizeof(in) };
            struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
            got = recvmsg(sv[1], &mh, 0);
        } else {
            got = recvfrom(sv[1], in, sizeof(in), 0, NULL, NULL);
        }
        if (got != (ssize_t)sizeof(out) || in[0] != out[0]) {
            fprintf(stderr, "sfwl: receive %ld: %zd bytes\n", i, got);
            return 1;
        }
        bytes += got;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        perror(path);
        return 1;
    }
    printf("sfwl recv n=%ld bytes=%ld size=%lld\n", n, bytes, (long long)st.st_size);
    return 0;
}

struct targ {
    const char *path;
    long n;
    long long size;
    int err;
};

static void *thread_main(void *p) {
    struct targ *a = p;
    struct stat st;
    for (long i = 0; i < a->n; i++) {
        if (stat(a->path, &st) < 0) {
            a->err = errno;
            return NULL;
        }
        if (a->size >= 0 && a->size != (long long)st.st_size)
            a->err = -1;
        a->size = (long long)st.st_size;
    }
    return NULL;
}

static int do_threads(const char *path, long t, long n) {
    if (t < 1 || t > 1024)
        t = 1;
    pthread_t tids[1024];
    struct targ args[1024];
    for (long i = 0; i < t; i++) {
        args[i] = (struct targ){path, n, -1, 0};
        if (pthread_create(&tids[i], NULL, thread_main, &args[i]) != 0) {
            fprintf(stderr, "sfwl: pthread_create failed\n");
            return 1;
        }
    }
    long long size = -1;
    int consistent = 1;
    for (long i = 0; i < t; i++) {
        pthread_join(tids[i], NULL);
        if (args[i].err) {
            fprintf(stderr, "sfwl: thread %ld: error %d\n", i, args[i].err);
            return 1;
        }
        if (size >= 0 && args[i].size != size)
            consistent = 0;
        size = args[i].size;
    }
    printf("sfwl threads t=%ld n=%ld consistent=%d size=%lld\n", t, n, consistent, size);
    return 0;
}

static int do_time(int argc, char **argv) {
    int i = 0, cpu = -1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (!strcmp(argv[i], "-p") && i + 1 < argc) {
            cpu = (int)num(argv[i + 1]);
            i += 2;
        } else {
            fprintf(stderr, "sfwl time: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc - 1) {
        fprintf(stderr, "usage: sfwl time [-p CPU] -- CMD [ARGS...]\n");
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
            perror("sched_setaffinity");
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[i + 1], argv + i + 1);
        perror(argv[i + 1]);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return 125;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    fflush(stdout);
    fprintf(stderr, "\nSFBENCH_NS=%lld RC=%d\n", ns, rc);
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "stat"))
        return do_stat(argv[2], num(argv[3]));
    if (argc >= 4 && !strcmp(argv[1], "getppid"))
        return do_getppid(num(argv[2]), argv[3]);
    if (argc >= 4 && !strcmp(argv[1], "openread"))
        return do_openread(argv[2], num(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "threads"))
        return do_threads(argv[2], num(argv[3]), num(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "recv"))
        return do_recv(num(argv[2]), argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "time"))
        return do_time(argc - 2, argv + 2);
    fprintf(stderr, "usage: sfwl stat|getppid|openread|threads|recv|time ...\n");
    return 2;
}
