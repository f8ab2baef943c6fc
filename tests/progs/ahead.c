/* ahead: an open of SRC (a redirected path: under `sysfake record` it returns
 * through a trampoline whose result is read later, csrc/rec_batch.c), then a
 * call whose path is awkward to read (it once was read ahead, with the
 * result).
 *
 *   ahead SRC WATCHED ROUNDS
 *
 * Each round: open(SRC), then one of: open(WATCHED) from a buffer rewritten
 * each round, open with a NULL / bad / unterminated-at-page-end path,
 * open(WATCHED) ending exactly at a page end, and a getpid() (no path).
 * Prints one line per call, "<what>: ok" or "<what>: ERR <ERRNO>", the same
 * traced and untraced (apart from SRC, which untraced does not exist).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "report.h"

/* report(), and close what an open returned */
static void check(const char *what, long rc)
{
    report(what, rc);
    if (rc >= 0 && strcmp(what, "getpid") != 0)
        close((int)rc);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    const char *src = argv[1], *watched = argv[2];
    int rounds = atoi(argv[3]);
    long pg = sysconf(_SC_PAGESIZE);

    char *two = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *three = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (two == MAP_FAILED || three == MAP_FAILED)
        return 3;
    munmap(two + pg, (size_t)pg);
    munmap(three + pg, (size_t)pg);
    size_t wl = strlen(watched);
    memcpy(two + pg - wl, watched, wl); /* no NUL before the unmapped page */
    char *unterminated = two + pg - wl;
    memcpy(three + pg - wl - 1, watched, wl + 1);
    char *at_page_end = three + pg - wl - 1;

    static char buf[4096];
    for (int i = 0; i < rounds; i++) {
        check("src", syscall(SYS_openat, AT_FDCWD, src, O_RDONLY));
        switch (i % 6) {
        case 0:
            /* the same buffer, another path each time: never an old read */
            snprintf(buf, sizeof buf, "%s%s", watched, i % 12 ? "" : "/nothing");
            check(i % 12 ? "watched" : "watched_nothing",
                   syscall(SYS_openat, AT_FDCWD, buf, O_RDONLY));
            break;
        case 1:
            check("null", syscall(SYS_openat, AT_FDCWD, (char *)0, O_RDONLY));
            break;
        case 2:
            check("badptr", syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY));
            break;
        case 3:
            check("unterminated", syscall(SYS_openat, AT_FDCWD, unterminated, O_RDONLY));
            break;
        case 4:
            check("page_end", syscall(SYS_openat, AT_FDCWD, at_page_end, O_RDONLY));
            break;
        case 5:
            check("getpid", syscall(SYS_getpid));
            break;
        }
    }
    return 0;
}
