/* The seccomp-bpf filter: SECCOMP_RET_TRACE for the syscalls the rules need,
 * SECCOMP_RET_ALLOW for everything else, as a binary search over numbers.
 * A number only record mode wants can be traced only when one argument is
 * non-zero (table: rec_arg); a number only syscall rules want, each of which
 * names an argument's value (`args: {1: SIOCSIFFLAGS}`), only when one of
 * those values is there: the other calls (every other ioctl) never stop. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "core.h"

#define MAXNR SF_MAX_NR
#define EQCOND 0xff /* cond: traced only if one of eq[nr] holds */
#define NECOND 0xfe /* cond: traced unless one of eq[nr] holds (32-bit values) */
#define MAXEQ 8     /* values per number; more: every call is traced */
#define EQ_BUDGET 2048 /* filter instructions all value checks may take */
static unsigned char trapped[MAXNR];
static unsigned char cond[MAXNR]; /* traced only if argument cond-1 != 0 */
static struct eqcond {
	unsigned char n;
	struct { unsigned char arg, wide; uint64_t v; } e[MAXEQ];
} eq[MAXNR];
static int nrs[MAXNR];
static int nnrs;

/* Trap nr; if arg, only when argument arg-1 is non-zero, unless another
 * reason wants every call (or another condition: then every call too). */
static void add(int nr, unsigned arg)
{
	if (!trapped[nr]) {
		trapped[nr] = 1;
		cond[nr] = (unsigned char)arg;
		nrs[nnrs++] = nr;
	} else if (!arg || cond[nr] != arg) {
		cond[nr] = 0;
	}
}

/* Trap nr also when argument arg holds v (a syscall rule's `eq` matcher, or
 * what an emulation needs): only such calls, unless another reason wants
 * every call, or there are more than MAXEQ values. */
static void add_value(int nr, unsigned char arg, unsigned char wide, uint64_t v)
{
	if (!trapped[nr]) {
		add(nr, EQCOND);
		eq[nr].n = 0;
	} else if (cond[nr] != EQCOND) {
		cond[nr] = 0; /* every call already, or only on another condition */
		return;
	}
	for (int k = 0; k < eq[nr].n; k++)
		if (eq[nr].e[k].arg == arg && eq[nr].e[k].wide == wide && eq[nr].e[k].v == v)
			return;
	if (eq[nr].n == MAXEQ) {
		cond[nr] = 0;
		return;
	}
	eq[nr].e[eq[nr].n].arg = arg;
	eq[nr].e[eq[nr].n].wide = wide;
	eq[nr].e[eq[nr].n].v = v;
	eq[nr].n++;
}

/* Trap nr except when argument arg holds v (up to MAXEQ values of one
 * argument), unless another reason wants every call. */
static void add_except(int nr, unsigned char arg, uint32_t v)
{
	if (!trapped[nr]) {
		add(nr, NECOND);
		eq[nr].n = 0;
	} else if (cond[nr] != NECOND || eq[nr].n == MAXEQ || eq[nr].e[0].arg != arg) {
		cond[nr] = 0;
		return;
	}
	eq[nr].e[eq[nr].n].arg = arg;
	eq[nr].e[eq[nr].n].wide = 0;
	eq[nr].e[eq[nr].n].v = v;
	eq[nr].n++;
}

static int block_len(int nr)
{
	if (!cond[nr])
		return 0;
	if (cond[nr] == NECOND)
		return 2 * eq[nr].n + 2;
	if (cond[nr] != EQCOND)
		return 6;
	int len = 2;
	for (int k = 0; k < eq[nr].n; k++)
		len += eq[nr].e[k].wide ? 4 : 2;
	return len;
}

void seccomp_plan(const struct sf_table *t)
{
	memset(trapped, 0, sizeof(trapped));
	memset(cond, 0, sizeof(cond));
	nnrs = 0;
	for (int nr = 0; nr < MAXNR; nr++)
		if (t->rec_nr[nr])
			add(nr, t->rec_arg[nr]);
	/* each rule's first `eq` matcher; a rule without one may match any call */
	for (uint32_t i = 0; i < t->nsysrules; i++) {
		const struct sf_sysrule *sr = &t->sysrules[i];
		if (sr->nr >= MAXNR)
			continue;
		const struct sf_argm *m = NULL;
		for (int k = 0; k < 4 && !m; k++)
			if (sr->argm[k].idx < 6 && sr->argm[k].op == AM_EQ)
				m = &sr->argm[k];
		if (!m)
			add((int)sr->nr, 0);
		else if (m->width == 8)
			add_value((int)sr->nr, m->idx, 1, m->value);
		else
			add_value((int)sr->nr, m->idx, 0, m->value & 0xffffffffu);
	}
	int budget = EQ_BUDGET; /* a table of very many: keep the filter small */
	for (int i = 0; i < nnrs; i++)
		if (cond[nrs[i]] == EQCOND && (budget -= block_len(nrs[i])) < 0)
			cond[nrs[i]] = 0;
	static const struct { unsigned em; int nr; } emnr[] = {
		{ EM_PROCFD_MOUNT, SYS_mount }, { EM_PIVOT_CHROOT, SYS_pivot_root },
		{ EM_PIVOT_CHROOT, SYS_umount2 }, { EM_GLOBAL_UMOUNT, SYS_umount2 },
		{ EM_CAPSET_MASK, SYS_capset }, { EM_NETLINK_ACK, SYS_recvfrom },
		{ EM_NETLINK_ACK, SYS_recvmsg }, { EM_REAPER, SYS_wait4 }, { EM_REAPER, SYS_waitid },
		{ EM_CGROUPFS, SYS_mkdir }, { EM_CGROUPFS, SYS_mkdirat },
		{ EM_CGROUPFS, SYS_rmdir }, { EM_CGROUPFS, SYS_unlinkat }, { EM_CGROUPFS, SYS_open },
		{ EM_CGROUPFS, SYS_openat },
	};
	for (size_t i = 0; i < sizeof(emnr) / sizeof(emnr[0]); i++)
		if (t->emul & emnr[i].em)
			add(emnr[i].nr, 0);
	/* the reaper remembers PR_SET_CHILD_SUBREAPER; no other prctl (runc
	 * makes some forty dropping capabilities) need stop for it */
	if (t->emul & EM_REAPER)
		add_value(SYS_prctl, 0, 0, PR_SET_CHILD_SUBREAPER);
	/* netlink-ack: a receive stops at its exit only in a process that may
	 * hold a netlink socket; these calls tell which (emul.c) */
	if (t->emul & EM_NETLINK_ACK) {
		add_value(SYS_socket, 0, 0, AF_NETLINK);
		add(SYS_pidfd_getfd, 0);
	}
	/* a filter of the tracee's own also meets SF_NR_ERRNO: see who has one */
	if (sf_mech & SF_MECH_ERRNO_NR) {
		add_value(SYS_seccomp, 0, 0, SECCOMP_SET_MODE_FILTER);
		add_value(SYS_prctl, 0, 0, PR_SET_SECCOMP);
	}
	/* gVisor: whoever sends a signal, so its receivers are woken (sig_wake.c),
	 * but not the signals it does not follow */
	for (int nr = 0; nr < MAXNR; nr++) {
		int arg = sigwake_sigarg(nr);
		for (int k = 0; arg >= 0 && k < SIGWAKE_NUNFOLLOWED; k++)
			add_except(nr, (unsigned char)arg, (uint32_t)sigwake_unfollowed[k]);
	}
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
	/* ...and loop.c (fork ids without NSpid) must see unshare and setns */
	int nschange = t->nvfiles || redirects || !(sf_mech & SF_MECH_NSPID);
	for (const struct sf_sysent *e = sf_systab; e->nr >= 0; e++) {
		if ((e->flags & SF_NSCHANGE) && !nschange)
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

/* not only calls with some argument values */
static int traps_every(long nr)
{
	return seccomp_trapped(nr) && !cond[nr];
}

int seccomp_is_filter_install(long nr, uint64_t arg0)
{
	return (nr == SYS_seccomp && (unsigned)arg0 == SECCOMP_SET_MODE_FILTER) ||
	       (nr == SYS_prctl && (unsigned)arg0 == PR_SET_SECCOMP);
}

int seccomp_sees_nschange(void)
{
	return traps_every(SYS_unshare) && traps_every(SYS_setns);
}

static struct sock_filter prog[BPF_MAXINSNS];
static int plen;
static int long_jumps, overflow; /* internal nodes jump with JA (see tree) */

static void emit(struct sock_filter f)
{
	if (plen < BPF_MAXINSNS)
		prog[plen] = f;
	plen++; /* counted past the end: seccomp_build refuses the filter */
}

/* NECOND: any value jumps to ALLOW, else TRACE */
static void emit_except(int nr)
{
	int allow_at = plen + block_len(nr) - 1;
	for (int k = 0; k < eq[nr].n; k++) {
		unsigned off = (unsigned)offsetof(struct seccomp_data, args) + 8u * eq[nr].e[k].arg;
		emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off));
		emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)eq[nr].e[k].v,
						  (unsigned char)(allow_at - plen - 1), 0));
	}
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
}

static void emit_values(int nr)
{
	/* each value: load its argument's low half, compare; a 64-bit one
	 * also the high half; any match jumps to the block's TRACE */
	int trace_at = plen + block_len(nr) - 1;
	for (int k = 0; k < eq[nr].n; k++) {
		unsigned off = (unsigned)offsetof(struct seccomp_data, args) + 8u * eq[nr].e[k].arg;
		uint64_t v = eq[nr].e[k].v;
		emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off));
		if (eq[nr].e[k].wide) {
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							  (unsigned)(v & 0xffffffffu), 0, 2));
			emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off + 4));
			v >>= 32;
		}
		emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)v,
						  (unsigned char)(trace_at - plen - 1), 0));
	}
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
}

/* Emit a decision tree for nrs[lo, hi): match -> TRACE (or, for a number
 * with a cond, TRACE if that argument is non-zero, or holds one of the
 * values), else ALLOW. A leaf's jumps stay below 256 (6 numbers, blocks of
 * at most 2 + 4 * MAXEQ); an internal node's may not: then it jumps with a
 * JA (32-bit offset) and the tree is built again that way. */
static void tree(int lo, int hi)
{
	if (hi - lo <= 6) {
		int n = hi - lo, blocks = 0;
		for (int i = 0; i < n; i++) {
			int nr = nrs[lo + i];
			/* the leaf's RET TRACE is at n + 1; cond blocks follow it */
			int to = cond[nr] ? n + 2 + blocks : n + 1;
			blocks += block_len(nr);
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr,
							  (unsigned char)(to - i - 1), 0));
		}
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
		for (int i = 0; i < n; i++) {
			int nr = nrs[lo + i];
			if (cond[nr] == EQCOND) {
				emit_values(nr);
				continue;
			}
			if (cond[nr] == NECOND) {
				emit_except(nr);
				continue;
			}
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
	if (long_jumps) {
		/* >= : skip nothing and take the JA; < : jump over it */
		emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)nrs[mid], 0, 1));
		emit((struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0));
		tree(lo, mid);
		if (at + 1 < BPF_MAXINSNS)
			prog[at + 1].k = (unsigned)(plen - at - 2);
	} else {
		emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)nrs[mid], 0, 0));
		tree(lo, mid);
		if (plen - at - 1 > 255)
			overflow = 1;
		else if (at < BPF_MAXINSNS)
			prog[at].jt = (unsigned char)(plen - at - 1);
	}
	tree(mid, hi);
}

static struct sock_fprog fprog;

const void *seccomp_build(void)
{
	long_jumps = 0;
again:
	plen = 0;
	overflow = 0;
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SF_AUDIT_ARCH, 1, 0));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	if (sf_mech & SF_MECH_ERRNO_NR) {
		static const struct sock_filter errno_nr[] = { SF_ERRNO_NR_BLOCK };
		for (size_t i = 0; i < sizeof(errno_nr) / sizeof(errno_nr[0]); i++)
			emit(errno_nr[i]);
	}
	if (nnrs == 0)
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	else
		tree(0, nnrs);
	if (overflow && !long_jumps) {
		long_jumps = 1;
		goto again;
	}
	if (plen > BPF_MAXINSNS)
		return NULL;
	DBG("seccomp filter: %d numbers, %d instructions%s", nnrs, plen,
	    long_jumps ? ", splits with JA" : "");
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
