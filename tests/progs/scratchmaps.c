/* scratchmaps: how many anonymous private writable mappings of the tracer's
 * scratch size (256 x 16 KiB, no name) the process has, after each step:
 * start, stat(PLAIN), stat(REDIR), open(REDIR) + read. The tracer maps its
 * scratch only when a call needs a rewrite.
 *
 *   scratchmaps PLAIN REDIR   prints "start=N plain=N stat=N open=N read=<content>\n"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "scratch_maps.h"

static int count(void)
{
    unsigned long starts[64];
    return scratch_maps(starts, 64);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    struct stat st;
    int start = count();
    stat(argv[1], &st);
    int plain = count();
    stat(argv[2], &st);
    int statted = count();
    char buf[256] = "ERR";
    int fd = open(argv[2], O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
        char *nl = strchr(buf, '\n');
        if (nl)
            *nl = '\0';
    }
    printf("start=%d plain=%d stat=%d open=%d read=%s\n", start, plain, statted, count(), buf);
    return 0;
}
