/* Reaper emulation for kernels (gVisor) that ignore CLONE_PARENT and
 * PR_SET_CHILD_SUBREAPER: each process has an intended parent; when the real
 * kernel gives its exit to someone else, the tracer queues the status for
 * the intended parent, sends it SIGCHLD and answers its wait4/waitid. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core.h"

struct exitq {
	pid_t pid;
	int status;
	struct exitq *next;
};

struct node {
	pid_t tgid;
	pid_t iparent;  /* intended parent, 0: none we emulate; dead: the heir */
	int emulated;   /* the kernel will not tell iparent about our exit */
	int subreaper;  /* asked for PR_SET_CHILD_SUBREAPER (emulated) */
	int dead;       /* exited; kept so a child linked late finds the heir */
	struct exitq *q;
	struct node *next;
};

static struct node *nodes;

static struct node *find(pid_t tgid)
{
	for (struct node *n = nodes; n; n = n->next)
		if (n->tgid == tgid)
			return n;
	return NULL;
}

static struct node *live(pid_t tgid)
{
	struct node *n = find(tgid);
	return n && !n->dead ? n : NULL;
}

static struct node *get(pid_t tgid)
{
	struct node *n = find(tgid);
	if (n && n->dead) {
		/* the tgid was reused by a new process */
		n->dead = 0;
		n->iparent = 0;
		n->emulated = 0;
		n->subreaper = 0;
	}
	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->tgid = tgid;
	n->next = nodes;
	nodes = n;
	return n;
}

static pid_t real_ppid(pid_t pid)
{
	char buf[2048];
	if (proc_status(pid, buf, sizeof(buf)) < 0)
		return 0;
	char *l = strstr(buf, "\nPPid:");
	return l ? (pid_t)atoi(l + 6) : 0;
}

void reaper_reset(void)
{
	while (nodes) {
		struct node *n = nodes;
		nodes = n->next;
		while (n->q) {
			struct exitq *q = n->q;
			n->q = q->next;
			free(q);
		}
		free(n);
	}
}

/* The parent a process that exited hands its children to (followed through
 * every exit so far); the process itself while it lives. */
static pid_t heir_of(pid_t tgid)
{
	struct node *n;
	for (int i = 0; i < 64 && tgid && (n = find(tgid)) && n->dead; i++)
		tgid = n->iparent;
	return tgid;
}

pid_t reaper_intended_parent(pid_t creator_tgid, unsigned long flags)
{
	if (!(sf_tab->emul & EM_REAPER) || (flags & CLONE_THREAD))
		return 0;
	if (flags & CLONE_PARENT) {
		struct node *cr = live(creator_tgid);
		return cr ? cr->iparent : 0;
	}
	return creator_tgid;
}

void reaper_on_link(pid_t child, pid_t creator_tgid, pid_t iparent, unsigned long flags)
{
	if (!(sf_tab->emul & EM_REAPER) || (flags & CLONE_THREAD))
		return;
	/* The intended parent (decided at the fork event) may have exited since:
	 * then the child is already an orphan of its heir (subreaper or none). */
	pid_t ip = heir_of(iparent);
	if (ip)
		get(ip); /* it will be told about our exit */
	struct node *n = get(child);
	n->iparent = ip;
	/* Linux honours CLONE_PARENT and subreapers; gVisor makes the caller the
	 * parent and gives orphans to its init: then our exit reports are needed. */
	n->emulated = ip && (ip != creator_tgid || (flags & CLONE_PARENT)) &&
		      real_ppid(child) != ip;
	if (n->emulated)
		DBG("reaper: %d's exit goes to %d (%s)", child, ip,
		    ip == iparent ? "CLONE_PARENT" : "orphan");
}

void reaper_prune(void)
{
	for (struct node **pp = &nodes; *pp;) {
		struct node *n = *pp;
		if (n->dead) {
			*pp = n->next;
			free(n);
		} else {
			pp = &n->next;
		}
	}
}

static void deliver(struct node *parent, pid_t pid, int status);

void reaper_on_exit(pid_t tgid, int status)
{
	struct node *n = live(tgid);
	if (!n)
		return;
	if (n->emulated && n->iparent) {
		struct node *p = live(n->iparent);
		if (p)
			deliver(p, tgid, status);
	}
	/* Orphans go to the nearest live ancestor that asked to be a subreaper. */
	pid_t heir = 0;
	for (struct node *a = live(n->iparent); a; a = live(a->iparent)) {
		if (a->subreaper) {
			heir = a->tgid;
			break;
		}
		if (!a->iparent || a->iparent == a->tgid)
			break;
	}
	for (struct node *c = nodes; c; c = c->next)
		if (!c->dead && c->iparent == tgid) {
			c->iparent = heir;
			c->emulated = heir != 0;
		}
	/* Keep n as a tombstone until no link is pending (reaper_prune): a child
	 * whose first stop comes after this exit still finds the heir. */
	n->dead = 1;
	n->iparent = heir;
	n->emulated = 0;
	n->subreaper = 0;
	while (n->q) {
		struct exitq *q = n->q;
		n->q = q->next;
		free(q);
	}
}

/* ---- wait4 / waitid ---- */

struct waitreq {
	int waitid;
	long idtype; /* waitid: P_ALL/P_PID/P_PGID; wait4: from pid */
	long id;
	long options;
};

static int matches(const struct waitreq *w, pid_t pid)
{
	if (w->idtype == P_PID)
		return w->id == pid;
	return 1; /* P_ALL, and process groups (not tracked): any child */
}

static void req_of(const sf_regs *r, int is_waitid, struct waitreq *w)
{
	w->waitid = is_waitid;
	if (is_waitid) {
		w->idtype = (long)(int)r->rdi;
		w->id = (long)(int)r->rsi;
		w->options = (long)(int)r->r10;
	} else {
		long pid = (long)(int)r->rdi;
		w->idtype = pid > 0 ? P_PID : P_ALL;
		w->id = pid;
		w->options = (long)(int)r->rdx;
	}
}

/* Answer a wait from the queue: fill the caller's buffers, return the result. */
static int answer(struct sf_tracee *t, struct node *n, const sf_regs *saved, long *ret)
{
	struct waitreq w;
	req_of(saved, saved->orig_rax == SYS_waitid, &w);
	for (struct exitq **pp = &n->q; *pp; pp = &(*pp)->next) {
		struct exitq *q = *pp;
		if (!matches(&w, q->pid))
			continue;
		if (w.waitid) {
			siginfo_t si;
			memset(&si, 0, sizeof(si));
			si.si_signo = SIGCHLD;
			si.si_pid = q->pid;
			if (WIFEXITED(q->status)) {
				si.si_code = CLD_EXITED;
				si.si_status = WEXITSTATUS(q->status);
			} else {
				si.si_code = WCOREDUMP(q->status) ? CLD_DUMPED : CLD_KILLED;
				si.si_status = WTERMSIG(q->status);
			}
			*ret = 0;
			if (saved->rdx && mem_write_user(t, saved->rdx, &si, sizeof(si)))
				*ret = -EFAULT;
		} else {
			*ret = q->pid;
			/* as kernel_wait4: the child is reaped all the same */
			if (saved->rsi && mem_write_user(t, saved->rsi, &q->status, sizeof(int)))
				*ret = -EFAULT;
			if (saved->r10) {
				struct rusage ru;
				memset(&ru, 0, sizeof(ru));
				if (mem_write_user(t, saved->r10, &ru, sizeof(ru)))
					*ret = -EFAULT;
			}
		}
		if (!(w.waitid && (w.options & WNOWAIT))) {
			*pp = q->next;
			free(q);
		}
		DBG("reaper: %d's wait answered: %ld", t->tid, *ret);
		return 1;
	}
	return 0;
}

static int has_live_child(struct node *n, const struct waitreq *w)
{
	for (struct node *c = nodes; c; c = c->next)
		if (c->iparent == n->tgid && c->emulated && matches(w, c->tgid))
			return 1;
	return 0;
}

struct parked_scan {
	struct node *n;
};

static void wake(struct sf_tracee *t, void *arg)
{
	struct parked_scan *s = arg;
	if (!t->wait_parked || t->proc->tgid != s->n->tgid)
		return;
	long ret;
	if (!answer(t, s->n, &t->saved, &ret))
		return;
	sf_regs r;
	if (sf_getregs(t, &r) == 0) {
		r.rax = (uint64_t)ret;
		sf_setregs(t, &r);
	}
	t->wait_parked = 0;
	loop_resume(t, 0);
}

static void deliver(struct node *p, pid_t pid, int status)
{
	struct exitq *q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	q->pid = pid;
	q->status = status;
	struct exitq **pp = &p->q;
	while (*pp)
		pp = &(*pp)->next;
	*pp = q;
	DBG("reaper: queued exit of %d for %d", pid, p->tgid);
	kill(p->tgid, SIGCHLD);
	sigwake_process(p->tgid);
	struct parked_scan s = { p };
	tr_foreach(wake, &s);
}

/* Can this process's wait need the reaper at its exit? Only if an exit is
 * queued for it, a child it is meant to have is one the kernel does not
 * show it, or a child is not linked yet (whose it is, is not known). A
 * relation made after this entry belongs to a clone or an exit the caller
 * cannot have seen yet (a clone returns only once the tracer has taken its
 * event); when such a child exits, deliver() sends SIGCHLD and the next
 * wait, or this one restarted, is decided again. So a shell's wait for its
 * own child costs no exit stop (in gVisor three a loop iteration). */
static int wait_may_need(pid_t tgid)
{
	struct node *n = live(tgid);
	if (!n)
		return 0; /* reaper_exit would change nothing */
	struct waitreq any = { .idtype = P_ALL };
	return n->q || loop_links_pending() || has_live_child(n, &any);
}

void reaper_enter(struct sf_tracee *t, struct sf_call *c)
{
	switch (c->nr) {
	case SYS_wait4:
	case SYS_waitid:
		if (!wait_may_need(t->proc->tgid))
			break;
		t->pf |= PF_EMUL;
		t->emul = c->nr == SYS_wait4 ? EMX_WAIT4 : EMX_WAITID;
		break;
	case SYS_prctl:
		if (sf_arg(&c->r, 0) == PR_SET_CHILD_SUBREAPER &&
		    !(sf_mech & SF_MECH_SUBREAPER))
			get(t->proc->tgid)->subreaper = sf_arg(&c->r, 1) != 0;
		break;
	default:
		break;
	}
}

long reaper_exit(struct sf_tracee *t, long ret, sf_regs *r)
{
	(void)r;
	if (t->emul != EMX_WAIT4 && t->emul != EMX_WAITID)
		return ret;
	struct node *n = live(t->proc->tgid);
	if (!n)
		return ret;
	struct waitreq w;
	req_of(&t->saved, t->emul == EMX_WAITID, &w);
	int nothing = ret == -ECHILD || (ret == 0 && (w.options & WNOHANG));
	if (!nothing)
		return ret;
	if (w.waitid && ret == 0 && (w.options & WNOHANG)) {
		/* waitid WNOHANG with nothing ready returns 0 with si_pid 0 */
		siginfo_t si;
		if (t->saved.rdx && mem_read(t, t->saved.rdx, &si, sizeof(si)) == sizeof(si) &&
		    si.si_pid != 0)
			return ret;
	}
	long nret;
	if (answer(t, n, &t->saved, &nret))
		return nret;
	if (ret == -ECHILD && !(w.options & WNOHANG) && has_live_child(n, &w)) {
		t->wait_parked = 1; /* resumed by deliver() */
		DBG("reaper: %d's blocking wait parked", t->tid);
	}
	return ret;
}
