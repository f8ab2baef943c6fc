/* unmapper: read PATH, then munmap every anonymous private writable mapping
 * that this program did not make (a sandbox or a JIT may do this), then read
 * PATH again. A tracer that keeps rewritten arguments in memory it mapped
 * into the process must cope with losing it; the second read must still see
 * the faked content, never the real file.
 *
 *   unmapper PATH   prints "first=<content>|second=<content>|unmapped=N\n"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void slurp(const char *path, char *out, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(out, len, "ERR");
        return;
    }
    ssize_t n = read(fd, out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char first[256], second[256];
    slurp(argv[1], first, sizeof(first));
    /* Only mappings of the size the tracer uses, with no name: never our
     * own heap, stack or libraries. Read them all before unmapping any. */
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t n = 0, r;
    while (fd >= 0 && (r = read(fd, maps + n, sizeof(maps) - 1 - (size_t)n)) > 0)
        n += r;
    maps[n] = '\0';
    if (fd >= 0)
        close(fd);
    int unmapped = 0;
    for (char *l = maps; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long a, b;
        char perms[8];
        if (sscanf(l, "%lx-%lx %7s", &a, &b, perms) < 3)
            continue;
        char *e = strchr(l, '\n');
        int named = 0;
        for (char *q = l; q < (e ? e : l + strlen(l)); q++)
            named |= *q == '/' || *q == '[';
        if (!named && b - a == 256ul * 16384 && strcmp(perms, "rw-p") == 0 &&
            munmap((void *)a, b - a) == 0)
            unmapped++;
    }
    slurp(argv[1], second, sizeof(second));
    printf("first=%s|second=%s|unmapped=%d\n", first, second, unmapped);
    return 0;
}
