/* Record mode's exec line without /proc. Reading /proc/PID/{exe,cmdline,stat}
 * of a new process makes that pid's proc inodes, which its reaper drops again:
 * about 30 us an exec, a third of what record adds to a fork/exec loop
 * (docs/performance.md, gap 8). Where every fact can be had otherwise, and
 * provably the same, the line is made from:
 *  - exe: the file the program named, opened by the tracer itself (no rule
 *    changed the call: else the kernel ran another name). Only where
 *    the process sees the tracer's root, mounts and user namespace
 *    (sf_proc.hostview, kept while unshare and setns are trapped), the name is
 *    absolute, its lookup crosses no magic link (/proc/self/..., /dev/fd/...,
 *    whose target depends on who looks: openat2 RESOLVE_NO_MAGICLINKS), and
 *    the file is an x86-64 ELF, or a "#!" script whose interpreter is one, named
 *    by an absolute path, and no binfmt_misc handler is registered. The path
 *    is the link of the tracer's own fd, which /proc/PID/exe would show;
 *  - comm: the name's last component, cut to 15 bytes, as exec sets it;
 *  - argv: the strings argv[0]..argv[argc-1] of the new stack, which is what
 *    /proc/PID/cmdline reads (one process_vm_readv with argv[argc-1]);
 *  - ppid: the parent the tracer knows, while it is no zombie (tracked_ppid),
 *    else PIDFD_GET_INFO on a pidfd (Linux 6.13).
 * Anything else (gVisor, a relative name, a failure) reads /proc as before. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include "core.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* PIDFD_GET_INFO's first version (Linux 6.13); later kernels take it as is */
struct pidfd_info0 {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid, spare0;
};
#define SF_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info0)

int sf_pidfd_ppid(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	struct pidfd_info0 info;
	memset(&info, 0, sizeof(info));
	info.mask = 1; /* PIDFD_INFO_PID */
	int rc = ioctl(fd, SF_PIDFD_GET_INFO, &info);
	close(fd);
	return rc < 0 ? -1 : (int)info.ppid;
}

/* The tracer's own /proc/<pid>/fd, held for the run: a readlink below it
 * does not walk /proc/self each time (about 1.7 of 4.8 us an exec, timed in
 * a recorded fork/exec loop). Opened per run, so a forked tracer process
 * never reads its parent's. */
static int selffd = -1;

void exec_facts_begin(void)
{
	exec_facts_end();
	selffd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

void exec_facts_end(void)
{
	if (selffd >= 0)
		close(selffd);
	selffd = -1;
}

void exec_note(struct sf_tracee *t, long nr, const char *raw)
{
	struct sf_proc *p = t->proc;
	free(p->exec_raw);
	p->exec_raw = nr == SYS_execve && raw && raw[0] == '/' ? strdup(raw) : NULL;
	p->exec_tid = t->tid;
}

/* Is any binfmt_misc handler registered? (read once; unreadable: none seen) */
static int binfmt_misc_used(void)
{
	static int used = -1;
	if (used >= 0)
		return used;
	used = 0;
	DIR *d = opendir("/proc/sys/fs/binfmt_misc");
	if (!d)
		return used;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "register") &&
		    strcmp(de->d_name, "status"))
			used = 1;
	closedir(d);
	return used;
}

/* "#!" line of h[0..n): the interpreter named by an absolute path, as
 * binfmt_script reads it (the first line of the first 256 bytes, spaces and
 * tabs around the name), into out; 0 when there is none. */
static int shebang(const unsigned char *h, size_t n, char *out, size_t cap)
{
	if (n < 3 || h[0] != '#' || h[1] != '!')
		return 0;
	size_t i = 2, end = n;
	const unsigned char *nl = memchr(h, '\n', n);
	if (nl)
		end = (size_t)(nl - h);
	else if (n == 256)
		return 0; /* the line may go on: the kernel's own checks, not ours */
	while (i < end && (h[i] == ' ' || h[i] == '\t'))
		i++;
	size_t s = i;
	while (i < end && h[i] != ' ' && h[i] != '\t' && h[i] != 0)
		i++;
	if (i == s || h[s] != '/' || i - s >= cap)
		return 0;
	memcpy(out, h + s, i - s);
	out[i - s] = 0;
	return 1;
}

/* An x86-64 ELF file: its stack's words are 8 bytes (i386 and x32 programs'
 * are 4, and take /proc) */
static int native_elf(const unsigned char *h, size_t n)
{
	return n >= 20 && !memcmp(h, "\177ELF", 4) && h[4] == 2 && h[5] == 1 && h[18] == 62 &&
	       h[19] == 0;
}

/* /proc/PID/exe of a process that exec'd `path` in the tracer's view. */
static ssize_t exe_of_file(const char *path, char *out, size_t cap, int depth)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0)
		return -1;
	unsigned char h[256];
	char interp[256];
	ssize_t n = pread(fd, h, sizeof(h), 0), r = -1;
	if (n > 0 && native_elf(h, (size_t)n)) {
		char l[64];
		snprintf(l, sizeof(l), "%s%d", selffd >= 0 ? "" : "/proc/self/fd/", fd);
		r = readlinkat(selffd >= 0 ? selffd : AT_FDCWD, l, out, cap);
		if (r >= (ssize_t)cap || (r > 10 && !memcmp(out + r - 10, " (deleted)", 10)))
			r = -1;
	} else if (n > 0 && !depth && shebang(h, (size_t)n, interp, sizeof(interp))) {
		r = exe_of_file(interp, out, cap, 1);
	}
	close(fd);
	return r;
}

/* The parent without a pidfd (which costs a new process about 12 us: the
 * pidfd's inode, made and dropped again at its reaping), where the tracer
 * knows it: the process whose fork event made this one is its parent until
 * that process exits. The kernel moves a process's children to another
 * parent in the same step (under tasklist_lock) that makes it a zombie, and
 * the tracer can ask whether its tracee is one without reaping it: not yet
 * a zombie, still the parent. That holds for a process with one thread: a
 * group's children go elsewhere when its last thread exits, not its leader,
 * so a process that ever made a thread takes the pidfd (it stops at that
 * clone event: the thread cannot outlive it before the tracer knows).
 * -1: not known. */
static int tracked_ppid(const struct sf_tracee *t)
{
	const struct sf_proc *p = t->proc;
	if (!p->parent_serial)
		return -1;
	const struct sf_tracee *pt = tr_find(p->parent_tgid);
	if (!pt || !pt->proc || pt->proc->serial != p->parent_serial || pt->proc->threaded)
		return -1;
	siginfo_t si;
	si.si_pid = 0;
	if (waitid(P_PID, (id_t)p->parent_tgid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) ||
	    si.si_pid)
		return -1; /* exited (or cannot tell): its children have moved */
	return p->parent_tgid;
}

int exec_facts(struct sf_tracee *t, pid_t former, struct exec_facts *f)
{
	struct sf_proc *p = t->proc;
	const char *raw = p->exec_raw;
	if (!raw || p->exec_tid != former || !p->hostview || !(sf_mech & SF_MECH_VM_READV) ||
	    !(sf_mech & SF_MECH_PIDFD_INFO) || !seccomp_sees_nschange() || binfmt_misc_used())
		return -1;
	ssize_t en = exe_of_file(raw, f->exe, sizeof(f->exe), 0);
	if (en <= 0)
		return -1;
	f->en = (size_t)en;
	sf_regs r;
	uint64_t top[2]; /* argc, argv[0] */
	if (sf_getregs(t, &r) || mem_read(t, r.rsp, top, sizeof(top)) != sizeof(top) ||
	    top[0] == 0 || top[0] > (1u << 20))
		return -1;
	uint64_t last = 0;
	ssize_t got = mem_read_pair(t, r.rsp + 8 * top[0], &last, 8,
				    top[1], f->argv, sizeof(f->argv)) - 8;
	if (got <= 0 || last < top[1])
		return -1;
	f->an = (size_t)got; /* the args go on past what was read: cut there, as cmdline is */
	if (last - top[1] < (uint64_t)got) {
		const char *z = memchr(f->argv + (last - top[1]), 0, (size_t)got - (last - top[1]));
		if (z)
			f->an = (size_t)(z - f->argv) + 1;
	}
	int ppid = tracked_ppid(t);
	if (ppid >= 0)
		DBG("%d: parent %d from the tracer's own tree (%.*s)", t->tid, ppid, (int)f->en,
		    f->exe);
	else
		ppid = sf_pidfd_ppid(t->tid);
	if (ppid < 0)
		return -1;
	f->ppid = ppid;
	const char *base = strrchr(raw, '/') + 1;
	f->cn = strnlen(base, 15);
	memcpy(f->comm, base, f->cn);
	return 0;
}
