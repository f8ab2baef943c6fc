/* Registry of tracees (threads), processes and address spaces. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core.h"

#define NBUCKETS 4096
static struct sf_tracee *buckets[NBUCKETS];
static size_t ntracees;
static int nprocdirs;

static unsigned hash(pid_t tid) { return (unsigned)tid * 2654435761u % NBUCKETS; }

struct sf_tracee *tr_find(pid_t tid)
{
	for (struct sf_tracee *t = buckets[hash(tid)]; t; t = t->next)
		if (t->tid == tid)
			return t;
	return NULL;
}

struct sf_tracee *tr_new(pid_t tid)
{
	struct sf_tracee *t = calloc(1, sizeof(*t));
	if (!t)
		abort();
	t->tid = tid;
	t->slot = -1;
	t->tramp_slot = -1;
	t->vdir_pos = -1;
	t->procdir[0] = t->procdir[1] = -1;
	unsigned h = hash(tid);
	t->next = buckets[h];
	buckets[h] = t;
	ntracees++;
	return t;
}

/* The thread's injected mmap or mprotect will never reach its exit stop (it
 * exits, execs, or its registers are gone): another thread may inject it. */
void tr_injection_lost(struct sf_tracee *t)
{
	if (t->pf & PF_SCRATCH)
		t->mm->scratch_busy = 0;
	if (t->pf & PF_TRAMP)
		t->mm->tramp = TR_NONE;
}

void tr_del(struct sf_tracee *t)
{
	struct sf_tracee **pp = &buckets[hash(t->tid)];
	while (*pp && *pp != t)
		pp = &(*pp)->next;
	if (*pp)
		*pp = t->next;
	if (t->mm) {
		if (t->slot >= 0)
			mm_slot_free(t->mm, t->slot);
		tramp_drop(t);
		tr_injection_lost(t);
		mm_put(t->mm);
	}
	if (t->proc)
		proc_put(t->proc);
	for (int i = 0; i < 2; i++)
		if (t->procdir[i] >= 0) {
			close(t->procdir[i]);
			nprocdirs--;
		}
	free(t->rec);
	free(t->rec_last);
	free(t->inplace_old);
	free(t);
	ntracees--;
}

size_t tr_count(void) { return ntracees; }

void tr_foreach(void (*fn)(struct sf_tracee *, void *), void *arg)
{
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct sf_tracee *t = buckets[i];
		while (t) {
			struct sf_tracee *next = t->next; /* fn may delete t */
			fn(t, arg);
			t = next;
		}
	}
}

/* /proc/<tid> (fd_dir 0) or /proc/<tid>/fd (1) held open for a thread that
 * reads its links again and again (a relative path per call):
 * readlinkat(fd, "cwd") or readlinkat(fd, "N") skips the walk through /proc
 * and the pid lookup. The fd names the task, not the number, so it never
 * reaches a reused tid; it follows the tid across a non-leader exec as
 * /proc/<tid> does. Bounded, to stay far from the tracer's fd limit. */
#define MAX_PROCDIRS 128
int tr_procdir(struct sf_tracee *t, int fd_dir)
{
	int *d = &t->procdir[fd_dir];
	if (*d >= 0 || t->proclinks[fd_dir]++ < 1 || nprocdirs >= MAX_PROCDIRS)
		return *d;
	char p[64];
	snprintf(p, sizeof(p), fd_dir ? "/proc/%d/fd" : "/proc/%d", t->tid);
	*d = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*d >= 0)
		nprocdirs++;
	return *d;
}

ssize_t proc_status(pid_t tid, char *buf, size_t cap)
{
	char p[64];
	snprintf(p, sizeof(p), tid ? "/proc/%d/status" : "/proc/self/status", (int)tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return n;
}

struct sf_proc *proc_new(pid_t tgid)
{
	struct sf_proc *p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	static uint64_t serials;
	p->refs = 1;
	p->tgid = tgid;
	p->serial = ++serials;
	p->view = -1;
	return p;
}

void proc_put(struct sf_proc *p)
{
	if (--p->refs == 0) {
		free(p->exec_raw);
		free(p);
	}
}

struct sf_mm *mm_new(void)
{
	struct sf_mm *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	m->refs = 1;
	m->memfd = -1;
	m->slot_used[SCRATCH_CODE_SLOT / 64] = 1ull << (SCRATCH_CODE_SLOT % 64);
	return m;
}

struct sf_mm *mm_get(struct sf_mm *m)
{
	m->refs++;
	return m;
}

void mm_put(struct sf_mm *m)
{
	if (--m->refs == 0) {
		batch_drop(m);
		mem_close(m);
		mem_shadow_drop(m);
		free(m);
	}
}

/* The scratch mapping is now at `addr` (0: none, -1: mapping it failed):
 * nothing written into an earlier one is there. */
void mm_scratch_set(struct sf_mm *m, uint64_t addr)
{
	m->scratch = addr;
	m->tramp = TR_NONE;
	m->tramp_count = 0;
	m->tramp_code = 0;
	batch_drop(m); /* their results went with the old mapping */
	mem_shadow_drop(m);
}

/* fork() copies our private scratch mapping into the child at the same address. */
struct sf_mm *mm_fork(const struct sf_mm *parent)
{
	struct sf_mm *m = mm_new();
	if (parent) {
		m->scratch = parent->scratch;
		/* the copy of a read+exec code page is read+exec (while the
		 * parent's mprotect is in flight, the child's may be either) */
		m->tramp = parent->tramp == TR_READY ? TR_READY : TR_NONE;
		m->tramp_code = m->tramp == TR_READY ? parent->tramp_code : 0;
	}
	return m;
}

/* A free slot, the lowest this thread used last if any: its words are
 * likely there already (mem.c's shadow), where a slot last used by another
 * thread holds that thread's arguments. */
int mm_slot_alloc(struct sf_mm *m, pid_t tid)
{
	for (uint64_t f = ~m->slot_used[0]; f; f &= f - 1) {
		int b = __builtin_ctzll(f);
		if (m->slot_tid[b] == tid) {
			m->slot_used[0] |= 1ull << b;
			return b;
		}
	}
	for (int w = 0; w < SCRATCH_SLOTS / 64; w++) {
		if (m->slot_used[w] == ~0ull)
			continue;
		int b = __builtin_ctzll(~m->slot_used[w]);
		m->slot_used[w] |= 1ull << b;
		if (w == 0)
			m->slot_tid[b] = tid;
		return w * 64 + b;
	}
	return -1;
}

void mm_slot_free(struct sf_mm *m, int slot)
{
	if (slot >= 0 && slot < SCRATCH_SLOTS)
		m->slot_used[slot / 64] &= ~(1ull << (slot % 64));
}

/* A thread waiting for scratch may go on: a slot is free and no other thread
 * is still mapping the area. */
int mm_slot_ready(const struct sf_mm *m)
{
	return !m->scratch_busy && mm_slot_free_count(m) > 0;
}

int mm_slot_free_count(const struct sf_mm *m)
{
	int n = 0;
	for (int w = 0; w < SCRATCH_SLOTS / 64; w++)
		n += 64 - __builtin_popcountll(m->slot_used[w]);
	return n;
}
