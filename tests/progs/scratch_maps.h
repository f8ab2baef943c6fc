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

static int scratch_maps(unsigned long *starts, int max)
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
        if (!named && b - a == SCRATCH_SIZE && strcmp(perms, "rw-p") == 0 && found < max)
            starts[found++] = a;
    }
    return found;
}

#endif
