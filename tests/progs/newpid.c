/* newpid CMD ARGS...: clone(CLONE_NEWPID) and exec CMD as the new PID
 * namespace's init, then exit with its status. The clone flags move the
 * child, not unshare(2) (tests/test_run_fork_ids.py). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static char **args;
static char stack[256 * 1024];

static int child(void *arg)
{
	(void)arg;
	execvp(args[0], args);
	perror("execvp");
	return 127;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: newpid CMD [ARGS...]\n");
		return 2;
	}
	args = argv + 1;
	pid_t pid = clone(child, stack + sizeof(stack), CLONE_NEWPID | SIGCHLD, NULL);
	if (pid < 0) {
		perror("clone");
		return 1;
	}
	int st;
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
