/* Virtual files: each content rule is backed by a memfd that the tracer owns.
 * Processes that share the tracer's view of /proc open it through
 * /proc/<tracer>/fd/<n>, so writes are shared by every traced process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
