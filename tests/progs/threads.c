/* threads: N threads read the same path at once and compare with EXPECTED.
 *
 *   threads [-b] [-r REPEAT] N PATH EXPECTED
 *
 *   -b          all threads wait on a barrier and then open() simultaneously
 *   -r REPEAT   each thread opens+reads the file REPEAT times (default 1)
 *
 * In PATH, "%p" becomes getpid() and "%t" the calling thread's gettid(), so
 * "/proc/self/task/%t/x" names the reading thread's own task directory.
 * Prints "ok K/N" (K threads saw exactly EXPECTED every time) and, before
 * it, one line per failing thread: "thread I: got <escaped>" or
 * "thread I: ERR <ERRNO_NAME>". Exits 0 only when K == N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    int idx;
    int ok;
    char detail[256];
};

static const char *g_path;
static const char *g_expected;
static int g_repeat = 1;
static int g_use_barrier;
static pthread_barrier_t g_barrier;

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

static void escape(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 32 || c >= 127 || c == '\\') {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

static void *worker(void *arg)
{
    struct job *j = arg;
    char path[4096];
    char buf[4096];
    expand(g_path, path, sizeof path);
    if (g_use_barrier)
        pthread_barrier_wait(&g_barrier);
    j->ok = 1;
    for (int r = 0; r < g_repeat; r++) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            snprintf(j->detail, sizeof j->detail, "ERR %s", strerrorname_np(errno));
            j->ok = 0;
            return NULL;
        }
        size_t got = 0;
        for (;;) {
            ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
            if (n < 0) {
                snprintf(j->detail, sizeof j->detail, "ERR read %s", strerrorname_np(errno));
                j->ok = 0;
                close(fd);
                return NULL;
            }
            if (n == 0 || got + (size_t)n >= sizeof buf - 1) {
                got += (size_t)n;
                break;
            }
            got += (size_t)n;
        }
        close(fd);
        if (got != strlen(g_expected) || memcmp(buf, g_expected, got) != 0) {
            char esc[200];
            escape(buf, got, esc, sizeof esc);
            snprintf(j->detail, sizeof j->detail, "got %s", esc);
            j->ok = 0;
            return NULL;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "br:")) != -1) {
        if (opt == 'b')
            g_use_barrier = 1;
        else if (opt == 'r')
            g_repeat = atoi(optarg);
        else
            return 2;
    }
    if (argc - optind != 3) {
        fprintf(stderr, "usage: threads [-b] [-r REPEAT] N PATH EXPECTED\n");
        return 2;
    }
    int n = atoi(argv[optind]);
    g_path = argv[optind + 1];
    g_expected = argv[optind + 2];
    if (n <= 0)
        return 2;
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!jobs || !tids)
        return 3;
    if (g_use_barrier && pthread_barrier_init(&g_barrier, NULL, (unsigned)n) != 0)
        return 3;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    for (int i = 0; i < n; i++) {
        jobs[i].idx = i;
        int e = pthread_create(&tids[i], &attr, worker, &jobs[i]);
        if (e != 0) {
            printf("pthread_create %d: %s\n", i, strerrorname_np(e));
            return 3;
        }
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(tids[i], NULL);
        if (jobs[i].ok)
            ok++;
        else
            printf("thread %d: %s\n", i, jobs[i].detail);
    }
    printf("ok %d/%d\n", ok, n);
    return ok == n ? 0 : 1;
}
