/* Record mode's line writer in C: see record_lines.h. It decides nothing
 * about a line's words; every name and text it writes came from Python, so
 * that its lines are byte for byte the Python writer's. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "record_lines.h"
#include "record_threads.h"

enum { T_SYSCALL = 1, T_EXEC = 2, T_FORK = 3, T_EXIT = 4, T_REPEAT = 5 };
#define COMMON 12
#define HEAD (COMMON + 76)          /* a syscall record before its paths */
#define EXEC_HEAD (COMMON + 14)
#define FORK_SIZE (COMMON + 16)
#define EXIT_SIZE (COMMON + 8)
#define REPEAT_SIZE (COMMON + 4)
#define ARGV_MAX 1024               /* the core keeps this much of the command line */
#define LOW_NR 1024                 /* calls below this in an array, the others in a list */
#define NBUCKETS 1024
#define MAX_TEXTS 8192
#define MAX_CLONES 1024

struct call {
	int32_t nr;
	int known, nargs;
	struct str head;
	int kind[6], text[6];
	struct str prefix[6];
	struct call *next;
};

struct text {
	int32_t nr;
	int arg;
	uint64_t value;
	struct str json;
	struct text *next;
};

struct sf_lines {
	struct threads ts;
	struct call calls[LOW_NR];
	struct call *other_calls;
	struct text *texts[NBUCKETS];
	size_t ntexts;
	struct text *clones[NBUCKETS]; /* nr and arg unused */
	size_t nclones;
	struct str err[4096], sig[128];
	uint64_t time_bits; /* the time Python formatted last */
	struct str time_text;
	struct str line;    /* the line being written; held when out is full */
	size_t line_cap;
	int held;
	uint64_t events;
};

static unsigned hash(uint64_t v) { return (unsigned)((v * 0x9E3779B97F4A7C15ull) >> 54); }

struct sf_lines *sf_lines_new(void) { return calloc(1, sizeof(struct sf_lines)); }

static void list_clear(struct text **tb, size_t *n)
{
	for (unsigned i = 0; i < NBUCKETS; i++)
		while (tb[i]) {
			struct text *t = tb[i];
			tb[i] = t->next;
			free(t->json.p);
			free(t);
		}
	*n = 0;
}

static void call_free(struct call *c)
{
	free(c->head.p);
	for (int k = 0; k < 6; k++)
		free(c->prefix[k].p);
}

void sf_lines_free(struct sf_lines *l)
{
	if (!l)
		return;
	threads_free(&l->ts);
	list_clear(l->texts, &l->ntexts);
	list_clear(l->clones, &l->nclones);
	for (int i = 0; i < LOW_NR; i++)
		call_free(&l->calls[i]);
	while (l->other_calls) {
		struct call *c = l->other_calls;
		l->other_calls = c->next;
		call_free(c);
		free(c);
	}
	for (int i = 0; i < 4096; i++)
		free(l->err[i].p);
	for (int i = 0; i < 128; i++)
		free(l->sig[i].p);
	free(l->time_text.p);
	free(l->line.p);
	free(l);
}

/* ---- what Python teaches ---- */

static struct call *call_get(struct sf_lines *l, int32_t nr, int make)
{
	if (nr >= 0 && nr < LOW_NR)
		return &l->calls[nr];
	for (struct call *c = l->other_calls; c; c = c->next)
		if (c->nr == nr)
			return c;
	struct call *c = make ? calloc(1, sizeof(*c)) : NULL;
	if (c) {
		c->nr = nr;
		c->next = l->other_calls;
		l->other_calls = c;
	}
	return c;
}

int sf_lines_set_call(struct sf_lines *l, int32_t nr, const char *head, size_t headn, int nargs,
		      const int *kinds, const int *texts, const char *const *prefix)
{
	struct call *c = call_get(l, nr, 1);
	if (!c || nargs < 0 || nargs > 6 || str_set(&c->head, head, headn))
		return -1;
	for (int i = 0; i < nargs; i++) {
		c->kind[i] = kinds[i];
		c->text[i] = texts[i];
		if (!texts[i] && str_set(&c->prefix[i], prefix[i], strlen(prefix[i])))
			return -1;
	}
	c->nargs = nargs;
	c->known = 1;
	return 0;
}

static struct text **text_bucket(struct text **tb, int32_t nr, int arg, uint64_t value)
{
	return &tb[hash(value * 7 + (uint64_t)nr * 131 + (uint64_t)arg) % NBUCKETS];
}

static struct text *text_get(struct text **tb, int32_t nr, int arg, uint64_t value)
{
	for (struct text *t = *text_bucket(tb, nr, arg, value); t; t = t->next)
		if (t->nr == nr && t->arg == arg && t->value == value)
			return t;
	return NULL;
}

static int text_set(struct text **tb, size_t *count, size_t max, int32_t nr, int arg,
		    uint64_t value, const char *json, size_t n)
{
	if (text_get(tb, nr, arg, value))
		return 0;
	if (*count >= max) /* a bound on memory: what is needed again is taught again */
		list_clear(tb, count);
	struct text *t = calloc(1, sizeof(*t));
	if (!t || str_set(&t->json, json, n)) {
		free(t);
		return -1;
	}
	t->nr = nr;
	t->arg = arg;
	t->value = value;
	struct text **b = text_bucket(tb, nr, arg, value);
	t->next = *b;
	*b = t;
	(*count)++;
	return 0;
}

int sf_lines_set_text(struct sf_lines *l, int32_t nr, int arg, uint64_t value, const char *json,
		      size_t n)
{
	return text_set(l->texts, &l->ntexts, MAX_TEXTS, nr, arg, value, json, n);
}

int sf_lines_set_clone(struct sf_lines *l, uint64_t flags, const char *json, size_t n)
{
	return text_set(l->clones, &l->nclones, MAX_CLONES, 0, 0, flags, json, n);
}

int sf_lines_set_errno(struct sf_lines *l, int err, const char *json, size_t n)
{
	return err > 0 && err < 4096 ? str_set(&l->err[err], json, n) : -1;
}

int sf_lines_set_signal(struct sf_lines *l, int sig, const char *json, size_t n)
{
	return sig > 0 && sig < 128 ? str_set(&l->sig[sig], json, n) : -1;
}

int sf_lines_set_time(struct sf_lines *l, double t, const char *text, size_t n)
{
	memcpy(&l->time_bits, &t, 8);
	return str_set(&l->time_text, text, n);
}

void sf_lines_counts(const struct sf_lines *l, uint64_t *events, uint64_t *processes,
		     uint64_t *live)
{
	*events = l->events;
	*processes = l->ts.gn;
	*live = l->ts.live;
}

/* ---- writing a line (into l->line, grown to the bound reserve() is given) ---- */

static int reserve(struct sf_lines *l, size_t n)
{
	if (l->line_cap >= n)
		return 0;
	size_t cap = l->line_cap ? l->line_cap : 4096;
	while (cap < n)
		cap *= 2;
	char *p = realloc(l->line.p, cap);
	if (!p)
		return -1;
	l->line.p = p;
	l->line_cap = cap;
	return 0;
}

static void put(struct str *w, const char *s, size_t n)
{
	if (n)
		memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void puts_(struct str *w, const char *s) { put(w, s, strlen(s)); }

/* Digits by hand: sprintf was a tenth of a record line's cost. */
static void put_uint(struct str *w, unsigned long long v)
{
	char t[20];
	int k = 20;
	do {
		t[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, t + k, (size_t)(20 - k));
}

static void put_int(struct str *w, long long v)
{
	if (v < 0) {
		w->p[w->n++] = '-';
		put_uint(w, 0ull - (unsigned long long)v);
	} else {
		put_uint(w, (unsigned long long)v);
	}
}

/* json.encoder.encode_basestring of the bytes decoded with surrogateescape:
 * bytes pass through, but for quotes, backslashes and control characters
 * (at most 6 bytes out for each in). */
static void put_jstr(struct str *w, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	w->p[w->n++] = '"';
	for (size_t i = 0; i < n; i++) {
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
			run++;
		put(w, (const char *)s + i, run - i); /* what passes through, at once */
		if ((i = run) == n)
			break;
		unsigned char c = s[i];
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default: break;
		}
		if (esc) {
			puts_(w, esc);
		} else { /* another control character */
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(w, u, 6);
		}
	}
	w->p[w->n++] = '"';
}

static void put_jstr_s(struct str *w, const struct str *s)
{
	put_jstr(w, (const unsigned char *)s->p, s->n);
}

/* The time's text, or NULL after asking Python for it. */
static const char *time_text(struct sf_lines *l, double tm, char *buf, size_t *n,
			     struct sf_lines_need *need)
{
	if ((*n = sf_float_repr(tm, buf, 48)))
		return buf;
	uint64_t bits;
	memcpy(&bits, &tm, 8);
	if (l->time_text.p && bits == l->time_bits) {
		*n = l->time_text.n;
		return l->time_text.p;
	}
	need->what = SF_NEED_TIME;
	need->time = tm;
	return NULL;
}

#define TIME_AT 8 /* strlen("{\"time\":"): where every line's time starts */

/* '{"time":T,"pid":..,"tgid":..,"ppid":..,"exe":..,"comm":..' */
static void put_head(struct str *w, const char *tt, size_t tn, const struct rthread *t)
{
	puts_(w, "{\"time\":");
	put(w, tt, tn);
	puts_(w, ",\"pid\":");
	put_int(w, t->tid);
	puts_(w, ",\"tgid\":");
	put_int(w, t->tgid);
	puts_(w, ",\"ppid\":");
	put_int(w, t->ppid);
	puts_(w, ",\"exe\":");
	put_jstr_s(w, &t->exe);
	puts_(w, ",\"comm\":");
	put_jstr_s(w, &t->comm);
}

static size_t head_bound(size_t tn, const struct rthread *t)
{
	return 100 + tn + 6 * (t->exe.n + t->comm.n);
}

static long long arg_value(int kind, uint64_t raw)
{
	if (kind == -1)
		return (long long)raw; /* printed unsigned below */
	if (kind == 0)
		return (long long)(raw & 0xFFFFFFFFu);
	if (kind == 32)
		return (long long)(int32_t)(uint32_t)raw;
	return (long long)raw;
}

struct sysrec {
	int32_t tid, tgid, nr, rule;
	int64_t ret;
	uint64_t args[6];
	uint16_t rl, cl;
	const struct call *c;
	const struct text *tx[6];
};

/* Not a well-formed record this writer knows: Python says why (1, as a need). */
static int refused(struct sf_lines_need *need)
{
	need->what = SF_NEED_RECORD;
	return 1;
}

static int sysrec_parse(const unsigned char *rec, size_t size, struct sysrec *s)
{
	if (size < HEAD)
		return -1;
	memcpy(&s->tid, rec + COMMON, 4);
	memcpy(&s->tgid, rec + COMMON + 4, 4);
	memcpy(&s->nr, rec + COMMON + 8, 4);
	memcpy(&s->rule, rec + COMMON + 12, 4);
	memcpy(&s->ret, rec + COMMON + 16, 8);
	memcpy(s->args, rec + COMMON + 24, 48);
	memcpy(&s->rl, rec + COMMON + 72, 2);
	memcpy(&s->cl, rec + COMMON + 74, 2);
	return (size_t)HEAD + s->rl + s->cl == size ? 0 : -1;
}

/* The call's layout and texts, or -1 after asking Python for one. */
static int sysrec_pieces(struct sf_lines *l, struct sysrec *s, struct sf_lines_need *need)
{
	struct call *c = call_get(l, s->nr, 0);
	if (!c || !c->known) {
		need->what = SF_NEED_CALL;
		need->nr = s->nr;
		return -1;
	}
	s->c = c;
	for (int i = 0; i < c->nargs; i++) {
		s->tx[i] = NULL;
		if (!c->text[i])
			continue;
		uint64_t v = (uint64_t)arg_value(c->kind[i], s->args[i]);
		if (!(s->tx[i] = text_get(l->texts, s->nr, i, v))) {
			need->what = SF_NEED_TEXT;
			need->nr = s->nr;
			need->arg = i;
			need->value = v;
			return -1;
		}
	}
	return 0;
}

static const char *errno_json(struct sf_lines *l, int64_t ret, char *buf, size_t *n)
{
	if (ret >= 0 || ret <= -4096)
		return NULL;
	if (l->err[-ret].p) { /* a name Python gave; else errno_name()'s "E<n>" */
		*n = l->err[-ret].n;
		return l->err[-ret].p;
	}
	*n = (size_t)snprintf(buf, 24, "\"E%lld\"", (long long)-ret);
	return buf;
}

static int syscall_line(struct sf_lines *l, const unsigned char *rec, const struct sysrec *s,
			const struct rthread *t, const char *tt, size_t tn)
{
	const struct call *c = s->c;
	char ebuf[24];
	size_t en = 0;
	const char *ej = errno_json(l, s->ret, ebuf, &en);
	size_t bound = head_bound(tn, t) + 200 + c->head.n + en + 6 * ((size_t)s->rl + s->cl);
	for (int i = 0; i < c->nargs; i++)
		bound += s->tx[i] ? s->tx[i]->json.n : c->prefix[i].n + 24;
	if (reserve(l, bound))
		return -1;
	struct str *w = &l->line;
	put_head(w, tt, tn, t);
	w->p[w->n++] = ',';
	put(w, c->head.p, c->head.n);
	for (int i = 0; i < c->nargs; i++) {
		if (i)
			w->p[w->n++] = ',';
		if (s->tx[i]) {
			put(w, s->tx[i]->json.p, s->tx[i]->json.n);
			continue;
		}
		put(w, c->prefix[i].p, c->prefix[i].n);
		if (c->kind[i] == -1)
			put_uint(w, s->args[i]);
		else
			put_int(w, arg_value(c->kind[i], s->args[i]));
		w->p[w->n++] = '}';
	}
	puts_(w, "],\"path\":");
	if (s->rl)
		put_jstr(w, rec + HEAD, s->rl);
	else
		puts_(w, "null");
	puts_(w, ",\"resolved\":");
	if (s->cl)
		put_jstr(w, rec + HEAD + s->rl, s->cl);
	else
		puts_(w, "null");
	puts_(w, ",\"rule\":");
	if (s->rule == -1)
		puts_(w, "null");
	else
		put_int(w, s->rule);
	puts_(w, ",\"result\":");
	put_int(w, s->ret);
	puts_(w, ",\"errno\":");
	if (ej)
		put(w, ej, en);
	else
		puts_(w, "null");
	puts_(w, ",\"flags\":");
	put_int(w, rec[3]);
	puts_(w, ",\"type\":\"syscall\"}\n");
	return 0;
}

/* Keep the line's text after its time: a repeat record's line is the same
 * text at another time (the record, the thread's facts and what Python taught
 * are all as they were), so it costs a copy, not a render. */
static int keep_last(struct sf_lines *l, struct rthread *t, const char *tail, size_t n)
{
	if (t->last_cap < n) {
		unsigned char *p = realloc(t->last, n);
		if (!p)
			return -1;
		t->last = p;
		t->last_cap = n;
	}
	memcpy(t->last, tail, n);
	t->last_n = n;
	t->last_gen = l->ts.gen;
	return 0;
}

/* A syscall record. 0 done, 1 needs Python (*need), -1 out of memory. */
static int do_syscall(struct sf_lines *l, const unsigned char *rec, size_t size, const char *tt,
		      size_t tn, struct sf_lines_need *need)
{
	struct sysrec s;
	if (sysrec_parse(rec, size, &s))
		return refused(need);
	if (sysrec_pieces(l, &s, need))
		return 1;
	struct rthread *t = threads_state(&l->ts, s.tid, 1, s.tgid);
	if (!t || syscall_line(l, rec, &s, t, tt, tn))
		return -1;
	size_t at = TIME_AT + tn;
	return keep_last(l, t, l->line.p + at, l->line.n - at);
}

/* A repeat of the thread's last syscall record, at a new time. */
static int do_repeat(struct sf_lines *l, const struct rthread *t, const char *tt, size_t tn)
{
	if (reserve(l, TIME_AT + tn + t->last_n))
		return -1;
	struct str *w = &l->line;
	puts_(w, "{\"time\":");
	put(w, tt, tn);
	put(w, (const char *)t->last, t->last_n);
	return 0;
}

static int do_exec(struct sf_lines *l, const unsigned char *rec, size_t size, const char *tt,
		   size_t tn, struct sf_lines_need *need)
{
	int32_t tid, ppid;
	uint16_t el, cl, al;
	if (size < EXEC_HEAD)
		return refused(need);
	memcpy(&tid, rec + COMMON, 4);
	memcpy(&ppid, rec + COMMON + 4, 4);
	memcpy(&el, rec + COMMON + 8, 2);
	memcpy(&cl, rec + COMMON + 10, 2);
	memcpy(&al, rec + COMMON + 12, 2);
	if ((size_t)EXEC_HEAD + el + cl + al != size)
		return refused(need);
	const char *exe = (const char *)rec + EXEC_HEAD, *comm = exe + el;
	const unsigned char *av = (const unsigned char *)comm + cl;
	struct rthread *t = threads_state(&l->ts, tid, 0, 0);
	if (!t || threads_exec(&l->ts, t, ppid, exe, el, comm, cl))
		return -1;
	if (reserve(l, head_bound(tn, t) + 100 + 6 * (size_t)al + 3 * (size_t)al))
		return -1;
	struct str *w = &l->line;
	put_head(w, tt, tn, t);
	puts_(w, ",\"argv\":[");
	/* bytes.split(b"\0"), the last part dropped when empty */
	size_t start = 0;
	int first = 1;
	for (size_t i = 0; i <= al; i++) {
		if (i < al && av[i])
			continue;
		if (i == al && start == al)
			break;
		if (!first)
			w->p[w->n++] = ',';
		first = 0;
		put_jstr(w, av + start, i - start);
		start = i + 1;
	}
	puts_(w, "],\"argv_truncated\":");
	puts_(w, al >= ARGV_MAX ? "true" : "false");
	puts_(w, ",\"type\":\"exec\"}\n");
	return 0;
}

static int do_fork(struct sf_lines *l, const unsigned char *rec, const char *tt, size_t tn,
		   struct sf_lines_need *need)
{
	int32_t parent, child;
	uint64_t flags;
	memcpy(&parent, rec + COMMON, 4);
	memcpy(&child, rec + COMMON + 4, 4);
	memcpy(&flags, rec + COMMON + 8, 8);
	const struct text *ct = text_get(l->clones, 0, 0, flags);
	if (!ct) {
		need->what = SF_NEED_CLONE;
		need->value = flags;
		return 1;
	}
	struct rthread *p = threads_state(&l->ts, parent, 0, 0);
	if (!p || reserve(l, head_bound(tn, p) + 120 + ct->json.n))
		return -1;
	struct str *w = &l->line; /* the parent's facts before the child may replace them */
	put_head(w, tt, tn, p);
	puts_(w, ",\"child\":");
	put_int(w, child);
	puts_(w, ",\"thread\":");
	puts_(w, flags & 0x00010000ull ? "true" : "false");
	puts_(w, ",\"clone_flags\":");
	put_uint(w, flags);
	puts_(w, ",\"clone_text\":");
	put(w, ct->json.p, ct->json.n);
	puts_(w, ",\"type\":\"fork\"}\n");
	return threads_fork(&l->ts, p, child, flags) ? -1 : 0;
}

static int do_exit(struct sf_lines *l, const unsigned char *rec, const char *tt, size_t tn,
		   struct sf_lines_need *need)
{
	int32_t tid, status;
	memcpy(&tid, rec + COMMON, 4);
	memcpy(&status, rec + COMMON + 4, 4);
	/* os.WIFEXITED and the others are these macros on the same int */
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (sig && !l->sig[sig].p) {
		need->what = SF_NEED_SIGNAL;
		need->arg = sig;
		return 1;
	}
	struct rthread *t = threads_state(&l->ts, tid, 0, 0);
	if (!t || reserve(l, head_bound(tn, t) + 150 + (sig ? l->sig[sig].n : 0)))
		return -1;
	threads_exit(&l->ts, t);
	free(t->last); /* the exit record ends what a repeat may refer to */
	t->last = NULL;
	t->last_n = t->last_cap = 0;
	struct str *w = &l->line;
	put_head(w, tt, tn, t);
	puts_(w, ",\"status\":");
	put_int(w, status);
	puts_(w, ",\"exit_code\":");
	if (WIFEXITED(status))
		put_int(w, WEXITSTATUS(status));
	else
		puts_(w, "null");
	puts_(w, ",\"signal\":");
	if (sig)
		put(w, l->sig[sig].p, l->sig[sig].n);
	else
		puts_(w, "null");
	puts_(w, ",\"core_dumped\":");
	puts_(w, sig && WCOREDUMP(status) ? "true" : "false");
	puts_(w, ",\"type\":\"exit\"}\n");
	return 0;
}

/* One whole record into l->line: 0 written, 1 needs Python (*need), -1 out of memory. */
static int one(struct sf_lines *l, const unsigned char *rec, size_t size,
	       struct sf_lines_need *need)
{
	double tm;
	memcpy(&tm, rec + 4, 8);
	char tb[64];
	size_t tn;
	const char *tt = time_text(l, tm, tb, &tn, need); /* before any state changes */
	if (!tt)
		return 1;
	l->line.n = 0;
	switch (rec[2]) {
	case T_SYSCALL:
		return do_syscall(l, rec, size, tt, tn, need);
	case T_REPEAT: {
		int32_t tid;
		memcpy(&tid, rec + COMMON, 4);
		const struct rthread *t = size == REPEAT_SIZE ? threads_find(&l->ts, tid) : NULL;
		if (!t || !t->last_n || t->last_gen != l->ts.gen)
			break; /* Python says why it is wrong */
		return do_repeat(l, t, tt, tn);
	}
	case T_EXEC:
		l->ts.gen++; /* a repeat never refers across an exec, fork or exit record */
		return do_exec(l, rec, size, tt, tn, need);
	case T_FORK:
		if (size != FORK_SIZE)
			break;
		l->ts.gen++;
		return do_fork(l, rec, tt, tn, need);
	case T_EXIT:
		if (size != EXIT_SIZE)
			break;
		l->ts.gen++;
		return do_exit(l, rec, tt, tn, need);
	default:
		break;
	}
	return refused(need);
}

int sf_lines_render(struct sf_lines *l, const unsigned char *buf, size_t len, size_t *pos,
		    char *out, size_t cap, size_t *outn, struct sf_lines_need *need)
{
	size_t p = *pos, o = *outn;
	int rc = SF_LINES_DONE;
	need->what = 0;
	for (;;) {
		if (l->held) { /* a line written before the output filled up */
			if (cap - o < l->line.n) {
				rc = SF_LINES_FULL;
				break;
			}
			memcpy(out + o, l->line.p, l->line.n);
			o += l->line.n;
			l->held = 0;
			l->events++;
		}
		if (len - p < 2)
			break;
		uint16_t size;
		memcpy(&size, buf + p, 2);
		if (size < COMMON) {
			need->what = SF_NEED_RECORD;
			rc = SF_LINES_NEED;
			break;
		}
		if (len - p < size)
			break;
		uint64_t gen = l->ts.gen;
		int r = one(l, buf + p, size, need);
		if (r) {
			l->ts.gen = gen; /* the record is not done: it comes again */
			rc = r > 0 ? SF_LINES_NEED : SF_LINES_NOMEM;
			break;
		}
		p += size;
		l->held = 1;
	}
	*pos = p;
	*outn = o;
	return rc;
}
