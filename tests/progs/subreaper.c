/* subreaper: a child subreaper gets the exit of an orphaned grandchild.
 *
 *   subreaper N
 *
 * PR_SET_CHILD_SUBREAPER, then N times: fork a middle process that forks a
 * grandchild (exits 5 after 100 ms) and exits at once; wait for the middle,
 * then for the orphan. Prints "orphan K: status S" for each, or the error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
        printf("prctl: %s\n", strerror(errno));
        return 1;
    }
    for (int k = 0; k < n; k++) {
        pid_t mid = fork();
        if (mid < 0)
            return 1;
        if (mid == 0) {
            if (fork() == 0) {
                struct timespec ts = { 0, 100 * 1000 * 1000 };
                nanosleep(&ts, NULL);
                _exit(5);
            }
            _exit(0);
        }
        int st = 0;
        if (waitpid(mid, &st, 0) != mid) {
            printf("middle %d: %s\n", k, strerror(errno));
            return 1;
        }
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0)
            printf("orphan %d: %s\n", k, strerror(errno));
        else
            printf("orphan %d: status %d\n", k, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    fflush(stdout);
    return 0;
}
