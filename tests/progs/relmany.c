/* relmany: read NAME relative to each DIR in turn, from one thread, twice
 * per DIR: through a directory fd (always the same fd number: the previous
 * one is closed first) and through the cwd (chdir to DIR).
 *
 *   relmany NAME DIR...
 *
 * Prints "<dir> fd: <content or ERR NAME>" and "<dir> cwd: ..." per DIR.
 * Tests that the tracer resolves every relative path anew, never from what
 * the same fd number or the cwd named before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *dir, const char *how, int fd)
{
    char buf[256];
    if (fd < 0) {
        printf("%s %s: ERR %s\n", dir, how, strerrorname_np(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("%s %s: %s\n", dir, how, buf);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: relmany NAME DIR...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        int d = open(argv[i], O_RDONLY | O_DIRECTORY);
        if (d < 0 || dup2(d, 10) < 0) {
            printf("%s: ERR open %s\n", argv[i], strerrorname_np(errno));
            return 1;
        }
        close(d);
        show(argv[i], "fd", openat(10, argv[1], O_RDONLY));
        close(10);
        if (chdir(argv[i]) < 0) {
            printf("%s: ERR chdir %s\n", argv[i], strerrorname_np(errno));
            return 1;
        }
        show(argv[i], "cwd", open(argv[1], O_RDONLY));
    }
    return 0;
}
