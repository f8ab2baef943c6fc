/* Virtual directories (docs/design.md): getdents64 (or the legacy getdents)
 * on a directory that a listing rule names is answered by the tracer with the
 * real entries in the process's view, minus hidden ones, plus the virtual
 * children. Where the directory does not exist for the process, it opens a
 * stand-in: our empty placeholder directory through /proc/<tracer>/fd/N, or,
 * when that cannot be reached, "/" (the fd is then remembered, "marked"). */
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

int vdir_unmap(char *path, size_t outlen)
{
	size_t n = strlen(path);
	for (uint32_t i = 0; i < sf_tab->nvfiles; i++) {
		const struct sf_vfile *v = &sf_tab->vfiles[i];
		if (!(v->flags & VF_DIR))
			continue;
		size_t pn = v->ph.n;
		if (n < pn || memcmp(path, v->ph.p, pn) || (path[pn] != '/' && path[pn] != 0))
			continue;
		size_t vn = v->vpath.n;
		if (vn == 1 && path[pn] == '/')
			vn = 0; /* "/" + "/x" */
		if (vn + (n - pn) + 1 > outlen)
			return 0;
		memmove(path + vn, path + pn, n - pn + 1);
		memcpy(path, v->vpath.p, vn);
		return 1;
	}
	return 0;
}

static int fd_ident(struct sf_tracee *t, long fd, struct stat *st)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%ld", t->tid, fd);
	return stat(p, st);
}

int vdir_marked(struct sf_tracee *t, int fd)
{
	struct sf_proc *p = t->proc;
	for (int i = 0; i < p->nvmarks; i++) {
		if (p->vmarks[i].fd != fd)
			continue;
		struct stat st;
		if (fd_ident(t, fd, &st) || st.st_dev != p->vmarks[i].dev ||
		    st.st_ino != p->vmarks[i].ino) {
			p->vmarks[i] = p->vmarks[--p->nvmarks];
			return -1;
		}
		return (int)p->vmarks[i].vfile;
	}
	return -1;
}

void vdir_unmark(struct sf_tracee *t, long fd)
{
	struct sf_proc *p = t->proc;
	for (int i = 0; i < p->nvmarks; i++)
		if (p->vmarks[i].fd == fd)
			p->vmarks[i--] = p->vmarks[--p->nvmarks];
}

void vdir_mark(struct sf_tracee *t, uint32_t idx, long fd)
{
	struct sf_proc *p = t->proc;
	struct stat st;
	vdir_unmark(t, fd);
	if (fd_ident(t, fd, &st))
		return;
	if (p->nvmarks == (int)(sizeof(p->vmarks) / sizeof(p->vmarks[0])))
		memmove(&p->vmarks[0], &p->vmarks[1], sizeof(p->vmarks) - sizeof(p->vmarks[0]));
	else
		p->nvmarks++;
	struct sf_vmark *m = &p->vmarks[p->nvmarks - 1];
	m->fd = (int)fd;
	m->vfile = idx;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	DBG("%d: fd %ld stands in for virtual directory %u", t->tid, fd, idx);
}

int vdir_exists(struct sf_tracee *t, const char *path)
{
	char p[SF_PATH_MAX + 64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/root%s", t->tid, path);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- the merged listing ---- */

struct ent {
	uint64_t ino;
	unsigned char type;
	uint16_t nlen;
	const char *name; /* into names */
};

struct listing {
	struct ent *e;
	size_t n, cap;
	char *names;
	size_t nused, ncap;
};

static int add(struct listing *l, const char *name, size_t nlen, unsigned char type,
	       uint64_t ino)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct ent *e = realloc(l->e, cap * sizeof(*e));
		if (!e)
			return -1;
		l->e = e;
		l->cap = cap;
	}
	if (l->nused + nlen + 1 > l->ncap) {
		size_t cap = l->ncap ? l->ncap : 4096;
		while (cap < l->nused + nlen + 1)
			cap *= 2;
		char *nb = realloc(l->names, cap);
		if (!nb)
			return -1;
		/* re-point the names already stored */
		for (size_t i = 0; i < l->n; i++)
			l->e[i].name = nb + (l->e[i].name - l->names);
		l->names = nb;
		l->ncap = cap;
	}
	char *dst = l->names + l->nused;
	memcpy(dst, name, nlen);
	dst[nlen] = 0;
	l->nused += nlen + 1;
	l->e[l->n++] = (struct ent){ ino, type, (uint16_t)nlen, dst };
	return 0;
}

static int has(const struct listing *l, const char *name, size_t nlen)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].nlen == nlen && !memcmp(l->e[i].name, name, nlen))
			return 1;
	return 0;
}

static int hidden(const struct sf_vfile *v, const char *name, const char *exe,
		  const char *comm)
{
	char p[SF_PATH_MAX];
	int n = snprintf(p, sizeof(p), "%.*s/%s", v->vpath.n == 1 ? 0 : (int)v->vpath.n,
			 v->vpath.p, name);
	if (n <= 0 || (size_t)n >= sizeof(p))
		return 0;
	const struct sf_rule *r = sf_match(sf_tab, p, exe, comm);
	return r && r->action == ACT_HIDE;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Real entries (through the process's own fd), then the virtual ones. */
static void build(struct sf_tracee *t, const struct sf_vfile *v, int fd, int real,
		  struct listing *l)
{
	char comm[64] = "";
	const char *exe = NULL, *cm = NULL;
	if (sf_tab->need_exe) {
		static char eb[SF_PATH_MAX];
		char lp[64];
		snprintf(lp, sizeof(lp), "/proc/%d/exe", t->tid);
		ssize_t k = readlink(lp, eb, sizeof(eb) - 1);
		eb[k > 0 ? k : 0] = 0;
		exe = eb;
	}
	if (sf_tab->need_comm) {
		char lp[64];
		snprintf(lp, sizeof(lp), "/proc/%d/comm", t->tid);
		int cfd = open(lp, O_RDONLY | O_CLOEXEC);
		if (cfd >= 0) {
			ssize_t k = read(cfd, comm, sizeof(comm) - 1);
			comm[k > 0 ? k : 0] = 0;
			comm[strcspn(comm, "\n")] = 0;
			close(cfd);
		}
		cm = comm;
	}
	int got = 0;
	if (real) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", t->tid, fd);
		int d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char buf[32768];
		long n;
		while (d >= 0 && (n = syscall(SYS_getdents64, d, buf, sizeof(buf))) > 0) {
			got = 1;
			for (long off = 0; off < n;) {
				struct linux_dirent64 *de = (void *)(buf + off);
				off += de->d_reclen;
				if (!hidden(v, de->d_name, exe, cm))
					add(l, de->d_name, strlen(de->d_name), de->d_type, de->d_ino);
			}
		}
		if (d >= 0)
			close(d);
	}
	if (!got) {
		add(l, ".", 1, DT_DIR, 1);
		add(l, "..", 2, DT_DIR, 1);
	}
	for (const char *q = v->ents.p, *end = v->ents.p + v->ents.n; q < end;) {
		size_t len = strnlen(q, (size_t)(end - q));
		if (len > 1 && !has(l, q + 1, len - 1) && !hidden(v, q + 1, exe, cm)) {
			uint64_t h = 1469598103934665603ull; /* a stable, made-up inode number */
			for (size_t i = 0; i < len; i++)
				h = (h ^ (unsigned char)q[i]) * 1099511628211ull;
			add(l, q + 1, len - 1, q[0] == 'd' ? DT_DIR : DT_REG, h | 1);
		}
		q += len + 1;
	}
}

static long fd_pos(struct sf_tracee *t, int fd)
{
	char p[64], buf[256];
	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", t->tid, fd);
	int f = open(p, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *q = strstr(buf, "pos:");
	return q ? strtol(q + 4, NULL, 10) : -1;
}

/* The virtual directory an fd is open on: a marked stand-in, our placeholder
 * (mapped back by fd_path) or the real directory. *real: list the real one. */
static int vdir_of_fd(struct sf_tracee *t, int fd, int *real)
{
	int idx = vdir_marked(t, fd);
	*real = 0;
	if (idx >= 0)
		return idx;
	char path[SF_PATH_MAX];
	t->via_vdir = 0;
	if (fd_path(t, fd, path, sizeof(path)) || path[0] != '/')
		return -1;
	int standin = t->via_vdir;
	const struct sf_rule *r = sf_match(sf_tab, path, NULL, NULL);
	if (!r || r->action != ACT_CONTENT || !(sf_tab->vfiles[r->vfile].flags & VF_DIR))
		return -1;
	if ((sf_tab->vfiles[r->vfile].flags & VF_DIR_WEAK) && !standin)
		return -1; /* the process has the real directory: its listing as it is */
	*real = 1;
	return (int)r->vfile;
}

/* The legacy getdents record: d_type in the last byte of the record. */
struct linux_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

/* The record size of an entry whose name has nlen bytes. */
static size_t dirent_size(int legacy, size_t nlen)
{
	if (legacy)
		return (offsetof(struct linux_dirent, d_name) + nlen + 2 + 7) & ~(size_t)7;
	return (offsetof(struct linux_dirent64, d_name) + nlen + 1 + 7) & ~(size_t)7;
}

/* One entry in the caller's format at out (reclen bytes, zeroed here). */
static void dirent_put(int legacy, char *out, size_t reclen, uint64_t ino, int64_t off,
		       unsigned char type, const char *name, size_t nlen)
{
	memset(out, 0, reclen);
	if (legacy) {
		struct linux_dirent *de = (void *)out;
		de->d_ino = ino;
		de->d_off = (unsigned long)off;
		de->d_reclen = (unsigned short)reclen;
		memcpy(de->d_name, name, nlen);
		out[reclen - 1] = (char)type;
		return;
	}
	struct linux_dirent64 *de = (void *)out;
	de->d_ino = ino;
	de->d_off = off;
	de->d_reclen = (unsigned short)reclen;
	de->d_type = type;
	memcpy(de->d_name, name, nlen);
}

void vdir_getdents(struct sf_tracee *t, struct sf_call *c)
{
	int legacy = c->nr == SYS_getdents;
	int fd = (int)sf_arg(&c->orig, 0);
	uint64_t buf = sf_arg(&c->orig, 1);
	size_t count = (size_t)(unsigned int)sf_arg(&c->orig, 2);
	int real;
	int idx = vdir_of_fd(t, fd, &real);
	if (idx < 0)
		return;
	long pos = fd_pos(t, fd);
	if (pos < 0 && t->vdir_pos >= 0 && t->vdir_pos_fd == fd)
		pos = t->vdir_pos;
	t->vdir_pos = -1;
	if (pos < 0) {
		/* No "pos:" in fdinfo (gVisor): ask with lseek(fd, 0, SEEK_CUR), then
		 * run this getdents64 again (sc_exit). */
		c->r.orig_rax = SYS_lseek;
		sf_set_arg(&c->r, 1, 0);
		sf_set_arg(&c->r, 2, SEEK_CUR);
		c->modified = 1;
		t->vdir_pos_fd = fd;
		t->pf |= PF_VDIRPOS;
		return;
	}
	struct listing l = { 0 };
	build(t, &sf_tab->vfiles[idx], fd, real, &l);
	c->skip = 1;
	if ((size_t)pos >= l.n) {
		c->ret = 0;
		goto out;
	}
	if (count > (1u << 20))
		count = 1u << 20;
	char *out = malloc(count ? count : 1);
	size_t used = 0, i = (size_t)pos;
	for (; out && i < l.n; i++) {
		size_t reclen = dirent_size(legacy, l.e[i].nlen);
		if (used + reclen > count)
			break;
		dirent_put(legacy, out + used, reclen, l.e[i].ino, (int64_t)i + 1, l.e[i].type,
			   l.e[i].name, l.e[i].nlen);
		used += reclen;
	}
	if (!out) {
		c->ret = -ENOMEM;
	} else if (!used) {
		c->ret = -EINVAL; /* the buffer cannot hold one entry */
	} else if (mem_write_user(t, buf, out, used)) {
		c->ret = -EFAULT;
	} else {
		/* Run lseek instead, so the fd's position says how far the listing got. */
		c->skip = 0;
		c->r.orig_rax = SYS_lseek;
		sf_set_arg(&c->r, 1, (uint64_t)i);
		sf_set_arg(&c->r, 2, SEEK_SET);
		c->modified = 1;
		t->ret = (long)used;
		t->pf |= PF_VDIRLS;
		DBG("%d: %s(%d) of virtual directory %d: entries %ld..%zu", t->tid,
		    legacy ? "getdents" : "getdents64", fd, idx, pos, i);
	}
	free(out);
out:
	free(l.e);
	free(l.names);
}
