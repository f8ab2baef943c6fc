/* inplace: opens a path from a buffer of its own and checks that the buffer
 * is unchanged after each call (csrc/inplace.c writes a rewrite over it and
 * puts it back at the exit stop).
 *
 *   inplace once PATH      one open of PATH from a stack buffer
 *   inplace twice PATH     two opens (the second cannot be in place)
 *   inplace rodata         one open of the literal RODATA_PATH (read-only)
 *   inplace thread PATH    one open while a second thread is alive
 *
 * Prints, per open, the first line read (or "ERR <errno>") and "intact" or
 * "CHANGED" for the buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RODATA_PATH "/sysfake-inplace-test/rodata-path"

static void open_and_check(const char *path, size_t len)
{
    char copy[4096];
    memcpy(copy, path, len + 1);
    int fd = open(path, O_RDONLY);
    char line[256] = "";
    if (fd < 0) {
        snprintf(line, sizeof line, "ERR %s", strerrorname_np(errno));
    } else {
        ssize_t n = read(fd, line, sizeof line - 1);
        line[n > 0 ? n : 0] = 0;
        line[strcspn(line, "\n")] = 0;
        close(fd);
    }
    printf("%s %s\n", line, memcmp(copy, path, len + 1) ? "CHANGED" : "intact");
}

static int pipefd[2];

static void *waiter(void *arg)
{
    char c;
    (void)arg;
    return (void *)(long)read(pipefd[0], &c, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "rodata")) {
        open_and_check(RODATA_PATH, strlen(RODATA_PATH));
        return 0;
    }
    if (argc != 3)
        return 2;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", argv[2]);
    size_t len = strlen(buf);
    if (!strcmp(argv[1], "once")) {
        open_and_check(buf, len);
    } else if (!strcmp(argv[1], "twice")) {
        open_and_check(buf, len);
        open_and_check(buf, len);
    } else if (!strcmp(argv[1], "thread")) {
        pthread_t th;
        if (pipe(pipefd) || pthread_create(&th, NULL, waiter, NULL))
            return 3;
        open_and_check(buf, len);
        if (write(pipefd[1], "x", 1) != 1 || pthread_join(th, NULL))
            return 3;
    } else {
        return 2;
    }
    return 0;
}
