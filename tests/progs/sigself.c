/* sigself: kill yourself with signal N (default disposition, no core file).
 *
 *   sigself N
 *
 * Exits 99 if it somehow survived.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    int sig = atoi(argv[1]);
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
    /* a stop signal or an ignored-by-default one lands here */
    return 99;
}
