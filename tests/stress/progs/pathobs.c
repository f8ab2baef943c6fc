/* pathobs: path syscalls at the edges, one observation per line, so a run
 * under sysfake can be compared with an untraced run.
 *
 *   pathobs BASE TARGET
 *
 * BASE is a scratch directory (pathobs creates what it needs in it); TARGET
 * is an existing regular file whose first line is printed by the cases that
 * open it through long paths. Lines: "<case>: ok [first line]" or
 * "<case>: ERR <ERRNO_NAME>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc, int fd_to_read)
{
    if (rc < 0) {
        printf("%s: ERR %s\n", what, strerrorname_np(errno));
        return;
    }
    if (fd_to_read) {
        char buf[128] = { 0 };
        ssize_t n = read((int)rc, buf, sizeof buf - 1);
        close((int)rc);
        if (n < 0) {
            printf("%s: ok read ERR %s\n", what, strerrorname_np(errno));
            return;
        }
        buf[strcspn(buf, "\n")] = 0;
        printf("%s: ok %s\n", what, buf);
        return;
    }
    printf("%s: ok\n", what);
}

static long sys_open(const char *p, int flags) { return syscall(SYS_openat, AT_FDCWD, p, flags, 0600); }

/* "/" + "./" * k + rest, exactly len characters long (len - strlen(rest) - 1 must be even). */
static char *padded(const char *abs_target, size_t len)
{
    size_t tl = strlen(abs_target);
    char *p = malloc(len + 16);
    size_t o = 0;
    p[o++] = '/';
    while (o + 2 + tl - 1 <= len) {
        p[o++] = '.';
        p[o++] = '/';
    }
    if (o + tl - 1 < len)
        p[o++] = '/'; /* odd remainder: one extra slash */
    memcpy(p + o, abs_target + 1, tl - 1);
    o += tl - 1;
    p[o] = 0;
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *base = argv[1], *target = argv[2];
    setvbuf(stdout, NULL, _IONBF, 0);
    char b[PATH_MAX * 2];
    long pg = sysconf(_SC_PAGESIZE);

    /* ---- long paths ---- */
    char *p = padded(target, PATH_MAX - 1);
    report("open len 4095", sys_open(p, O_RDONLY), 1);
    free(p);
    p = padded(target, PATH_MAX);
    report("open len 4096", sys_open(p, O_RDONLY), 1);
    free(p);
    p = padded(target, PATH_MAX + 100);
    report("open len 4196", sys_open(p, O_RDONLY), 1);
    free(p);
    memset(b, 'n', 300);
    b[300] = 0;
    char longname[PATH_MAX * 3];
    snprintf(longname, sizeof longname, "%s/%s", base, b);
    report("open name 300", sys_open(longname, O_RDONLY), 1);
    report("creat name 300", sys_open(longname, O_CREAT | O_WRONLY), 0);

    /* deep cwd (about 3,000 characters) and a long relative path back to TARGET */
    int root = open(".", O_RDONLY | O_DIRECTORY);
    if (chdir(base))
        return 3;
    char comp[256];
    memset(comp, 'd', 250);
    comp[250] = 0;
    int depth = 12;
    for (int i = 0; i < depth; i++) {
        mkdir(comp, 0755);
        if (chdir(comp))
            return 3;
    }
    size_t o = 0;
    while (o < 2600) {
        b[o++] = '.';
        b[o++] = '/';
    }
    for (int i = 0; i < depth; i++) {
        memcpy(b + o, "../", 3);
        o += 3;
    }
    /* TARGET relative to BASE */
    const char *rel = target;
    size_t bl = strlen(base);
    if (!strncmp(target, base, bl) && target[bl] == '/')
        rel = target + bl + 1;
    strcpy(b + o, rel);
    report("open deep relative", sys_open(b, O_RDONLY), 1);
    struct stat st;
    report("stat deep relative", stat(b, &st), 0);
    if (fchdir(root))
        return 3;
    close(root);

    /* ---- not valid UTF-8 ---- */
    snprintf(b, sizeof b, "%s/bad-\xff\xfe-utf8", base);
    report("creat \\xff\\xfe", sys_open(b, O_CREAT | O_WRONLY | O_TRUNC), 0);
    report("open \\xff\\xfe", sys_open(b, O_RDONLY), 1);
    report("stat \\xff\\xfe", stat(b, &st), 0);
    snprintf(b, sizeof b, "%s/\xc3\x28/x", base);
    report("open \\xc3\\x28/x", sys_open(b, O_RDONLY), 1);
    snprintf(b, sizeof b, "%s/bad-\xff\xfe-utf8", base);
    report("unlink \\xff\\xfe", unlink(b), 0);

    /* ---- symlink loops ---- */
    char l1[PATH_MAX], l2[PATH_MAX], self[PATH_MAX];
    snprintf(l1, sizeof l1, "%s/loop1", base);
    snprintf(l2, sizeof l2, "%s/loop2", base);
    snprintf(self, sizeof self, "%s/self", base);
    unlink(l1);
    unlink(l2);
    unlink(self);
    symlink("loop2", l1);
    symlink("loop1", l2);
    symlink("self", self);
    report("open loop1", sys_open(l1, O_RDONLY), 1);
    snprintf(b, sizeof b, "%s/loop1/x", base);
    report("open loop1/x", sys_open(b, O_RDONLY), 1);
    snprintf(b, sizeof b, "%s/self/../loop2", base);
    report("open self/../loop2", sys_open(b, O_RDONLY), 1);
    report("stat self", stat(self, &st), 0);
    report("lstat self", lstat(self, &st), 0);
    report("access loop2", access(l2, R_OK), 0);
    report("open loop1 O_NOFOLLOW", sys_open(l1, O_RDONLY | O_NOFOLLOW), 1);

    /* ---- bad pointers ---- */
    char *ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("openat2 how readonly-zero", syscall(SYS_openat2, AT_FDCWD, target, ro, sizeof(struct open_how)), 1);
    report("open NULL", sys_open(NULL, O_RDONLY), 1);
    report("open 0x1", sys_open((const char *)1, O_RDONLY), 1);
    report("open kernel", sys_open((const char *)0xffff800000001000ul, O_RDONLY), 1);
    report("open noncanonical", sys_open((const char *)0x0000900000000000ul, O_RDONLY), 1);
    char *two = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(two + pg, (size_t)pg);
    size_t tl = strlen(target);
    memcpy(two + pg - tl, target, tl); /* no NUL before the unmapped page */
    report("open edge unterminated", sys_open(two + pg - tl, O_RDONLY), 1);
    memcpy(two + pg - tl - 1, target, tl + 1); /* NUL is the last byte of the page */
    report("open edge terminated", sys_open(two + pg - tl - 1, O_RDONLY), 1);
    report("stat bufNULL", syscall(SYS_newfstatat, AT_FDCWD, target, NULL, 0), 0);
    report("stat buf0x1", syscall(SYS_newfstatat, AT_FDCWD, target, (void *)1, 0), 0);
    report("stat buf readonly", syscall(SYS_newfstatat, AT_FDCWD, target, ro, 0), 0);
    report("stat buf edge", syscall(SYS_newfstatat, AT_FDCWD, target, two + pg - 8, 0), 0);
    report("statx bufNULL", syscall(SYS_statx, AT_FDCWD, target, 0, STATX_BASIC_STATS, NULL), 0);
    report("statx buf readonly", syscall(SYS_statx, AT_FDCWD, target, 0, STATX_BASIC_STATS, ro), 0);
    report("openat2 howNULL", syscall(SYS_openat2, AT_FDCWD, target, NULL, sizeof(struct open_how)), 1);
    report("openat2 how small", syscall(SYS_openat2, AT_FDCWD, target, ro, 8), 1);
    report("access 0x1", syscall(SYS_faccessat, AT_FDCWD, (void *)1, R_OK), 0);
    report("readlink bufNULL", syscall(SYS_readlinkat, AT_FDCWD, l1, NULL, 10), 0);
    report("readlink path edge", syscall(SYS_readlinkat, AT_FDCWD, two + pg - tl, b, 10), 0);
    report("statfs buf0x1", syscall(SYS_statfs, target, (void *)1), 0);
    report("statfs buf readonly", syscall(SYS_statfs, target, ro), 0);
    int intact = 1;
    for (long i = 0; i < pg; i++)
        intact &= ro[i] == 0;
    printf("read-only page intact: %s\n", intact ? "yes" : "no");
    return 0;
}
