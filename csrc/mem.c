/* Reading and writing tracee memory with the best mechanism the kernel has:
 * process_vm_readv/writev, then /proc/PID/mem, then PEEKDATA/POKEDATA. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>
#include "core.h"

static int memfd(struct sf_tracee *t)
{
	struct sf_mm *m = t->mm;
	if (m->memfd >= 0)
		return m->memfd;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/mem", t->tid);
	m->memfd = open(p, O_RDWR | O_CLOEXEC);
	if (m->memfd < 0)
		m->memfd = open(p, O_RDONLY | O_CLOEXEC);
	m->mem_pid = t->tid;
	return m->memfd;
}

void mem_close(struct sf_mm *m)
{
	if (m->memfd >= 0)
		close(m->memfd);
	m->memfd = -1;
}

static ssize_t peek_read(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		uint64_t a = addr + done;
		uint64_t al = a & ~7ull;
		errno = 0;
		long w = ptrace(PTRACE_PEEKDATA, tid, (void *)al, NULL);
		if (errno)
			return done ? (ssize_t)done : -1;
		size_t off = a - al, n = 8 - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)&w + off, n);
		done += n;
	}
	return (ssize_t)done;
}

ssize_t mem_read(struct sf_tracee *t, uint64_t addr, void *buf, size_t len)
{
	if (sf_mech & SF_MECH_VM_READV) {
		struct iovec l = { buf, len }, r = { (void *)addr, len };
		ssize_t n = process_vm_readv(t->tid, &l, 1, &r, 1, 0);
		if (n >= 0 || errno == EFAULT)
			return n;
	}
	if (sf_mech & SF_MECH_MEM_READ) {
		int fd = memfd(t);
		if (fd >= 0) {
			ssize_t n = pread(fd, buf, len, (off_t)addr);
			if (n >= 0 || errno == EIO || errno == EFAULT)
				return n;
		}
	}
	return peek_read(t->tid, addr, buf, len);
}

#define STR_FIRST 256 /* most paths are short: a string's first read copies less */

static size_t first_chunk(uint64_t a, size_t cap)
{
	size_t chunk = 4096 - (a & 4095);
	if (chunk > STR_FIRST)
		chunk = STR_FIRST;
	return chunk > cap ? cap : chunk;
}

ssize_t mem_read_pair(struct sf_tracee *t, uint64_t a1, void *b1, size_t n1,
		      uint64_t a2, void *b2, size_t n2)
{
	if (!(sf_mech & SF_MECH_VM_READV)) {
		errno = ENOSYS;
		return -1;
	}
	struct iovec l[2] = { { b1, n1 }, { b2, n2 } };
	struct iovec r[2] = { { (void *)a1, n1 }, { (void *)a2, n2 } };
	return process_vm_readv(t->tid, l, 2, r, 2, 0);
}

/* The last string read, for the same call's next reader: an emulation reads
 * the path argument that the path rules read again (cgroupfs: every open),
 * and where /proc/PID/mem is read that is a pread each, 25 us in gVisor.
 * Kept until the stop is over or the tracer writes to a tracee. */
static struct {
	pid_t tid;
	uint64_t addr;
	int len;
	char s[SF_PATH_MAX];
} last_str;

void mem_str_forget(void)
{
	last_str.tid = 0;
}

static int read_str(struct sf_tracee *t, uint64_t addr, char *buf, size_t cap);

/* Read a NUL-terminated string without crossing into an unmapped page early.
 * Returns its length, or -1 (unreadable, or no NUL in the first cap bytes: the
 * kernel's PATH_MAX of 4096 counts the NUL, so cap = 4096 takes 4095 chars). */
int mem_read_str(struct sf_tracee *t, uint64_t addr, char *buf, size_t cap)
{
	if (last_str.tid == t->tid && last_str.addr == addr && (size_t)last_str.len < cap) {
		memcpy(buf, last_str.s, (size_t)last_str.len + 1);
		return last_str.len;
	}
	int n = read_str(t, addr, buf, cap);
	if (n >= 0 && (size_t)n < sizeof(last_str.s)) {
		memcpy(last_str.s, buf, (size_t)n + 1);
		last_str.len = n;
		last_str.addr = addr;
		last_str.tid = t->tid;
	}
	return n;
}

static int read_str(struct sf_tracee *t, uint64_t addr, char *buf, size_t cap)
{
	size_t done = 0;
	while (done < cap) {
		uint64_t a = addr + done;
		size_t chunk = done ? 4096 - (a & 4095) : first_chunk(a, cap);
		if (chunk > cap - done)
			chunk = cap - done;
		ssize_t n = mem_read(t, a, buf + done, chunk);
		if (n <= 0)
			return -1;
		char *z = memchr(buf + done, 0, (size_t)n);
		if (z)
			return (int)(z - buf);
		done += (size_t)n;
	}
	return -1;
}

int mem_write_bulk(void)
{
	return (sf_mech & (SF_MECH_VM_WRITEV | SF_MECH_MEM_WRITE)) != 0;
}

int mem_write(struct sf_tracee *t, uint64_t addr, const void *buf, size_t len)
{
	mem_str_forget();
	if (sf_mech & SF_MECH_VM_WRITEV) {
		struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };
		if (process_vm_writev(t->tid, &l, 1, &r, 1, 0) == (ssize_t)len)
			return 0;
	}
	if (sf_mech & SF_MECH_MEM_WRITE) {
		int fd = memfd(t);
		if (fd >= 0 && pwrite(fd, buf, len, (off_t)addr) == (ssize_t)len)
			return 0;
	}
	/* POKEDATA writes whole words: merge the edges with what is there. */
	size_t done = 0;
	while (done < len) {
		uint64_t a = addr + done, al = a & ~7ull;
		size_t off = a - al, n = 8 - off;
		if (n > len - done)
			n = len - done;
		long w = 0;
		if (off || n < 8) {
			errno = 0;
			w = ptrace(PTRACE_PEEKDATA, t->tid, (void *)al, NULL);
			if (errno)
				return -1;
		}
		memcpy((char *)&w + off, (const char *)buf + done, n);
		if (ptrace(PTRACE_POKEDATA, t->tid, (void *)al, (void *)w) < 0)
			return -1;
		done += n;
	}
	return 0;
}

/* The words last written to the first slots are remembered, and a write
 * whose words are all there already is left out: a loop that rewrites the
 * same path from the same call site writes nothing after its first call.
 * That saves a process_vm_writev a call on the host, and where only
 * POKEDATA writes (gVisor, about 25 us a tracer syscall) one a word. Only
 * sysfake writes the slots (a program that scribbles on its scratch mapping
 * breaks its own calls; the trampolines' results are elsewhere). A
 * program may unmap the mapping, though (tests/progs/unmapper.c): a write
 * left out says so (1), and the call's EFAULT at its exit stop, or a
 * SIGSEGV at its trampoline, makes the tracer map a new one and run it
 * again (syscall.c, tramp.c). */
#define SHADOW_SLOTS TRAMP_SLOTS
#define SHADOW_WORDS 48 /* the trampoline's words and a path of up to 319 bytes */
struct sf_shadow {
	uint64_t known[SHADOW_SLOTS]; /* bit i: word i is known */
	uint64_t w[SHADOW_SLOTS][SHADOW_WORDS];
};

void mem_shadow_drop(struct sf_mm *m)
{
	free(m->shadow);
	m->shadow = NULL;
}

int mem_mapped(struct sf_tracee *t, uint64_t addr)
{
	uint64_t v;
	return mem_read(t, addr, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static int is_known(const struct sf_shadow *sh, int slot, size_t k, uint64_t v)
{
	return (sh->known[slot] >> k & 1) && sh->w[slot][k] == v;
}

int mem_write_slot(struct sf_tracee *t, int slot, uint64_t off, const void *buf, size_t len)
{
	struct sf_mm *m = t->mm;
	uint64_t base = m->scratch + (uint64_t)slot * SCRATCH_SLOT;
	const uint64_t *in = buf;
	size_t first = off / 8, n = len / 8, i;
	if (slot >= SHADOW_SLOTS || off % 8 || len % 8 || first + n > SHADOW_WORDS ||
	    (!m->shadow && !(m->shadow = calloc(1, sizeof(*m->shadow))))) {
		if (m->shadow && slot < SHADOW_SLOTS)
			m->shadow->known[slot] = 0; /* those words are ours to forget */
		return mem_write(t, base + off, buf, len) ? -1 : 0;
	}
	struct sf_shadow *sh = m->shadow;
	for (i = 0; i < n && is_known(sh, slot, first + i, in[i]); i++)
		;
	if (i == n)
		return 1;
	if (mem_write_bulk()) { /* the whole range at once */
		if (mem_write(t, base + off, buf, len)) {
			sh->known[slot] = 0;
			return -1;
		}
		for (i = 0; i < n; i++) {
			sh->w[slot][first + i] = in[i];
			sh->known[slot] |= 1ull << (first + i);
		}
		return 0;
	}
	for (; i < n; i++) {
		size_t k = first + i;
		if (is_known(sh, slot, k, in[i]))
			continue;
		if (mem_write(t, base + 8 * k, in + i, 8)) {
			sh->known[slot] = 0;
			return -1;
		}
		sh->w[slot][k] = in[i];
		sh->known[slot] |= 1ull << k;
	}
	return 0;
}

/* Is [addr, addr+len) mapped writable in the tracee? Read from /proc/PID/maps
 * each time: mprotect/munmap are not trapped, so a cache could go stale. */
static int user_writable(pid_t tid, uint64_t addr, size_t len)
{
	uint64_t need = addr, end = addr + len;
	if (!len)
		return 1;
	if (end < addr)
		return 0;
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/maps", tid);
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	char line[512];
	int ok = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perms[8];
		int whole = strchr(line, '\n') != NULL;
		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && hi > need) {
			if (lo > need || perms[1] != 'w')
				break; /* a hole or a read-only mapping */
			need = hi;
			if (need >= end) {
				ok = 1;
				break;
			}
		}
		while (!whole && fgets(line, sizeof(line), f)) /* the rest of a long line */
			whole = strchr(line, '\n') != NULL;
	}
	fclose(f);
	return ok;
}

/* Write an answer into a buffer the tracee passed, as the kernel's copy_to_user
 * would: -1 (EFAULT) where the tracee could not write itself. /proc/PID/mem and
 * POKEDATA write through PROT_READ, so they are used only after a maps check.
 * (Letting the real syscall write, e.g. stat on the tracer's memfd, would cover
 * only the stat family, needs the /proc view, and the metadata would still be
 * patched; sysrule patches and reaper answers have no real call to borrow.) */
int mem_write_user(struct sf_tracee *t, uint64_t addr, const void *buf, size_t len)
{
	if (sf_mech & SF_MECH_VM_WRITEV) {
		struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };
		ssize_t n = process_vm_writev(t->tid, &l, 1, &r, 1, 0);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0 || errno == EFAULT)
			return -1; /* honours protections: exactly the tracee's view */
	}
	if (!user_writable(t->tid, addr, len))
		return -1;
	return mem_write(t, addr, buf, len);
}
