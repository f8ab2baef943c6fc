/* scratchmaps: how many anonymous private writable mappings of the tracer's
 * scratch size (256 x 16 KiB, no name) the process has, after each step:
 * start, stat(PLAIN), stat(REDIR), open(REDIR) + read, and that open again.
 * The tracer maps its scratch only when a call needs a rewrite that it
 * cannot write over the program's own path (csrc/inplace.c: the first one
 * of a process can be, on the host).
 *
 *   scratchmaps PLAIN REDIR   prints
 *       "start=N plain=N stat=N open=N again=N read=<content>\n"
 *   scratchmaps -t N REDIR TEXT   N threads open and read REDIR at once, as
 *                                 the process's first rewritten calls; prints
 *                                 "reads=<how many read TEXT>\n" (thread
 *                                 stacks may merge with the scratch mapping
 *                                 in maps: the tracer's -v log counts them)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "first_line.h"
#include "scratch_maps.h"

static int count(void)
{
    unsigned long starts[64];
    return scratch_maps_of(starts, 64, 1); /* split by its trampolines' page too */
}

static pthread_barrier_t go;
static const char *redir, *want;

static void *reader(void *arg)
{
    (void)arg;
    char buf[256];
    pthread_barrier_wait(&go);
    first_line(redir, buf, sizeof(buf));
    return (void *)(long)!strcmp(buf, want);
}

static int threads(int n)
{
    pthread_t th[256];
    if (n < 1 || n > 256)
        return 2;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, reader, NULL))
            return 1;
    int same = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(th[i], &r);
        same += (int)(long)r;
    }
    printf("reads=%d\n", same);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "-t")) {
        redir = argv[3];
        want = argv[4];
        return threads(atoi(argv[2]));
    }
    if (argc != 3)
        return 2;
    struct stat st;
    int start = count();
    stat(argv[1], &st);
    int plain = count();
    stat(argv[2], &st);
    int statted = count();
    char buf[256];
    first_line(argv[2], buf, sizeof(buf));
    int opened = count();
    first_line(argv[2], buf, sizeof(buf));
    printf("start=%d plain=%d stat=%d open=%d again=%d read=%s\n", start, plain, statted, opened,
           count(), buf);
    return 0;
}
