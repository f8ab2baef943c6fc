/* Small helpers shared by the syscall handlers and the emulations. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>
#include "core.h"

int sf_getregs(struct sf_tracee *t, sf_regs *r)
{
	return (int)ptrace(PTRACE_GETREGS, t->tid, 0, r);
}

int sf_setregs(struct sf_tracee *t, const sf_regs *r)
{
	return (int)ptrace(PTRACE_SETREGS, t->tid, 0, (void *)r);
}

int sf_run_again(struct sf_tracee *t, const sf_regs *o)
{
	sf_regs r = *o;
	sf_rewind_syscall(&r, (long)o->orig_rax);
	return sf_setregs(t, &r);
}

/* A PTRACE_SETREGS checks and writes every register: 0.7 us on the host,
 * against 0.2 for a POKEUSER of one (by hand, 200k of each). So up to three
 * changed words go one by one; where each tracer syscall is dear (no
 * process_vm_writev: gVisor, 25 us a call), only one. */
int sf_setregs_from(struct sf_tracee *t, const sf_regs *r, const sf_regs *was)
{
	uint64_t a[sizeof(*r) / 8], b[sizeof(*r) / 8];
	size_t diff[3], n = 0, max = (sf_mech & SF_MECH_VM_WRITEV) ? 3 : 1;
	memcpy(a, r, sizeof(a));
	memcpy(b, was, sizeof(b));
	for (size_t i = 0; i < sizeof(a) / 8; i++) {
		if (a[i] == b[i])
			continue;
		if (n == max)
			return sf_setregs(t, r);
		diff[n++] = i;
	}
	for (size_t k = 0; k < n; k++)
		if (ptrace(PTRACE_POKEUSER, t->tid, (void *)SF_USER_REG_OFFSET(diff[k]),
			   (void *)a[diff[k]]))
			return -1;
	return 0;
}

long long sf_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int fd_path(struct sf_tracee *t, int fd, char *out, size_t outlen)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%d", t->tid, fd);
	ssize_t n = readlink(p, out, outlen - 1);
	if (n <= 0)
		return -1;
	out[n] = 0;
	if (out[0] != '/')
		return 0; /* pipe:[..], socket:[..], anon_inode:[..] */
	proc_root(t);
	size_t rn = strlen(t->proc->root);
	if (rn > 1 && !strncmp(out, t->proc->root, rn) && (out[rn] == '/' || out[rn] == 0)) {
		memmove(out, out + rn, (size_t)n - rn + 1);
		if (!out[0])
			strcpy(out, "/");
	}
	if (sf_tab->nvdirs && vdir_unmap(out, outlen))
		t->via_vdir = 1;
	unredirect(out, outlen);
	return 0;
}

void unredirect(char *path, size_t outlen)
{
	size_t n = strlen(path);
	for (uint32_t i = 0; i < sf_tab->nrules; i++) {
		const struct sf_rule *r = &sf_tab->rules[i];
		if (r->action != ACT_REDIRECT || r->kind != MK_PREFIX)
			continue;
		size_t tn = r->target.n;
		if (tn > 1 && r->target.p[tn - 1] == '/')
			tn--;
		if (n < tn || memcmp(path, r->target.p, tn) || (path[tn] != '/' && path[tn] != 0))
			continue;
		size_t bn = r->pattern.n - 1; /* source without the trailing '/' */
		if (bn + (n - tn) + 1 > outlen)
			return;
		memmove(path + bn, path + tn, n - tn + 1);
		memcpy(path, r->pattern.p, bn);
		if (!path[0])
			strcpy(path, "/");
		return;
	}
}
