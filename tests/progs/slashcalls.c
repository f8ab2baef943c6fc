/* slashcalls: PATH named as a directory ("PATH/"), through the calls whose
 * lookup of the last component the kernel checks: one "<call>: <result>"
 * line each, the result "ok" or the errno name.
 *
 *   slashcalls PATH
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void line(const char *call, long rc)
{
    printf("%s: %s\n", call, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: slashcalls PATH\n");
        return 2;
    }
    char p[4096];
    snprintf(p, sizeof(p), "%s/", argv[1]);
    struct stat st;
    char buf[64];
    line("open", syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
    line("open_creat", syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT, 0644));
    line("stat", syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0));
    line("access", syscall(SYS_faccessat, AT_FDCWD, p, R_OK));
    line("readlink", syscall(SYS_readlinkat, AT_FDCWD, p, buf, sizeof(buf)));
    line("mkdir", syscall(SYS_mkdirat, AT_FDCWD, p, 0755));
    line("chmod", syscall(SYS_fchmodat, AT_FDCWD, p, 0644));
    line("truncate", syscall(SYS_truncate, p, 0));
    return 0;
}
