/* robuf: result buffers in a read-only page, which the kernel refuses with
 * EFAULT; a syscall rule that answers or patches the call must do the same.
 *
 *   robuf PATH
 *
 * Lines: "uname: ...", "statfs: ...", "fstatfs: ..." (each "ok" or
 * "ERR <ERRNO_NAME>"), then "page intact: yes|no".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "report.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    long pg = sysconf(_SC_PAGESIZE);
    char *ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ro == MAP_FAILED)
        return 1;
    report("uname", syscall(SYS_uname, ro));
    report("statfs", syscall(SYS_statfs, argv[1], ro));
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    report("fstatfs", syscall(SYS_fstatfs, fd, ro));
    int intact = 1;
    for (long i = 0; i < pg; i++)
        intact &= ro[i] == 0;
    printf("page intact: %s\n", intact ? "yes" : "no");
    return 0;
}
