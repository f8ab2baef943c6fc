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
