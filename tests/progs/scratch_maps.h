/* The mappings that look like the tracer's scratch memory, as
 * /proc/self/maps lists them: private, read-write, unnamed and exactly
 * 256 x 16 KiB. Never our own heap, stack or libraries (they have names).
 * All of maps is read before any start is returned, so a caller may unmap. */
#ifndef SCRATCH_MAPS_H
#define SCRATCH_MAPS_H
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SCRATCH_SIZE (256ul * 16384)

/* with_code: also the ones whose trampoline page (the first page of the
 * last slot, csrc/tramp.c) is read+exec, which splits it in three. */
static __attribute__((unused)) int scratch_maps_of(unsigned long *starts, int max, int with_code)
{
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t n = 0, r;
    while (fd >= 0 && (r = read(fd, maps + n, sizeof(maps) - 1 - (size_t)n)) > 0)
        n += r;
    maps[n] = '\0';
    if (fd >= 0)
        close(fd);
    int found = 0;
    for (char *l = maps; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long a, b;
        char perms[8];
        if (sscanf(l, "%lx-%lx %7s", &a, &b, perms) < 3)
            continue;
        char *e = strchr(l, '\n');
        int named = 0;
        for (char *q = l; q < (e ? e : l + strlen(l)); q++)
            named |= *q == '/' || *q == '[';
        if (named || strcmp(perms, "rw-p") || found >= max)
            continue;
        unsigned long c, d;
        char next[8];
        if (b - a == SCRATCH_SIZE)
            starts[found++] = a;
        else if (with_code && b - a == SCRATCH_SIZE - 16384 && e &&
                 sscanf(e + 1, "%lx-%lx %7s", &c, &d, next) == 3 && c == b &&
                 d - c == 4096 && strcmp(next, "r-xp") == 0)
            starts[found++] = a;
    }
    return found;
}

static __attribute__((unused)) int scratch_maps(unsigned long *starts, int max)
{
    return scratch_maps_of(starts, max, 0);
}

#endif
