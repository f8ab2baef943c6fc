/* The tracer: spawn the command, then one waitpid(__WALL) loop over every
 * descendant until the command and (by policy) its leftovers are gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core.h"

static int use_seccomp;
long sf_trace_opts;
static pid_t main_pid;
static volatile sig_atomic_t main_done;
static volatile sig_atomic_t alarm_fired;
static volatile sig_atomic_t kill_now;
static int main_status;
#define SF_BATCH 512
static struct { pid_t w; int status; } batch[SF_BATCH];
static int drain_backoff, drain_skip; /* waitpid drains skipped after empty ones */

/* ---- signals sent to sysfake ---- */
static void on_forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* Terminal-generated signals already reached the command's process group. */
	if (si && si->si_code == SI_KERNEL)
		return;
	if (main_done) {
		kill_now = 1;
		return;
	}
	if (main_pid > 0) {
		kill(main_pid, sig);
		sigwake_fwd_pid = main_pid; /* marked before the next resume */
	}
}

/* Our grace timer's SIGALRM comes from the kernel; one sent by a process
 * is for the command, as the others are. */
static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	if (si && si->si_code != SI_KERNEL) {
		on_forward(sig, si, uc);
		return;
	}
	alarm_fired = 1;
}

static const int fwd_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
#define NFWD (int)(sizeof(fwd_sigs) / sizeof(fwd_sigs[0]))
static struct sigaction saved_act[NFWD];
static int installed[NFWD];
static int alrm_unblocked;

static void alrm_mask(int how)
{
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGALRM);
	pthread_sigmask(how, &one, NULL);
}

/* A signal the caller ignores (nohup) stays ignored here too: untraced, the
 * command would not have died of it either. SIGALRM is the grace timer's
 * and is always ours; the caller's mask stays on the rest. */
static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: waitpid must see EINTR */
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NFWD; i++) {
		int alrm = fwd_sigs[i] == SIGALRM;
		installed[i] = alrm || !sf_caller_ignores(fwd_sigs[i]);
		sa.sa_sigaction = alrm ? on_alarm : on_forward;
		if (installed[i])
			sigaction(fwd_sigs[i], &sa, &saved_act[i]);
	}
	alrm_unblocked = sf_caller_blocks(SIGALRM);
	if (alrm_unblocked)
		alrm_mask(SIG_UNBLOCK);
}

static void restore_signals(void)
{
	for (int i = 0; i < NFWD; i++)
		if (installed[i])
			sigaction(fwd_sigs[i], &saved_act[i], NULL);
	if (alrm_unblocked)
		alrm_mask(SIG_BLOCK);
}

/* ---- resuming ---- */
static int ndelayed;

static void resume(struct sf_tracee *t, int sig)
{
	if (sf_mech & SF_MECH_STUCK_SIGNALS)
		sigwake_resume(t);
	int op = (!use_seccomp || t->await != AW_NONE) ? PTRACE_SYSCALL : PTRACE_CONT;
	if (ptrace(op, t->tid, 0, (void *)(long)sig) && errno != ESRCH)
		DBG("%d: resume: %s", t->tid, strerror(errno));
}

/* ---- creation of tracees: fork/vfork/clone events and first stops ----
 *
 * A child is linked to its creator (process, address space, root, intended
 * parent) when both its first stop and its creator's fork event were seen, in
 * either order. Linux gives the event's id in the tracer's PID namespace.
 * gVisor gives it in the *creator's* namespace: inside a container that id
 * means nothing to us and can equal the tid of an unrelated tracee. Such a
 * creation is "local" and is matched to a child by its creator (/proc facts),
 * never by id. */
struct creation {
	pid_t id;        /* event message: tid in the tracer's or the creator's PID namespace */
	int local;       /* the id is the creator's namespace's: match by creator, not id */
	unsigned long flags;
	struct sf_proc *proc;
	struct sf_mm *mm;
	pid_t creator_tgid;
	pid_t iparent;   /* reaper: intended parent, decided at the event */
	int unwatch;     /* the creator stops at its exit (tramp_watch_exit): the child need not */
	int exact;       /* id is the tracer's (ids_exact) */
	struct creation *next;
};
static struct creation *creations;
static int nparked;

static void status_ids(pid_t tid, pid_t *tgid, pid_t *ppid, pid_t *nsid)
{
	char buf[4096];
	*tgid = tid;
	*ppid = 0;
	*nsid = -1; /* no NSpid line (gVisor) */
	if (proc_status(tid, buf, sizeof(buf)) < 0)
		return;
	char *l;
	if ((l = strstr(buf, "\nTgid:")))
		*tgid = atoi(l + 6);
	if ((l = strstr(buf, "\nPPid:")))
		*ppid = atoi(l + 6);
	if ((l = strstr(buf, "\nNSpid:"))) {
		char *e = strchrnul(l + 1, '\n');
		char *last = l + 7;
		for (char *q = l + 7; q < e; q++)
			if (*q >= '0' && *q <= '9' && (q[-1] == ' ' || q[-1] == '\t'))
				last = q;
		*nsid = atoi(last);
	}
}

/* Linux (NSpid in /proc/PID/status): fork events name the child in the
 * tracer's PID namespace, ids are exact. */
static int have_nspid(void)
{
	return (sf_mech & SF_MECH_NSPID) != 0;
}

/* gVisor names a new child in its creator's PID namespace: a creator in the
 * tracer's has exact ids too, as long as the tracer sees every call that
 * could move its children elsewhere (clone flags it reads; unshare and setns
 * it must trap). Exact ids spare the /proc/PID/status reads below, six
 * tracer syscalls a fork there. */
static int ids_exact(const struct sf_proc *creator)
{
	return have_nspid() || (creator->pidns_ours && seccomp_sees_nschange());
}

static void link_child(struct sf_tracee *c, unsigned long flags, struct sf_proc *pp,
		       struct sf_mm *pm, pid_t iparent)
{
	if (pp)
		reaper_on_link(c->tid, pp->tgid, iparent, flags);
	if (flags & CLONE_THREAD) {
		c->proc = pp;
		pp->refs++;
		pp->threaded = 1;
	} else {
		c->proc = proc_new(c->tid);
		c->proc->pidns_ours = pp && pp->pidns_ours && !pp->pidns_kids_moved &&
				      !(flags & CLONE_NEWPID);
		/* fds copied (or shared: then either may add one for both) */
		c->proc->filtered = !pp || pp->filtered; /* filters are inherited */
		c->proc->netlink = !pp || pp->netlink || (flags & CLONE_FILES);
		if (pp && (flags & CLONE_FILES))
			pp->netlink = 1;
		if (pp && !(flags & CLONE_PARENT)) { /* exec_facts.c: its parent */
			c->proc->parent_tgid = pp->tgid;
			c->proc->parent_serial = pp->serial;
		}
		/* CLONE_FS: either one's chroot would move the other's root */
		if (pp && !(flags & (CLONE_NEWNS | CLONE_NEWUSER | CLONE_FS)))
			c->proc->hostview = pp->hostview;
		else if (pp && (flags & CLONE_FS))
			pp->hostview = 0;
		if (pp && !(flags & (CLONE_NEWNS | CLONE_NEWPID))) {
			c->proc->root_known = pp->root_known;
			memcpy(c->proc->root, pp->root, sizeof(pp->root));
			c->proc->view = pp->view;
			/* same mount namespace: its "/" has no parent mount either */
			if (pp->pivoted == PV_DETACHED)
				c->proc->pivoted = PV_DETACHED;
		}
		if (pp) {
			memcpy(c->proc->exe, pp->exe, sizeof(pp->exe));
			c->proc->exe_known = pp->exe_known;
			/* fds are inherited (or shared): so are virtual directory stand-ins */
			memcpy(c->proc->vmarks, pp->vmarks, sizeof(pp->vmarks));
			c->proc->nvmarks = pp->nvmarks;
		}
	}
	if (pm && (flags & CLONE_VM))
		c->mm = mm_get(pm);
	else
		c->mm = mm_fork(pm);
}

static unsigned long clone_flags(struct sf_tracee *t, int event)
{
	if (event == PTRACE_EVENT_VFORK)
		return CLONE_VM | CLONE_VFORK;
	sf_regs r;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &r))
		return 0;
	long nr = (long)r.orig_rax;
	if (nr == SYS_clone)
		return r.rdi;
	if (nr == SYS_clone3) {
		uint64_t f = 0;
		if (mem_read(t, r.rdi, &f, sizeof(f)) == sizeof(f))
			return f;
		return 0;
	}
	if (nr == SYS_vfork)
		return CLONE_VM | CLONE_VFORK;
	return 0; /* fork */
}

/* A child whose creation event or first stop has not been seen yet: until
 * it is linked, nobody knows whose child it is meant to be. */
int loop_links_pending(void)
{
	return creations || nparked;
}

/* Nothing pending can still name a dead intended parent: let the reaper
 * forget the exits it kept for late links. */
static void maybe_prune(void)
{
	if (!creations && !nparked)
		reaper_prune();
}

/* unwatch: the child inherited PTRACE_O_TRACEEXIT from a creator that
 * armed a trampoline for a record; it has nothing pending, so its exit
 * need not stop (one PTRACE_SETOPTIONS instead of a stop). */
static void start_child(struct sf_tracee *c, int unwatch)
{
	if (unwatch && ptrace(PTRACE_SETOPTIONS, c->tid, 0, (void *)sf_trace_opts))
		DBG("%d: PTRACE_SETOPTIONS: %s", c->tid, strerror(errno));
	if (c->parked)
		nparked--;
	c->parked = 0;
	c->attached = 1;
	resume(c, 0);
	maybe_prune();
}

static int creation_fits(pid_t tid, pid_t tgid, pid_t ppid, unsigned long flags, pid_t creator)
{
	if (flags & CLONE_THREAD)
		return tgid != tid && tgid == creator;
	return tgid == tid && (ppid == creator || (flags & CLONE_PARENT));
}

/* Could parked x be the child this creator's event is about? */
static int parked_fits(const struct sf_tracee *x, unsigned long flags, pid_t creator)
{
	return creation_fits(x->tid, x->pk_tgid, x->pk_ppid, flags, creator);
}

/* Is tracer-view tid `id` the new child of `creator` (from /proc), i.e. is
 * the event's id ours and not one of a nested PID namespace? */
static int id_is_ours(pid_t id, unsigned long flags, pid_t creator)
{
	pid_t tgid, ppid, nsid;
	if (id <= 0)
		return 0;
	status_ids(id, &tgid, &ppid, &nsid);
	if (!ppid && tgid == id)
		return 0; /* no such task (or no status): cannot be ours */
	return creation_fits(id, tgid, ppid, flags, creator);
}

static pid_t scan_creator;
static unsigned long scan_flags;
static struct sf_tracee *scan_found;

static void scan_parked(struct sf_tracee *x, void *arg)
{
	(void)arg;
	if (!scan_found && x->parked && parked_fits(x, scan_flags, scan_creator))
		scan_found = x;
}

static void on_new_child_event(struct sf_tracee *t, int event)
{
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg);
	unsigned long flags = clone_flags(t, event);
	pid_t id = (pid_t)msg;
	pid_t creator = t->proc->tgid;
	if (flags & CLONE_THREAD)
		t->proc->threaded = 1; /* now, not when the thread is linked */
	/* decided now: CLONE_PARENT names the creator's parent, which may be gone
	 * by the time the child's first stop links it */
	pid_t iparent = reaper_intended_parent(creator, flags);
	if (t->tramp_slot >= 0)
		tramp_release(t);
	batch_write(t); /* its calls' records come before this one */
	rec_fork(t->tid, id, flags);
	DBG("%d: new child %d flags %#lx", t->tid, id, flags);
	struct sf_tracee *c = tr_find(id);
	int local = 0, exact = ids_exact(t->proc);
	/* A parked child that stopped before this event? Exact ids name it; in
	 * gVisor otherwise the tracee with that tid must also fit the creator. */
	if (c && c->parked && (exact || parked_fits(c, flags, creator))) {
		link_child(c, flags, t->proc, t->mm, iparent);
		start_child(c, t->exit_watched);
		return;
	}
	if (!exact) {
		/* gVisor: a tracee with that tid that is not this new child, or a
		 * tid that is not the creator's child: the id is the creator's
		 * namespace's. Match a parked child by its creator instead. */
		local = c ? 1 : !id_is_ours(id, flags, creator);
		if (local) {
			scan_flags = flags;
			scan_creator = creator;
			scan_found = NULL;
			tr_foreach(scan_parked, NULL);
			if (scan_found) {
				DBG("%d: new child %d (namespace id) is %d", t->tid, id,
				    scan_found->tid);
				link_child(scan_found, flags, t->proc, t->mm, iparent);
				start_child(scan_found, t->exit_watched);
				return;
			}
		}
	}
	struct creation *cr = calloc(1, sizeof(*cr));
	if (!cr)
		abort();
	if (local)
		DBG("%d: new child %d: a namespace id, child not seen yet", t->tid, id);
	cr->id = id;
	cr->local = local;
	cr->exact = exact;
	cr->flags = flags;
	cr->proc = t->proc;
	t->proc->refs++;
	cr->mm = mm_get(t->mm);
	cr->creator_tgid = creator;
	cr->iparent = iparent;
	cr->unwatch = t->exit_watched;
	cr->next = creations;
	creations = cr;
}

static void creation_free(struct creation **pp)
{
	struct creation *cr = *pp;
	*pp = cr->next;
	proc_put(cr->proc);
	mm_put(cr->mm);
	free(cr);
	maybe_prune();
}

/* First stop of a tid we do not know yet. */
static void on_unknown(struct sf_tracee *c)
{
	struct creation **hit = NULL;
	/* 1: the event named our tid */
	for (struct creation **pp = &creations; *pp && !hit; pp = &(*pp)->next)
		if (!(*pp)->local && (*pp)->id == c->tid)
			hit = pp;
	/* Exact ids: such a hit needs no /proc facts (one status read less per
	 * fork; the namespace id is read when first needed). */
	pid_t tgid = c->tid, ppid = 0, nsid = 0;
	if (!hit || !(*hit)->exact) {
		status_ids(c->tid, &tgid, &ppid, &nsid);
		c->ns_tid = nsid > 0 ? nsid : c->tid;
	}
	/* 2: gVisor: the oldest creation by our creator whose id is not ours: a
	 * namespace-local one, or one whose tid is no live child of that creator
	 * (the id only collided with some other task). */
	if (!hit && !have_nspid()) {
		for (struct creation **pp = &creations; *pp; pp = &(*pp)->next) {
			struct creation *cr = *pp;
			if (creation_fits(c->tid, tgid, ppid, cr->flags, cr->creator_tgid) &&
			    (cr->local || !id_is_ours(cr->id, cr->flags, cr->creator_tgid)))
				hit = pp; /* keep scanning: the list is newest first */
		}
	}
	if (hit) {
		DBG("%d: child of %d's event %d%s", c->tid, (*hit)->creator_tgid, (*hit)->id,
		    (*hit)->local ? " (namespace id)" : "");
		link_child(c, (*hit)->flags, (*hit)->proc, (*hit)->mm, (*hit)->iparent);
		int unwatch = (*hit)->unwatch;
		creation_free(hit);
		start_child(c, unwatch);
		return;
	}
	c->parked = 1;
	c->pk_tgid = tgid;
	c->pk_ppid = ppid;
	nparked++;
	DBG("%d: parked until its creator's event (tgid %d ppid %d)", c->tid, tgid, ppid);
}

/* A parked child whose creator can no longer report: link it from /proc facts. */
static void unpark(struct sf_tracee *c, void *arg)
{
	int force = arg != NULL;
	if (!c->parked)
		return;
	pid_t tgid, ppid, nsid;
	status_ids(c->tid, &tgid, &ppid, &nsid);
	struct sf_tracee *p = tr_find(tgid != c->tid ? tgid : ppid);
	if (p && !p->parked && !force)
		return; /* the creator is alive: its event will come */
	unsigned long fl = tgid != c->tid ? (CLONE_THREAD | CLONE_VM) : 0;
	DBG("%d: unparked (creator %d %s)", c->tid, p ? p->tid : 0, p ? "parked" : "gone");
	link_child(c, fl, p ? p->proc : NULL, p ? p->mm : NULL, p ? p->proc->tgid : 0);
	if (!(fl & CLONE_THREAD)) { /* its flags are a guess */
		c->proc->hostview = 0;
		c->proc->pidns_ours = 0;
		c->proc->filtered = 1;
		c->proc->netlink = 1;
	}
	start_child(c, 0);
}

static void del_tracee(struct sf_tracee *t, void *arg)
{
	(void)arg;
	tr_del(t);
}

/* ---- exec ---- */
static void on_exec(struct sf_tracee *t)
{
	unsigned long former = 0;
	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former);
	if ((pid_t)former != t->tid) {
		/* A non-leader thread exec'd and took over the leader's tid. */
		struct sf_tracee *o = tr_find((pid_t)former);
		DBG("%d: exec by former tid %d (%s)", t->tid, (int)former, o ? "known" : "unknown");
		/* only a thread of this process (an id of another PID namespace
		 * must not drop an unrelated tracee) */
		if (o && o != t && o->proc == t->proc) {
			t->await = o->await;
			t->pf = o->pf;
			t->srule = o->srule;
			t->saved = o->saved;
			t->in_syscall = o->in_syscall;
			tr_del(o);
		}
	}
	if (t->await != AW_NONE)
		t->exec_seen = 1;
	t->in_syscall = 1; /* the execve exit stop comes next */
	if (t->slot >= 0) {
		mm_slot_free(t->mm, t->slot);
		t->slot = -1;
	}
	tramp_drop(t);
	tr_injection_lost(t);
	mm_put(t->mm);
	t->mm = mm_new();
	t->proc->exe_known = 0;
	t->cred = 0; /* set-id bits, file capabilities, LSM transitions */
	rec_exec(t, (pid_t)former);
}

/* ---- leftovers after the command exited ---- */
static void send_sig(struct sf_tracee *t, void *arg)
{
	int sig = (int)(long)arg;
	if (t->proc && t->proc->tgid == t->tid) {
		kill(t->tid, sig);
		if (sig == SIGTERM)
			kill(t->tid, SIGCONT);
	} else if (sig == SIGKILL) {
		kill(t->tid, SIGKILL);
	}
}


/* ---- delay rules: tracees parked at their seccomp stop until a deadline ---- */
static long long next_due;

static void due_scan(struct sf_tracee *t, void *arg)
{
	long long now = *(long long *)arg;
	if (!t->delay_until_us)
		return;
	if (t->delay_until_us <= now) {
		t->delay_until_us = 0;
		ndelayed--;
		resume(t, 0);
	} else if (!next_due || t->delay_until_us < next_due) {
		next_due = t->delay_until_us;
	}
}

static void resume_due(void)
{
	long long now = sf_now_us();
	next_due = 0;
	tr_foreach(due_scan, &now);
}

/* Wake waitpid with EINTR at `when` (monotonic us); 0: no timer. */
static long long timer_at; /* what ITIMER_REAL is set for; 0: off, -1: unknown */

static void arm_until(long long when)
{
	if (alarm_fired) {
		alarm_fired = 0;
		timer_at = -1; /* it went off: set it again */
	}
	if (when == timer_at)
		return; /* a setitimer at every stop cost about a tenth of the stop */
	timer_at = when;
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	if (when) {
		long long us = when - sf_now_us();
		if (us < 1)
			us = 1;
		it.it_value.tv_sec = us / 1000000;
		it.it_value.tv_usec = us % 1000000;
		if (!it.it_value.tv_sec && !it.it_value.tv_usec)
			it.it_value.tv_usec = 1;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

void loop_resume(struct sf_tracee *t, int sig)
{
	resume(t, sig);
}

/* ---- tracees waiting for a scratch slot of their mm ---- */
static int nslotwait;

void slot_wait_add(struct sf_tracee *t)
{
	t->slot_waiting = 1;
	nslotwait++;
}

static void slot_wake(struct sf_tracee *t, void *arg)
{
	(void)arg;
	if (t->slot_waiting && mm_slot_ready(t->mm)) {
		t->slot_waiting = 0;
		nslotwait--;
		resume(t, 0);
	}
}

/* ---- one stop ---- */
static void on_stop(struct sf_tracee *t, int status)
{
	int sig = WSTOPSIG(status);
	int ev = status >> 16;
	if (ev == PTRACE_EVENT_SECCOMP) {
		t->attached = 1;
		sf_at_seccomp = 1;
		if (sc_enter(t))
			t->await = (sf_mech & SF_MECH_SECCOMP_OLD_ORDER) ? AW_ENTER : AW_EXIT;
		if (t->slot_waiting)
			return; /* resumed when its mm frees a scratch slot */
		if (t->delay_until_us) {
			ndelayed++; /* a delay rule: resumed by the loop when due */
			return;
		}
		resume(t, 0);
		return;
	}
	if (sig == (SIGTRAP | 0x80)) {
		t->attached = 1;
		if (!use_seccomp) {
			sf_regs r;
			if (ptrace(PTRACE_GETREGS, t->tid, 0, &r)) {
				resume(t, 0);
				return;
			}
			int entry;
			unsigned char info[128];
			if ((sf_mech & SF_MECH_SYSCALL_INFO) &&
			    ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), info) > 0)
				entry = info[0] == PTRACE_SYSCALL_INFO_ENTRY;
			else if (t->in_syscall < 0)
				entry = (long)r.rax == -ENOSYS;
			else
				entry = !t->in_syscall;
			if (entry) {
				t->in_syscall = 1;
				sf_at_seccomp = 0;
				if (seccomp_trapped((long)r.orig_rax) && sc_enter(t))
					t->await = AW_EXIT;
				if (t->delay_until_us) {
					ndelayed++;
					return;
				}
			} else {
				t->in_syscall = 0;
				if (t->await == AW_EXIT) {
					t->await = AW_NONE;
					sc_exit(t);
					if (t->wait_parked || t->slot_waiting)
						return;
				}
			}
		} else if (t->await == AW_ENTER) {
			t->await = AW_EXIT;
		} else if (t->await == AW_EXIT) {
			t->await = AW_NONE;
			sc_exit(t);
			if (t->wait_parked || t->slot_waiting)
				return; /* the reaper, or a freed slot, resumes it */
		}
		resume(t, 0);
		return;
	}
	switch (ev) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		on_new_child_event(t, ev);
		resume(t, 0);
		return;
	case PTRACE_EVENT_EXEC:
		on_exec(t);
		resume(t, 0);
		return;
	case PTRACE_EVENT_EXIT:
		DBG("%d: exit stop", t->tid);
		if (t->tramp_slot >= 0)
			tramp_exit(t);
		batch_write(t); /* while the address space is there */
		resume(t, 0);
		return;
	case PTRACE_EVENT_STOP:
		if (t->attached && (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
				    sig == SIGTTOU)) {
			/* group-stop: stay stopped but let SIGCONT through */
			t->group_stop = 1;
			ptrace(PTRACE_LISTEN, t->tid, 0, 0);
			return;
		}
		t->group_stop = 0;
		t->attached = 1;
		resume(t, 0);
		return;
	case 0:
		break;
	default: /* VFORK_DONE */
		resume(t, 0);
		return;
	}
	if (!t->attached && sig == SIGSTOP) {
		t->attached = 1; /* initial stop of an auto-attached child */
		resume(t, 0);
		return;
	}
	t->attached = 1;
	if (t->tramp_slot >= 0 && tramp_fault(t, sig)) {
		resume(t, 0);
		return;
	}
	if (t->tramp_slot >= 0)
		tramp_signal(t); /* the handler must see the call's own registers */
	resume(t, sig); /* signal-delivery stop: deliver it */
}

static void write_held(struct sf_tracee *t, void *arg)
{
	(void)arg;
	batch_write(t);
}

/* One waitpid result; 1: the run is over. */
static int on_wait(pid_t w, int status, int term_sent, int kill_sent)
{
	struct sf_tracee *t = tr_find(w);
	mem_str_forget(); /* the tracee ran since */
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (t)
			batch_write(t); /* left by a thread that exited without its exit stop */
		if (t && t->proc && t->proc->tgid == w && t->proc->parent_tgid)
			sigwake_process(t->proc->parent_tgid); /* its SIGCHLD */
		rec_exit(w, status);
		if (t && t->delay_until_us) {
			t->delay_until_us = 0;
			ndelayed--;
		}
		if (!t || !t->proc || t->proc->tgid == w)
			reaper_on_exit(w, status);
		if (w == main_pid) {
			main_status = status;
			main_done = 1;
		}
		if (t) {
			if (t->parked)
				nparked--;
			if (t->slot_waiting)
				nslotwait--;
			tr_del(t);
		}
		if (nparked)
			tr_foreach(unpark, NULL);
		if (!t) /* died before its first stop: forget its creation */
			for (struct creation **pp = &creations; *pp; pp = &(*pp)->next)
				if (!(*pp)->local && (*pp)->id == w) {
					creation_free(pp);
					break;
				}
		return main_done && tr_count() == 0 && !creations;
	}
	if (!WIFSTOPPED(status))
		return 0;
	if (!t) {
		t = tr_new(w);
		on_unknown(t);
		if (term_sent) {
			kill(w, kill_sent ? SIGKILL : SIGTERM);
			sigwake_thread(w);
		}
		if (t->parked) {
			t->parked_sig = status;
			/* Nothing else can report its creation: link it now. */
			if (tr_count() == (size_t)nparked)
				tr_foreach(unpark, (void *)1);
		}
		return 0;
	}
	if (!t->parked)
		on_stop(t, status);
	return 0;
}

/* ---- spawn ---- */
static void child_exec(char *const argv[], char *const envp[], int go, int errfd,
		       const void *filter)
{
	/* The caller's ignored signals and mask; none of sysfake's handlers. */
	sf_caller_signals_apply();
	char c;
	if (read(go, &c, 1) != 1)
		_exit(126);
	int e = 0;
	if (filter && (e = (int)-seccomp_load(filter))) {
		if (write(errfd, &e, sizeof(e)) < 0)
			_exit(126);
		_exit(126);
	}
	execvpe(argv[0], argv, envp);
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(e == ENOENT ? 127 : 126);
}

static int run_err(char *err, size_t n, const char *fmt, const char *a, int e)
{
	snprintf(err, n, fmt, a, strerror(e));
	return -1;
}

/* Does the command inherit a netlink socket from us (socket activation,
 * say)? The fds are still ours here, so their family can be asked; an fd
 * that cannot say counts as one. */
static int inherits_netlink(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		int fd = atoi(de->d_name), dom = 0;
		socklen_t len = sizeof(dom);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d))
			continue;
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0)
			found = dom == AF_NETLINK;
		else
			found = errno != ENOTSOCK;
	}
	closedir(d);
	return found;
}

int sf_run(const unsigned char *table, size_t table_len, char *const argv[],
	   char *const envp[], const struct sf_options *opt, char *err, size_t errlen)
{
	struct sf_table tab;
	if (sf_table_parse(&tab, table, table_len, err, errlen))
		return -1;
	static int probed;
	static struct sf_probe_result pr;
	if (!probed) {
		sf_probe(&pr);
		probed = 1;
	}
	if (!pr.ok) {
		sf_table_free(&tab);
		snprintf(err, errlen, "cannot trace here: %s", pr.error);
		return -1;
	}
	sf_mech = pr.mech & ~opt->disable_mech;
	sf_verbose = opt->verbose;
	use_seccomp = (sf_mech & SF_MECH_SECCOMP) != 0;
	DBG("mechanisms %#x", sf_mech);
	sf_tab = &tab;
	seccomp_plan(&tab);
	reaper_reset();
	ndelayed = 0;
	if (opt->record_fd >= 0)
		rec_open(opt->record_fd);
	main_done = 0;
	alarm_fired = 0;
	timer_at = -1;
	drain_backoff = drain_skip = 0;
	kill_now = 0;
	int was_reaper = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &was_reaper);
	if (!was_reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);

	int go[2], ep[2];
	if (pipe2(go, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
		sf_table_free(&tab);
		return run_err(err, errlen, "%s%s", "pipe: ", errno);
	}
	const void *filter = use_seccomp ? seccomp_build() : NULL;
	if (use_seccomp && !filter) { /* more than BPF_MAXINSNS: not with seccomp_plan's budget */
		close(go[0]);
		close(go[1]);
		close(ep[0]);
		close(ep[1]);
		sf_table_free(&tab);
		return run_err(err, errlen, "%s%s", "the seccomp filter is too long: ", E2BIG);
	}
	sf_caller_signals_save(opt->sig_default);
	install_signals();
	pid_t pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(ep[0]);
		child_exec(argv, envp, go[0], ep[1], filter);
	}
	close(go[0]);
	close(ep[1]);
	int rc = -1;
	if (pid < 0) {
		run_err(err, errlen, "%s%s", "fork: ", errno);
		goto out;
	}
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
	if (use_seccomp)
		opts |= PTRACE_O_TRACESECCOMP;
	sf_trace_opts = opts;
	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)opts)) {
		run_err(err, errlen, "%s%s", "ptrace(PTRACE_SEIZE): ", errno);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	main_pid = pid;
	struct sf_tracee *t0 = tr_new(pid);
	t0->proc = proc_new(pid);
	t0->proc->hostview = 1; /* our child: our root and namespaces */
	t0->proc->pidns_ours = 1;
	t0->proc->netlink = (tab.emul & EM_NETLINK_ACK) && inherits_netlink();
	t0->mm = mm_new();
	t0->attached = 1;
	t0->in_syscall = -1; /* may be inside read() when interrupted */
	if (!use_seccomp)
		ptrace(PTRACE_INTERRUPT, pid, 0, 0); /* to start it with PTRACE_SYSCALL */
	if (write(go[1], "g", 1) != 1) {
		run_err(err, errlen, "%s%s", "pipe write: ", errno);
		kill(pid, SIGKILL);
	}
	close(go[1]);
	go[1] = -1;

	main_status = 0;
	int term_sent = 0, kill_sent = 0;
	long long grace_deadline = 0;
	for (;;) {
		if (main_done && !opt->orphans_wait && tr_count() > 0 && !term_sent) {
			term_sent = 1;
			tr_foreach(send_sig, (void *)(long)SIGTERM);
			sigwake_process(0); /* every tracee may hold the SIGTERM */
			grace_deadline = sf_now_us() + (long long)opt->grace_ms * 1000;
		}
		if (main_done && !kill_sent &&
		    (kill_now || (term_sent && sf_now_us() >= grace_deadline))) {
			kill_sent = 1;
			tr_foreach(send_sig, (void *)(long)SIGKILL);
		}
		next_due = 0;
		if (ndelayed)
			resume_due();
		long long wake = next_due;
		if (term_sent && !kill_sent && (!wake || grace_deadline < wake))
			wake = grace_deadline;
		arm_until(wake);
		/* Drain every ready stop before handling any: waitpid returns the
		 * newest tracees first, so one-at-a-time starves the oldest ones
		 * (a creator's clone event behind its busy threads). */
		int n = 0, status;
		pid_t w = waitpid(-1, &status, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			DBG("waitpid: %s (%zu tracees)", strerror(errno), tr_count());
			break; /* ECHILD: nothing left */
		}
		batch[n].w = w;
		batch[n++].status = status;
		/* A drain that finds nothing is one more waitpid per stop (a
		 * fork/exec loop: one tracee stops at a time), so after empty
		 * ones skip a few, up to 16, except while children are being
		 * linked (a new tid: its creator's event is likely ready too). */
		if (creations || nparked || !tr_find(w) ||
		    (tr_count() > 1 && drain_skip-- <= 0)) {
			while (n < SF_BATCH && (w = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
				batch[n].w = w;
				batch[n++].status = status;
			}
			drain_backoff = n > 1 ? 0 : drain_backoff ? 2 * drain_backoff : 1;
			if (drain_backoff > 16)
				drain_backoff = 16;
			drain_skip = drain_backoff;
		}
		/* Known tracees first: a creator's event then links its new
		 * children, whose first stops come later in the same batch. */
		int done = 0;
		for (int pass = 0; pass < 2 && !done; pass++)
			for (int i = 0; i < n && !done; i++) {
				if (!batch[i].w || (pass == 0 && !tr_find(batch[i].w)))
					continue;
				done = on_wait(batch[i].w, batch[i].status, term_sent, kill_sent);
				batch[i].w = 0;
			}
		if (nslotwait)
			tr_foreach(slot_wake, NULL);
		if (done)
			break;
	}
	DBG("loop ended: main %s, status %#x, %zu tracees", main_done ? "done" : "alive",
	    main_status, tr_count());
	tr_foreach(write_held, NULL); /* records of threads still there */
	rec_close();
	/* Reap anything left (untraced zombies reparented to us). */
	while (waitpid(-1, NULL, __WALL | WNOHANG) > 0)
		;
	int e = 0;
	ssize_t n = read(ep[0], &e, sizeof(e));
	if (n == (ssize_t)sizeof(e) && WIFEXITED(main_status) && WEXITSTATUS(main_status) >= 126) {
		fputs("sysfake: cannot run '", stderr);
		for (const unsigned char *c = (const unsigned char *)argv[0]; *c; c++)
			if (*c < 0x20 || *c == 0x7f) /* a newline in the name: still one line */
				fprintf(stderr, "\\x%02x", *c);
			else
				fputc(*c, stderr);
		fprintf(stderr, "': %s\n", strerror(e));
		fflush(stderr);
	}
	rc = main_status;
out:
	rec_close();
	{
		struct itimerval off;
		memset(&off, 0, sizeof(off));
		setitimer(ITIMER_REAL, &off, NULL);
	}
	restore_signals();
	if (go[1] >= 0)
		close(go[1]);
	close(ep[0]);
	while (creations)
		creation_free(&creations);
	tr_foreach(del_tracee, NULL);
	nparked = 0;
	nslotwait = 0;
	ndelayed = 0;
	reaper_reset();
	for (uint32_t i = 0; i < tab.nvfiles; i++)
		if (tab.vfiles[i].memfd >= 0)
			close(tab.vfiles[i].memfd);
	sf_table_free(&tab);
	sf_tab = NULL;
	main_pid = 0;
	if (!was_reaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	return rc;
}
