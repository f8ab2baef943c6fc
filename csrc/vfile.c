/* Virtual files: each content rule is backed by a memfd that the tracer owns.
 * Processes that share the tracer's view of /proc open it through
 * /proc/<tracer>/fd/<n>, so writes are shared by every traced process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

int vfile_fd(struct sf_table *tab, uint32_t idx)
{
	struct sf_vfile *v = &tab->vfiles[idx];
	if (v->memfd >= 0)
		return v->memfd;
	if (v->flags & VF_DIR) {
		char p[SF_PATH_MAX];
		snprintf(p, sizeof(p), "%.*s", (int)v->ph.n, v->ph.p);
		v->memfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return v->memfd;
	}
	int fd = (int)syscall(SYS_memfd_create, "sysfake-vfile", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t off = 0;
	while (off < v->content.n) {
		ssize_t n = write(fd, v->content.p + off, v->content.n - off);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	/* Tracees open it by path: it must be reachable, whatever mode stat reports. */
	fchmod(fd, 0666);
	v->memfd = fd;
	return fd;
}

int vfile_magic_path(struct sf_table *tab, uint32_t idx, char *out, size_t outlen)
{
	int fd = vfile_fd(tab, idx);
	if (fd < 0)
		return -1;
	int n = snprintf(out, outlen, "/proc/%d/fd/%d", getpid(), fd);
	return n > 0 && (size_t)n < outlen ? n : -1;
}

/* Does /proc/<tracer>/fd/<n>, looked up from this process's root and mount
 * namespace, lead to our memfd? Checked through /proc/<tid>/root, which works
 * even where namespace ids cannot be compared (gVisor has no NSpid). */
int vfile_can_view(struct sf_tracee *t)
{
	struct sf_proc *p = t->proc;
	if (p->view >= 0)
		return p->view;
	int ok = 0;
	for (uint32_t i = 0; i < sf_tab->nvfiles; i++) {
		int fd = vfile_fd(sf_tab, i);
		if (fd < 0)
			continue;
		char path[128];
		struct stat a, b;
		snprintf(path, sizeof(path), "/proc/%d/root/proc/%d/fd/%d", t->tid, getpid(), fd);
		ok = stat(path, &a) == 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino &&
		     a.st_dev == b.st_dev;
		break;
	}
	p->view = ok;
	DBG("%d: tracer memfds %s reachable", t->tid, ok ? "are" : "are not");
	return ok;
}

/* Private copies: a process that cannot reach our memfd (chroot without /proc,
 * another PID namespace) writes into its own injected memfd. The tracer keeps
 * an fd to each writable copy and folds changes back into the shared memfd
 * before the next access to the file, so a later process sees the write. */
#define MAX_SHADOWS 32
static struct shadow {
	int fd;           /* tracer's fd to the process's memfd, -1 free */
	uint32_t vfile;
	char *snap;       /* content when last synced */
	size_t snap_n;
} shadows[MAX_SHADOWS];
static int shadows_init;

static char *read_all(int fd, size_t *n)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	ssize_t k;
	while (buf && (k = pread(fd, buf + len, cap - len, (off_t)len)) > 0) {
		len += (size_t)k;
		if (len == cap) {
			char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	*n = len;
	return buf;
}

static void shadow_sync(struct shadow *s)
{
	size_t n;
	char *now = read_all(s->fd, &n);
	if (!now)
		return;
	if (n == s->snap_n && !memcmp(now, s->snap, n)) {
		free(now);
		return;
	}
	int dst = vfile_fd(sf_tab, s->vfile);
	if (dst >= 0 && ftruncate(dst, 0) == 0) {
		size_t off = 0;
		while (off < n) {
			ssize_t w = pwrite(dst, now + off, n - off, (off_t)off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	free(s->snap);
	s->snap = now;
	s->snap_n = n;
}

static void shadow_drop(struct shadow *s)
{
	close(s->fd);
	free(s->snap);
	s->fd = -1;
	s->snap = NULL;
}

void vfile_shadow_add(struct sf_tracee *t, uint32_t idx, long fd)
{
	if (!shadows_init) {
		for (int i = 0; i < MAX_SHADOWS; i++)
			shadows[i].fd = -1;
		shadows_init = 1;
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%ld", t->tid, fd);
	int sfd = open(p, O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return;
	int slot = -1;
	for (int i = 0; i < MAX_SHADOWS && slot < 0; i++)
		if (shadows[i].fd < 0)
			slot = i;
	if (slot < 0) { /* full: fold the oldest back and reuse its slot */
		shadow_sync(&shadows[0]);
		shadow_drop(&shadows[0]);
		memmove(&shadows[0], &shadows[1], sizeof(shadows[0]) * (MAX_SHADOWS - 1));
		slot = MAX_SHADOWS - 1;
		shadows[slot].fd = -1;
	}
	struct shadow *s = &shadows[slot];
	s->fd = sfd;
	s->vfile = idx;
	s->snap = read_all(sfd, &s->snap_n);
	if (!s->snap)
		shadow_drop(s);
	else if (t->vf_trunc)
		s->snap_n = (size_t)-1; /* the truncation alone is a change */
	DBG("%d: private copy fd %ld of vfile %u is watched", t->tid, fd, idx);
}

void vfile_sync(uint32_t idx)
{
	if (!shadows_init)
		return;
	for (int i = 0; i < MAX_SHADOWS; i++)
		if (shadows[i].fd >= 0 && shadows[i].vfile == idx)
			shadow_sync(&shadows[i]);
}
