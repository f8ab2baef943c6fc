/* What the command inherits of its caller's signals, and how sysfake ends.
 *
 * Untraced, a command keeps the signals its caller ignores (nohup, `trap ''
 * SIG` in a script) and the caller's blocked mask; exec resets only handled
 * signals. sysfake's own handlers must not reach the command, the caller's
 * ignored ones must. And a command killed by signal N must look killed by N
 * to whoever waits for sysfake: a shell stops a script at Ctrl-C only when
 * its child died of SIGINT, not when it exited 130. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core.h"

static sigset_t caller_ign, caller_mask;

void sf_caller_signals_save(unsigned long long sig_default)
{
	sigemptyset(&caller_ign);
	for (int s = 1; s < NSIG; s++) {
		struct sigaction old;
		if (s <= 64 && ((sig_default >> (s - 1)) & 1))
			continue;
		if (sigaction(s, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_IGN)
			sigaddset(&caller_ign, s);
	}
	sigprocmask(SIG_BLOCK, NULL, &caller_mask);
}

int sf_caller_ignores(int sig)
{
	return sigismember(&caller_ign, sig) == 1;
}

int sf_caller_blocks(int sig)
{
	return sigismember(&caller_mask, sig) == 1;
}

/* In the command's child, after fork, before exec. */
void sf_caller_signals_apply(void)
{
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, sf_caller_ignores(s) ? SIG_IGN : SIG_DFL);
	sigprocmask(SIG_SETMASK, &caller_mask, NULL);
}

void sf_exit_as(int status)
{
	fflush(NULL);
	if (!WIFSIGNALED(status))
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
	int sig = WTERMSIG(status);
	/* The command's core dump, if any, is written; this process's is not. */
	prctl(PR_SET_DUMPABLE, 0);
	struct rlimit none = { 0, 0 };
	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig); /* a signal this process cannot die of */
}
