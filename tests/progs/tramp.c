/* Redirected opens that return through the tracer's trampolines
 * (csrc/tramp.c), with every argument register checked after each call.
 *
 *   tramp loop SRC TEXT N [THREADS]
 *       N raw openat(SRC) per thread, each reading TEXT; then one by the
 *       main thread, right before it forks a child that does N more (its
 *       copy of the address space has the trampolines).
 *       Prints "loop ok".
 *   tramp signal SRC TEXT N FIFO_SRC FIFO
 *       N opens of SRC first; then a thread opens FIFO_SRC (redirected to the
 *       FIFO FIFO) and blocks, while the main thread sends it SIGUSR1 every
 *       5 ms (SA_RESTART); the handler opens SRC too. After 150 ms a writer
 *       opens FIFO. Prints "signal ok".
 *   tramp stop SRC TEXT N FIFO_SRC FIFO
 *       As signal, but the process is stopped (SIGSTOP, taken by the main
 *       thread) and continued while the thread is blocked: the group stop
 *       interrupts its open and the kernel restarts it with no signal to
 *       deliver (the thread blocks SIGCONT, so no signal is ever its to
 *       take). Prints "stop ok".
 *   tramp storm SRC TEXT N
 *       A thread makes N opens while the main thread sends it SIGUSR1, the
 *       next once the handler for the last returned and the thread made an
 *       open of its own (SA_RESTART); the handler opens SRC too. Signals
 *       land as calls return, before their trampoline ran. No FIFO: for
 *       gVisor, whose FIFOs do not work in these tests. Prints "storm ok".
 *   tramp setuid SRC TEXT N
 *       N opens as root, then the process becomes uid and gid 65534 and
 *       makes N more (a virtual file: the tracer's memfd is no longer its to
 *       open). Prints "setuid ok".
 *   tramp groupexit SRC TEXT N
 *       A thread makes N opens and then waits in pause(); the main thread
 *       ends the process with exit_group, which kills the thread with no
 *       stop of its own but its exit stop. Prints "groupexit ok" first.
 *   tramp unmap SRC TEXT N
 *       N opens, then munmap of the tracer's scratch mapping (as a sandbox
 *       or a JIT might), then N more from the same call site with the same
 *       registers: the tracer finds its words gone only when the call
 *       fails or returns to its trampoline. Prints "unmap ok".
 * TEXT "-" means SRC leads nowhere: each open must fail with ENOENT.
 * Anything wrong is printed and the exit status is 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "scratch_maps.h"

static const char *src, *text, *fifo_src, *fifo;
static volatile int bad;
static volatile sig_atomic_t handler_opens, handler_bad, handlers_done;

/* openat(AT_FDCWD, path, O_RDONLY, 0) with all six argument registers set
 * (r8 and r9 to markers) and compared after the call. 1: they changed.
 * Inlined: each caller has its own syscall instruction (return address). */
static inline __attribute__((always_inline)) long raw_openat(const char *path, long marker,
							     int *changed)
{
	long in[6] = { AT_FDCWD, (long)path, O_RDONLY, 0, marker, marker + 1 };
	long out[6], ret;
	__asm__ volatile("mov 0(%[in]), %%rdi\n\t"
			 "mov 8(%[in]), %%rsi\n\t"
			 "mov 16(%[in]), %%rdx\n\t"
			 "mov 24(%[in]), %%r10\n\t"
			 "mov 32(%[in]), %%r8\n\t"
			 "mov 40(%[in]), %%r9\n\t"
			 "syscall\n\t"
			 "mov %%rdi, 0(%[out])\n\t"
			 "mov %%rsi, 8(%[out])\n\t"
			 "mov %%rdx, 16(%[out])\n\t"
			 "mov %%r10, 24(%[out])\n\t"
			 "mov %%r8, 32(%[out])\n\t"
			 "mov %%r9, 40(%[out])"
			 : "=a"(ret)
			 : "a"((long)SYS_openat), [in] "r"(in), [out] "r"(out)
			 : "rdi", "rsi", "rdx", "r10", "r8", "r9", "rcx", "r11", "memory");
	*changed = memcmp(in, out, sizeof(in)) != 0;
	return ret;
}

/* One redirected open of SRC: 0 if it read TEXT with registers intact. */
static inline __attribute__((always_inline)) int open_src(long marker)
{
	int changed;
	long fd = raw_openat(src, marker, &changed);
	if (!strcmp(text, "-"))
		return changed || fd != -ENOENT ? -1 : 0;
	if (fd < 0)
		return -1;
	char buf[256];
	ssize_t n = read((int)fd, buf, sizeof(buf) - 1);
	close((int)fd);
	buf[n > 0 ? n : 0] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	return changed || strcmp(buf, text) ? -1 : 0;
}

static int loop_n;

static int storm_mode;
static volatile int unsticks;
static volatile sig_atomic_t loop_opens;

/* gVisor can leave an unblocked SIGUSR1 pending for good, untraced too (its
 * wake-up is lost, and a second SIGUSR1 while one is pending wakes nothing).
 * Seen pending across two syscall returns: blocking and unblocking it gets
 * it delivered. Never needed on Linux. */
static void unstick_usr1(void)
{
	static int seen;
	sigset_t m;
	if (!storm_mode || sigpending(&m) || !sigismember(&m, SIGUSR1)) {
		seen = 0;
		return;
	}
	if (++seen < 2)
		return;
	seen = 0;
	unsticks++;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
}

static void *loop_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < loop_n; i++) {
		if (open_src(0x5eed0008)) {
			bad = 1;
			break;
		}
		loop_opens++;
		unstick_usr1();
	}
	return NULL;
}

static int do_loop(int threads)
{
	pthread_t th[64];
	if (threads > 64)
		threads = 64;
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, loop_thread, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	if (bad || open_src(0x5eed0008)) {
		printf("a thread's open went wrong\n");
		return 1;
	}
	pid_t c = fork();
	if (c == 0) {
		loop_thread(NULL);
		_exit(bad);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) {
		printf("the child's open went wrong\n");
		return 1;
	}
	printf("loop ok\n");
	return 0;
}

static void on_usr1(int sig)
{
	(void)sig;
	handler_opens++;
	if (open_src(0x71a40008)) /* other registers, another return address */
		handler_bad++;
	handlers_done++;
}

/* SIGUSR1 runs on_usr1, and interrupted calls restart. */
static void catch_usr1(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}

static volatile int fifo_started, fifo_ok;

static void *fifo_thread(void *arg)
{
	if (arg) { /* stop: SIGCONT is the main thread's to take, never this one's */
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGCONT);
		pthread_sigmask(SIG_BLOCK, &m, NULL);
	}
	fifo_started = 1;
	int changed;
	long fd = raw_openat(fifo_src, 0x5eed0008, &changed);
	struct stat a, b;
	char c = 0;
	fifo_ok = fd >= 0 && !changed && !fstat((int)fd, &a) && !stat(fifo, &b) &&
		  a.st_ino == b.st_ino && read((int)fd, &c, 1) == 1 && c == 'x';
	if (!fifo_ok)
		printf("fifo open: fd=%ld changed=%d\n", fd, changed);
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts))
		;
}

static void sleep_ms(long ms)
{
	sleep_us(ms * 1000);
}

static void write_fifo(void)
{
	int fd = open(fifo, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		_exit(1);
	close(fd);
}

static int do_fifo(int stop)
{
	catch_usr1();
	pthread_t th;
	pthread_create(&th, NULL, fifo_thread, stop ? &th : NULL);
	while (!fifo_started)
		sleep_ms(1);
	sleep_ms(20); /* blocked in its open by now */
	pid_t writer = -1;
	if (stop) {
		writer = fork();
		if (writer == 0) {
			sleep_ms(50);
			kill(getppid(), SIGSTOP);
			sleep_ms(50);
			kill(getppid(), SIGCONT);
			sleep_ms(50);
			write_fifo();
			_exit(0);
		}
	} else {
		for (int i = 0; i < 30; i++) {
			pthread_kill(th, SIGUSR1);
			sleep_ms(5);
		}
		write_fifo();
	}
	pthread_join(th, NULL);
	int st = 0;
	if (writer > 0 && (waitpid(writer, &st, 0) != writer || !WIFEXITED(st) || WEXITSTATUS(st))) {
		printf("the writer failed\n");
		return 1;
	}
	if (!fifo_ok || handler_bad || (!stop && !handler_opens)) {
		printf("fifo_ok=%d handler_opens=%d handler_bad=%d\n", fifo_ok, (int)handler_opens,
		       (int)handler_bad);
		return 1;
	}
	printf("%s ok\n", stop ? "stop" : "signal");
	return 0;
}

static volatile int loop_done;

/* Until *v is no longer old, loop_done, or 2 ms. */
static void wait_change(volatile sig_atomic_t *v, int old)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		sleep_us(20);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!loop_done && *v == old &&
		 (now.tv_sec - t0.tv_sec) * 1000000000L + now.tv_nsec - t0.tv_nsec < 2000000);
}

/* loop_thread, then says so */
static void *loop_done_thread(void *arg)
{
	loop_thread(arg);
	loop_done = 1;
	return NULL;
}

static void *groupexit_thread(void *arg)
{
	loop_done_thread(arg);
	for (;;)
		pause();
	return NULL;
}

static int do_storm(void)
{
	catch_usr1();
	storm_mode = 1;
	pthread_t th;
	pthread_create(&th, NULL, loop_done_thread, NULL);
	/* One signal at a time: the next is sent once the last one's handler
	 * returned and the thread made an open of its own (or after 2 ms each),
	 * so its calls, restarted after each handler, cannot starve. */
	while (!loop_done) {
		int h = handlers_done;
		pthread_kill(th, SIGUSR1);
		wait_change(&handlers_done, h);
		wait_change(&loop_opens, loop_opens);
	}
	pthread_join(th, NULL);
	if (unsticks)
		fprintf(stderr, "tramp: SIGUSR1 left pending %d times\n", unsticks);
	if (bad || handler_bad || !handler_opens) {
		printf("bad=%d handler_opens=%d handler_bad=%d unsticks=%d\n", bad,
		       (int)handler_opens, (int)handler_bad, unsticks);
		return 1;
	}
	printf("storm ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: tramp loop|signal|stop SRC TEXT N ...\n");
		return 2;
	}
	src = argv[2];
	text = argv[3];
	loop_n = atoi(argv[4]);
	if (!strcmp(argv[1], "loop"))
		return do_loop(argc > 5 ? atoi(argv[5]) : 1);
	if (!strcmp(argv[1], "storm"))
		return do_storm();
	if (!strcmp(argv[1], "groupexit")) {
		pthread_t th;
		pthread_create(&th, NULL, groupexit_thread, NULL);
		while (!loop_done)
			sleep_ms(1);
		printf(bad ? "an open went wrong\n" : "groupexit ok\n");
		fflush(stdout);
		syscall(SYS_exit_group, bad);
	}
	if (!strcmp(argv[1], "unmap")) {
		loop_thread(NULL);
		unsigned long starts[64];
		int found = scratch_maps_of(starts, 64, 1), unmapped = 0;
		for (int i = 0; i < found; i++)
			unmapped += munmap((void *)starts[i], SCRATCH_SIZE) == 0;
		if (bad || unmapped != 1) {
			printf("before: %s, unmapped %d\n", bad ? "an open went wrong" : "ok", unmapped);
			return 1;
		}
		loop_thread(NULL);
		printf(bad ? "an open went wrong\n" : "unmap ok\n");
		return bad;
	}
	if (!strcmp(argv[1], "setuid")) {
		loop_thread(NULL);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534)) {
			printf("cannot become 65534\n");
			return 1;
		}
		loop_thread(NULL);
		printf(bad ? "an open went wrong\n" : "setuid ok\n");
		return bad;
	}
	if (argc != 7) {
		fprintf(stderr, "usage: tramp signal|stop SRC TEXT N FIFO_SRC FIFO\n");
		return 2;
	}
	fifo_src = argv[5];
	fifo = argv[6];
	loop_thread(NULL); /* the address space gets its trampolines */
	if (bad) {
		printf("an open went wrong\n");
		return 1;
	}
	return do_fifo(!strcmp(argv[1], "stop"));
}
