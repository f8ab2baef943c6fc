/* pivot: crun's pivot into a root directory, in one process.
 *
 *   pivot DIR [FILE]
 *
 * chdir(DIR), pivot_root(".", "."), then umount2(".", MNT_DETACH) until it
 * fails (as crun does: on Linux the second one is EINVAL, the old root is
 * gone), at most 5 times. Prints "umount ok N, then <error>" and, if FILE is
 * given, FILE's content as seen from the new root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pivot DIR [FILE]\n");
        return 2;
    }
    if (chdir(argv[1])) {
        perror("chdir");
        return 1;
    }
    if (syscall(SYS_pivot_root, ".", ".")) {
        perror("pivot_root");
        return 1;
    }
    int n = 0, e = 0;
    while (n < 5) {
        if (umount2(".", MNT_DETACH)) {
            e = errno;
            break;
        }
        n++;
    }
    printf("umount ok %d, then %s\n", n, e ? strerror(e) : "none");
    if (chdir("/")) {
        perror("chdir /");
        return 1;
    }
    if (argc > 2) {
        char buf[4096];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            printf("open %s: %s\n", argv[2], strerror(errno));
        } else {
            ssize_t k = read(fd, buf, sizeof(buf));
            if (k > 0)
                fwrite(buf, 1, (size_t)k, stdout);
            close(fd);
        }
    }
    fflush(stdout);
    return 0;
}
