/* Turning a path argument into the canonical absolute path the process means. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core.h"

/* Lexical normalisation of an absolute path, in place: //, ., .. */
static void normalize(char *p)
{
	char *out = p, *in = p;
	while (*in) {
		while (*in == '/')
			in++;
		if (!*in)
			break;
		char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		if (n == 1 && in[0] == '.') {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == p)
		*out++ = '/';
	*out = 0;
}

static pid_t num(const char *s, const char **end)
{
	long v = 0;
	const char *q = s;
	while (*q >= '0' && *q <= '9' && v < 1 << 30)
		v = v * 10 + (*q++ - '0');
	*end = q;
	if (q == s || (*q && *q != '/'))
		return -1;
	return (pid_t)v;
}

int proc_ns_ids(struct sf_tracee *t)
{
	if (t->proc->ns_tgid && t->ns_tid)
		return 0;
	char buf[4096];
	if (proc_status(t->tid, buf, sizeof(buf)) < 0)
		return -1;
	/* The last number on NStgid/NSpid is the id in the process's own namespace. */
	const char *keys[2] = { "\nNStgid:", "\nNSpid:" };
	pid_t vals[2] = { t->proc->tgid, t->tid };
	for (int k = 0; k < 2; k++) {
		char *l = strstr(buf, keys[k]);
		if (!l)
			continue;
		l += strlen(keys[k]);
		char *e = strchrnul(l, '\n');
		char *last = NULL;
		for (char *q = l; q < e; q++)
			if (*q >= '0' && *q <= '9' && (q == l || q[-1] == ' ' || q[-1] == '\t'))
				last = q;
		if (last)
			vals[k] = (pid_t)atoi(last);
	}
	t->proc->ns_tgid = vals[0];
	t->ns_tid = vals[1];
	return 0;
}

static int is_self(struct sf_tracee *t, pid_t v, int task)
{
	if (v == (task ? t->tid : t->proc->tgid))
		return 1;
	if (proc_ns_ids(t))
		return 0;
	return v == (task ? t->ns_tid : t->proc->ns_tgid);
}

/* /proc/<self pid>[/task/<self tid>]/X, /proc/thread-self/X, /proc/self/task/<tid>/X -> /proc/self/X */
static void alias_proc(struct sf_tracee *t, char *p)
{
	if (strncmp(p, "/proc/", 6))
		return;
	char *c = p + 6, *rest;
	const char *e;
	if (!strncmp(c, "thread-self", 11) && (c[11] == 0 || c[11] == '/')) {
		rest = c + 11;
	} else if (!strncmp(c, "self", 4) && (c[4] == 0 || c[4] == '/')) {
		rest = c + 4;
		if (!strncmp(rest, "/task/", 6)) {
			pid_t tid = num(rest + 6, &e);
			if (tid > 0 && is_self(t, tid, 1))
				rest = (char *)e;
		}
		if (rest == c + 4)
			return;
	} else {
		pid_t v = num(c, &e);
		if (v <= 0)
			return;
		rest = (char *)e;
		if (is_self(t, v, 0)) {
			if (!strncmp(rest, "/task/", 6)) {
				pid_t tid = num(rest + 6, &e);
				if (tid > 0 && is_self(t, tid, 1))
					rest = (char *)e;
			}
		} else {
			/* Another traced process sees the rules itself, so its files
			 * look the same from outside (containerd and kubelet read
			 * /proc/<pid>/cgroup of containers). Only where the caller's
			 * pids are the tracer's: a nested namespace's are not. */
			struct sf_tracee *o = tr_find(v);
			if (!o || !o->proc || o->proc->tgid != v || proc_ns_ids(t) ||
			    t->proc->ns_tgid != t->proc->tgid)
				return;
			if (!strncmp(rest, "/task/", 6)) {
				pid_t tid = num(rest + 6, &e);
				struct sf_tracee *ot = tid > 0 ? tr_find(tid) : NULL;
				if (!ot || ot->proc != o->proc)
					return;
				rest = (char *)e;
			}
		}
	}
	memmove(p + 10, rest, strlen(rest) + 1);
	memcpy(p + 6, "self", 4);
}

int proc_root(struct sf_tracee *t)
{
	struct sf_proc *pr = t->proc;
	if (pr->root_known)
		return 0;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/root", t->tid);
	ssize_t n = readlink(p, pr->root, sizeof(pr->root) - 1);
	if (n <= 0 || pr->root[0] != '/') {
		strcpy(pr->root, "/");
		n = 1;
	}
	pr->root[n] = 0;
	pr->root_known = 1;
	return 0;
}

/* Read the tracee's cwd (AT_FDCWD) or the path of its fd `dirfd` from /proc
 * and convert it to the tracee's own view. */
static int proc_link(struct sf_tracee *t, int dirfd, char *out, size_t outlen)
{
	int fd_dir = dirfd != AT_FDCWD;
	char name[16] = "cwd";
	if (fd_dir)
		snprintf(name, sizeof(name), "%d", dirfd);
	int d = tr_procdir(t, fd_dir);
	ssize_t n = d >= 0 ? readlinkat(d, name, out, outlen - 1) : -1;
	if (n < 0) {
		char p[80];
		snprintf(p, sizeof(p), fd_dir ? "/proc/%d/fd/%s" : "/proc/%d/%s", t->tid, name);
		n = readlink(p, out, outlen - 1);
	}
	if (n <= 0 || out[0] != '/')
		return -1;
	out[n] = 0;
	proc_root(t);
	size_t rn = strlen(t->proc->root);
	if (rn > 1 && !strncmp(out, t->proc->root, rn) && (out[rn] == '/' || out[rn] == 0)) {
		memmove(out, out + rn, (size_t)n - rn + 1);
		if (!out[0])
			strcpy(out, "/");
	}
	if (sf_tab->nvdirs && vdir_unmap(out, outlen))
		t->via_vdir = 1;
	return 0;
}

/* Does `..` step out of a virtual directory that does not exist for the
 * process? The kernel would fail there, so the caller uses the lexical result. */
static int dotdot_through_vdir(struct sf_tracee *t, const char *p)
{
	char pre[SF_PATH_MAX];
	for (const char *q = strstr(p, "/.."); q; q = strstr(q + 1, "/..")) {
		if (q[3] != 0 && q[3] != '/')
			continue;
		size_t n = (size_t)(q - p);
		if (n == 0 || n >= sizeof(pre))
			continue;
		memcpy(pre, p, n);
		pre[n] = 0;
		normalize(pre);
		const struct sf_rule *r = sf_match(sf_tab, pre, NULL, NULL);
		if (r && r->action == ACT_CONTENT && (sf_tab->vfiles[r->vfile].flags & VF_DIR) &&
		    !vdir_exists(t, pre))
			return 1;
	}
	return 0;
}

int path_resolve(struct sf_tracee *t, int dirfd, const char *in, char *out, size_t outlen)
{
	if (!in[0])
		return -1;
	/* The kernel limits only the string passed (< PATH_MAX) and walks it from
	 * the start directory one component at a time: base + "/" + in may exceed
	 * PATH_MAX while naming a short path. Join where both fit, normalise, and
	 * only then ask whether the result fits. */
	char buf[2 * SF_PATH_MAX + 2];
	size_t bl = 0, inl = strlen(in);
	if (in[0] != '/') {
		int vd = -1;
		if (dirfd != AT_FDCWD && t->proc->nvmarks && (vd = vdir_marked(t, dirfd)) >= 0) {
			const struct sf_str *vp = &sf_tab->vfiles[vd].vpath;
			memcpy(buf, vp->p, vp->n); /* < SF_PATH_MAX (table.c) */
			buf[vp->n] = 0;
			t->via_vdir = 1;
		} else if (proc_link(t, dirfd, buf, SF_PATH_MAX + 1)) {
			return -1;
		}
		bl = strlen(buf);
		buf[bl++] = '/';
	}
	if (bl + inl + 1 > sizeof(buf))
		return -1;
	memcpy(buf + bl, in, inl + 1);
	if (sf_tab->nvdirs && strstr(buf, "/..") && dotdot_through_vdir(t, buf))
		t->via_vdir = 1;
	normalize(buf);
	alias_proc(t, buf);
	size_t n = strlen(buf);
	if (n + 1 > outlen)
		return -1;
	memcpy(out, buf, n + 1);
	return 0;
}
