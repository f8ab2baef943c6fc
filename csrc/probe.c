/* Probe once what this kernel offers, in a throwaway traced child, instead of
 * guessing from uname: gVisor claims 4.4.0 and differs from Linux 4.4 anyway. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core.h"

unsigned sf_mech;
int sf_verbose;

void sf_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, "sysfake: ", 9) < 0 || write(2, buf, (size_t)n) < 0)
		return;
}

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
#define OP_ENTRY 1
#define OP_EXIT 2
#define OP_SECCOMP 3

static const char marker[] = "sysfake-probe-marker";

/* Child (spawn.c: raw syscalls only): trap getppid, then exercise it five
 * ways; the exit status reports what it saw. */
SF_CHILD static int probe_child(void *arg)
{
	int rfd = *(const int *)arg;
	sf_child_signals();
	char c;
	if (sf_raw(SYS_read, rfd, (long)&c, 1, 0) != 1)
		sf_raw_exit(90);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		SF_ERRNO_NR_BLOCK,
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = { sizeof(f) / sizeof(f[0]), f };
	if (seccomp_load(&fp))
		sf_raw_exit(91);
	char wbuf[32] = { 0 };
	/* 1: memory and stop-order probe */
	sf_raw(SYS_getppid, (long)marker, (long)wbuf, 0, 0);
	int st = 0;
	if (wbuf[0] != 'o' || wbuf[1] != 'k')
		st |= 4; /* no write mechanism worked at all */
	/* 2: skip at the seccomp stop */
	if (sf_raw(SYS_getppid, 1, 0, 0, 0) != 4242)
		st |= 1;
	/* 3: change the syscall number */
	if (sf_raw(SYS_getppid, 2, 0, 0, 0) != sf_raw(SYS_getpid, 0, 0, 0, 0))
		st |= 2;
	/* 4: a return address set at the seccomp stop (rsi: where to) */
	long nr = SYS_getppid;
	unsigned long skipped = 1;
	__asm__ volatile("lea 1f(%%rip), %%rsi\n\t"
			 "syscall\n\t"
			 "movq $0, %[s]\n"
			 "1:"
			 : "+a"(nr), [s] "+m"(skipped)
			 : "D"(3L)
			 : "rsi", "rcx", "r11", "memory");
	if (!skipped || nr != sf_raw(SYS_getppid, 0, 0, 0, 0))
		st |= 8;
	/* 6 (before 5, which a filter may kill us for): a signal sent while
	 * stopped at 7 (SIGURG: ignored by default) must stop us for the tracer
	 * before the call at 8 does */
	sf_raw(SYS_getppid, 7, 0, 0, 0);
	sf_raw(SYS_getppid, 8, 0, 0, 0);
	/* 5: a number that the filter answers (rsi: what the others found, in
	 * case a filter the tracer runs under kills for this number) */
	if (sf_raw(SYS_getppid, 5, st, 0, 0) != -EXDEV || sf_raw(SYS_getppid, 6, st, 0, 0) != 0)
		st |= 16;
	sf_raw_exit(st);
}

static int wait_stop(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, __WALL);
		if (r == pid)
			return WIFSTOPPED(*status) ? 0 : -1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int syscall_op(pid_t pid, sf_regs *r)
{
	if (sf_mech & SF_MECH_SYSCALL_INFO) {
		unsigned char info[128];
		long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), info);
		if (n > 0)
			return info[0];
	}
	return (long)SF_REG_RET(r) == -ENOSYS ? OP_ENTRY : OP_EXIT;
}

/* Resume from a seccomp stop to the syscall-exit stop, whatever the order. */
static int to_exit(pid_t pid, int *status, int *old_order)
{
	sf_regs r;
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) || wait_stop(pid, status))
		return -1;
	if (WSTOPSIG(*status) != (SIGTRAP | 0x80))
		return -1;
	ptrace(PTRACE_GETREGS, pid, 0, &r);
	if (syscall_op(pid, &r) == OP_ENTRY) {
		*old_order = 1;
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) || wait_stop(pid, status))
			return -1;
	}
	return 0;
}

static int next_seccomp(pid_t pid, int *status)
{
	for (;;) {
		if (wait_stop(pid, status))
			return -1;
		if (*status >> 8 == (SIGTRAP | PTRACE_EVENT_SECCOMP << 8))
			return 0;
		/* initial/other stops: continue without a signal */
		int sig = WSTOPSIG(*status);
		if (*status >> 16 || sig == SIGTRAP || sig == SIGSTOP || sig == (SIGTRAP | 0x80))
			sig = 0;
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig))
			return -1;
	}
}

static int status_has_nspid(void)
{
	char buf[4096];
	return proc_status(0, buf, sizeof(buf)) > 0 && strstr(buf, "\nNSpid:") != NULL;
}

int sf_probe(struct sf_probe_result *res)
{
	memset(res, 0, sizeof(*res));
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return snprintf(res->error, sizeof(res->error), "pipe: %s", strerror(errno)), 0;
	void *stack;
	pid_t pid = sf_spawn(probe_child, &pfd[0], &stack);
	close(pfd[0]);
	if (pid < 0) {
		close(pfd[1]);
		return snprintf(res->error, sizeof(res->error), "clone: %s", strerror(errno)), 0;
	}
	unsigned mech = 0;
	if (ptrace(PTRACE_SEIZE, pid, 0,
		   (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL))) {
		snprintf(res->error, sizeof(res->error), "ptrace(PTRACE_SEIZE) is not permitted: %s",
			 strerror(errno));
		kill(pid, SIGKILL);
		close(pfd[1]);
		waitpid(pid, NULL, __WALL);
		sf_spawn_free(stack);
		return 0;
	}
	res->ok = 1;
	if (write(pfd[1], "g", 1) != 1)
		res->ok = 0;
	close(pfd[1]);
	int status = -1, early = -1; /* -1: no wait yet */
	if (next_seccomp(pid, &status) == 0) {
		mech |= SF_MECH_SECCOMP;
		sf_regs r;
		ptrace(PTRACE_GETREGS, pid, 0, &r);
		unsigned char info[128];
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), info) > 0 &&
		    info[0] == OP_SECCOMP)
			mech |= SF_MECH_SYSCALL_INFO;
		char buf[sizeof(marker)];
		struct iovec l = { buf, sizeof(buf) }, rv = { (void *)r.rdi, sizeof(buf) };
		if (process_vm_readv(pid, &l, 1, &rv, 1, 0) == (ssize_t)sizeof(buf) &&
		    !memcmp(buf, marker, sizeof(buf)))
			mech |= SF_MECH_VM_READV;
		char mp[64];
		snprintf(mp, sizeof(mp), "/proc/%d/mem", pid);
		int fd = open(mp, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = open(mp, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			memset(buf, 0, sizeof(buf));
			if (pread(fd, buf, sizeof(buf), (off_t)r.rdi) == (ssize_t)sizeof(buf) &&
			    !memcmp(buf, marker, sizeof(buf)))
				mech |= SF_MECH_MEM_READ;
			if (pwrite(fd, "xx", 2, (off_t)r.rsi) == 2)
				mech |= SF_MECH_MEM_WRITE;
			close(fd);
		}
		struct iovec wl = { (void *)"ok", 2 }, wr = { (void *)r.rsi, 2 };
		if (process_vm_writev(pid, &wl, 1, &wr, 1, 0) == 2)
			mech |= SF_MECH_VM_WRITEV;
		/* Make sure the child sees "ok" whichever mechanism wrote last. */
		long w;
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, pid, (void *)r.rsi, 0);
		if (!errno) {
			memcpy(&w, "ok", 2);
			ptrace(PTRACE_POKEDATA, pid, (void *)r.rsi, (void *)w);
		}
		int old = 0;
		if (to_exit(pid, &status, &old) == 0) {
			if (old)
				mech |= SF_MECH_SECCOMP_OLD_ORDER;
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
		/* 2: skip */
		if (next_seccomp(pid, &status) == 0) {
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			r.orig_rax = (uint64_t)-1;
			r.rax = 4242;
			ptrace(PTRACE_SETREGS, pid, 0, &r);
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
		/* 3: change the number */
		if (next_seccomp(pid, &status) == 0) {
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			r.orig_rax = SYS_getpid;
			ptrace(PTRACE_SETREGS, pid, 0, &r);
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
		/* 4: return elsewhere */
		if (next_seccomp(pid, &status) == 0) {
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			if (r.rdi == 3)
				r.rip = r.rsi;
			ptrace(PTRACE_SETREGS, pid, 0, &r);
			ptrace(PTRACE_CONT, pid, 0, 0);
		}
		/* 6: Linux stops a tracee for a signal sent while it was in a
		 * ptrace stop; gVisor leaves it pending until something interrupts
		 * the tracee, which a busy one may never be (Pool.terminate hung) */
		while (next_seccomp(pid, &status) == 0) {
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			if (r.rdi == 7)
				break;
			ptrace(PTRACE_CONT, pid, 0, 0); /* 4's own getppid */
		}
		if (WIFSTOPPED(status) && r.rdi == 7) {
			kill(pid, SIGURG);
			ptrace(PTRACE_CONT, pid, 0, 0);
			if (wait_stop(pid, &status) == 0) {
				if (status >> 8 == (SIGTRAP | PTRACE_EVENT_SECCOMP << 8))
					mech |= SF_MECH_STUCK_SIGNALS; /* the call at 8 came first */
				else if (ptrace(PTRACE_CONT, pid, 0, 0) == 0) /* drop the signal */
					next_seccomp(pid, &status);
				ptrace(PTRACE_CONT, pid, 0, 0);
			}
		}
		/* 5: -EXDEV, then 0, by the filter's answer to a number */
		for (int k = 0; k < 3 && next_seccomp(pid, &status) == 0; k++) {
			ptrace(PTRACE_GETREGS, pid, 0, &r);
			int last = r.rdi == 6;
			if (r.rdi == 5 || r.rdi == 6) {
				early = (int)r.rsi;
				r.orig_rax = SF_NR_ERRNO + (r.rdi == 5 ? EXDEV : 0);
				ptrace(PTRACE_SETREGS, pid, 0, &r);
			}
			ptrace(PTRACE_CONT, pid, 0, 0);
			if (last)
				break;
		}
	}
	int gone = 0;
	for (;;) {
		/* a test's wait may have reaped it already */
		if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
			pid_t w = waitpid(pid, &status, __WALL);
			if (w < 0 && errno != EINTR)
				break;
			if (w != pid)
				continue;
		}
		if (WIFEXITED(status) || (WIFSIGNALED(status) && early >= 0)) {
			/* killed at 5: what 1-4 found, and no SF_MECH_ERRNO_NR */
			int st = WIFEXITED(status) ? WEXITSTATUS(status) : early | 16;
			if (st == 91)
				mech &= ~(unsigned)SF_MECH_SECCOMP;
			else if (st < 32 && !(st & 1))
				mech |= SF_MECH_SKIP_AT_SECCOMP;
			if (st < 32 && (st & 2))
				mech &= ~(unsigned)SF_MECH_SECCOMP; /* cannot change syscalls */
			if (st < 32 && !(st & 8) && (mech & SF_MECH_SECCOMP))
				mech |= SF_MECH_SET_RETURN;
			if (st < 32 && !(st & 16) && (mech & SF_MECH_SECCOMP))
				mech |= SF_MECH_ERRNO_NR;
			gone = 1;
			break;
		}
		if (WIFSIGNALED(status)) {
			gone = 1;
			break;
		}
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	if (!gone) { /* it may still run on the stack */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
	}
	sf_spawn_free(stack);
	if (prctl(PR_GET_CHILD_SUBREAPER, &status) == 0) {
		int was = status;
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) == 0) {
			mech |= SF_MECH_SUBREAPER;
			if (!was)
				prctl(PR_SET_CHILD_SUBREAPER, 0);
		}
	}
	/* tracer_stat.c tells a symlink-free path by its fd's /proc link */
	int fd = open("/", O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		char p[64], l[8];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (readlink(p, l, sizeof(l)) == 1 && l[0] == '/')
			mech |= SF_MECH_TRACER_STAT;
		close(fd);
	}
	/* Linux shows NSpid, and its fork events name a child by the tracer's
	 * ids; gVisor's, by its creator's namespace's (loop.c) */
	if (status_has_nspid())
		mech |= SF_MECH_NSPID;
	/* exec_facts.c reads a process's parent without /proc */
	if (sf_pidfd_ppid(getpid()) == (int)getppid())
		mech |= SF_MECH_PIDFD_INFO;
	res->mech = mech;
	return 0;
}
