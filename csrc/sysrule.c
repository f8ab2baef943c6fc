/* Syscall rules: match a call on its number, arguments, path and process,
 * then fail it, answer it, patch its result, rewrite its arguments or delay it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "core.h"

static int argm_ok(const struct sf_argm *m, const sf_regs *r)
{
	uint64_t v = sf_arg(r, m->idx);
	uint64_t want = m->value, mask = m->mask;
	if (m->width == 4) {
		v &= 0xffffffffu;
		want &= 0xffffffffu;
		mask &= 0xffffffffu;
	}
	switch (m->op) {
	case AM_EQ: return v == want;
	case AM_NE: return v != want;
	case AM_ANY: return (v & mask) != 0;
	case AM_ALL: return (v & mask) == mask;
	case AM_NONE: return (v & mask) == 0;
	default: return 0;
	}
}

static int strglob(const struct sf_str *pat, const char *s)
{
	char buf[SF_PATH_MAX];
	if (pat->n >= sizeof(buf))
		return 0;
	memcpy(buf, pat->p, pat->n);
	buf[pat->n] = 0;
	return fnmatch(buf, s, 0) == 0;
}

static int path_ok(const struct sf_sysrule *sr, const char *path)
{
	size_t n = strlen(path), pn = sr->path.n;
	const char *p = sr->path.p;
	switch (sr->path_kind) {
	case MK_EXACT:
		return n == pn && !memcmp(p, path, n);
	case MK_PREFIX:
		if (pn == 1)
			return 1;
		return (n == pn - 1 && !memcmp(p, path, n)) || (n >= pn && !memcmp(p, path, pn));
	default:
		return sf_glob_match(p, pn, path, n);
	}
}

/* The path a rule looks at: a path argument (resolved) or the file behind an fd. */
static int rule_path(struct sf_tracee *t, struct sf_call *c, const struct sf_sysrule *sr,
		     char *out, size_t outlen)
{
	uint64_t a = sf_arg(&c->orig, sr->path_arg);
	if (sr->path_fd)
		return fd_path(t, (int)a, out, outlen);
	/* a path argument: reuse what the path-rule pass resolved when it is the same */
	if (c->e) {
		for (int i = 0; i < 2; i++)
			if (c->e->path[i] == sr->path_arg && c->canon_ok[i]) {
				snprintf(out, outlen, "%s", c->canon[i]);
				return 0;
			}
	}
	char raw[SF_PATH_MAX];
	if (!a || mem_read_str(t, a, raw, sizeof(raw)) < 0)
		return -1;
	int dirfd = AT_FDCWD;
	if (c->e)
		for (int i = 0; i < 2; i++)
			if (c->e->path[i] == sr->path_arg && c->e->dfd[i] >= 0)
				dirfd = (int)sf_arg(&c->orig, c->e->dfd[i]);
	return path_resolve(t, dirfd, raw, out, outlen);
}

static int only_ok(struct sf_tracee *t, const struct sf_sysrule *sr)
{
	if (sr->only_exe.n) {
		char l[64], exe[SF_PATH_MAX];
		snprintf(l, sizeof(l), "/proc/%d/exe", t->tid);
		ssize_t n = readlink(l, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		if (!strglob(&sr->only_exe, exe))
			return 0;
	}
	if (sr->only_comm.n) {
		char l[64], comm[64] = "";
		snprintf(l, sizeof(l), "/proc/%d/comm", t->tid);
		FILE *f = fopen(l, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = 0;
		if (!strglob(&sr->only_comm, comm))
			return 0;
	}
	return 1;
}

static int when_ok(struct sf_tracee *t, struct sf_sysrule *sr)
{
	uint64_t n = ++sr->count;
	if (t->ncounted < (int)(sizeof(t->counted) / sizeof(t->counted[0])))
		t->counted[t->ncounted++] = sr;
	uint64_t first = sr->when_first ? sr->when_first : 1;
	uint64_t step = sr->when_step ? sr->when_step : 1;
	if (n < first)
		return 0;
	if (sr->when_last && n > sr->when_last)
		return 0;
	return (n - first) % step == 0;
}

int sysrule_write_patches(struct sf_tracee *t, const struct sf_sysrule *sr, const sf_regs *r)
{
	for (uint32_t i = 0; i < sr->patch_count; i++) {
		const struct sf_patch *p = &sf_tab->patches[sr->patch_first + i];
		uint64_t base = sf_arg(r, p->arg);
		if (!base || mem_write_user(t, base + p->offset, p->data.p, p->data.n))
			return -EFAULT;
	}
	return 0;
}

static void apply_asets(const struct sf_sysrule *sr, sf_regs *r)
{
	for (uint32_t i = 0; i < sr->aset_count; i++) {
		const struct sf_aset *a = &sf_tab->asets[sr->aset_first + i];
		uint64_t v = sf_arg(r, a->idx);
		switch (a->op) {
		case AS_SET: v = a->value; break;
		case AS_OR: v |= a->value; break;
		default: v &= ~a->value; break;
		}
		sf_set_arg(r, a->idx, v);
	}
}

void sysrule_uncount(struct sf_tracee *t)
{
	for (int i = 0; i < t->ncounted; i++)
		t->counted[i]->count--;
	t->ncounted = 0;
}

void sysrule_enter(struct sf_tracee *t, struct sf_call *c)
{
	if (c->nr < 0 || c->nr >= SF_MAX_NR || !sf_tab->has_sysrule[c->nr])
		return;
	char path[SF_CANON_MAX];
	for (uint32_t i = 0; i < sf_tab->nsysrules; i++) {
		struct sf_sysrule *sr = &sf_tab->sysrules[i];
		if ((long)sr->nr != c->nr)
			continue;
		int ok = 1;
		for (int k = 0; k < 4 && ok; k++)
			if (sr->argm[k].idx != 0xff)
				ok = argm_ok(&sr->argm[k], &c->orig);
		if (ok && sr->path.n)
			ok = rule_path(t, c, sr, path, sizeof(path)) == 0 && path_ok(sr, path);
		if (ok)
			ok = only_ok(t, sr);
		if (!ok || !when_ok(t, sr))
			continue;
		DBG("%d: syscall rule %u matches nr %ld", t->tid, sr->rule_id, c->nr);
		if (sr->delay_us)
			t->delay_until_us = sf_now_us() + sr->delay_us;
		if (sr->action == SA_PASS || sr->action == SA_DELAY)
			return;
		t->srule = sr;
		if (sr->if_errno[0]) {
			t->pf |= PF_FIXUP;
			return;
		}
		switch (sr->action) {
		case SA_ERRNO:
			c->skip = 1;
			c->ret = -sr->err;
			break;
		case SA_RETURN:
			c->skip = 1;
			c->ret = sr->retval;
			if (sr->patch_count && sysrule_write_patches(t, sr, &c->orig))
				c->ret = -EFAULT;
			break;
		case SA_PATCH:
			t->pf |= PF_PATCH;
			break;
		case SA_REWRITE:
			apply_asets(sr, &c->r);
			c->modified = 1;
			break;
		}
		return;
	}
}

long sysrule_exit(struct sf_tracee *t, long ret)
{
	const struct sf_sysrule *sr = t->srule;
	if (!sr)
		return ret;
	sf_regs r;
	if (t->pf & PF_FIXUP) {
		int hit = 0;
		for (int k = 0; k < 4 && sr->if_errno[k]; k++)
			hit |= ret == -sr->if_errno[k];
		if (!hit)
			return ret;
		if (sr->action == SA_ERRNO)
			return -sr->err;
		if (sr->action == SA_RETURN) {
			if (sr->patch_count && !sf_getregs(t, &r))
				sysrule_write_patches(t, sr, &t->saved);
			return sr->retval;
		}
		if (sr->action == SA_PATCH)
			return ret;
		return ret;
	}
	if ((t->pf & PF_PATCH) && ret >= 0)
		sysrule_write_patches(t, sr, &t->saved);
	return ret;
}
