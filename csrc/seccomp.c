/* The seccomp-bpf filter: SECCOMP_RET_TRACE for the syscalls the rules need,
 * SECCOMP_RET_ALLOW for everything else, as a binary search over numbers. */
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
static int nrs[MAXNR];
static int nnrs;

void seccomp_plan(const struct sf_table *t)
{
	memset(trapped, 0, sizeof(trapped));
	nnrs = 0;
	for (int nr = 0; nr < MAXNR; nr++)
		if (t->rec_nr[nr] && !trapped[nr]) {
			trapped[nr] = 1;
			nrs[nnrs++] = nr;
		}
	for (int nr = 0; nr < MAXNR; nr++)
		if (t->has_sysrule[nr] && !trapped[nr]) {
			trapped[nr] = 1;
			nrs[nnrs++] = nr;
		}
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
		if ((t->emul & emnr[i].em) && !trapped[emnr[i].nr]) {
			trapped[emnr[i].nr] = 1;
			nrs[nnrs++] = emnr[i].nr;
		}
	/* record mode: a thread's last call that returned through a trampoline
	 * is recorded at its next stop, so every thread stops before it exits */
	for (int k = 0; k < 2 && t->record && (sf_mech & SF_MECH_SET_RETURN); k++) {
		int nr = k ? SYS_exit_group : SYS_exit;
		if (!trapped[nr]) {
			trapped[nr] = 1;
			nrs[nnrs++] = nr;
		}
	}
	for (int k = 0; k < 2 && t->nvdirs; k++) { /* listings: both getdents */
		int nr = k ? SYS_getdents : SYS_getdents64;
		if (!trapped[nr]) {
			trapped[nr] = 1;
			nrs[nnrs++] = nr;
		}
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
		if (tracer_cred_syscall(nr) && !trapped[nr]) {
			trapped[nr] = 1;
			nrs[nnrs++] = nr;
		}
	for (const struct sf_sysent *e = sf_systab; e->nr >= 0; e++) {
		if ((e->flags & SF_NSCHANGE) && !t->nvfiles && !redirects)
			continue;
		if (e->nr < MAXNR && !trapped[e->nr]) {
			trapped[e->nr] = 1;
			nrs[nnrs++] = e->nr;
		}
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

/* Emit a decision tree for nrs[lo, hi): match -> TRACE, else ALLOW. */
static void tree(int lo, int hi)
{
	if (hi - lo <= 6) {
		int n = hi - lo;
		for (int i = 0; i < n; i++)
			emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[lo + i],
							  (unsigned char)(n - i), 0));
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE));
		return;
	}
	int mid = (lo + hi) / 2;
	int at = plen;
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)nrs[mid], 0, 0));
	tree(lo, mid);
	prog[at].jt = (unsigned char)(plen - at - 1);
	tree(mid, hi);
}

int seccomp_install(const struct sf_table *t)
{
	(void)t;
	plen = 0;
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	emit((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SF_AUDIT_ARCH, 1, 0));
	emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	emit((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	if (nnrs == 0)
		emit((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	else
		tree(0, nnrs);
	struct sock_fprog fp = { (unsigned short)plen, prog };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) == 0)
		return 0;
	if (errno != EACCES)
		return -1;
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs first. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
}
