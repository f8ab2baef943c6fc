/* Waiting for the next stop: poll for a while before sleeping in waitpid.
 *
 * Where tracer and tracee run on different CPUs, every stop wakes the
 * sleeping tracer on its CPU and every resume wakes the tracee on its own.
 * On a VM whose idle vCPUs halt that is some 30 us each way, ten times the
 * stop itself (docs/performance.md, "Unpinned"). A tracer that is still
 * polling when the stop comes needs no wake-up of its own.
 *
 * Polling pays only where a poll is much cheaper than a wake-up and the
 * tracer has a CPU of its own to poll on: the probe checks both
 * (spin_worth; inside gVisor a waitpid is a trip through the sandbox and
 * costs as much as the wake-up). Between polls the tracer yields, so a
 * tracee that shares its CPU runs. A poll that finds nothing backs off:
 * the next 1, 2, 4 .. 64 waits sleep at once, so a tracee that runs long
 * between stops costs little CPU. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include "core.h"

#define SPIN_US 50          /* about the wake-up of a halted vCPU, and then some */
#define SPIN_BACKOFF_MAX 64
#define POLL_CHEAP_NS 5000  /* a poll this cheap is worth repeating */

static int backoff, skip;
static long hits, misses, skipped; /* for the verbose log's last line */

int spin_worth(pid_t child)
{
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) || CPU_COUNT(&cpus) < 2)
		return 0;
	/* The cheapest of a few polls of a child that cannot have stopped yet:
	 * the least a poll costs here. */
	long long best = -1;
	for (int i = 0; i < 8; i++) {
		struct timespec a, b;
		int status;
		clock_gettime(CLOCK_MONOTONIC, &a);
		pid_t w = waitpid(child, &status, __WALL | WNOHANG);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (w != 0)
			return 0;
		long long ns = (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
		if (best < 0 || ns < best)
			best = ns;
	}
	return best >= 0 && best < POLL_CHEAP_NS;
}

void spin_reset(void)
{
	backoff = skip = 0;
	hits = misses = skipped = 0;
}

void spin_log(void)
{
	if (sf_mech & SF_MECH_SPIN)
		DBG("polls: %ld found a stop, %ld found none, %ld waits slept at once",
		    hits, misses, skipped);
}

pid_t spin_wait(int *status)
{
	if (!(sf_mech & SF_MECH_SPIN))
		return 0;
	if (skip > 0) {
		skip--;
		skipped++;
		return 0;
	}
	long long until = sf_now_us() + SPIN_US;
	for (;;) {
		pid_t w = waitpid(-1, status, __WALL | WNOHANG);
		if (w > 0) {
			hits++;
			backoff = 0;
			return w;
		}
		if (w < 0 || sf_now_us() >= until)
			break; /* an error is the blocking waitpid's to report */
		sched_yield();
	}
	misses++;
	backoff = backoff ? 2 * backoff : 1;
	if (backoff > SPIN_BACKOFF_MAX)
		backoff = SPIN_BACKOFF_MAX;
	skip = backoff;
	return 0;
}
