/* statcheck: every path-based way to look at PATH, one result per line.
 *
 *   statcheck PATH
 *
 * Lines ("<call>: <result>"), in this order:
 *   open, fstat, stat, lstat, newfstatat, newfstatat_nofollow, statx,
 *   access, faccessat, faccessat2, readlink
 * where a stat result is "<type> size=<n>" (type: reg dir lnk chr blk fifo sock),
 * an access result is "0", open gives "content=<escaped text>" and any
 * failure is "ERR <ERRNO_NAME>". The legacy calls (stat, lstat, access,
 * readlink) are made with raw syscalls so the tracer sees exactly them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif

static const char *ftype(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    }
    return "unknown";
}

static void err(const char *call)
{
    printf("%s: ERR %s\n", call, strerrorname_np(errno));
}

static void st_line(const char *call, long rc, const struct stat *st)
{
    if (rc < 0)
        err(call);
    else
        printf("%s: %s size=%lld\n", call, ftype(st->st_mode), (long long)st->st_size);
}

static void escape_print(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 32 || c >= 127 || c == '\\')
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: statcheck PATH\n");
        return 2;
    }
    const char *p = argv[1];
    struct stat st;
    char buf[4096];

    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        err("open");
        err("fstat");
    } else {
        size_t got = 0;
        ssize_t n;
        while (got < sizeof buf && (n = read(fd, buf + got, sizeof buf - got)) > 0)
            got += (size_t)n;
        fputs("open: content=", stdout);
        escape_print(buf, got);
        putchar('\n');
        st_line("fstat", fstat(fd, &st), &st);
        close(fd);
    }
    st_line("stat", syscall(SYS_stat, p, &st), &st);
    st_line("lstat", syscall(SYS_lstat, p, &st), &st);
    st_line("newfstatat", syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0), &st);
    st_line("newfstatat_nofollow",
            syscall(SYS_newfstatat, AT_FDCWD, p, &st, AT_SYMLINK_NOFOLLOW), &st);

    struct statx sx;
    if (syscall(SYS_statx, AT_FDCWD, p, 0, STATX_BASIC_STATS, &sx) < 0)
        err("statx");
    else
        printf("statx: %s size=%llu\n", ftype(sx.stx_mode), (unsigned long long)sx.stx_size);

    if (syscall(SYS_access, p, R_OK) < 0)
        err("access");
    else
        puts("access: 0");
    if (syscall(SYS_faccessat, AT_FDCWD, p, R_OK) < 0)
        err("faccessat");
    else
        puts("faccessat: 0");
    if (syscall(SYS_faccessat2, AT_FDCWD, p, R_OK, AT_EACCESS) < 0)
        err("faccessat2");
    else
        puts("faccessat2: 0");

    long n = syscall(SYS_readlink, p, buf, sizeof buf - 1);
    if (n < 0)
        err("readlink");
    else
        printf("readlink: %.*s\n", (int)n, buf);
    return 0;
}
