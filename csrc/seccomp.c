/* The seccomp-bpf filter: SECCOMP_RET_TRACE for the syscalls the rules need,
 * SECCOMP_RET_ALLOW for everything else, as a binary search over numbers.
 * A number only record mode wants can be traced only when one argument is
 * non-zero (table: rec_arg). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "core.h"

#define MAXNR SF_MAX_NR
static unsigned char trapped[MAXNR];
static unsigned char cond[MAXNR]; /* traced only if argument cond-1 != 0 */
static int nrs[MAXNR];
static int nnrs;

/* Trap nr; if arg, only when argument arg-1 is non-zero, unless another
 * reason wants every call. */
static void add(int nr, unsigned arg)
{
	if (!trapped[nr]) {
		trapped[nr] = 1;
		cond[nr] = (unsigned char)arg;
		nrs[nnrs++] = nr;
	} else if (!arg) {
		cond[nr] = 0;
	}
}

void seccomp_plan(const struct sf_table *t)
{
	memset(trapped, 0, sizeof(trapped));
	memset(cond, 0, sizeof(cond));
	nnrs = 0;
	for (int nr = 0; nr < MAXNR; nr++)
		if (t->rec_nr[nr])
			add(nr, t->rec_arg[nr]);
	for (int nr = 0; nr < MAXNR; nr++)
		if (t->has_sysrule[nr])
			add(nr, 0);
	static const struct { unsigned em; int nr; } emnr[] = {
		{ EM_PROCFD_MOUNT, SYS_mount }, { EM_PIVOT_CHROOT, SYS_pivot_root },
		{ EM_PIVOT_CHROOT, SYS_umount2 }, { EM_GLOBAL_UMOUNT, SYS_umount2 },
		{ EM_CAPSET_MASK, SYS_capset }, { EM_NETLINK_ACK, SYS_recvfrom },
		{ EM_NETLINK_ACK, SYS_recvmsg }, { EM_REAPER, SYS_wait4 }, { EM_REAPER, SYS_waitid },
		{ EM_REAPER, SYS_prctl }, { EM_CGROUPFS, SYS_mkdir }, { EM_CGROUPFS, SYS_mkdirat },
		{ EM_CGROUPFS, SYS_rmdir }, { EM_CGROUPFS, SYS_unlinkat }, { EM_CGROUPFS, SYS_open },
		{ EM_CGROUPFS, SYS_openat },
	};
	for (size_t i = 0; i < sizeof(emnr) / sizeof(emnr[0]); i++)
		if (t->emul & emnr[i].em)
			add(emnr[i].nr, 0);
	if (t->nvdirs) { /* listings: both getdents */
		add(SYS_getdents64, 0);
		add(SYS_getdents, 0);
	}
	if (!t->nrules && !t->nwatch)
		goto sort;
	/* tracer_stat.c must see credential and namespace changes */
	int redirects = 0;
	for (uint32_t i = 0; i < t->nrules; i++)
		redirects |= t->rules[i].action == ACT_REDIRECT;
	redirects &= (sf_mech & SF_MECH_TRACER_STAT) != 0;
	/* ...and so must tramp.c, to open virtual files in one stop */
	int creds = redirects || (t->nvfiles && (sf_mech & SF_MECH_SET_RETURN));
	for (int nr = 0; creds && nr < MAXNR; nr++)
		if (tracer_cred_syscall(nr))
			add(nr, 0);
	for (const struct sf_sysent *e = sf_systab; e->nr >= 0; e++) {
		if ((e->flags & SF_NSCHANGE) && !t->nvfiles && !redirects)
			continue;
		if (e->nr < MAXNR)
			add(e->nr, 0);
	}
sort:
	/* sorted for the binary search */
	for (int i = 1; i < nnrs; i++)
		for (int j = i; j > 0 && nrs[j - 1] > nrs[j]; j--) {
			int x = nrs[j];
			nrs[j] = nrs[j - 1];
			nrs[j - 1] = x;
		}
}

int seccomp_trapped(long nr)
{
	return nr >= 0 && nr < MAXNR && trapped[nr];
}

static struct sock_filter prog[1024];
static int plen;

static void emit(struct sock_filter f) { prog[plen++] = f; }

/* Emit a decision tree for nrs[lo, hi): match -> TRACE (or, for a number
 * with a cond, TRACE if that argument is non-zero), else ALLOW. */
static void tree(int lo, int hi)
{
	if (hi - lo <= 6) {
		int n = hi - lo, blocks = 0;
		for (int i = 0; i < n; i++) {
			int nr = nrs[lo + i];
			/* the leaf's RET TRACE is at n + 1; cond blocks (6 each) follow it */
			int to = cond[nr] ? n + 2 + 6 * blocks++ : n + 1;
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr,
							  (unsigned char)(to - i - 1), 0));
		}
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
		for (int i = 0; i < n; i++) {
			int nr = nrs[lo + i];
			if (!cond[nr])
				continue;
			unsigned arg = (unsigned)offsetof(struct seccomp_data, args) + 8u * (cond[nr] - 1u);
			emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg)); /* low half */
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3));
			emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg + 4));
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1));
			emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
		}
		return;
	}
	int mid = (lo + hi) / 2;
	int at = plen;
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)nrs[mid], 0, 0));
	tree(lo, mid);
	prog[at].jt = (unsigned char)(plen - at - 1);
	tree(mid, hi);
}

static struct sock_fprog fprog;

const void *seccomp_build(void)
{
	plen = 0;
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SF_AUDIT_ARCH, 1, 0));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	if (nnrs == 0)
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	else
		tree(0, nnrs);
	fprog.len = (unsigned short)plen;
	fprog.filter = prog;
	return &fprog;
}

SF_CHILD long seccomp_load(const void *fp)
{
	long e = sf_raw(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)fp, 0);
	if (e != -EACCES)
		return e;
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs first. */
	e = sf_raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0);
	return e ? e : sf_raw(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (long)fp, 0);
}
