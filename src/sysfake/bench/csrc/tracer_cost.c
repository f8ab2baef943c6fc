/* What one tracer syscall costs here: read one word of a stopped tracee
 * with pread(/proc/PID/mem), PTRACE_PEEKDATA and process_vm_readv (where it
 * exists), N times each. And what one round trip to a supervisor costs, by
 * the two ways a filter can hand a syscall over: a ptrace seccomp stop that
 * is continued, and a seccomp user notification that is answered (where
 * the kernel has a listener; gVisor has none). Prints one JSON object
 * (microseconds per call).
 *
 *   tracer_cost [N [CPU]]     N reads each (2000), pinned to CPU if given:
 *                             a hand-over whose two sides run on different
 *                             CPUs pays for waking the other one */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

static long word = 0x5f5f;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put(const char *name, double us, int last)
{
	if (us < 0)
		printf("\"%s\": null%s", name, last ? "" : ", ");
	else
		printf("\"%s\": %.2f%s", name, us, last ? "" : ", ");
}

/* Hand getppid to the supervisor with `action`; 0 on success, else the
 * listener fd (NEW_LISTENER) or -1. */
static int filter_getppid(unsigned action, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* µs per getppid over n calls in this process (clock_gettime is the vDSO's) */
static double loop_us(int n)
{
	double t0 = now();
	for (int i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (now() - t0) / n * 1e6;
}

/* The child's loop, untraced and then handed over; its two figures come
 * back on `out` (a negative second one: the filter was refused). */
static void child_loops(int out, int n, unsigned action, unsigned flags, int sock)
{
	double r[2];
	r[0] = loop_us(n);
	int fd = filter_getppid(action, flags);
	if (fd >= 0 && sock >= 0) { /* the listener, to the supervisor */
		char c = 0, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { &c, 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		memset(cbuf, 0, sizeof(cbuf));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		if (sendmsg(sock, &mh, 0) != 1)
			fd = -1;
	} else if (sock >= 0) {
		close(sock); /* the supervisor's receive fails: nothing to answer */
	}
	r[1] = fd < 0 ? -1 : loop_us(n);
	if (write(out, r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
	_exit(0);
}

static double round_trip(const double r[2])
{
	return r[1] < 0 ? -1 : r[1] - r[0];
}

/* A ptrace seccomp stop continued at once: µs more than the plain call. */
static double seccomp_stop(int n)
{
	int p[2], go[2];
	if (pipe(p) || pipe(go))
		return -1;
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		char x;
		close(p[0]);
		close(go[1]);
		if (read(go[0], &x, 1) != 1) /* until the tracer has seized it */
			_exit(1);
		child_loops(p[1], n, SECCOMP_RET_TRACE, 0, -1);
	}
	close(p[1]);
	close(go[0]);
	double r[2] = { 0, -1 };
	int st;
	if (ptrace(PTRACE_SEIZE, c, 0, (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)) ||
	    write(go[1], "g", 1) != 1) {
		kill(c, SIGKILL);
		waitpid(c, &st, __WALL);
		return -1;
	}
	close(go[1]);
	while (waitpid(c, &st, __WALL) == c && !WIFEXITED(st) && !WIFSIGNALED(st)) {
		int sig = WSTOPSIG(st); /* a seccomp or other event stop: none to pass on */
		if ((st >> 16) || sig == SIGTRAP)
			sig = 0;
		ptrace(PTRACE_CONT, c, 0, (void *)(long)sig);
	}
	if (read(p[0], r, sizeof(r)) != (ssize_t)sizeof(r))
		r[1] = -1;
	close(p[0]);
	return round_trip(r);
}

/* A seccomp user notification answered at once with a value. */
static double user_notif(int n)
{
	int p[2], sv[2];
	if (pipe(p) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		close(p[0]);
		close(sv[1]);
		child_loops(p[1], n, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER, sv[0]);
	}
	close(p[1]);
	close(sv[0]);
	char x, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &x, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int lfd = -1;
	if (recvmsg(sv[1], &mh, 0) == 1 && CMSG_FIRSTHDR(&mh))
		memcpy(&lfd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	close(sv[1]);
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	/* answers until the child's filter is gone (its exit: ENOENT) */
	for (int i = 0; lfd >= 0 && i <= n; i++) {
		memset(&req, 0, sizeof(req));
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req))
			break;
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.val = 1;
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp))
			break;
	}
	double r[2] = { 0, -1 };
	if (read(p[0], r, sizeof(r)) != (ssize_t)sizeof(r))
		r[1] = -1;
	close(p[0]);
	if (lfd >= 0)
		close(lfd);
	int st;
	waitpid(c, &st, 0);
	return round_trip(r);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	if (argc > 2) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(atoi(argv[2]), &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return 1;
	}
	pid_t c = fork();
	if (c < 0)
		return 1;
	if (c == 0)
		for (;;)
			pause();
	int st;
	if (ptrace(PTRACE_SEIZE, c, 0, 0) || ptrace(PTRACE_INTERRUPT, c, 0, 0) ||
	    waitpid(c, &st, __WALL) != c) {
		kill(c, SIGKILL);
		return 1;
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/mem", (int)c);
	int fd = open(p, O_RDONLY);
	long v = 0;
	double t0 = now(), pr = -1, pk = -1, vm = -1;
	int i;
	for (i = 0; fd >= 0 && i < n; i++)
		if (pread(fd, &v, sizeof(v), (off_t)(long)&word) != (ssize_t)sizeof(v))
			break;
	if (fd >= 0 && i == n)
		pr = (now() - t0) / n * 1e6;
	t0 = now();
	for (i = 0; i < n; i++) {
		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, c, &word, 0);
		if (errno)
			break;
	}
	if (i == n)
		pk = (now() - t0) / n * 1e6;
	struct iovec l = { &v, sizeof(v) }, r = { &word, sizeof(v) };
	t0 = now();
	for (i = 0; i < n; i++)
		if (process_vm_readv(c, &l, 1, &r, 1, 0) != (ssize_t)sizeof(v))
			break;
	if (i == n)
		vm = (now() - t0) / n * 1e6;
	kill(c, SIGKILL);
	waitpid(c, &st, __WALL);
	double stop = seccomp_stop(n * 10), notif = user_notif(n * 10);
	printf("{");
	put("pread_proc_mem", pr, 0);
	put("peekdata", pk, 0);
	put("process_vm_readv", vm, 0);
	put("seccomp_stop", stop, 0);
	put("user_notif", notif, 0);
	printf("\"calls\": %d}\n", n);
	return 0;
}
