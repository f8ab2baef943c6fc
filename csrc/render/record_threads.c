/* The Enricher's thread facts, in C: see record_threads.h. Every function
 * here mirrors one of src/sysfake/record/enrich.py's, step for step
 * (tests/record/test_lines_c.py compares the lines over random streams). */
#include <stdlib.h>
#include <string.h>
#include "record_threads.h"

#define CLONE_THREAD 0x00010000ull
#define CLONE_PARENT 0x00008000ull

struct group {
	int32_t tgid;
	uint32_t gen;  /* bumped by an exec in the group: its other threads end */
	uint64_t nlive;
	struct group *next;
};

int str_set(struct str *s, const char *p, size_t n)
{
	char *q = realloc(s->p, n ? n : 1);
	if (!q)
		return -1;
	if (n)
		memcpy(q, p, n);
	s->p = q;
	s->n = n;
	return 0;
}

static size_t bucket(int32_t k, size_t cap)
{
	return (size_t)(((uint64_t)(uint32_t)k * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* Chained tables that double when they hold twice as many entries as
 * buckets: a long run (k3s) sees hundreds of thousands of threads. */
#define GROW(T, tb, n, cap, KEY)                                                    \
	do {                                                                        \
		if ((n) < 2 * (cap) && (tb))                                        \
			break;                                                      \
		size_t nc = (tb) ? 2 * (cap) : 256;                                 \
		T **nb = calloc(nc, sizeof(*nb));                                   \
		if (!nb)                                                            \
			break; /* keep the old table: longer chains, no loss */    \
		for (size_t i = 0; i < (cap); i++)                                  \
			while ((tb) && (tb)[i]) {                                   \
				T *e = (tb)[i];                                     \
				(tb)[i] = e->next;                                  \
				size_t b = bucket(e->KEY, nc);                      \
				e->next = nb[b];                                    \
				nb[b] = e;                                          \
			}                                                           \
		free(tb);                                                           \
		(tb) = nb;                                                          \
		(cap) = nc;                                                         \
	} while (0)

void threads_free(struct threads *ts)
{
	for (size_t i = 0; i < ts->tcap; i++)
		while (ts->tb[i]) {
			struct rthread *t = ts->tb[i];
			ts->tb[i] = t->next;
			free(t->exe.p);
			free(t->comm.p);
			free(t->last);
			free(t);
		}
	for (size_t i = 0; i < ts->gcap; i++)
		while (ts->gb[i]) {
			struct group *g = ts->gb[i];
			ts->gb[i] = g->next;
			free(g);
		}
	free(ts->tb);
	free(ts->gb);
	memset(ts, 0, sizeof(*ts));
}

struct rthread *threads_find(struct threads *ts, int32_t tid)
{
	if (!ts->tb)
		return NULL;
	for (struct rthread *t = ts->tb[bucket(tid, ts->tcap)]; t; t = t->next)
		if (t->tid == tid)
			return t;
	return NULL;
}

static struct group *group_find(struct threads *ts, int32_t tgid)
{
	if (!ts->gb)
		return NULL;
	for (struct group *g = ts->gb[bucket(tgid, ts->gcap)]; g; g = g->next)
		if (g->tgid == tgid)
			return g;
	return NULL;
}

/* Enricher.processes.add(tgid): a group is made when a thread first joins it. */
static struct group *group_get(struct threads *ts, int32_t tgid)
{
	struct group *g = group_find(ts, tgid);
	if (g)
		return g;
	GROW(struct group, ts->gb, ts->gn, ts->gcap, tgid);
	if (!ts->gb || !(g = calloc(1, sizeof(*g))))
		return NULL;
	g->tgid = tgid;
	size_t b = bucket(tgid, ts->gcap);
	g->next = ts->gb[b];
	ts->gb[b] = g;
	ts->gn++;
	return g;
}

static int alive(const struct rthread *t) { return t->alive && t->gen == t->g->gen; }

/* Enricher.alive.add / discard, keeping the count of live groups. */
static void set_alive(struct threads *ts, struct rthread *t, int a)
{
	int cur = alive(t);
	if (cur && !a && --t->g->nlive == 0)
		ts->live--;
	if (!cur && a && t->g->nlive++ == 0)
		ts->live++;
	t->alive = a;
	t->gen = t->g->gen;
}

/* Enricher._move: another group, the same liveness. */
static int move(struct threads *ts, struct rthread *t, int32_t tgid)
{
	struct group *g = group_get(ts, tgid);
	if (!g)
		return -1;
	int a = alive(t);
	set_alive(ts, t, 0);
	t->g = g;
	t->tgid = tgid;
	t->gen = g->gen;
	set_alive(ts, t, a);
	return 0;
}

static int copy_facts(struct rthread *to, const struct rthread *from)
{
	to->ppid = from->ppid;
	return str_set(&to->exe, from->exe.p, from->exe.n) |
	       str_set(&to->comm, from->comm.p, from->comm.n);
}

/* Enricher._put of a new ThreadState(tgid, ppid), then alive.add; the caller
 * sets exe and comm (a new thread has none). */
static struct rthread *put(struct threads *ts, int32_t tid, int32_t tgid, int32_t ppid)
{
	struct group *g = group_get(ts, tgid);
	if (!g)
		return NULL;
	struct rthread *t = threads_find(ts, tid);
	if (t) {
		set_alive(ts, t, 0);
	} else {
		GROW(struct rthread, ts->tb, ts->tn, ts->tcap, tid);
		if (!ts->tb || !(t = calloc(1, sizeof(*t))))
			return NULL;
		t->tid = tid;
		size_t b = bucket(tid, ts->tcap);
		t->next = ts->tb[b];
		ts->tb[b] = t;
		ts->tn++;
	}
	t->g = g;
	t->tgid = tgid;
	t->ppid = ppid;
	t->gen = g->gen;
	t->alive = 0;
	set_alive(ts, t, 1);
	return t;
}

struct rthread *threads_state(struct threads *ts, int32_t tid, int has_tgid, int32_t tgid)
{
	struct rthread *t = threads_find(ts, tid);
	if (!t) {
		if (!(t = put(ts, tid, has_tgid ? tgid : tid, 0)))
			return NULL;
	} else if (has_tgid && tgid != t->tgid && move(ts, t, tgid)) {
		return NULL;
	}
	if (has_tgid && tgid != tid && t->ppid == 0) {
		struct rthread *leader = threads_find(ts, tgid);
		if (leader && copy_facts(t, leader))
			return NULL;
	}
	return t;
}

int threads_exec(struct threads *ts, struct rthread *t, int32_t ppid, const char *exe, size_t el,
		 const char *comm, size_t cl)
{
	/* exec makes the thread the leader of its process; the other threads are gone */
	struct group *g = group_find(ts, t->tid);
	if (g) {
		int mine = t->g == g, a = mine && alive(t);
		if (g->nlive)
			ts->live--;
		g->nlive = 0;
		g->gen++;
		if (mine) {
			t->alive = 0;
			t->gen = g->gen;
			set_alive(ts, t, a);
		}
	}
	if (t->tgid != t->tid && move(ts, t, t->tid))
		return -1;
	if (ppid)
		t->ppid = ppid;
	return str_set(&t->exe, exe, el) | str_set(&t->comm, comm, cl);
}

int threads_fork(struct threads *ts, const struct rthread *parent, int32_t child, uint64_t flags)
{
	int32_t tgid, ppid;
	if (flags & CLONE_THREAD) {
		tgid = parent->tgid;
		ppid = parent->ppid;
	} else if (flags & CLONE_PARENT) {
		tgid = child;
		ppid = parent->ppid;
	} else {
		tgid = child;
		ppid = parent->tgid;
	}
	struct rthread *t = put(ts, child, tgid, ppid);
	if (!t)
		return -1;
	if (t == parent) /* a child with its parent's id: the same facts */
		return 0;
	return str_set(&t->exe, parent->exe.p, parent->exe.n) |
	       str_set(&t->comm, parent->comm.p, parent->comm.n);
}

void threads_exit(struct threads *ts, struct rthread *t) { set_alive(ts, t, 0); }
