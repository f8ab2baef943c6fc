/* cgroupfs semantics on the fake cgroup v1 tree that /sys/fs/cgroup is
 * redirected to: new directories are populated from a template, writes
 * replace a file's value, devices.list follows devices.allow/deny as the
 * kernel does, and rmdir removes a cgroup that holds only its files. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

static unsigned long long devseq;

/* Host path of a path argument when it lies in the fake tree, else -1. */
static int cg_path(struct sf_tracee *t, struct sf_call *c, int slot, char *host, size_t n)
{
	const struct sf_sysent *e = c->e;
	if (!e || e->path[slot] < 0 || !sf_tab->cg_root[0])
		return -1;
	char raw[SF_PATH_MAX], canon[SF_PATH_MAX];
	uint64_t a = sf_arg(&c->r, e->path[slot]);
	if (!a || mem_read_str(t, a, raw, sizeof(raw)) < 0)
		return -1;
	int dfd = e->dfd[slot] >= 0 ? (int)sf_arg(&c->r, e->dfd[slot]) : AT_FDCWD;
	if (path_resolve(t, dfd, raw, canon, sizeof(canon)))
		return -1;
	const struct sf_rule *r = sf_match(sf_tab, canon, NULL, NULL);
	if (r && r->action == ACT_REDIRECT) {
		if (sf_redirect(r, canon, host, n) < 0)
			return -1;
	} else {
		snprintf(host, n, "%s", canon); /* already a host path (relative to a fake dir) */
	}
	size_t rn = strlen(sf_tab->cg_root);
	if (strncmp(host, sf_tab->cg_root, rn) || (host[rn] != '/' && host[rn] != 0))
		return -1;
	return 0;
}

static void write_file(const char *path, const char *text, size_t n)
{
	int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0)
		return;
	size_t off = 0;
	ssize_t k;
	while (off < n && (k = write(out, text + off, n - off)) > 0)
		off += (size_t)k;
	close(out);
}

/* A new cgroup directory gets its controller's files, from the table (no
 * template directory to write and remove at every run: 47 files, about 20
 * ms inside gVisor). */
static void populate(const char *dir)
{
	size_t rn = strlen(sf_tab->cg_root);
	const char *rel = dir + rn + 1; /* "<ctrl>/..." */
	size_t k = strcspn(rel, "/");
	if (!rel[k])
		return;
	const char *p = sf_tab->cg_files.p, *end = p + sf_tab->cg_files.n;
	while (p < end) {
		const char *name = p, *text = name + strlen(name) + 1;
		if (text >= end)
			break;
		size_t tn = strlen(text);
		p = text + tn + 1;
		if (strncmp(name, rel, k + 1)) /* "<ctrl>/" */
			continue;
		char t[SF_PATH_MAX];
		if (snprintf(t, sizeof(t), "%s/%s", dir, name + k + 1) < (int)sizeof(t))
			write_file(t, text, tn);
	}
}

/* rmdir of a cgroup: the kernel's control files vanish with it. */
static void clear_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		char p[SF_PATH_MAX];
		struct stat st;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) < (int)sizeof(p) &&
		    !lstat(p, &st) && !S_ISDIR(st.st_mode))
			unlink(p);
	}
	closedir(d);
}

/* ---- the devices controller ---- */

struct dev_rule {
	char type; /* a, b, c */
	long major, minor; /* -1: '*' */
	char acc[4];
};

static int parse_dev(const char *s, struct dev_rule *r)
{
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (!*s)
		return -1;
	r->type = *s++;
	r->major = r->minor = -1;
	strcpy(r->acc, "rwm");
	if (r->type == 'a')
		return 0;
	if (r->type != 'b' && r->type != 'c')
		return -1;
	while (*s == ' ')
		s++;
	if (*s == '*')
		s++;
	else
		r->major = strtol(s, (char **)&s, 10);
	if (*s++ != ':')
		return -1;
	if (*s == '*')
		s++;
	else
		r->minor = strtol(s, (char **)&s, 10);
	while (*s == ' ')
		s++;
	size_t k = 0;
	r->acc[0] = 0;
	while (k < 3 && (*s == 'r' || *s == 'w' || *s == 'm'))
		r->acc[k++] = *s++;
	r->acc[k] = 0;
	return 0;
}

static int same_dev(const struct dev_rule *a, const struct dev_rule *b)
{
	return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

static void acc_merge(char *dst, const char *add, int remove)
{
	char out[4] = "";
	size_t k = 0;
	for (const char *p = "rwm"; *p; p++) {
		int has = strchr(dst, *p) != NULL, in = strchr(add, *p) != NULL;
		if (remove ? (has && !in) : (has || in))
			out[k++] = *p;
	}
	out[k] = 0;
	strcpy(dst, out);
}

/* Replay the queued allow/deny writes onto devices.list, in order. */
static void devices_apply(const char *dir)
{
	char list[SF_PATH_MAX];
	if (snprintf(list, sizeof(list), "%s/devices.list", dir) >= (int)sizeof(list))
		return;
	struct dev_rule rules[256];
	int n = 0, def_allow = 0;
	FILE *f = fopen(list, "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f) && n < 256) {
		struct dev_rule r;
		if (parse_dev(line, &r))
			continue;
		if (r.type == 'a')
			def_allow = 1;
		else
			rules[n++] = r;
	}
	if (f)
		fclose(f);
	/* queued operations: .sysfake-dev.<seq>.<allow|deny>, in sequence order */
	for (;;) {
		DIR *d = opendir(dir);
		if (!d)
			return;
		struct dirent *de;
		unsigned long long best = ~0ull;
		char bestname[256] = "";
		while ((de = readdir(d))) {
			unsigned long long seq;
			char kind[8];
			if (sscanf(de->d_name, ".sysfake-dev.%llu.%7s", &seq, kind) == 2 && seq < best) {
				best = seq;
				snprintf(bestname, sizeof(bestname), "%s", de->d_name);
			}
		}
		closedir(d);
		if (!bestname[0])
			break;
		char p[SF_PATH_MAX];
		if (snprintf(p, sizeof(p), "%s/%s", dir, bestname) >= (int)sizeof(p))
			return;
		int allow = strstr(bestname, ".allow") != NULL;
		f = fopen(p, "re");
		while (f && fgets(line, sizeof(line), f)) {
			struct dev_rule r;
			if (parse_dev(line, &r))
				continue;
			if (r.type == 'a') {
				def_allow = allow;
				n = 0;
				continue;
			}
			int i;
			for (i = 0; i < n && !same_dev(&rules[i], &r); i++)
				;
			if (allow != def_allow) { /* an exception to the default */
				if (i < n)
					acc_merge(rules[i].acc, r.acc, 0);
				else if (n < 256)
					rules[n++] = r;
			} else if (i < n) {
				acc_merge(rules[i].acc, r.acc, 1);
				if (!rules[i].acc[0])
					memmove(&rules[i], &rules[i + 1], (size_t)(--n - i) * sizeof(rules[0]));
			}
		}
		if (f)
			fclose(f);
		unlink(p);
	}
	f = fopen(list, "we");
	if (!f)
		return;
	if (def_allow)
		fputs("a *:* rwm\n", f);
	else
		for (int i = 0; i < n; i++) {
			char ma[24], mi[24];
			snprintf(ma, sizeof(ma), "%ld", rules[i].major);
			snprintf(mi, sizeof(mi), "%ld", rules[i].minor);
			fprintf(f, "%c %s:%s %s\n", rules[i].type, rules[i].major < 0 ? "*" : ma,
				rules[i].minor < 0 ? "*" : mi, rules[i].acc);
		}
	fclose(f);
}

void cgroupfs_enter(struct sf_tracee *t, struct sf_call *c)
{
	const struct sf_sysent *e = c->e;
	if (!e)
		return;
	char host[SF_PATH_MAX];
	long nr = c->nr;
	if (nr == SYS_mkdir || nr == SYS_mkdirat) {
		if (cg_path(t, c, 0, host, sizeof(host)))
			return;
		t->pf |= PF_EMUL;
		t->emul = EMX_CG_MKDIR;
		t->emul_arg = 0;
		return;
	}
	if (nr == SYS_rmdir || (nr == SYS_unlinkat && (sf_arg(&c->r, 2) & AT_REMOVEDIR))) {
		if (!cg_path(t, c, 0, host, sizeof(host)))
			clear_files(host);
		return;
	}
	if (e->cls != SC_OPEN || e->flagsarg < 0)
		return;
	if (cg_path(t, c, 0, host, sizeof(host)))
		return;
	uint64_t flags = sf_arg(&c->r, e->flagsarg);
	const char *base = strrchr(host, '/') + 1;
	if ((flags & O_ACCMODE) == O_RDONLY) {
		if (!strcmp(base, "devices.list")) {
			char dir[SF_PATH_MAX];
			snprintf(dir, sizeof(dir), "%.*s", (int)(base - host - 1), host);
			devices_apply(dir);
		}
		return;
	}
	if (!strcmp(base, "devices.allow") || !strcmp(base, "devices.deny")) {
		/* each write becomes a queued operation, applied when devices.list is read */
		char op[SF_PATH_MAX];
		snprintf(op, sizeof(op), "%.*s/.sysfake-dev.%llu.%s", (int)(base - host - 1), host,
			 ++devseq, base[8] == 'a' ? "allow" : "deny");
		/* the kernel's file exists; the queued one is created by this open */
		flags |= O_CREAT | O_TRUNC;
		sf_set_arg(&c->r, e->flagsarg, flags);
		if (e->nr == SYS_open || e->nr == SYS_creat)
			sf_set_arg(&c->r, 2, 0644);
		else
			sf_set_arg(&c->r, 3, 0644);
		emul_put(t, c, e->path[0], op, strlen(op) + 1);
		c->modified = 1;
		return;
	}
	if (!(flags & O_TRUNC)) {
		/* cgroupfs takes one value per write: "512" over "1024\n" is 512 */
		sf_set_arg(&c->r, e->flagsarg, flags | O_TRUNC);
		c->modified = 1;
	}
}

long cgroupfs_exit(struct sf_tracee *t, long ret)
{
	if (t->emul == EMX_CG_MKDIR && ret == 0) {
		struct sf_call c;
		c.r = t->saved;
		c.orig = t->saved;
		c.nr = (long)t->saved.orig_rax;
		c.e = sf_sysent_lookup(c.nr);
		char host[SF_PATH_MAX];
		if (!cg_path(t, &c, 0, host, sizeof(host)))
			populate(host);
	}
	return ret;
}
