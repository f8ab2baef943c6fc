/* lsold: list DIR with the legacy getdents syscall and with getdents64, in
 * small buffers (several calls), and print both listings, sorted, with each
 * entry's type.
 *
 *   lsold DIR     prints "getdents: name/type ...\ngetdents64: name/type ...\n"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct linux_dirent {
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};

struct linux_dirent64 {
    unsigned long d_ino;
    long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir, int legacy)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        perror(dir);
        exit(1);
    }
    char buf[256], *names[4096];
    int n = 0;
    long got;
    while ((got = syscall(legacy ? SYS_getdents : SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            const char *name;
            unsigned type;
            unsigned short reclen;
            if (legacy) {
                struct linux_dirent *d = (void *)(buf + off);
                name = d->d_name;
                reclen = d->d_reclen;
                type = (unsigned char)buf[off + reclen - 1];
            } else {
                struct linux_dirent64 *d = (void *)(buf + off);
                name = d->d_name;
                reclen = d->d_reclen;
                type = d->d_type;
            }
            if (n < 4096 && asprintf(&names[n], "%s/%u", name, type) > 0)
                n++;
            off += reclen;
        }
    }
    if (got < 0) {
        perror("getdents");
        exit(1);
    }
    close(fd);
    qsort(names, (size_t)n, sizeof(names[0]), cmp);
    printf("%s:", legacy ? "getdents" : "getdents64");
    for (int i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lsold DIR\n");
        return 2;
    }
    list(argv[1], 1);
    list(argv[1], 0);
    return 0;
}
