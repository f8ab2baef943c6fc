/* What happens to one trapped syscall: read its paths, match the rules, and
 * skip it with a result, answer it, or rewrite its arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <unistd.h>
#include "core.h"

struct sf_table *sf_tab;
int sf_at_seccomp; /* set by the loop: this entry is a seccomp stop */

static int getregs(struct sf_tracee *t, sf_regs *r)
{
	return (int)ptrace(PTRACE_GETREGS, t->tid, 0, r);
}

static int setregs(struct sf_tracee *t, const sf_regs *r)
{
	return (int)ptrace(PTRACE_SETREGS, t->tid, 0, (void *)r);
}

/* Skip the syscall so that it returns ret. One stop when the kernel lets us
 * set the result at the seccomp stop; otherwise finish at the exit stop. */
static int skip(struct sf_tracee *t, sf_regs *r, long ret)
{
	DBG("%d: skip %s -> %ld", t->tid, "syscall", ret);
	r->orig_rax = (uint64_t)-1;
	if (sf_at_seccomp && (sf_mech & SF_MECH_SKIP_AT_SECCOMP)) {
		r->rax = (uint64_t)ret;
		setregs(t, r);
		return 0;
	}
	setregs(t, r);
	t->pending = PD_RET;
	t->ret = ret;
	return 1;
}

/* Turn the current syscall into mmap of our scratch area; replay it at exit. */
static int inject_scratch(struct sf_tracee *t, sf_regs *r)
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
	if (setregs(t, &m))
		return 0;
	t->pending = PD_SCRATCH_MMAP;
	return 1;
}

/* Scratch address for this syscall, or 0 (then *inject tells whether the
 * scratch mapping must be created first). */
static uint64_t scratch(struct sf_tracee *t, int *inject)
{
	*inject = 0;
	if (t->mm->scratch == 0) {
		*inject = 1;
		return 0;
	}
	if (t->mm->scratch == (uint64_t)-1)
		return 0;
	if (t->slot < 0)
		t->slot = mm_slot_alloc(t->mm);
	if (t->slot < 0)
		return 0;
	return t->mm->scratch + (uint64_t)t->slot * SCRATCH_SLOT;
}

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
			char *nl = strchr(buf, '\n');
			if (nl)
				*nl = 0;
		}
	}
	return buf;
}

static long answer_stat(struct sf_tracee *t, const struct sf_sysent *e, sf_regs *r,
			struct sf_vfile *v, int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return -EIO;
	st.st_mode = S_IFREG | v->mode;
	st.st_uid = v->uid;
	st.st_gid = v->gid;
	st.st_nlink = 1;
	uint64_t buf = sf_arg(r, e->nr == SYS_newfstatat ? 2 : 1);
	return mem_write(t, buf, &st, sizeof(st)) ? -EFAULT : 0;
}

static long answer_statx(struct sf_tracee *t, sf_regs *r, struct sf_vfile *v, int fd)
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
	sx.stx_mode = (uint16_t)(S_IFREG | v->mode);
	sx.stx_uid = v->uid;
	sx.stx_gid = v->gid;
	sx.stx_nlink = 1;
	return mem_write(t, sf_arg(r, 4), &sx, sizeof(sx)) ? -EFAULT : 0;
}

static long answer_access(const struct sf_sysent *e, sf_regs *r, struct sf_vfile *v)
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

/* A path argument rewritten into scratch memory. */
struct rewrite {
	int arg;
	char path[SF_PATH_MAX];
};

static int open_vfile(struct sf_tracee *t, const struct sf_sysent *e, sf_regs *r,
		      const struct sf_rule *rule, int argi, struct rewrite *rw, int *nrw,
		      long *ret)
{
	struct sf_vfile *v = &sf_tab->vfiles[rule->vfile];
	uint64_t flags;
	struct open_how how = { 0 };
	if (e->cls == SC_OPENAT2) {
		size_t sz = sf_arg(r, 3);
		if (sz < sizeof(how) || mem_read(t, sf_arg(r, 2), &how, sizeof(how)) != sizeof(how)) {
			*ret = sz < sizeof(how) ? -EINVAL : -EFAULT;
			return 1;
		}
		flags = how.flags;
	} else if (e->flagsarg >= 0) {
		flags = sf_arg(r, e->flagsarg);
	} else {
		flags = O_CREAT | O_WRONLY | O_TRUNC; /* creat() */
	}
	int acc = (int)(flags & O_ACCMODE);
	if ((v->flags & VF_READONLY) && (acc != O_RDONLY || (flags & O_TRUNC))) {
		*ret = -EACCES;
		return 1;
	}
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
		*ret = -EEXIST;
		return 1;
	}
	if (flags & O_DIRECTORY) {
		*ret = -ENOTDIR;
		return 1;
	}
	if (vfile_fd(sf_tab, rule->vfile) < 0) {
		*ret = -EIO;
		return 1;
	}
	(void)argi;
	if (vfile_can_view(t)) {
		vfile_magic_path(sf_tab, rule->vfile, rw[*nrw].path, sizeof(rw[*nrw].path));
		rw[*nrw].arg = e->path[0];
		(*nrw)++;
		t->magic = 1;
		/* A magic link cannot be opened with O_NOFOLLOW or RESOLVE_* limits. */
		if (e->cls == SC_OPENAT2) {
			how.flags &= ~(uint64_t)O_NOFOLLOW;
			how.resolve = 0;
			memcpy(rw[*nrw].path, &how, sizeof(how));
			rw[*nrw].arg = -2;
			(*nrw)++;
		} else if (flags & O_NOFOLLOW) {
			sf_set_arg(r, e->flagsarg, flags & ~(uint64_t)O_NOFOLLOW);
		}
		return 0;
	}
	/* Outside our view of /proc: the process gets its own memfd copy. */
	t->vfile = rule->vfile;
	t->vf_trunc = (flags & O_TRUNC) != 0;
	rw[*nrw].arg = -1; /* memfd_create name */
	strcpy(rw[*nrw].path, "sysfake");
	(*nrw)++;
	return 0;
}

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
	for (int i = 0; i < 6; i++)
		p->args[i] = sf_arg(r, i);
	size_t rl = raw ? strlen(raw) : 0, cl = canon ? strlen(canon) : 0;
	p->raw_len = (uint16_t)rl;
	p->canon_len = (uint16_t)cl;
	if (rl)
		memcpy(p->raw, raw, rl);
	if (cl)
		memcpy(p->canon, canon, cl);
	return p;
}

static void rec_finish(struct sf_tracee *t, long ret)
{
	struct sf_recpend *p = t->rec;
	if (!p || !p->active)
		return;
	p->active = 0;
	if (!p->only_failed || rec_failed(ret))
		rec_syscall(t, p, ret);
}

int sc_enter(struct sf_tracee *t)
{
	sf_regs r;
	if (getregs(t, &r))
		return 0;
	long nr = (long)r.orig_rax;
	const struct sf_sysent *e = sf_sysent_lookup(nr);
	t->magic = 0;
	if (t->rec)
		t->rec->active = 0;
	int rec_extra = sf_tab->record && nr >= 0 && nr < SF_MAX_NR && sf_tab->rec_nr[nr];
	if (!e) {
		if (rec_extra && rec_on() && rec_prepare(t, &r, -1, NULL, NULL, 1)) {
			t->pending = PD_OBSERVE;
			return 1;
		}
		return 0;
	}
	if (e->flags & SF_NSCHANGE || e->cls == SC_ROOTCHANGE) {
		/* Recomputed lazily after the change has happened. */
		t->proc->root_known = 0;
		t->proc->view = -1;
		t->proc->ns_tgid = 0;
		t->ns_tid = 0;
		if (e->flags & SF_NSCHANGE)
			return 0;
	}
	struct rewrite rw[3];
	int nrw = 0;
	char rec_raw[SF_PATH_MAX] = "", rec_canon[SF_PATH_MAX] = "";
	int rec_rule = -1, rec_want = 0;
	long ret = 0;
	int skipping = 0, memfd_inject = 0;
	char comm[64];
	const char *exe = sf_tab->need_exe ? exe_of(t) : NULL;
	const char *cm = sf_tab->need_comm ? comm_of(t, comm, sizeof(comm)) : NULL;

	for (int i = 0; i < 2 && !skipping; i++) {
		if (e->path[i] < 0)
			continue;
		if (nr == SYS_mount && i == 1 && !(sf_arg(&r, 3) & (MS_BIND | MS_MOVE)))
			continue; /* the source of a real mount is a device name */
		uint64_t addr = sf_arg(&r, e->path[i]);
		if (!addr)
			continue;
		char raw[SF_PATH_MAX], canon[SF_PATH_MAX];
		if (mem_read_str(t, addr, raw, sizeof(raw)) < 0)
			continue; /* EFAULT/ENAMETOOLONG: the kernel reports it as usual */
		int dirfd = e->dfd[i] >= 0 ? (int)sf_arg(&r, e->dfd[i]) : AT_FDCWD;
		if (path_resolve(t, dirfd, raw, canon, sizeof(canon)))
			continue;
		const struct sf_rule *rule = sf_match(sf_tab, canon, exe, cm);
		if (sf_tab->record && (!rec_raw[0] || rule)) {
			strcpy(rec_raw, raw);
			strcpy(rec_canon, canon);
			rec_rule = rule ? (int)rule->rule_id : -1;
			rec_want |= rule != NULL || rec_watched(canon);
		}
		DBG("%d: %s(%s) -> %s rule %d", t->tid, e->name, raw, canon,
		    rule ? (int)rule->rule_id : -1);
		if (!rule)
			continue;
		switch (rule->action) {
		case ACT_HIDE:
			skipping = 1;
			ret = -ENOENT;
			break;
		case ACT_ERRNO:
			skipping = 1;
			ret = -rule->err;
			break;
		case ACT_REDIRECT:
			if (sf_redirect(rule, canon, rw[nrw].path, sizeof(rw[nrw].path)) < 0) {
				skipping = 1;
				ret = -ENAMETOOLONG;
				break;
			}
			rw[nrw++].arg = e->path[i];
			break;
		case ACT_CONTENT: {
			struct sf_vfile *v = &sf_tab->vfiles[rule->vfile];
			int fd = vfile_fd(sf_tab, rule->vfile);
			skipping = 1;
			if (fd < 0) {
				ret = -EIO;
				break;
			}
			if (i == 1 || e->path[1] >= 0) {
				/* rename/link/mount and friends naming a virtual file */
				ret = e->vf_errno > 0 ? -e->vf_errno : -EPERM;
				if (e->vf_errno == SF_VF_SUCCESS)
					ret = 0;
				break;
			}
			switch (e->cls) {
			case SC_OPEN:
			case SC_OPENAT2:
				skipping = open_vfile(t, e, &r, rule, i, rw, &nrw, &ret);
				memfd_inject = !skipping && nrw && rw[0].arg == -1;
				break;
			case SC_STAT:
				ret = answer_stat(t, e, &r, v, fd);
				break;
			case SC_STATX:
				ret = answer_statx(t, &r, v, fd);
				break;
			case SC_ACCESS:
				ret = answer_access(e, &r, v);
				break;
			case SC_STATFS: {
				struct statfs sfs;
				ret = fstatfs(fd, &sfs) ? -EIO
				      : mem_write(t, sf_arg(&r, 1), &sfs, sizeof(sfs)) ? -EFAULT : 0;
				break;
			}
			case SC_TRUNCATE:
				if (v->flags & VF_READONLY)
					ret = -EACCES;
				else
					ret = ftruncate(fd, (off_t)sf_arg(&r, 1)) ? -errno : 0;
				break;
			default:
				if (e->vf_errno == SF_VF_REWRITE && vfile_can_view(t)) {
					skipping = 0;
					vfile_magic_path(sf_tab, rule->vfile, rw[nrw].path,
							 sizeof(rw[nrw].path));
					rw[nrw++].arg = e->path[i];
				} else if (e->vf_errno == SF_VF_SUCCESS) {
					ret = 0;
				} else {
					ret = e->vf_errno > 0 ? -e->vf_errno : -EOPNOTSUPP;
				}
			}
			break;
		}
		}
	}
	int rec = sf_tab->record && rec_on() && (rec_want || rec_extra);
	if (skipping) {
		int need_exit = skip(t, &r, ret);
		if (rec && rec_prepare(t, &r, rec_rule, rec_raw, rec_canon, !rec_want)) {
			t->rec->nr = (int)nr;
			for (int i = 0; i < 6; i++)
				t->rec->args[i] = sf_arg(&r, i);
			if (!need_exit)
				rec_finish(t, ret);
		}
		return need_exit;
	}
	if (!nrw) {
		if (rec && rec_prepare(t, &r, rec_rule, rec_raw, rec_canon, !rec_want)) {
			t->pending = PD_OBSERVE;
			return 1;
		}
		return 0;
	}

	int inject;
	uint64_t base = scratch(t, &inject);
	if (inject)
		return inject_scratch(t, &r);
	if (!base) {
		DBG("%d: no scratch memory; %s left alone", t->tid, e->name);
		return 0;
	}
	t->saved = r;
	uint64_t off = 0;
	for (int k = 0; k < nrw; k++) {
		size_t len = rw[k].arg == -2 ? sizeof(struct open_how) : strlen(rw[k].path) + 1;
		if (off + len > SCRATCH_SLOT || mem_write(t, base + off, rw[k].path, len)) {
			mm_slot_free(t->mm, t->slot);
			t->slot = -1;
			return 0;
		}
		if (rw[k].arg >= 0)
			sf_set_arg(&r, rw[k].arg, base + off);
		else if (rw[k].arg == -2)
			sf_set_arg(&r, 2, base + off);
		else { /* memfd_create(name, flags) */
			uint64_t fl = e->flagsarg >= 0 ? sf_arg(&t->saved, e->flagsarg) : 0;
			r.orig_rax = SYS_memfd_create;
			r.rdi = base + off;
			r.rsi = (fl & O_CLOEXEC) ? MFD_CLOEXEC : 0;
		}
		off += (len + 7) & ~7ull;
	}
	if (rec)
		rec_prepare(t, &t->saved, rec_rule, rec_raw, rec_canon, !rec_want);
	if (setregs(t, &r))
		return 0;
	t->pending = memfd_inject ? PD_MEMFD_INJECT : PD_RESTORE;
	return 1;
}

static void fill_memfd(struct sf_tracee *t, long fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/fd/%ld", t->tid, fd);
	int dst = open(p, O_WRONLY | O_CLOEXEC);
	int src = vfile_fd(sf_tab, t->vfile);
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

void sc_exit(struct sf_tracee *t)
{
	sf_regs r;
	enum pending pd = t->pending;
	t->pending = PD_NONE;
	int exec_seen = t->exec_seen;
	t->exec_seen = 0;
	if (exec_seen)
		t->magic = 0;
	if (t->slot >= 0) {
		mm_slot_free(t->mm, t->slot);
		t->slot = -1;
	}
	if (exec_seen) {
		rec_finish(t, 0);
		return;
	}
	if (getregs(t, &r)) {
		if (t->rec)
			t->rec->active = 0;
		return;
	}
	long ret = (long)r.rax;
	DBG("%d: exit pending %d ret %ld", t->tid, (int)pd, ret);
	switch (pd) {
	case PD_RET:
		r.rax = (uint64_t)t->ret;
		setregs(t, &r);
		rec_finish(t, t->ret);
		return;
	case PD_OBSERVE:
		rec_finish(t, ret);
		return;
	case PD_SCRATCH_MMAP: {
		if (ret < 0 && ret > -4096) {
			t->mm->scratch = (uint64_t)-1;
			DBG("%d: scratch mmap failed: %ld", t->tid, ret);
		} else {
			t->mm->scratch = (uint64_t)ret;
			t->mm->scratch_len = (uint64_t)SCRATCH_SLOTS * SCRATCH_SLOT;
		}
		r = t->saved;
		sf_rewind_syscall(&r, (long)t->saved.orig_rax);
		setregs(t, &r);
		return;
	}
	case PD_MEMFD_INJECT:
		if (ret >= 0)
			fill_memfd(t, ret);
		break;
	case PD_RESTORE:
		break;
	default:
		return;
	}
	if (pd == PD_RESTORE && t->magic &&
	    (ret == -EACCES || ret == -ENOENT || ret == -ELOOP || ret == -EPERM)) {
		/* Could not open the tracer's memfd (credentials, namespace): replay
		 * the original call; the next attempt gets its own memfd copy. */
		t->magic = 0;
		t->proc->view = 0;
		r = t->saved;
		sf_rewind_syscall(&r, (long)t->saved.orig_rax);
		setregs(t, &r);
		return;
	}
	t->magic = 0;
	rec_finish(t, ret);
	/* Restore every argument register and the number; keep the result. */
	sf_regs o = t->saved;
	o.rax = r.rax;
	o.rip = r.rip;
	o.rcx = r.rcx;
	o.r11 = r.r11;
	o.eflags = r.eflags;
	setregs(t, &o);
}
