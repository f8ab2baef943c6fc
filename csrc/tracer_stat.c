/* A redirected stat, lstat, newfstatat or statx answered by the tracer in one
 * stop: the tracer looks the redirect target up itself and writes the result
 * into the caller's buffer, where a rewrite would need a second stop to put
 * the registers back. Only where the tracer's answer is provably the
 * caller's (docs/core.md, "Redirected stat in one stop"):
 *  - the process sees the tracer's root, mount and user namespace
 *    (sf_proc.hostview, cleared by chroot, pivot_root, unshare, setns and
 *    clone with CLONE_NEWNS/CLONE_NEWUSER/CLONE_FS);
 *  - the thread can search every directory the tracer can: it has
 *    CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH, or the tracer's uids, gids,
 *    groups and no fewer capabilities (t->cred 2: also what lets it open
 *    the tracer's fds, tramp.c); and the same LSM label
 *    (sf_tracee.cred, read from /proc once, forgotten at exec and at every
 *    credential syscall, which are trapped for this);
 *  - the target resolves without any symlink (so nothing like /proc/self or
 *    /dev/fd depends on who looks: openat2 RESOLVE_NO_SYMLINKS, or where that
 *    is missing the fd's /proc link equal to the target) and not on procfs.
 * Anything else, including every error the tracer gets, takes the rewrite. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef SYS_lsm_set_self_attr
#define SYS_lsm_set_self_attr 460 /* Linux 6.8: a label change without /proc */
#endif
#include <unistd.h>
#include "core.h"

#define DAC_CAPS ((1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH))

struct creds {
	char uid[80], gid[80], groups[512], lsm[256];
	unsigned long long capeff;
};

static int line_val(const char *buf, const char *key, char *out, size_t outlen)
{
	const char *p = strstr(buf, key);
	if (!p || (p != buf && p[-1] != '\n'))
		return -1;
	p += strlen(key);
	size_t n = strcspn(p, "\n");
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

/* tid 0: the tracer itself. */
static int read_creds(pid_t tid, struct creds *c)
{
	char p[64], buf[8192], cap[32];
	ssize_t n = proc_status(tid, buf, sizeof(buf));
	if (n < 0 || n == (ssize_t)sizeof(buf) - 1)
		return -1; /* a Groups line this long is not worth a second read */
	if (line_val(buf, "Uid:", c->uid, sizeof(c->uid)) ||
	    line_val(buf, "Gid:", c->gid, sizeof(c->gid)) ||
	    line_val(buf, "Groups:", c->groups, sizeof(c->groups)) ||
	    line_val(buf, "CapEff:", cap, sizeof(cap)) ||
	    sscanf(cap, "%llx", &c->capeff) != 1)
		return -1;
	snprintf(p, sizeof(p), tid ? "/proc/%d/attr/current" : "/proc/self/attr/current", (int)tid);
	c->lsm[0] = 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) { /* absent (no LSM, gVisor) counts as the same label */
		n = read(fd, c->lsm, sizeof(c->lsm) - 1);
		close(fd);
		c->lsm[n > 0 ? n : 0] = 0;
	}
	return 0;
}

static int cred_ok(struct sf_tracee *t)
{
	static struct creds me;
	static int me_known; /* 1 read, -1 unreadable */
	if (t->cred)
		return t->cred > 0;
	if (!me_known)
		me_known = read_creds(0, &me) ? -1 : 1;
	struct creds c;
	t->cred = -1;
	if (me_known < 0 || read_creds(t->tid, &c) || strcmp(c.lsm, me.lsm))
		return 0;
	if (!strcmp(c.uid, me.uid) && !strcmp(c.gid, me.gid) &&
	    !strcmp(c.groups, me.groups) && (c.capeff & me.capeff) == me.capeff)
		t->cred = 2;
	else if (c.capeff & DAC_CAPS)
		t->cred = 1;
	DBG("%d: tracer stat %s", t->tid, t->cred > 0 ? "allowed" : "refused");
	return t->cred > 0;
}

int tracer_same_creds(struct sf_tracee *t)
{
	return cred_ok(t) && t->cred == 2;
}

int tracer_cred_syscall(long nr)
{
	switch (nr) {
	case SYS_setuid: case SYS_setgid: case SYS_setreuid: case SYS_setregid:
	case SYS_setresuid: case SYS_setresgid: case SYS_setfsuid: case SYS_setfsgid:
	case SYS_setgroups: case SYS_capset: case SYS_lsm_set_self_attr:
		return 1;
	}
	return 0;
}

/* Same answer as the kernel's? Then the target's own fd, else -1. */
static int open_target(const char *target, int nofollow)
{
	static int no_openat2;
	int oflags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0), fd = -1;
	if (!no_openat2) {
		/* refuses any symlink on the way; cheaper than the readlink below */
		struct open_how how = { .flags = (uint64_t)oflags, .resolve = RESOLVE_NO_SYMLINKS };
		fd = (int)syscall(SYS_openat2, AT_FDCWD, target, &how, sizeof(how));
		if (fd < 0 && errno != ENOSYS)
			return -1;
		no_openat2 = fd < 0;
	}
	if (fd < 0) {
		fd = open(target, oflags);
		if (fd < 0)
			return -1;
		char p[64], real[SF_PATH_MAX];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(p, real, sizeof(real) - 1);
		if (n <= 0 || (size_t)n != strlen(target) || memcmp(real, target, (size_t)n)) {
			close(fd); /* a symlink on the way */
			return -1;
		}
	}
	return fd;
}

/* procfs: /proc/self/..., /proc/sys/net/... depend on the caller. */
static int on_procfs(int fd)
{
	struct statfs sfs;
	return fstatfs(fd, &sfs) || sfs.f_type == PROC_SUPER_MAGIC;
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

/* Whether each mount is procfs, by the mount id that is never reused
 * (STATX_MNT_ID_UNIQUE, Linux 6.8): saves the fstatfs of every answer. */
static struct { uint64_t mnt; int proc; } mnt_seen[16];
static unsigned mnt_next;

static int mount_is_procfs(int fd, uint64_t mnt)
{
	for (unsigned i = 0; i < 16; i++)
		if (mnt_seen[i].mnt == mnt)
			return mnt_seen[i].proc;
	int proc = on_procfs(fd);
	mnt_seen[mnt_next % 16].mnt = mnt;
	mnt_seen[mnt_next % 16].proc = proc;
	mnt_next++;
	return proc;
}

/* struct stat as the kernel's cp_new_stat() fills it from the same attributes. */
static void stat_from_statx(const struct statx *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_ino = x->stx_ino;
	st->st_nlink = x->stx_nlink;
	st->st_mode = x->stx_mode;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->st_size = (off_t)x->stx_size;
	st->st_blksize = x->stx_blksize;
	st->st_blocks = (blkcnt_t)x->stx_blocks;
	st->st_atim.tv_sec = x->stx_atime.tv_sec;
	st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
	st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
	st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

/* stat's answer for the target's fd: 0, or -1 to leave the call to the kernel. */
static int stat_answer(int fd, struct stat *st)
{
	struct statx x;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE, &x) == 0 &&
	    (x.stx_mask & (STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE)) ==
	    (STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE)) {
		if (mount_is_procfs(fd, x.stx_mnt_id))
			return -1;
		stat_from_statx(&x, st);
		return 0;
	}
	return on_procfs(fd) || fstat(fd, st) ? -1 : 0;
}

/* Answers in an address space before its stats are rewritten instead. */
#define REWRITE_AFTER 64

int tracer_stat(struct sf_tracee *t, struct sf_call *c, const char *target)
{
	const unsigned need = SF_MECH_TRACER_STAT | SF_MECH_VM_WRITEV | SF_MECH_SKIP_AT_SECCOMP;
	const struct sf_sysent *e = c->e;
	if ((sf_mech & need) != need || !sf_at_seccomp || t->pf || !e ||
	    (e->cls != SC_STAT && e->cls != SC_STATX) || !t->proc->hostview ||
	    (t->proc->root_known && strcmp(t->proc->root, "/")) || target[0] != '/')
		return 0;
	/* A rewrite that returns through a trampoline is one stop as well, and
	 * asks the kernel less where its slot already holds the call's words:
	 * 6 tracer syscalls against 9 (no lookup of our own, no write). So the
	 * tracer answers until the address space has trampolines, and after
	 * REWRITE_AFTER answers lets the rewrites set them up, a few stops more
	 * once, unless it can never have them. Only a call that repeats the
	 * thread's last one exactly (a loop over one path and one buffer) is
	 * rewritten: one with new words each time (a Go program's: a new
	 * buffer and path each call) measured no faster rewritten, and slower
	 * recorded. */
	uint64_t words[SF_TRAMP_WORDS];
	sf_tramp_data(words, &c->orig);
	int again = !memcmp(words, t->stat_last, sizeof(words));
	memcpy(t->stat_last, words, sizeof(words));
	struct sf_mm *m = t->mm;
	if (again && (tramp_ready(t) ||
	    (m->tramp != TR_READY && m->stat_answers >= REWRITE_AFTER && tramp_possible(t))))
		return 0;
	long flags = e->flagsarg >= 0 ? (long)sf_arg(&c->orig, e->flagsarg) : 0;
	const long known = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT |
		(e->cls == SC_STATX ? AT_STATX_SYNC_TYPE : 0);
	if (flags & ~known)
		return 0; /* AT_EMPTY_PATH, or bits the kernel refuses: its answer */
	int nofollow = (e->flags & SF_NOFOLLOW) || (flags & AT_SYMLINK_NOFOLLOW);
	if (!cred_ok(t))
		return 0;
	int fd = open_target(target, nofollow);
	if (fd < 0)
		return 0;
	long ret;
	if (e->cls == SC_STATX) {
		/* with the caller's own mask: asking for more changes stx_mnt_id */
		struct statx sx;
		unsigned mask = (unsigned)sf_arg(&c->orig, 3);
		if (on_procfs(fd) ||
		    statx(fd, "", AT_EMPTY_PATH | (int)(flags & AT_STATX_SYNC_TYPE), mask, &sx)) {
			close(fd);
			return 0;
		}
		ret = mem_write_user(t, sf_arg(&c->orig, 4), &sx, sizeof(sx)) ? -EFAULT : 0;
	} else {
		struct stat st;
		if (stat_answer(fd, &st)) {
			close(fd);
			return 0;
		}
		uint64_t buf = sf_arg(&c->orig, e->nr == SYS_newfstatat ? 2 : 1);
		ret = mem_write_user(t, buf, &st, sizeof(st)) ? -EFAULT : 0;
	}
	close(fd);
	m->stat_answers++;
	c->skip = 1;
	c->ret = ret;
	DBG("%d: %s of %s answered by the tracer: %ld", t->tid, e->name, target, ret);
	return 1;
}
