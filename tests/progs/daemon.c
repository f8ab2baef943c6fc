/* daemon: classic double fork + setsid daemon that reads PATH.
 *
 *   daemon [-e] [-i] [-p PID] OUTFILE PATH
 *
 * The daemon (grandchild) detaches: setsid(), stdio on /dev/null.
 *
 * default ("late"): the daemon waits until both its parent and the original
 *   process have exited (EOF on a pipe whose write ends they held), then reads
 *   PATH and writes the content (or "ERR <NAME>\n") to OUTFILE, then exits.
 * -e ("early"): the daemon reads PATH and writes OUTFILE first, tells the
 *   original process it is done, and then sleeps forever (pause()).
 * -i: the daemon ignores SIGTERM (only SIGKILL ends an -e daemon).
 * -p PID: (late mode) also wait until process PID is gone or a zombie, e.g.
 *   the shell that is sysfake's command, so the read happens after the
 *   command sysfake started has exited.
 *
 * The original process prints "daemon=<pid>" and exits 0.
 * OUTFILE is written atomically (OUTFILE.tmp, then rename).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int gone_or_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static void write_result(const char *outfile, const char *path)
{
    char buf[4096];
    size_t len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        len = (size_t)snprintf(buf, sizeof buf, "ERR %s\n", strerrorname_np(errno));
    } else {
        ssize_t n;
        while (len < sizeof buf && (n = read(fd, buf + len, sizeof buf - len)) > 0)
            len += (size_t)n;
        close(fd);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", outfile);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        _exit(3);
    if (write(out, buf, len) != (ssize_t)len)
        _exit(3);
    close(out);
    if (rename(tmp, outfile) < 0)
        _exit(3);
}

int main(int argc, char **argv)
{
    int early = 0, ignore_term = 0, opt;
    pid_t wait_pid = 0;
    while ((opt = getopt(argc, argv, "eip:")) != -1) {
        if (opt == 'e')
            early = 1;
        else if (opt == 'i')
            ignore_term = 1;
        else if (opt == 'p')
            wait_pid = (pid_t)atoi(optarg);
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: daemon [-e] [-i] [-p PID] OUTFILE PATH\n");
        return 2;
    }
    const char *outfile = argv[optind];
    const char *path = argv[optind + 1];

    int gone[2];  /* EOF on gone[0]: original process and middle child exited */
    int ready[2]; /* -e: the daemon wrote its result */
    int pidp[2];  /* daemon pid, middle -> original */
    if (pipe(gone) < 0 || pipe(ready) < 0 || pipe(pidp) < 0)
        return 3;
    fflush(stdout);

    pid_t mid = fork();
    if (mid < 0)
        return 3;
    if (mid == 0) {
        setsid();
        pid_t d = fork();
        if (d < 0)
            _exit(3);
        if (d > 0) {
            (void)!write(pidp[1], &d, sizeof d);
            _exit(0);
        }
        /* the daemon */
        close(gone[1]);
        close(ready[0]);
        close(pidp[0]);
        close(pidp[1]);
        if (ignore_term)
            signal(SIGTERM, SIG_IGN);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
        if (early) {
            write_result(outfile, path);
            char c = 'r';
            (void)!write(ready[1], &c, 1);
            close(ready[1]);
            for (;;)
                pause();
        }
        char c;
        while (read(gone[0], &c, 1) != 0) {
            if (errno != EINTR)
                break;
        }
        while (wait_pid > 0 && !gone_or_zombie(wait_pid))
            usleep(10 * 1000);
        write_result(outfile, path);
        _exit(0);
    }
    close(gone[0]);
    close(ready[1]);
    close(pidp[1]);
    pid_t d = -1;
    if (read(pidp[0], &d, sizeof d) != sizeof d)
        return 3;
    int st;
    waitpid(mid, &st, 0);
    if (early) {
        char c;
        if (read(ready[0], &c, 1) != 1) {
            printf("ERR daemon died\n");
            return 1;
        }
    }
    printf("daemon=%d\n", (int)d);
    return 0;
}
