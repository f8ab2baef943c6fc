/* The first line of a file (without its newline), or "ERR" if it cannot be
 * opened: what a test program prints of a faked file. */
#ifndef FIRST_LINE_H
#define FIRST_LINE_H
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void first_line(const char *path, char *out, size_t len)
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

#endif
