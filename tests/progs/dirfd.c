/* dirfd: look at NAME relative to an O_DIRECTORY fd of DIR with the *at calls.
 *
 *   dirfd DIR NAME
 *
 * Lines ("<call>: <result>"), in this order:
 *   openat, fstat, newfstatat, newfstatat_nofollow, statx, faccessat,
 *   faccessat2, readlinkat, fstatat_empty
 * Same result format as statcheck. fstatat_empty is fstatat(dirfd, "",
 * AT_EMPTY_PATH), i.e. the directory itself. All calls except open of DIR
 * and fstat go through raw syscalls with the directory fd.
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
    if (argc != 3) {
        fprintf(stderr, "usage: dirfd DIR NAME\n");
        return 2;
    }
    const char *name = argv[2];
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        printf("opendir: ERR %s\n", strerrorname_np(errno));
        return 1;
    }
    struct stat st;
    char buf[4096];

    long fd = syscall(SYS_openat, dfd, name, O_RDONLY);
    if (fd < 0) {
        err("openat");
        err("fstat");
    } else {
        size_t got = 0;
        ssize_t n;
        while (got < sizeof buf && (n = read((int)fd, buf + got, sizeof buf - got)) > 0)
            got += (size_t)n;
        fputs("openat: content=", stdout);
        escape_print(buf, got);
        putchar('\n');
        st_line("fstat", fstat((int)fd, &st), &st);
        close((int)fd);
    }
    st_line("newfstatat", syscall(SYS_newfstatat, dfd, name, &st, 0), &st);
    st_line("newfstatat_nofollow",
            syscall(SYS_newfstatat, dfd, name, &st, AT_SYMLINK_NOFOLLOW), &st);

    struct statx sx;
    if (syscall(SYS_statx, dfd, name, 0, STATX_BASIC_STATS, &sx) < 0)
        err("statx");
    else
        printf("statx: %s size=%llu\n", ftype(sx.stx_mode), (unsigned long long)sx.stx_size);

    if (syscall(SYS_faccessat, dfd, name, R_OK) < 0)
        err("faccessat");
    else
        puts("faccessat: 0");
    if (syscall(SYS_faccessat2, dfd, name, R_OK, AT_EACCESS) < 0)
        err("faccessat2");
    else
        puts("faccessat2: 0");

    long n = syscall(SYS_readlinkat, dfd, name, buf, sizeof buf - 1);
    if (n < 0)
        err("readlinkat");
    else
        printf("readlinkat: %.*s\n", (int)n, buf);

    st_line("fstatat_empty", syscall(SYS_newfstatat, dfd, "", &st, AT_EMPTY_PATH), &st);
    return 0;
}
