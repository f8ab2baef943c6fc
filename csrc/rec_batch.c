/* Record mode's results, read several at once. A recorded call that returns
 * through a trampoline (tramp.c) leaves its result in its address space's
 * results array, a word per slot. Reading it at the thread's next stop is a
 * tracer syscall per call wherever it cannot share the read of that call's
 * path (gVisor has no process_vm_readv: a pread of /proc/PID/mem, about
 * 30 us there). So the record waits here with its slot held, and the
 * results of up to BATCH of them are read in one read and their records
 * written in the order the calls were made: before any other record of a
 * thread of that address space, before a fork, an exec or an exit of one,
 * and when the batch is full. A thread's lines keep their order; lines of
 * different threads already came in the order the tracer saw them.
 *
 * Where only POKEDATA writes, every slot in use costs its trampoline's pokes
 * (tramp.c): an address space waits for results only once it has made LATE
 * such records, so that a short-lived process uses one slot, as before. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define BATCH 16
#define LATE 128

struct held {
	pid_t tid, tgid;
	int slot;
	struct sf_recpend *rec; /* the paths after it, not in its arrays */
};

struct sf_batch {
	int n;
	unsigned total; /* records held in this address space so far */
	struct held h[BATCH];
};

static int limit(const struct sf_mm *m)
{
	return mem_write_bulk() || m->batch->total > LATE ? BATCH : 1;
}

static struct sf_recpend *copy_rec(const struct sf_recpend *r)
{
	size_t head = offsetof(struct sf_recpend, raw);
	struct sf_recpend *c = malloc(head + r->raw_len + r->canon_len);
	if (!c)
		return NULL;
	memcpy(c, r, head);
	memcpy((char *)c + head, r->raw, r->raw_len);
	memcpy((char *)c + head + r->raw_len, r->canon, r->canon_len);
	return c;
}

int batch_hold(struct sf_tracee *t)
{
	struct sf_mm *m = t->mm;
	struct sf_recpend *r = t->rec;
	t->rec_tramp = 0;
	if (!r || !r->active || t->tramp_slot < 0)
		return 0;
	r->active = 0;
	if (!m->batch && !(m->batch = calloc(1, sizeof(*m->batch))))
		return 0;
	struct sf_recpend *c = copy_rec(r);
	if (!c)
		return 0;
	struct held *h = &m->batch->h[m->batch->n++];
	h->tid = t->tid;
	h->tgid = t->proc ? t->proc->tgid : t->tid;
	h->slot = t->tramp_slot;
	h->rec = c;
	m->batch->total++;
	t->tramp_slot = -1; /* the slot stays held for its result */
	if (m->batch->n >= limit(m))
		batch_write(t);
	return 1;
}

static void forget(struct sf_mm *m)
{
	struct sf_batch *b = m->batch;
	for (int i = 0; i < b->n; i++) {
		free(b->h[i].rec);
		mm_slot_free(m, b->h[i].slot);
	}
	b->n = 0;
}

/* The results of held slots lo..hi, read through t or, if t is gone,
 * through another thread that holds one. */
static int read_results(struct sf_tracee *t, struct sf_mm *m, int lo, int hi, int64_t *out)
{
	size_t len = (size_t)(hi - lo + 1) * 8;
	uint64_t at = tramp_result_at(m, lo);
	if (mem_read(t, at, out, len) == (ssize_t)len)
		return 0;
	for (int i = 0; i < m->batch->n; i++) {
		struct sf_tracee *o = tr_find(m->batch->h[i].tid);
		if (o && o != t && o->mm == m && mem_read(o, at, out, len) == (ssize_t)len)
			return 0;
	}
	return -1;
}

void batch_write(struct sf_tracee *t)
{
	struct sf_mm *m = t->mm;
	struct sf_batch *b = m ? m->batch : NULL;
	if (!b || !b->n)
		return;
	int lo = TRAMP_SLOTS, hi = -1;
	for (int i = 0; i < b->n; i++) {
		if (b->h[i].slot < lo)
			lo = b->h[i].slot;
		if (b->h[i].slot > hi)
			hi = b->h[i].slot;
	}
	int64_t res[TRAMP_SLOTS];
	if (read_results(t, m, lo, hi, res)) {
		DBG("%d: results of %d records unreadable: not written", t->tid, b->n);
		forget(m);
		return;
	}
	DBG("%d: results of %d records read at once", t->tid, b->n);
	for (int i = 0; i < b->n; i++) {
		struct held *h = &b->h[i];
		long ret = (long)res[h->slot - lo];
		struct sf_tracee *o = tr_find(h->tid);
		const char *raw = (const char *)h->rec + offsetof(struct sf_recpend, raw);
		if (!h->rec->only_failed || rec_failed(ret))
			rec_syscall_of(h->tid, h->tgid, o && o->mm == m ? o : NULL, h->rec, raw,
				       raw + h->rec->raw_len, ret);
	}
	forget(m);
}

void batch_drop(struct sf_mm *m)
{
	if (!m->batch)
		return;
	forget(m);
	free(m->batch);
	m->batch = NULL;
}
