/* What happens to one trapped syscall: emulations, syscall rules, then path
 * rules; the call is answered, or its arguments are rewritten into scratch
 * memory and restored at the exit stop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "core.h"

struct sf_table *sf_tab;
int sf_at_seccomp; /* set by the loop: this entry is a seccomp stop */

/* ---- scratch memory ---- */

/* Turn the current syscall into mmap of our scratch area; replay it at exit. */
static int inject_scratch(struct sf_tracee *t, const sf_regs *r)
{
	t->saved = *r;
	sf_regs m = *r;
	m.orig_rax = SYS_mmap;
	m.rdi = 0;
	m.rsi = (uint64_t)SCRATCH_SLOTS * SCRATCH_SLOT;
	m.rdx = PROT_READ | PROT_WRITE;
	m.r10 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	m.r8 = (uint64_t)-1;
	m.r9 = 0;
	if (sf_setregs(t, &m))
		return 0;
	t->pf = PF_SCRATCH;
	return 1;
}

static uint64_t scratch(struct sf_tracee *t)
{
	if (t->mm->scratch == 0 || t->mm->scratch == (uint64_t)-1)
		return 0;
	if (t->slot < 0)
		t->slot = mm_slot_alloc(t->mm, t->tid);
	if (t->slot < 0)
		return 0;
	return t->mm->scratch + (uint64_t)t->slot * SCRATCH_SLOT;
}

/* ---- fail closed: a rule decided this call, but its rewrite cannot be
 * placed. It must never reach the kernel unchanged. ---- */

static void drop_enter_work(struct sf_tracee *t, int keep_rec)
{
	if (t->pf & PF_GENFD)
		close(t->genfd);
	t->pf = 0;
	t->magic = 0;
	t->delay_until_us = 0; /* a delay rule acts on the replay, not now */
	if (t->slot >= 0) {
		mm_slot_free(t->mm, t->slot);
		t->slot = -1;
	}
	if (t->rec && !keep_rec)
		t->rec->active = 0;
}

/* Skip the call; its exit stop does `pf` with the original registers saved. */
static int skip_to_exit(struct sf_tracee *t, const struct sf_call *c, unsigned pf)
{
	sf_regs r = c->orig;
	r.orig_rax = (uint64_t)-1;
	if (sf_setregs(t, &r))
		return 0;
	t->saved = c->orig;
	t->pf = pf;
	return 1;
}

/* Skip the call now and rewind it so that it runs again from the start.
 * wait_slot: stay stopped until a scratch slot is free. */
static int replay_later(struct sf_tracee *t, const struct sf_call *c, int wait_slot)
{
	drop_enter_work(t, 0);
	sysrule_uncount(t); /* the replay is the same call: count it once */
	if (sf_at_seccomp && (sf_mech & SF_MECH_SKIP_AT_SECCOMP)) {
		/* Point the tracee back at its syscall instruction now: no exit
		 * stop needed (gVisor reports none we can use). */
		sf_regs r = c->orig;
		sf_rewind_syscall(&r, c->nr);
		r.orig_rax = (uint64_t)-1;
		if (sf_setregs(t, &r))
			return 0;
		if (wait_slot && !mm_slot_ready(t->mm))
			slot_wait_add(t); /* the loop resumes it when a slot is freed */
		return 0;
	}
	t->slot_wait = wait_slot; /* rewound at the exit stop */
	return skip_to_exit(t, c, PF_REPLAY);
}

static int fail_closed(struct sf_tracee *t, const struct sf_call *c, long err)
{
	DBG("%d: rewrite of %ld cannot be placed: fails with %ld", t->tid, c->nr, err);
	drop_enter_work(t, 1);
	t->ret = err;
	return skip_to_exit(t, c, PF_RET);
}

/* No scratch memory for this call's rewrite: map it first (the address
 * space has none yet), or wait for a slot of a working mapping, else fail
 * the call. */
static int unplaceable(struct sf_tracee *t, const struct sf_call *c)
{
	if (t->mm->scratch_busy) /* another thread is mapping it: wait for that */
		return replay_later(t, c, 1);
	if (t->mm->scratch == 0) {
		/* Mapped at the first call that needs it: a process whose calls
		 * are never rewritten (answered in one stop, or matching no rule)
		 * is spared the mmap and its two stops. */
		drop_enter_work(t, 0);
		sysrule_uncount(t); /* the replay is the same call: count it once */
		if (!inject_scratch(t, &c->orig))
			return 0;
		t->mm->scratch_busy = 1; /* one mapping per address space */
		return 1;
	}
	if (t->mm->scratch != (uint64_t)-1 && mm_slot_free_count(t->mm) == 0)
		return replay_later(t, c, 1);
	return fail_closed(t, c, -ENOMEM);
}

/* This call becomes the mprotect that readies the trampolines (tramp.c);
 * it runs again after. */
static int set_up_trampolines(struct sf_tracee *t, const struct sf_call *c)
{
	drop_enter_work(t, 0);
	sysrule_uncount(t); /* the replay is the same call: count it once */
	return tramp_setup(t, &c->orig);
}

/* The process's root or namespaces change with this call: recompute lazily. */
static void forget_root(struct sf_tracee *t)
{
	t->proc->root_known = 0;
	t->proc->view = -1;
	t->proc->ns_tgid = 0;
	t->ns_tid = 0;
}

/* ---- process facts for `only` ---- */

static const char *exe_of(struct sf_tracee *t)
{
	struct sf_proc *p = t->proc;
	if (!p->exe_known) {
		char l[64];
		snprintf(l, sizeof(l), "/proc/%d/exe", t->tid);
		ssize_t n = readlink(l, p->exe, sizeof(p->exe) - 1);
		p->exe[n > 0 ? n : 0] = 0;
		p->exe_known = 1;
	}
	return p->exe;
}

static const char *comm_of(struct sf_tracee *t, char *buf, size_t n)
{
	char l[64];
	snprintf(l, sizeof(l), "/proc/%d/comm", t->tid);
	int fd = open(l, O_RDONLY | O_CLOEXEC);
	buf[0] = 0;
	if (fd >= 0) {
		ssize_t k = read(fd, buf, n - 1);
		close(fd);
		if (k > 0) {
			buf[k] = 0;
			buf[strcspn(buf, "\n")] = 0;
		}
	}
	return buf;
}

/* ---- virtual files ---- */

/* The fd that holds what this process sees in the vfile: the shared memfd, or
 * for a generated file a fresh memfd (*tmp set: the caller closes it). */
static int vfile_source(struct sf_tracee *t, uint32_t idx, int *tmp)
{
	struct sf_vfile *v = &sf_tab->vfiles[idx];
	*tmp = -1;
	if (VF_GENERATOR(v) == GEN_STATIC)
		return vfile_fd(sf_tab, idx);
	int fd = (int)syscall(SYS_memfd_create, "sysfake-gen", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (VF_GENERATOR(v) == GEN_MOUNTINFO) {
		char p[64], buf[65536];
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", t->tid);
		int src = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		while (src >= 0 && (n = read(src, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		if (src >= 0)
			close(src);
	}
	if (v->content.n && write(fd, v->content.p, v->content.n) != (ssize_t)v->content.n) {
		close(fd);
		return -1;
	}
	fchmod(fd, 0666);
	*tmp = fd;
	return fd;
}

static long answer_stat(struct sf_tracee *t, const struct sf_sysent *e, const sf_regs *r,
			struct sf_vfile *v, int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return -EIO;
	int dir = (v->flags & VF_DIR) != 0;
	st.st_mode = (dir ? S_IFDIR : S_IFREG) | v->mode;
	st.st_uid = v->uid;
	st.st_gid = v->gid;
	st.st_nlink = dir ? 2 : 1;
	uint64_t buf = sf_arg(r, e->nr == SYS_newfstatat ? 2 : 1);
	return mem_write_user(t, buf, &st, sizeof(st)) ? -EFAULT : 0;
}

static long answer_statx(struct sf_tracee *t, const sf_regs *r, struct sf_vfile *v, int fd)
{
	struct statx sx;
	memset(&sx, 0, sizeof(sx));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx)) {
		struct stat st;
		if (fstat(fd, &st))
			return -EIO;
		sx.stx_mask = STATX_BASIC_STATS;
		sx.stx_blksize = (uint32_t)st.st_blksize;
		sx.stx_size = (uint64_t)st.st_size;
		sx.stx_blocks = (uint64_t)st.st_blocks;
		sx.stx_ino = st.st_ino;
		sx.stx_atime.tv_sec = st.st_atim.tv_sec;
		sx.stx_mtime.tv_sec = st.st_mtim.tv_sec;
		sx.stx_ctime.tv_sec = st.st_ctim.tv_sec;
		sx.stx_dev_major = major(st.st_dev);
		sx.stx_dev_minor = minor(st.st_dev);
	}
	int dir = (v->flags & VF_DIR) != 0;
	sx.stx_mode = (uint16_t)((dir ? S_IFDIR : S_IFREG) | v->mode);
	sx.stx_uid = v->uid;
	sx.stx_gid = v->gid;
	sx.stx_nlink = dir ? 2 : 1;
	return mem_write_user(t, sf_arg(r, 4), &sx, sizeof(sx)) ? -EFAULT : 0;
}

static long answer_access(const struct sf_sysent *e, const sf_regs *r, struct sf_vfile *v)
{
	int mode = (int)sf_arg(r, e->nr == SYS_access ? 1 : 2);
	if ((mode & R_OK) && !(v->mode & 0444))
		return -EACCES;
	if ((mode & W_OK) && ((v->flags & VF_READONLY) || !(v->mode & 0222)))
		return -EACCES;
	if ((mode & X_OK) && !(v->mode & 0111))
		return -EACCES;
	return 0;
}

/* Bytes to place in scratch memory; arg >= 0: point that argument at them. */
struct rewrite {
	int arg;
	size_t len;
	char data[SF_PATH_MAX];
};
#define RW_OPENHOW (-2)  /* openat2's struct open_how, arg 2 */
#define RW_MEMFD   (-1)  /* the name for memfd_create */

static void rw_path(struct rewrite *w, int arg, const char *path)
{
	w->arg = arg;
	snprintf(w->data, sizeof(w->data), "%s", path);
	w->len = strlen(path) + 1; /* > sizeof(data): the call fails, never cut short */
}

/* open/openat/creat/openat2 of a virtual file. Returns 1 if answered (c->skip). */
static void open_vfile(struct sf_tracee *t, struct sf_call *c, const struct sf_rule *rule,
		       struct rewrite *rw, int *nrw)
{
	const struct sf_sysent *e = c->e;
	struct sf_vfile *v = &sf_tab->vfiles[rule->vfile];
	uint64_t flags;
	struct open_how how = { 0 };
	c->skip = 1;
	if (e->cls == SC_OPENAT2) {
		size_t sz = sf_arg(&c->orig, 3);
		if (sz < sizeof(how) ||
		    mem_read(t, sf_arg(&c->orig, 2), &how, sizeof(how)) != sizeof(how)) {
			c->ret = sz < sizeof(how) ? -EINVAL : -EFAULT;
			return;
		}
		flags = how.flags;
	} else if (e->flagsarg >= 0) {
		flags = sf_arg(&c->orig, e->flagsarg);
	} else {
		flags = O_CREAT | O_WRONLY | O_TRUNC; /* creat() */
	}
	if (c->want_dir[0]) { /* "file/": refused before any permission check */
		c->ret = (flags & O_CREAT) ? -EISDIR : -ENOTDIR;
		return;
	}
	int acc = (int)(flags & O_ACCMODE);
	if ((v->flags & VF_READONLY) && (acc != O_RDONLY || (flags & O_TRUNC))) {
		c->ret = -EACCES;
		return;
	}
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
		c->ret = -EEXIST;
		return;
	}
	if (flags & O_DIRECTORY) {
		c->ret = -ENOTDIR;
		return;
	}
	int tmp;
	int src = vfile_source(t, rule->vfile, &tmp);
	if (src < 0) {
		c->ret = -EIO;
		return;
	}
	c->skip = 0;
	if (vfile_can_view(t)) {
		char mp[64];
		snprintf(mp, sizeof(mp), "/proc/%d/fd/%d", getpid(), src);
		rw_path(&rw[(*nrw)++], e->path[0], mp);
		t->magic = 1;
		if (tmp >= 0) {
			t->genfd = tmp;
			t->pf |= PF_GENFD;
		}
		/* A magic link cannot be opened with O_NOFOLLOW or RESOLVE_* limits. */
		if (e->cls == SC_OPENAT2) {
			how.flags &= ~(uint64_t)O_NOFOLLOW;
			how.resolve = 0;
			struct rewrite *w = &rw[(*nrw)++];
			w->arg = RW_OPENHOW;
			w->len = sizeof(how);
			memcpy(w->data, &how, sizeof(how));
		} else if (flags & O_NOFOLLOW) {
			sf_set_arg(&c->r, e->flagsarg, flags & ~(uint64_t)O_NOFOLLOW);
			c->modified = 1;
		}
		return;
	}
	/* Outside our view of /proc: the process gets its own memfd copy. */
	t->vfile = rule->vfile;
	t->vf_trunc = (flags & O_TRUNC) != 0;
	t->vf_write = tmp < 0 && (acc != O_RDONLY || (flags & O_TRUNC));
	if (tmp >= 0) {
		t->genfd = tmp;
		t->pf |= PF_GENFD;
	}
	struct rewrite *w = &rw[(*nrw)++];
	w->arg = RW_MEMFD;
	strcpy(w->data, "sysfake");
	w->len = 8;
	t->pf |= PF_MEMFD;
}

/* Point the path argument at our placeholder directory through the tracer's fd. */
static int vdir_magic(struct sf_tracee *t, struct sf_call *c, uint32_t idx, struct rewrite *rw,
		      int *nrw)
{
	const struct sf_sysent *e = c->e;
	int fd = vfile_fd(sf_tab, idx);
	if (fd < 0 || !vfile_can_view(t))
		return -1;
	char mp[64];
	snprintf(mp, sizeof(mp), "/proc/%d/fd/%d", getpid(), fd);
	rw_path(&rw[(*nrw)++], e->path[0], mp);
	t->magic = 1;
	return 0;
}

/* A listing rule names this directory (docs/design.md, "Virtual directories"):
 * where it exists for the process the call runs as usual (getdents64 is
 * answered later); else stat and friends are answered, and opens get a stand-in. */
static void vdir_call(struct sf_tracee *t, struct sf_call *c, const struct sf_rule *rule,
		      int slot, struct rewrite *rw, int *nrw)
{
	const struct sf_sysent *e = c->e;
	uint32_t idx = rule->vfile;
	struct sf_vfile *v = &sf_tab->vfiles[idx];
	if (vdir_exists(t, c->canon[slot]))
		return;
	c->skip = 1;
	if (slot == 1 || e->path[1] >= 0) {
		c->ret = -EXDEV; /* rename/link/mount of a directory that is not there */
		return;
	}
	int fd = vfile_fd(sf_tab, idx);
	if (fd < 0) {
		c->ret = -EIO;
		return;
	}
	uint64_t flags = 0;
	struct open_how how = { 0 };
	switch (e->cls) {
	case SC_OPEN:
	case SC_OPENAT2:
		if (e->cls == SC_OPENAT2) {
			size_t sz = sf_arg(&c->orig, 3);
			if (sz < sizeof(how) ||
			    mem_read(t, sf_arg(&c->orig, 2), &how, sizeof(how)) != sizeof(how)) {
				c->ret = sz < sizeof(how) ? -EINVAL : -EFAULT;
				return;
			}
			flags = how.flags;
		} else {
			flags = e->flagsarg >= 0 ? sf_arg(&c->orig, e->flagsarg)
						 : O_CREAT | O_WRONLY | O_TRUNC;
		}
		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
			c->ret = -EEXIST;
			return;
		}
		if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) {
			c->ret = -EISDIR;
			return;
		}
		c->skip = 0;
		if (vdir_magic(t, c, idx, rw, nrw) == 0) {
			if (e->cls == SC_OPENAT2) {
				how.flags &= ~(uint64_t)O_NOFOLLOW;
				how.resolve = 0;
				struct rewrite *w = &rw[(*nrw)++];
				w->arg = RW_OPENHOW;
				w->len = sizeof(how);
				memcpy(w->data, &how, sizeof(how));
			} else if (flags & O_NOFOLLOW) {
				sf_set_arg(&c->r, e->flagsarg, flags & ~(uint64_t)O_NOFOLLOW);
				c->modified = 1;
			}
			return;
		}
		/* Nothing of ours is reachable: open "/" and remember the fd. */
		rw_path(&rw[(*nrw)++], e->path[0], "/");
		t->vfile = idx;
		t->pf |= PF_VDIRMARK;
		return;
	case SC_STAT:
		c->ret = answer_stat(t, e, &c->orig, v, fd);
		return;
	case SC_STATX:
		c->ret = answer_statx(t, &c->orig, v, fd);
		return;
	case SC_ACCESS:
		c->ret = answer_access(e, &c->orig, v);
		return;
	case SC_READLINK:
		c->ret = -EINVAL;
		return;
	case SC_EXEC:
		c->ret = -EACCES;
		return;
	default:
		break;
	}
	switch (c->nr) {
	case SYS_chdir:
		c->skip = 0; /* unreachable: the kernel says ENOENT */
		vdir_magic(t, c, idx, rw, nrw);
		return;
	case SYS_mkdir:
	case SYS_mkdirat:
		c->ret = -EEXIST;
		return;
	case SYS_rmdir:
		c->ret = -EBUSY;
		return;
	case SYS_unlink:
		c->ret = -EISDIR;
		return;
	case SYS_unlinkat:
		c->ret = (sf_arg(&c->orig, 2) & AT_REMOVEDIR) ? -EBUSY : -EISDIR;
		return;
	}
	if (e->vf_errno == SF_VF_REWRITE) {
		c->skip = 0;
		if (vdir_magic(t, c, idx, rw, nrw))
			c->ret = -EOPNOTSUPP, c->skip = 1;
	} else {
		c->ret = e->vf_errno == SF_VF_SUCCESS ? 0 : e->vf_errno > 0 ? -e->vf_errno
										: -EOPNOTSUPP;
	}
}

/* A path rule decided a virtual file for this call. */
static void vfile_call(struct sf_tracee *t, struct sf_call *c, const struct sf_rule *rule,
		       int slot, struct rewrite *rw, int *nrw)
{
	const struct sf_sysent *e = c->e;
	struct sf_vfile *v = &sf_tab->vfiles[rule->vfile];
	if (v->flags & VF_DIR) {
		vdir_call(t, c, rule, slot, rw, nrw);
		return;
	}
	vfile_sync(rule->vfile);
	c->skip = 1;
	if (c->want_dir[slot] && e->path[1] < 0 && e->cls != SC_OPEN && e->cls != SC_OPENAT2) {
		/* "file/": the kernel's lookup wants a directory (creating calls
		 * find the name taken first) */
		c->ret = e->vf_errno == EEXIST ? -EEXIST : -ENOTDIR;
		return;
	}
	if (slot == 1 || e->path[1] >= 0) {
		/* rename/link/mount and friends naming a virtual file */
		c->ret = e->vf_errno == SF_VF_SUCCESS ? 0 : e->vf_errno > 0 ? -e->vf_errno : -EPERM;
		return;
	}
	if (e->cls == SC_OPEN || e->cls == SC_OPENAT2) {
		open_vfile(t, c, rule, rw, nrw);
		return;
	}
	int tmp, fd = vfile_source(t, rule->vfile, &tmp);
	if (fd < 0) {
		c->ret = -EIO;
		return;
	}
	switch (e->cls) {
	case SC_STAT:
		c->ret = answer_stat(t, e, &c->orig, v, fd);
		break;
	case SC_STATX:
		c->ret = answer_statx(t, &c->orig, v, fd);
		break;
	case SC_ACCESS:
		c->ret = answer_access(e, &c->orig, v);
		break;
	case SC_STATFS: {
		struct statfs sfs;
		c->ret = fstatfs(fd, &sfs) ? -EIO
			 : mem_write_user(t, sf_arg(&c->orig, 1), &sfs, sizeof(sfs)) ? -EFAULT : 0;
		break;
	}
	case SC_TRUNCATE:
		if (v->flags & VF_READONLY)
			c->ret = -EACCES;
		else
			c->ret = ftruncate(fd, (off_t)sf_arg(&c->orig, 1)) ? -errno : 0;
		break;
	default:
		if (e->vf_errno == SF_VF_REWRITE && vfile_can_view(t) && tmp < 0) {
			char mp[64];
			snprintf(mp, sizeof(mp), "/proc/%d/fd/%d", getpid(), fd);
			rw_path(&rw[(*nrw)++], e->path[0], mp);
			c->skip = 0;
		} else if (e->vf_errno == SF_VF_SUCCESS) {
			c->ret = 0;
		} else {
			c->ret = e->vf_errno > 0 ? -e->vf_errno : -EOPNOTSUPP;
		}
	}
	if (tmp >= 0)
		close(tmp);
}

/* ---- record ---- */
/* Remember what record mode writes at syscall exit. */
static struct sf_recpend *rec_prepare(struct sf_tracee *t, const sf_regs *r, int rule_id,
				      const char *raw, const char *canon, int only_failed)
{
	if (!t->rec) {
		t->rec = malloc(sizeof(*t->rec));
		if (!t->rec)
			return NULL;
	}
	struct sf_recpend *p = t->rec;
	p->active = 1;
	p->only_failed = only_failed;
	p->nr = (int)r->orig_rax;
	p->rule_id = rule_id;
	p->time = 0;
	for (int i = 0; i < 6; i++)
		p->args[i] = sf_arg(r, i);
	/* the record keeps up to SF_PATH_MAX - 1 bytes of each (a canonical path
	 * may be longer) */
	size_t rl = raw ? strnlen(raw, sizeof(p->raw) - 1) : 0;
	size_t cl = canon ? strnlen(canon, sizeof(p->canon) - 1) : 0;
	p->raw_len = (uint16_t)rl;
	p->canon_len = (uint16_t)cl;
	if (rl)
		memcpy(p->raw, raw, rl);
	if (cl)
		memcpy(p->canon, canon, cl);
	return p;
}



/* ---- entry ---- */

/* gVisor has no openat2: its ENOSYS comes before any path lookup, so a path
 * rule must not answer the call (runc falls back to openat on ENOSYS). */
static int openat2_missing(void)
{
	static int missing = -1;
	if (missing < 0)
		missing = syscall(SYS_openat2, -1, NULL, NULL, (size_t)0) < 0 && errno == ENOSYS;
	return missing;
}

/* May the call give a writable fd? Its path is resolved even when no rule
 * can match it: the /proc/self/attr check below must see it. */
static int opens_for_writing(const struct sf_sysent *e, const sf_regs *r)
{
	if (e->cls == SC_OPENAT2)
		return 1; /* its flags are in the tracee's memory */
	if (e->cls != SC_OPEN)
		return 0;
	return e->flagsarg < 0 || (sf_arg(r, e->flagsarg) & O_ACCMODE) != O_RDONLY;
}

/* Records that take the exit stop before an address space gets a scratch
 * mapping for them: the mapping and the trampolines cost four stops. Only a
 * process that keeps making recorded calls repays that. */
#define REC_SETUP_AFTER 16

/* A recorded call that nothing rewrites wants only its result. Where the
 * address space has trampolines it returns through one, and is recorded at
 * the thread's next stop like a rewrite: one stop instead of two. An address
 * space whose records keep taking the exit stop is given the scratch mapping
 * for this after as many of them as a rewrite would wait (tramp.c), so a
 * short-lived process never pays for it. Returns 0: armed, 1: an injected
 * call takes this stop and the call runs again after it, -1: take the exit
 * stop. */
static int rec_one_stop(struct sf_tracee *t, struct sf_call *c)
{
	struct sf_mm *m = t->mm;
	/* path calls only, and no exec: a clone's child, an exec'd program or a
	 * sigreturn would come back through the slot another call may own */
	if (!c->e || c->e->path[0] < 0 || c->e->cls == SC_EXEC)
		return -1;
	if (!t->rec || !t->rec->active || t->slot >= 0 || !sf_at_seccomp ||
	    !(sf_mech & SF_MECH_SET_RETURN) || m->tramp == TR_FAILED || m->scratch == (uint64_t)-1)
		return -1;
	if (m->scratch == 0) {
		if (m->scratch_busy || ++m->rec_exits < REC_SETUP_AFTER)
			return -1;
		return unplaceable(t, c); /* maps it; the call runs again */
	}
	if (!scratch(t))
		return -1;
	int tramp = tramp_want(t);
	if (tramp < 0)
		return set_up_trampolines(t, c);
	uint64_t words[SCRATCH_PATHS / 8];
	if (tramp)
		sf_tramp_data(words, &c->orig);
	if (!tramp || mem_write_slot(t, t->slot, 0, words, sizeof(words)) < 0) {
		mm_slot_free(m, t->slot);
		t->slot = -1;
		return -1;
	}
	c->r = c->orig;
	tramp_arm(t, &c->r, &c->orig);
	if (sf_setregs_from(t, &c->r, &c->orig)) {
		tramp_drop(t);
		return -1;
	}
	DBG("%d: recorded %ld returns through its trampoline", t->tid, c->nr);
	t->saved = c->orig;
	t->rec->time = rec_now();
	t->rec_tramp = 1;
	tramp_watch_exit(t);
	return 0;
}

int sc_enter(struct sf_tracee *t)
{
	struct sf_call c;
	if (sf_getregs(t, &c.r))
		return 0;
	c.nr = (long)c.r.orig_rax;
	c.e = sf_sysent_lookup(c.nr);
	if (t->tramp_slot >= 0 && tramp_next_stop(t, &c.r))
		return 0; /* its rewritten call, restarted by the kernel: runs as it is */
	c.orig = c.r;
	c.skip = 0;
	c.ret = 0;
	c.modified = 0;
	c.emul_used = 0;
	c.emul_fail = 0;
	c.canon_ok[0] = c.canon_ok[1] = 0;
	c.want_dir[0] = c.want_dir[1] = 0;
	t->pf = 0;
	t->srule = NULL;
	t->ncounted = 0;
	t->magic = 0;
	t->emul = EMX_NONE;
	t->delay_until_us = 0;
	if (t->rec)
		t->rec->active = 0;
	const struct sf_sysent *e = c.e;
	if (e && e->cls == SC_EXEC)
		batch_write(t); /* the exec takes this address space and the results in it */
	if (tracer_cred_syscall(c.nr))
		t->cred = 0; /* new credentials: look again before answering for it */
	if (seccomp_is_filter_install(c.nr, sf_arg(&c.orig, 0)))
		t->proc->filtered = 1; /* from now its answers set rax */
	if ((sf_mech & SF_MECH_STUCK_SIGNALS) && sigwake_enter(t, c.nr, &c.orig))
		t->pf |= PF_SIGSENT; /* its receivers are marked at its exit */

	if (e && ((e->flags & SF_NSCHANGE) || e->cls == SC_ROOTCHANGE)) {
		/* Resolving this call's own path caches the old root again:
		 * forget it at exit too. */
		forget_root(t);
		t->pf |= PF_ROOT;
		t->proc->hostview = 0;
		if (c.nr == SYS_setns || (c.nr == SYS_unshare && (sf_arg(&c.orig, 0) & CLONE_NEWPID)))
			t->proc->pidns_kids_moved = 1; /* loop.c: fork events */
	}
	int rec_extra = sf_tab->record && c.nr >= 0 && c.nr < SF_MAX_NR && sf_tab->rec_nr[c.nr] &&
			(!sf_tab->rec_arg[c.nr] || sf_arg(&c.orig, sf_tab->rec_arg[c.nr] - 1));
	char raw[2][SF_PATH_MAX]; /* each path argument as the program wrote it */
	int rec_i = -1; /* the path argument the record names */
	int rec_rule = -1, rec_want = 0;
	struct rewrite rw[4]; /* at most 2 per path argument */
	int nrw = 0;

	if (sf_tab->emul)
		emul_enter(t, &c);
	if (c.emul_fail) /* an emulation could not place its data: as a rewrite */
		return unplaceable(t, &c);
	e = c.e; /* an emulation may have changed the call */
	if ((c.nr == SYS_getdents64 || c.nr == SYS_getdents) && sf_tab->nvdirs && !c.skip)
		vdir_getdents(t, &c);
	int via_vdir[2] = { 0, 0 };

	/* Path rules: resolve each path argument once (syscall rules reuse it). */
	const struct sf_rule *prule[2] = { NULL, NULL };
	if (e && !c.skip && !(e->flags & SF_NSCHANGE) &&
	    !(e->cls == SC_OPENAT2 && openat2_missing())) {
		char comm[64];
		const char *exe = sf_tab->need_exe ? exe_of(t) : NULL;
		const char *cm = sf_tab->need_comm ? comm_of(t, comm, sizeof(comm)) : NULL;
		for (int i = 0; i < 2; i++) {
			if (e->path[i] < 0)
				continue;
			if (c.nr == SYS_mount && i == 1 && !(sf_arg(&c.orig, 3) & (MS_BIND | MS_MOVE)))
				continue; /* the source of a real mount is a device name */
			uint64_t addr = sf_arg(&c.r, e->path[i]);
			if (!addr || mem_read_str(t, addr, raw[i], sizeof(raw[i])) < 0)
				continue; /* EFAULT/ENAMETOOLONG: the kernel reports it as usual */
			if (i == 0 && e->cls == SC_EXEC && sf_tab->record)
				exec_note(t, c.nr, raw[0]); /* the exec line's facts (exec_facts.c) */
			int dirfd = e->dfd[i] >= 0 ? (int)sf_arg(&c.r, e->dfd[i]) : AT_FDCWD;
			if (raw[i][0] != '/' && !opens_for_writing(e, &c.r) &&
			    !sf_name_may_match(sf_tab, raw[i]))
				continue; /* no rule can match it: no readlink of its directory */
			t->via_vdir = 0;
			if (path_resolve(t, dirfd, raw[i], c.canon[i], sizeof(c.canon[i])))
				continue;
			c.canon_ok[i] = 1;
			size_t rl = strlen(raw[i]);
			c.want_dir[i] = raw[i][rl - 1] == '/' || !strcmp(raw[i], ".") ||
					(rl >= 2 && !strcmp(raw[i] + rl - 2, "/."));
			if (!strncmp(c.canon[i], "/proc/self/attr/", 16))
				t->cred = -1; /* may change its LSM label: never answer for it */
			via_vdir[i] = t->via_vdir;
			prule[i] = sf_match(sf_tab, c.canon[i], exe, cm);
			DBG("%d: %s(%s) -> %s rule %d", t->tid, e->name, raw[i], c.canon[i],
			    prule[i] ? (int)prule[i]->rule_id : -1);
			if (sf_tab->record && (rec_i < 0 || !raw[rec_i][0] || prule[i])) {
				rec_i = i; /* the first path, or one a rule decided */
				rec_rule = prule[i] ? (int)prule[i]->rule_id : -1;
				rec_want |= prule[i] != NULL || rec_watched(c.canon[i]);
			}
		}
	}

	if (!c.skip)
		sysrule_enter(t, &c);
	if (t->srule)
		rec_rule = (int)t->srule->rule_id, rec_want = 1;

	for (int i = 0; i < 2 && e && !c.skip; i++) {
		const struct sf_rule *rule = prule[i];
		if (via_vdir[i] && (!rule || (rule->action == ACT_CONTENT &&
					      (sf_tab->vfiles[rule->vfile].flags & VF_DIR)))) {
			/* Relative to a virtual directory's stand-in, or `..` out of a
			 * missing one: look the name up at its real place, never among
			 * our placeholders (a stand-in rewrite below replaces this one). */
			rw_path(&rw[nrw++], e->path[i], c.canon[i]);
		}
		if (!rule)
			continue;
		switch (rule->action) {
		case ACT_HIDE:
			c.skip = 1;
			c.ret = -ENOENT;
			break;
		case ACT_ERRNO:
			c.skip = 1;
			c.ret = -rule->err;
			break;
		case ACT_REDIRECT: {
			struct rewrite *w = &rw[nrw];
			int tl = sf_redirect(rule, c.canon[i], w->data, sizeof(w->data));
			if (tl > 0 && c.want_dir[i] && w->data[tl - 1] != '/') {
				/* keep it: a file target must still give ENOTDIR */
				if ((size_t)tl + 1 < sizeof(w->data))
					strcpy(w->data + tl, "/");
				else
					tl = -1;
			}
			if (tl < 0) {
				c.skip = 1;
				c.ret = -ENAMETOOLONG;
				break;
			}
			if (nrw == 0 && tracer_stat(t, &c, w->data))
				break; /* answered in this stop */
			w->arg = e->path[i];
			w->len = strlen(w->data) + 1;
			nrw++;
			break;
		}
		case ACT_CONTENT:
			vfile_call(t, &c, rule, i, rw, &nrw);
			break;
		}
	}

	if (e && (e->cls == SC_OPEN || e->cls == SC_OPENAT2) && t->proc->nvmarks &&
	    !c.skip && !(t->pf & PF_VDIRMARK))
		t->pf |= PF_FDNEW; /* the new fd may reuse a marked number */
	if (e && e->cls == SC_EXEC && (c.skip || nrw || c.modified || c.emul_used || t->srule))
		exec_note(t, c.nr, NULL); /* the kernel will not exec the name it wrote */
	int rec = sf_tab->record && rec_on() && (rec_want || rec_extra);
	if (rec)
		rec_prepare(t, &c.orig, rec_rule, rec_i >= 0 ? raw[rec_i] : NULL,
			    rec_i >= 0 ? c.canon[rec_i] : NULL, !rec_want);

	if (c.skip) {
		if (t->pf & PF_GENFD) {
			close(t->genfd);
			t->pf &= ~(unsigned)PF_GENFD;
		}
		c.r = c.orig;
		c.r.orig_rax = (uint64_t)-1;
		DBG("%d: %ld answered: %ld", t->tid, c.nr, c.ret);
		if (!t->pf && sf_at_seccomp && (sf_mech & SF_MECH_SKIP_AT_SECCOMP)) {
			if ((sf_mech & SF_MECH_ERRNO_NR) && !t->proc->filtered &&
			    c.ret <= 0 && c.ret >= -SF_NR_ERRNO_MAX)
				c.r.orig_rax = SF_NR_ERRNO + (uint64_t)-c.ret; /* one register */
			else
				c.r.rax = (uint64_t)c.ret;
			sf_setregs_from(t, &c.r, &c.orig);
			if (rec)
				rec_finish(t, c.ret);
			return 0;
		}
		sf_setregs_from(t, &c.r, &c.orig);
		t->saved = c.orig;
		t->ret = c.ret;
		t->pf |= PF_RET;
		return 1;
	}

	int tramp = 0;
	if (nrw == 1 && inplace_write(t, e, &c.orig, rw[0].arg, rw[0].data, rw[0].len, raw[0]))
		nrw = 0; /* the registers stay: only the memory is put back at exit */
	if (nrw) {
		uint64_t base = scratch(t), off = SCRATCH_PATHS;
		if (!base) {
			DBG("%d: no scratch slot for %s", t->tid, e ? e->name : "?");
			return unplaceable(t, &c);
		}
		tramp = tramp_want(t);
		if (tramp < 0)
			return set_up_trampolines(t, &c);
		/* The slot's bytes from the trampoline's data words (when it
		 * returns through one) to the last path, in one write. */
		uint64_t words[SCRATCH_EMUL / 8];
		unsigned char *buf = (unsigned char *)words;
		for (int k = 0; k < nrw; k++) {
			size_t padded = (rw[k].len + 7) & ~(size_t)7;
			if (rw[k].len > sizeof(rw[k].data) || off + padded > SCRATCH_EMUL)
				return fail_closed(t, &c, -ENAMETOOLONG);
			memcpy(buf + off, rw[k].data, rw[k].len);
			memset(buf + off + rw[k].len, 0, padded - rw[k].len);
			if (rw[k].arg >= 0) {
				sf_set_arg(&c.r, rw[k].arg, base + off);
			} else if (rw[k].arg == RW_OPENHOW) {
				sf_set_arg(&c.r, 2, base + off);
			} else { /* memfd_create(name, flags) */
				uint64_t fl = e && e->flagsarg >= 0 ? sf_arg(&c.orig, e->flagsarg) : 0;
				c.r.orig_rax = SYS_memfd_create;
				c.r.rdi = base + off;
				c.r.rsi = (fl & O_CLOEXEC) ? MFD_CLOEXEC : 0;
			}
			off += padded;
		}
		size_t from = SCRATCH_PATHS;
		if (tramp) {
			sf_tramp_data(words, &c.orig);
			from = 0;
		}
		int wr = mem_write_slot(t, t->slot, from, buf + from, off - from);
		t->left_out = wr == 1;
		if (wr < 0) {
			/* Our mapping is gone (unmapped by the program?): map a new
			 * one and run the call again, a few times at most. */
			if (++t->replays > 3)
				return fail_closed(t, &c, -ENOMEM);
			mm_scratch_set(t->mm, 0);
			return replay_later(t, &c, 0);
		}
		c.modified = 1;
	}
	t->saved = c.orig;
	t->replays = 0;
	if (c.modified) {
		if (tramp)
			tramp_arm(t, &c.r, &c.orig);
		if (sf_setregs_from(t, &c.r, &c.orig)) {
			tramp_drop(t);
			return 0;
		}
		if (!tramp) {
			t->pf |= PF_RESTORE;
		} else {
			DBG("%d: %s returns through its trampoline", t->tid, e ? e->name : "?");
			if (rec && t->rec && t->rec->active) {
				t->rec->time = rec_now(); /* written when the result is known */
				t->rec_tramp = 1;
				tramp_watch_exit(t);
				return 0;
			}
		}
	}
	if (rec && !t->pf && !c.modified) {
		int one = rec_one_stop(t, &c);
		if (one >= 0)
			return one;
		t->pf |= PF_OBSERVE;
	}
	return t->pf != 0;
}

/* ---- exit ---- */

static void fill_memfd(struct sf_tracee *t, long fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%ld", t->tid, fd);
	int dst = open(p, O_WRONLY | O_CLOEXEC);
	int src = (t->pf & PF_GENFD) ? t->genfd : vfile_fd(sf_tab, t->vfile);
	if (dst < 0 || src < 0) {
		if (dst >= 0)
			close(dst);
		return;
	}
	char buf[65536];
	off_t o = 0;
	ssize_t n;
	while (!t->vf_trunc && (n = pread(src, buf, sizeof(buf), o)) > 0) {
		if (pwrite(dst, buf, (size_t)n, o) != n)
			break;
		o += n;
	}
	close(dst);
}

/* At the exit stop: the call's work is forgotten and it runs again, counted
 * once and recorded as the replay. */
static void replay_now(struct sf_tracee *t, unsigned pf)
{
	sysrule_uncount(t);
	if (pf & PF_GENFD)
		close(t->genfd);
	t->magic = 0;
	t->pf = 0;
	if (t->rec)
		t->rec->active = 0;
	sf_run_again(t, &t->saved); /* at the exit stop */
}

void sc_exit(struct sf_tracee *t)
{
	sf_regs r;
	unsigned pf = t->pf;
	int exec_seen = t->exec_seen;
	t->exec_seen = 0;
	if (pf & PF_ROOT)
		forget_root(t);
	/* a rewrite whose slot words were left out (mem.c), while the slot is ours */
	uint64_t left_at = (pf & PF_RESTORE) && t->left_out && t->slot >= 0 && t->mm->scratch ?
		t->mm->scratch + (uint64_t)t->slot * SCRATCH_SLOT : 0;
	t->left_out = 0;
	if (t->slot >= 0) {
		mm_slot_free(t->mm, t->slot);
		t->slot = -1;
	}
	if ((pf & PF_INPLACE) && !exec_seen)
		inplace_restore(t); /* first: a replay below runs the call as it was */
	if (exec_seen) {
		t->magic = 0;
		if (pf & PF_GENFD)
			close(t->genfd);
		t->pf = 0;
		rec_finish(t, 0);
		return;
	}
	if (sf_getregs(t, &r)) {
		if (pf & PF_GENFD)
			close(t->genfd);
		tr_injection_lost(t); /* its result is lost: the next rewrite injects again */
		t->pf = 0;
		if (t->rec)
			t->rec->active = 0;
		return;
	}
	long ret = (long)r.rax;
	DBG("%d: exit work %#x ret %ld", t->tid, pf, ret);
	if (pf & PF_SIGSENT)
		sigwake_exit(t, ret);
	if (left_at && ret == -EFAULT && !mem_mapped(t, left_at)) {
		/* the program unmapped our mapping: a new one, and the call again */
		DBG("%d: scratch mapping gone: the call runs again", t->tid);
		mm_scratch_set(t->mm, 0);
		replay_now(t, pf);
		return;
	}
	if (pf & PF_REPLAY) {
		t->pf = 0;
		sf_run_again(t, &t->saved);
		if (t->slot_wait && !mm_slot_ready(t->mm))
			slot_wait_add(t); /* resumed when a slot is freed */
		t->slot_wait = 0;
		return;
	}
	if (pf & PF_TRAMP) {
		t->pf = 0;
		tramp_setup_done(t, ret);
		sf_run_again(t, &t->saved);
		return;
	}
	if (pf & PF_SCRATCH) {
		t->pf = 0;
		t->mm->scratch_busy = 0;
		if (ret < 0 && ret > -4096) {
			mm_scratch_set(t->mm, (uint64_t)-1);
			DBG("%d: scratch mmap failed: %ld", t->tid, ret);
		} else {
			mm_scratch_set(t->mm, (uint64_t)ret);
			DBG("%d: scratch mapped at %#lx", t->tid, (unsigned long)ret);
		}
		sf_run_again(t, &t->saved);
		return;
	}
	if ((pf & PF_VDIRPOS) && ret >= 0) {
		t->pf = 0;
		sysrule_uncount(t);
		t->vdir_pos = ret;
		if (t->rec)
			t->rec->active = 0;
		sf_run_again(t, &t->saved);
		return;
	}
	if ((pf & PF_RESTORE) && t->magic &&
	    (ret == -EACCES || ret == -ENOENT || ret == -ELOOP || ret == -EPERM)) {
		/* Could not open the tracer's memfd (credentials, namespace): replay
		 * the original call; the next attempt gets its own memfd copy. */
		t->proc->view = 0;
		replay_now(t, pf);
		return;
	}
	t->magic = 0;
	if ((pf & PF_VDIRMARK) && ret >= 0)
		vdir_mark(t, t->vfile, ret);
	if ((pf & PF_FDNEW) && ret >= 0)
		vdir_unmark(t, ret);
	if (pf & PF_VDIRLS)
		ret = ret >= 0 ? t->ret : ret; /* lseek moved the position: the entries count */
	if ((pf & PF_MEMFD) && ret >= 0) {
		fill_memfd(t, ret);
		if (t->vf_write)
			vfile_shadow_add(t, t->vfile, ret);
	}
	if (pf & PF_GENFD)
		close(t->genfd);
	long nret = ret;
	if (pf & PF_RET)
		nret = t->ret;
	nret = sysrule_exit(t, nret);
	if (pf & PF_EMUL)
		nret = emul_exit(t, nret, &r);
	t->pf = 0;
	if (t->wait_parked)
		return; /* the reaper finishes this call later */
	rec_finish(t, nret);
	if (pf & PF_RESTORE) {
		/* Restore every argument register and the number; keep the result. */
		sf_regs o = t->saved;
		o.rax = (uint64_t)nret;
		o.rip = r.rip;
		o.rcx = r.rcx;
		o.r11 = r.r11;
		o.eflags = r.eflags;
		sf_setregs(t, &o);
	} else if (nret != ret) {
		r.rax = (uint64_t)nret;
		sf_setregs(t, &r);
	}
}
