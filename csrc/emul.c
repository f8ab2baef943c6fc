/* Named emulations a profile turns on (docs/design.md): mount target magic
 * links, pivot_root as chroot, refused global umounts, capset masking and
 * the netlink ack. cgroupfs and the reaper live in their own files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "core.h"

/* On failure the call must not run half-emulated: sc_enter sees emul_fail. */
int emul_put(struct sf_tracee *t, struct sf_call *c, int arg, const void *data, size_t len)
{
	c->emul_fail = 1;
	if (t->mm->scratch == 0 || t->mm->scratch == (uint64_t)-1)
		return -1;
	if (t->slot < 0)
		t->slot = mm_slot_alloc(t->mm, t->tid);
	if (t->slot < 0)
		return -1;
	if (SCRATCH_EMUL + c->emul_used + len > SCRATCH_SLOT)
		return -1;
	uint64_t a = t->mm->scratch + (uint64_t)t->slot * SCRATCH_SLOT + SCRATCH_EMUL +
		     c->emul_used;
	if (mem_write(t, a, data, len))
		return -1;
	c->emul_fail = 0;
	c->emul_used += (len + 7) & ~(size_t)7;
	sf_set_arg(&c->r, arg, a);
	c->modified = 1;
	return 0;
}

/* Resolve a path argument the way path rules do (no rule applied). */
static int arg_path(struct sf_tracee *t, struct sf_call *c, int arg, int dfd, char *out,
		    size_t outlen, char *raw, size_t rawlen)
{
	uint64_t a = sf_arg(&c->r, arg);
	if (!a || mem_read_str(t, a, raw, rawlen) < 0)
		return -1;
	return path_resolve(t, dfd >= 0 ? (int)sf_arg(&c->r, dfd) : AT_FDCWD, raw, out, outlen);
}

/* mount("/proc/self/fd/N") mounts on the magic link in gVisor: give it the target. */
static void procfd_mount(struct sf_tracee *t, struct sf_call *c)
{
	for (int arg = 1; arg >= 0; arg--) {
		if (arg == 0 && !(sf_arg(&c->r, 3) & (MS_BIND | MS_MOVE)))
			continue;
		char raw[SF_PATH_MAX], canon[SF_PATH_MAX], target[SF_PATH_MAX];
		if (arg_path(t, c, arg, -1, canon, sizeof(canon), raw, sizeof(raw)))
			continue;
		if (strncmp(canon, "/proc/self/fd/", 14))
			continue;
		char *end;
		long fd = strtol(canon + 14, &end, 10);
		if (*end || fd < 0)
			continue;
		char l[64];
		snprintf(l, sizeof(l), "/proc/%d/fd/%ld", t->tid, fd);
		ssize_t n = readlink(l, target, sizeof(target) - 1);
		if (n <= 0 || target[0] != '/')
			continue;
		target[n] = 0;
		/* the tracer sees the path from its own root: make it the tracee's */
		proc_root(t);
		size_t rn = strlen(t->proc->root);
		const char *view = target;
		if (rn > 1 && !strncmp(target, t->proc->root, rn))
			view = target[rn] ? target + rn : "/";
		DBG("%d: mount %s -> %s", t->tid, raw, view);
		emul_put(t, c, arg, view, strlen(view) + 1);
	}
}

static void skip0(struct sf_call *c)
{
	c->skip = 1;
	c->ret = 0;
}

static void umount_call(struct sf_tracee *t, struct sf_call *c)
{
	char raw[SF_PATH_MAX], canon[SF_PATH_MAX];
	if (arg_path(t, c, 0, -1, canon, sizeof(canon), raw, sizeof(raw)))
		return;
	if ((sf_tab->emul & EM_PIVOT_CHROOT) && t->proc->pivoted == PV_PIVOTED &&
	    (!strcmp(raw, ".") || !strcmp(canon, "/"))) {
		t->proc->pivoted = PV_DETACHED; /* the old root after our chroot: nothing to unmount */
		skip0(c);
		return;
	}
	if ((sf_tab->emul & EM_PIVOT_CHROOT) && t->proc->pivoted == PV_DETACHED &&
	    !strcmp(canon, "/")) {
		/* Linux, once the old root is gone: "/" has no parent mount. crun
		 * loops on umount2(".") until this EINVAL; passing it through would
		 * detach the rootfs bind (no mount namespaces). */
		c->skip = 1;
		c->ret = -EINVAL;
		return;
	}
	if (sf_tab->emul & EM_GLOBAL_UMOUNT) {
		proc_root(t);
		/* no isolated mount namespaces: this would unmount the sandbox's own */
		if (!strcmp(t->proc->root, "/") &&
		    (!strcmp(canon, "/") || !strcmp(canon, "/proc") || !strcmp(canon, "/sys") ||
		     !strcmp(canon, "/dev")))
			skip0(c);
	}
}

static void capset_mask(struct sf_tracee *t, struct sf_call *c)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[2];
	if (mem_read(t, sf_arg(&c->r, 0), &h, sizeof(h)) != sizeof(h) || !sf_arg(&c->r, 1))
		return;
	size_t n = h.version == _LINUX_CAPABILITY_VERSION_1 ? 1 : 2;
	if (mem_read(t, sf_arg(&c->r, 1), d, n * sizeof(d[0])) != (ssize_t)(n * sizeof(d[0])))
		return;
	char buf[4096];
	if (proc_status(t->tid, buf, sizeof(buf)) < 0)
		return;
	char *l = strstr(buf, "\nCapBnd:");
	if (!l)
		return;
	unsigned long long bnd = strtoull(l + 8, NULL, 16);
	uint32_t lo = (uint32_t)bnd, hi = (uint32_t)(bnd >> 32);
	for (size_t i = 0; i < n; i++) {
		uint32_t m = i ? hi : lo;
		d[i].effective &= m;
		d[i].permitted &= m;
		d[i].inheritable &= m;
	}
	emul_put(t, c, 1, d, n * sizeof(d[0]));
}

/* A recvmsg with room for control data may be handed any fd (SCM_RIGHTS),
 * a netlink socket too; unreadable: assume it may. */
static int may_get_fds(struct sf_tracee *t, const struct sf_call *c)
{
	uint64_t len = 0; /* struct msghdr: msg_controllen at 40 */
	uint64_t msg = sf_arg(&c->r, 1);
	if (!msg || mem_read(t, msg + 40, &len, sizeof(len)) != sizeof(len))
		return 1;
	return len != 0;
}

void emul_enter(struct sf_tracee *t, struct sf_call *c)
{
	unsigned em = sf_tab->emul;
	switch (c->nr) {
	case SYS_mount:
		if (em & EM_PROCFD_MOUNT)
			procfd_mount(t, c);
		break;
	case SYS_pivot_root:
		if (em & EM_PIVOT_CHROOT) {
			c->r.orig_rax = SYS_chroot; /* new_root is already argument 0 */
			c->modified = 1;
			c->e = sf_sysent_lookup(SYS_chroot);
			t->pf |= PF_EMUL;
			t->emul = EMX_PIVOT;
		}
		break;
	case SYS_umount2:
		if (em & (EM_PIVOT_CHROOT | EM_GLOBAL_UMOUNT))
			umount_call(t, c);
		break;
	case SYS_capset:
		if (em & EM_CAPSET_MASK)
			capset_mask(t, c);
		break;
	case SYS_socket:
	case SYS_pidfd_getfd:
		if ((em & EM_NETLINK_ACK) &&
		    (c->nr == SYS_pidfd_getfd || (int)sf_arg(&c->r, 0) == AF_NETLINK))
			t->proc->netlink = 1;
		break;
	case SYS_recvmsg:
		if ((em & EM_NETLINK_ACK) && !t->proc->netlink && may_get_fds(t, c))
			t->proc->netlink = 1;
		/* fall through */
	case SYS_recvfrom:
		if ((em & EM_NETLINK_ACK) && t->proc->netlink) {
			t->pf |= PF_EMUL;
			t->emul = EMX_NLACK;
		}
		break;
	default:
		break;
	}
	if (em & EM_CGROUPFS)
		cgroupfs_enter(t, c);
	if (em & EM_REAPER)
		reaper_enter(t, c);
}

/* An NLMSG_ERROR carrying -EOPNOTSUPP for RTM_NEWLINK reads as an ack. */
static void netlink_ack(struct sf_tracee *t, long ret)
{
	if (ret < (long)(sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr)))
		return;
	uint64_t buf = sf_arg(&t->saved, 1);
	if (t->saved.orig_rax == SYS_recvmsg) {
		uint64_t iov;
		if (mem_read(t, buf + 16, &iov, 8) != 8 || mem_read(t, iov, &buf, 8) != 8)
			return; /* msghdr.msg_iov, then iov[0].iov_base */
	}
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} m;
	if (mem_read(t, buf, &m, sizeof(m)) != sizeof(m))
		return;
	if (m.h.nlmsg_type == NLMSG_ERROR && m.e.error == -EOPNOTSUPP &&
	    m.e.msg.nlmsg_type == RTM_NEWLINK) {
		int zero = 0;
		mem_write(t, buf + sizeof(m.h), &zero, sizeof(zero));
		DBG("%d: netlink RTM_NEWLINK -EOPNOTSUPP acked", t->tid);
	}
}

long emul_exit(struct sf_tracee *t, long ret, sf_regs *r)
{
	switch (t->emul) {
	case EMX_PIVOT:
		if (ret == 0)
			t->proc->pivoted = PV_PIVOTED;
		return ret;
	case EMX_NLACK:
		netlink_ack(t, ret);
		return ret;
	case EMX_CG_MKDIR:
	case EMX_CG_DEVLIST:
		return cgroupfs_exit(t, ret);
	case EMX_WAIT4:
	case EMX_WAITID:
	case EMX_SUBREAPER:
		return reaper_exit(t, ret, r);
	default:
		return ret;
	}
}
