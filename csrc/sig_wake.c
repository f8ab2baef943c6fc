/* gVisor (SF_MECH_STUCK_SIGNALS): a signal sent to a tracee while it sits in
 * a ptrace stop wakes nothing, and resuming the stop does not look at the
 * tracee's pending signals; the signal waits for the next interrupt, which a
 * tracee that goes on to block may never get (docs/safety.md). A mask change
 * that unblocks a pending signal does interrupt. So, just before a stop is
 * resumed, a tracee that may hold such a signal has its mask set to block
 * everything and put back (PTRACE_SETSIGMASK):
 *  - one a signal was sent to: by a tracee's kill, tkill, tgkill,
 *    rt_[tg]sigqueueinfo or pidfd_send_signal (followed to its exit, so the
 *    signal is there by then), by a child's exit (SIGCHLD), or by sysfake;
 *  - for senders sysfake does not see (timers, processes outside the tree),
 *    any tracee at most every SIGWAKE_US, so a busy one gets the signal
 *    within that.
 * Nothing here runs where the probe did not find the quirk (Linux). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "core.h"

#define SIGWAKE_US 20000

volatile sig_atomic_t sigwake_fwd_pid; /* set by sysfake's forwarding handler */

/* Signals whose receivers are not marked, nor their senders trapped (the
 * filter lets them through, seccomp.c): 0 is a check that the receiver
 * exists; SIGURG is Go's preemption, hundreds a second, retried if missed. */
const int sigwake_unfollowed[SIGWAKE_NUNFOLLOWED] = { 0, SIGURG };

/* Which argument of nr is the signal it sends; -1: it sends none, or no
 * call need be trapped for it (Linux). */
int sigwake_sigarg(long nr)
{
	if (!(sf_mech & SF_MECH_STUCK_SIGNALS))
		return -1;
	switch (nr) {
	case SYS_kill: case SYS_tkill: case SYS_rt_sigqueueinfo: case SYS_pidfd_send_signal:
		return 1;
	case SYS_tgkill: case SYS_rt_tgsigqueueinfo:
		return 2;
	}
	return -1;
}

static void mark(struct sf_tracee *t, void *arg)
{
	pid_t tgid = (pid_t)(long)arg;
	if (!tgid || (t->proc && t->proc->tgid == tgid))
		t->sig_check = 1;
}

/* Every thread of process tgid (the tracer's id); 0: every tracee. */
void sigwake_process(pid_t tgid)
{
	if (sf_mech & SF_MECH_STUCK_SIGNALS)
		tr_foreach(mark, (void *)(long)tgid);
}

void sigwake_thread(pid_t tid)
{
	struct sf_tracee *t = (sf_mech & SF_MECH_STUCK_SIGNALS) ? tr_find(tid) : NULL;
	if (t)
		t->sig_check = 1;
}

/* At a sending call's entry: 1 if its exit must mark the receivers. The ids
 * are the sender's: outside the tracer's PID namespace (a container), or for
 * a process group or a pidfd, every tracee is marked. */
int sigwake_enter(struct sf_tracee *t, long nr, const sf_regs *r)
{
	int arg = sigwake_sigarg(nr);
	if (arg < 0)
		return 0;
	int sig = (int)sf_arg(r, arg);
	for (int k = 0; k < SIGWAKE_NUNFOLLOWED; k++)
		if (sig == sigwake_unfollowed[k])
			return 0;
	pid_t id = 0; /* 0: every tracee */
	int whole = 1;
	switch (nr) {
	case SYS_kill:
	case SYS_rt_sigqueueinfo:
		if ((int)sf_arg(r, 0) > 0)
			id = (pid_t)sf_arg(r, 0);
		break;
	case SYS_tkill:
		id = (pid_t)sf_arg(r, 0), whole = 0;
		break;
	case SYS_tgkill:
	case SYS_rt_tgsigqueueinfo:
		id = (pid_t)sf_arg(r, 1), whole = 0;
		break;
	}
	if (!t->proc || !t->proc->pidns_ours || id <= 0)
		id = 0, whole = 1;
	t->sig_to = id;
	t->sig_to_thread = !whole;
	return 1;
}

void sigwake_exit(struct sf_tracee *t, long ret)
{
	if (ret < 0)
		return;
	if (t->sig_to_thread)
		sigwake_thread(t->sig_to);
	else
		sigwake_process(t->sig_to);
}

/* Just before t's stop is resumed. */
void sigwake_resume(struct sf_tracee *t)
{
	pid_t fwd = sigwake_fwd_pid;
	if (fwd) {
		sigwake_fwd_pid = 0;
		sigwake_process(fwd);
	}
	long long now = sf_now_us();
	if (!t->sig_checked_us)
		t->sig_checked_us = now; /* new: nothing sent before it was there */
	if (!t->sig_check && now - t->sig_checked_us < SIGWAKE_US)
		return;
	DBG("%d: mask toggled (%s)", t->tid, t->sig_check ? "a signal was sent to it" : "periodic");
	t->sig_check = 0;
	t->sig_checked_us = now;
	/* all the kernel lets be blocked: not SIGKILL, not SIGSTOP */
	uint64_t mask, all = ~((1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1)));
	if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(mask), &mask) || (mask & all) == all)
		return; /* nothing it could unblock */
	if (!ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(all), &all))
		ptrace(PTRACE_SETSIGMASK, t->tid, (void *)sizeof(mask), &mask);
}
