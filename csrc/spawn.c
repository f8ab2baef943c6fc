/* The tracer's children (the probe's and the command's) share its memory
 * until they exec or exit: clone(CLONE_VM) onto a private stack instead of
 * fork. Forking copies the tracer's mappings, which for a Python tracer
 * (record mode) costs 30-50 ms per fork inside gVisor.
 *
 * The parent runs on while the child does, so the child may not touch
 * anything the parent uses: it makes raw syscalls only (no errno, which
 * lives in the parent's TLS, no heap, no locks) and reads what the parent
 * prepared before the clone: the exec candidates below and the seccomp
 * program. The parent blocks every signal around the clone; the child sets
 * every handler to the default before it unblocks them, so no handler of
 * the parent ever runs on the child's stack. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

#define STACK_SIZE (256 * 1024)
/* Below the stack, the child's scratch mapping until it execs (the tracer
 * would otherwise map one into our memory for a rewritten execve path). */
#define SCRATCH_SIZE ((size_t)SCRATCH_SLOTS * SCRATCH_SLOT)
#define REGION_SIZE (SCRATCH_SIZE + STACK_SIZE)

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

pid_t sf_spawn(int (*fn)(void *), void *arg, void **region)
{
	*region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*region == MAP_FAILED) {
		*region = NULL;
		return -1;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(fn, (char *)*region + REGION_SIZE, CLONE_VM | SIGCHLD, arg);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		sf_spawn_free(*region);
		*region = NULL;
		errno = e;
	}
	return pid;
}

void sf_spawn_free(void *region)
{
	if (region)
		munmap(region, REGION_SIZE);
}

/* ---- execvpe, prepared by the parent and run by the child ---- */

int sf_execp_prepare(struct sf_execp *x, char *const argv[], char *const envp[])
{
	memset(x, 0, sizeof(*x));
	x->argv = argv;
	x->envp = envp;
	const char *file = argv[0];
	size_t fl = strlen(file), argc = 0;
	while (argv[argc])
		argc++;
	/* ENOEXEC: glibc runs the file with /bin/sh, as the shell would */
	x->sh_argv = calloc(argc + 2, sizeof(char *));
	if (!x->sh_argv)
		return -1;
	x->sh_argv[0] = (char *)"/bin/sh";
	for (size_t i = 1; i < argc; i++)
		x->sh_argv[i + 1] = argv[i];
	if (!fl) {
		x->err = ENOENT;
		return 0;
	}
	if (strchr(file, '/')) {
		x->cand = calloc(2, sizeof(char *));
		if (!x->cand || !(x->cand[0] = strdup(file)))
			return sf_execp_free(x), -1;
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin"; /* glibc's default */
	size_t n = 1;
	for (const char *p = path; *p; p++)
		n += *p == ':';
	x->cand = calloc(n + 1, sizeof(char *));
	if (!x->cand)
		return sf_execp_free(x), -1;
	size_t k = 0;
	for (const char *p = path;; p++) {
		const char *e = strchrnul(p, ':');
		size_t dl = (size_t)(e - p);
		if (dl + 1 + fl < SF_PATH_MAX) { /* longer: glibc skips it too */
			char *c = malloc(dl + fl + 2);
			if (!c)
				return sf_execp_free(x), -1;
			/* an empty entry is the current directory */
			memcpy(c, p, dl);
			size_t o = dl;
			if (dl)
				c[o++] = '/';
			memcpy(c + o, file, fl + 1);
			x->cand[k++] = c;
		}
		if (!*e)
			break;
		p = e;
	}
	if (!k)
		x->err = ENAMETOOLONG;
	return 0;
}

void sf_execp_free(struct sf_execp *x)
{
	if (x->cand)
		for (size_t i = 0; x->cand[i]; i++)
			free(x->cand[i]);
	free(x->cand);
	free(x->sh_argv);
	memset(x, 0, sizeof(*x));
}

SF_CHILD int sf_execp_run(const struct sf_execp *x)
{
	if (x->err)
		return x->err;
	int eacces = 0;
	long e = -ENOENT;
	for (size_t i = 0; x->cand[i]; i++) {
		e = sf_raw(SYS_execve, (long)x->cand[i], (long)x->argv, (long)x->envp, 0);
		if (e == -ENOEXEC) {
			x->sh_argv[1] = x->cand[i];
			e = sf_raw(SYS_execve, (long)"/bin/sh", (long)x->sh_argv, (long)x->envp, 0);
		}
		switch (-e) {
		case EACCES:
			eacces = 1;
			break;
		case ENOENT: case ESTALE: case ENOTDIR: case ENODEV: case ETIMEDOUT:
			break;
		default:
			return (int)-e;
		}
	}
	return eacces ? EACCES : (int)-e;
}
