/* A redirected open that a signal interrupts and the kernel restarts.
 *
 *   restart SRC TARGET
 * TARGET is a FIFO and SRC is redirected to it. The main thread opens SRC
 * for reading with a raw `syscall` (so the registers after it can be
 * checked), while SIGALRM (SA_RESTART) fires every 5 ms; a child opens
 * TARGET for writing after 150 ms. The open is interrupted and restarted by
 * the kernel many times. Prints "ok interrupted=N" when the open returned the
 * FIFO and no argument register changed, else what went wrong.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;

static void on_alarm(int sig)
{
	(void)sig;
	hits++;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: restart SRC TARGET\n");
		return 2;
	}
	pid_t writer = fork();
	if (writer == 0) {
		struct timespec ts = {0, 150 * 1000 * 1000};
		nanosleep(&ts, NULL);
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			_exit(1);
		if (write(fd, "x", 1) != 1)
			_exit(1);
		close(fd);
		_exit(0);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 5000}, {0, 5000}};
	setitimer(ITIMER_REAL, &it, NULL);

	const long at = AT_FDCWD, flags = O_RDONLY, mode = 0;
	long ret, rdi = at, rsi = (long)argv[1], rdx = flags;
	register long r10 __asm__("r10") = mode;
	__asm__ volatile("syscall"
			 : "=a"(ret), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r10)
			 : "a"((long)SYS_openat)
			 : "rcx", "r11", "memory");
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	int status = 0;
	waitpid(writer, &status, 0);
	if (ret < 0) {
		printf("open failed: %s\n", strerror((int)-ret));
		return 1;
	}
	if (rdi != at || rsi != (long)argv[1] || rdx != flags || r10 != mode) {
		printf("registers changed: rdi=%lx rsi=%lx (path %lx) rdx=%lx r10=%lx\n", rdi, rsi,
		       (long)argv[1], rdx, (long)r10);
		return 1;
	}
	struct stat a, b;
	if (fstat((int)ret, &a) || stat(argv[2], &b) || a.st_ino != b.st_ino || !S_ISFIFO(a.st_mode)) {
		printf("opened the wrong file\n");
		return 1;
	}
	char c = 0;
	if (read((int)ret, &c, 1) != 1 || c != 'x') {
		printf("read from the FIFO failed\n");
		return 1;
	}
	printf("ok interrupted=%d\n", hits > 0 ? 1 : 0);
	return 0;
}
