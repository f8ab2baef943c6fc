/* efault: path syscalls with bad path pointers or buffers, one result per line.
 *
 *   efault [VALID_PATH]
 *
 * Lines: "<case>: <result>", result "ERR <ERRNO_NAME>" or "ok <rc>".
 * The output must be the same traced and untraced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "report.h"

/* report(), and close what an open returned */
static void check(const char *what, long rc)
{
    report(what, rc);
    if (rc >= 0 && rc < 1024 && strncmp(what, "open", 4) == 0)
        close((int)rc);
}

int main(int argc, char **argv)
{
    const char *valid = argc > 1 ? argv[1] : "/proc/sys/kernel/cap_last_cap";
    long pg = sysconf(_SC_PAGESIZE);

    /* A path that runs into an unmapped page without a NUL terminator. */
    char *two = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (two == MAP_FAILED)
        return 3;
    munmap(two + pg, (size_t)pg);
    const char tail[] = "/proc/sys/kernel/cap_last_ca";
    size_t tl = sizeof tail - 1;
    memcpy(two + pg - tl, tail, tl);
    char *edge = two + pg - tl;

    /* A complete, NUL-terminated path that ends exactly at the page end. */
    char *three = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (three == MAP_FAILED)
        return 3;
    munmap(three + pg, (size_t)pg);
    size_t vl = strlen(valid) + 1;
    memcpy(three + pg - vl, valid, vl);
    char *fits = three + pg - vl;

    static char longpath[8192];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';

    check("open_null", syscall(SYS_open, (char *)0, O_RDONLY));
    check("open_badptr", syscall(SYS_open, (char *)1, O_RDONLY));
    check("openat_badptr", syscall(SYS_openat, AT_FDCWD, (char *)-4096L, O_RDONLY));
    check("open_unterminated_at_page_end", syscall(SYS_open, edge, O_RDONLY));
    check("open_valid_at_page_end", syscall(SYS_open, fits, O_RDONLY));
    check("open_too_long", syscall(SYS_open, longpath, O_RDONLY));
    check("stat_badptr", syscall(SYS_stat, (char *)1, (void *)0));
    check("stat_valid_badbuf", syscall(SYS_stat, valid, (void *)1));
    check("newfstatat_valid_badbuf", syscall(SYS_newfstatat, AT_FDCWD, valid, (void *)1, 0));
    check("statx_valid_badbuf",
           syscall(SYS_statx, AT_FDCWD, valid, 0, 0x7ff, (void *)1));
    check("access_badptr", syscall(SYS_access, (char *)1, R_OK));
    check("readlink_valid_badbuf", syscall(SYS_readlink, "/proc/self/exe", (void *)1, 100));
    check("read_badbuf", ({
        long fd = syscall(SYS_open, valid, O_RDONLY);
        long r = fd < 0 ? fd : syscall(SYS_read, fd, (void *)1, 100);
        int e = errno;
        if (fd >= 0)
            close((int)fd);
        errno = e;
        r;
    }));
    return 0;
}
