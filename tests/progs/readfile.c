/* readfile: open + read a path and print its content verbatim.
 *
 *   readfile PATH...          print each file's content; on failure print
 *                             "ERR <ERRNO_NAME>\n" instead and exit 1 at the end
 *   readfile -w TEXT PATH     open(O_WRONLY|O_TRUNC) and write TEXT (C escapes
 *                             are NOT interpreted here), print "wrote N\n"
 *   readfile -c DIR PATH...   chdir(DIR) first (a failure prints "ERR chdir <NAME>")
 *
 * In PATH, "%p" is replaced by getpid() and "%t" by gettid(), so a test can
 * name /proc/<own pid> and /proc/<pid>/task/<own tid> without a shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static void expand(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 24 < outlen; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(out + o, outlen - o, "%d", (int)getpid());
            p++;
        } else if (p[0] == '%' && p[1] == 't') {
            o += (size_t)snprintf(out + o, outlen - o, "%d", (int)gettid());
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static int read_one(const char *arg)
{
    char path[4096];
    expand(arg, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("ERR %s\n", ename(errno));
        return 1;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            printf("ERR read %s\n", ename(errno));
            close(fd);
            return 1;
        }
        if (n == 0)
            break;
        fwrite(buf, 1, (size_t)n, stdout);
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (argc >= 4 && strcmp(argv[1], "-w") == 0) {
        char path[4096];
        expand(argv[3], path, sizeof path);
        int fd = open(path, O_WRONLY | O_TRUNC);
        if (fd < 0) {
            printf("ERR %s\n", ename(errno));
            return 1;
        }
        size_t len = strlen(argv[2]);
        ssize_t n = write(fd, argv[2], len);
        if (n < 0) {
            printf("ERR write %s\n", ename(errno));
            return 1;
        }
        if (close(fd) < 0) {
            printf("ERR close %s\n", ename(errno));
            return 1;
        }
        printf("wrote %zd\n", n);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
        if (chdir(argv[2]) < 0) {
            printf("ERR chdir %s\n", ename(errno));
            return 1;
        }
        i = 3;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: readfile [-c DIR] PATH... | readfile -w TEXT PATH\n");
        return 2;
    }
    int rc = 0;
    for (; i < argc; i++)
        rc |= read_one(argv[i]);
    fflush(stdout);
    return rc;
}
