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
#include "first_line.h"
#include "scratch_maps.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    char first[256], second[256];
    /* twice: a process's first rewrite is written over its own path
     * (csrc/inplace.c); the second is the one that maps scratch memory */
    first_line(argv[1], first, sizeof(first));
    first_line(argv[1], first, sizeof(first));
    unsigned long starts[64];
    int found = scratch_maps(starts, 64), unmapped = 0;
    for (int i = 0; i < found; i++)
        unmapped += munmap((void *)starts[i], SCRATCH_SIZE) == 0;
    first_line(argv[1], second, sizeof(second));
    printf("first=%s|second=%s|unmapped=%d\n", first, second, unmapped);
    return 0;
}
