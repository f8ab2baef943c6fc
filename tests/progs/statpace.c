/* statpace: N stats of PATH, each after BUSY_US microseconds of work that
 * makes no syscall (clock_gettime is the vDSO's), so that a tracer sees its
 * stops that far apart.
 *
 *   statpace PATH N BUSY_US
 *
 * Prints "statpace: N of N found" (how many stats succeeded). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: statpace PATH N BUSY_US\n");
        return 2;
    }
    long n = atol(argv[2]), busy = atol(argv[3]), found = 0;
    for (long i = 0; i < n; i++) {
        long long until = now_us() + busy;
        while (now_us() < until)
            ;
        struct stat st;
        if (stat(argv[1], &st) == 0)
            found++;
    }
    printf("statpace: %ld of %ld found\n", found, n);
    return 0;
}
