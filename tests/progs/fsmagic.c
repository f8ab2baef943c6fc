/* fsmagic: the file system type of each PATH, by path and by fd.
 *
 *   fsmagic PATH...
 *
 * One line per PATH: "<PATH> statfs=<hex f_type> fstatfs=<hex f_type>", where
 * fstatfs is made on open(PATH, O_RDONLY) (as runc checks every cgroup file it
 * opens) and a failure shows as "ERR <ERRNO_NAME>". Raw syscalls, so the
 * tracer sees exactly statfs and fstatfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long rc, const struct statfs *s)
{
    if (rc < 0)
        printf(" %s=ERR %s", what, strerrorname_np(errno));
    else
        printf(" %s=%lx", what, (unsigned long)s->f_type);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        struct statfs s;
        printf("%s", argv[i]);
        show("statfs", syscall(SYS_statfs, argv[i], &s), &s);
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            printf(" fstatfs=ERR open %s\n", strerrorname_np(errno));
            continue;
        }
        show("fstatfs", syscall(SYS_fstatfs, fd, &s), &s);
        close(fd);
        printf("\n");
    }
    return 0;
}
