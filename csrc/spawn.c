/* The probe's child shares the tracer's memory: clone(CLONE_VM) onto a
 * private stack instead of fork. Forking copies the tracer's mappings, which
 * for a Python tracer (record mode) costs 30-60 ms inside gVisor; the probe's
 * child never execs, so all of that was spent on a throwaway process.
 *
 * The parent runs on while the child does, so the child may not touch
 * anything the parent uses: it makes raw syscalls only (no errno, which
 * lives in the parent's TLS, no heap, no locks). The parent blocks every
 * signal around the clone; the child sets every handler to the default
 * before it unblocks them, so no handler of the parent ever runs on the
 * child's stack. (The command's child is forked: it runs execvpe.) */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

#define STACK_SIZE (256 * 1024)

SF_CHILD long sf_raw(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

SF_CHILD void sf_raw_exit(int status)
{
	for (;;)
		sf_raw(SYS_exit_group, status, 0, 0, 0);
}

SF_CHILD void sf_child_signals(void)
{
	/* struct k_sigaction as the kernel reads it: handler, flags, restorer, mask */
	unsigned long dfl[4] = { 0, 0, 0, 0 };
	for (long s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sf_raw(SYS_rt_sigaction, s, (long)dfl, 0, 8);
	unsigned long none = 0;
	sf_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
}

pid_t sf_spawn(int (*fn)(void *), void *arg, void **stack)
{
	*stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (*stack == MAP_FAILED) {
		*stack = NULL;
		return -1;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(fn, (char *)*stack + STACK_SIZE, CLONE_VM | SIGCHLD, arg);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		sf_spawn_free(*stack);
		*stack = NULL;
		errno = e;
	}
	return pid;
}

void sf_spawn_free(void *stack)
{
	if (stack)
		munmap(stack, STACK_SIZE);
}
