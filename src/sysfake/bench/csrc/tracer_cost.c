/* What one tracer syscall costs here: read one word of a stopped tracee
 * with pread(/proc/PID/mem), PTRACE_PEEKDATA and process_vm_readv (where it
 * exists), N times each. Prints one JSON object (microseconds per call). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
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
	printf("{");
	put("pread_proc_mem", pr, 0);
	put("peekdata", pk, 0);
	put("process_vm_readv", vm, 0);
	printf("\"calls\": %d}\n", n);
	return 0;
}
