/* Record mode's line writer in C: see record_lines.h. It decides nothing
 * about a line's content; every piece it writes came from Python, so that its
 * lines are byte for byte the Python writer's (tests/record/test_lines_c.py). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "record_lines.h"

enum { T_SYSCALL = 1, T_REPEAT = 5 };
#define COMMON 12
#define HEAD (COMMON + 76)
#define MAX_NR 1024
#define NBUCKETS 1024
#define MAX_TEXTS 8192

struct str { char *p; size_t n; };

struct thread {
	int32_t tid, tgid;
	struct str json, last; /* facts ('"pid":...,"comm":...'); the last line's rest */
	struct thread *next;
};

struct call {
	int known, nargs;
	struct str head;
	int kind[6], text[6];
	struct str prefix[6];
};

struct text {
	int32_t nr;
	int arg;
	uint64_t value;
	struct str json;
	struct text *next;
};

struct sf_lines {
	struct thread *threads[NBUCKETS];
	struct call calls[MAX_NR];
	struct text *texts[NBUCKETS];
	size_t ntexts;
	struct str err[4096];
};

static int dup_str(struct str *s, const char *p, size_t n)
{
	char *q = realloc(s->p, n ? n : 1); /* a thread's last line: every call */
	if (!q)
		return -1;
	memcpy(q, p, n);
	s->p = q;
	s->n = n;
	return 0;
}

static unsigned hash(uint64_t v) { return (unsigned)((v * 0x9E3779B97F4A7C15ull) >> 54); }

struct sf_lines *sf_lines_new(void) { return calloc(1, sizeof(struct sf_lines)); }

void sf_lines_reset(struct sf_lines *l, int keep_last)
{
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct thread **pp = &l->threads[i];
		while (*pp) {
			struct thread *t = *pp;
			free(t->json.p);
			t->json = (struct str){ NULL, 0 };
			if (keep_last) {
				pp = &t->next;
				continue;
			}
			*pp = t->next;
			free(t->last.p);
			free(t);
		}
	}
}

static void texts_clear(struct sf_lines *l)
{
	for (unsigned i = 0; i < NBUCKETS; i++)
		while (l->texts[i]) {
			struct text *t = l->texts[i];
			l->texts[i] = t->next;
			free(t->json.p);
			free(t);
		}
	l->ntexts = 0;
}

void sf_lines_free(struct sf_lines *l)
{
	if (!l)
		return;
	sf_lines_reset(l, 0);
	texts_clear(l);
	for (int i = 0; i < MAX_NR; i++) {
		free(l->calls[i].head.p);
		for (int k = 0; k < 6; k++)
			free(l->calls[i].prefix[k].p);
	}
	for (int i = 0; i < 4096; i++)
		free(l->err[i].p);
	free(l);
}

static struct thread *thread_get(struct sf_lines *l, int32_t tid, int make)
{
	unsigned h = hash((uint32_t)tid) % NBUCKETS;
	for (struct thread *t = l->threads[h]; t; t = t->next)
		if (t->tid == tid)
			return t;
	if (!make)
		return NULL;
	struct thread *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->next = l->threads[h];
	l->threads[h] = t;
	return t;
}

int sf_lines_set_thread(struct sf_lines *l, int32_t tid, int32_t tgid, const char *json, size_t n)
{
	struct thread *t = thread_get(l, tid, 1);
	if (!t || dup_str(&t->json, json, n))
		return -1;
	t->tgid = tgid;
	return 0;
}

int sf_lines_set_last(struct sf_lines *l, int32_t tid, const char *rest, size_t n)
{
	struct thread *t = thread_get(l, tid, 1);
	return t ? dup_str(&t->last, rest, n) : -1;
}

int sf_lines_set_call(struct sf_lines *l, int32_t nr, const char *head, size_t headn, int nargs,
		      const int *kinds, const int *texts, const char *const *prefix)
{
	if (nr < 0 || nr >= MAX_NR || nargs < 0 || nargs > 6)
		return -1;
	struct call *c = &l->calls[nr];
	if (dup_str(&c->head, head, headn))
		return -1;
	for (int i = 0; i < nargs; i++) {
		c->kind[i] = kinds[i];
		c->text[i] = texts[i];
		if (!texts[i] && dup_str(&c->prefix[i], prefix[i], strlen(prefix[i])))
			return -1;
	}
	c->nargs = nargs;
	c->known = 1;
	return 0;
}

static struct text **text_bucket(struct sf_lines *l, int32_t nr, int arg, uint64_t value)
{
	return &l->texts[hash(value * 7 + (uint64_t)nr * 131 + (uint64_t)arg) % NBUCKETS];
}

static struct text *text_get(struct sf_lines *l, int32_t nr, int arg, uint64_t value)
{
	for (struct text *t = *text_bucket(l, nr, arg, value); t; t = t->next)
		if (t->nr == nr && t->arg == arg && t->value == value)
			return t;
	return NULL;
}

int sf_lines_set_text(struct sf_lines *l, int32_t nr, int arg, uint64_t value, const char *json,
		      size_t n)
{
	if (text_get(l, nr, arg, value))
		return 0;
	if (l->ntexts >= MAX_TEXTS)
		texts_clear(l);
	struct text *t = calloc(1, sizeof(*t));
	if (!t || dup_str(&t->json, json, n)) {
		free(t);
		return -1;
	}
	t->nr = nr;
	t->arg = arg;
	t->value = value;
	struct text **b = text_bucket(l, nr, arg, value);
	t->next = *b;
	*b = t;
	l->ntexts++;
	return 0;
}

int sf_lines_set_errno(struct sf_lines *l, int err, const char *json, size_t n)
{
	if (err <= 0 || err >= 4096)
		return -1;
	return dup_str(&l->err[err], json, n);
}

/* ---- formatting ---- */

/* Digits d[0..nd) = 0.DDD x 10^decpt, 1 <= decpt <= 16 (1 <= x < 2^53), laid
 * out as Python's repr(float): no exponent in that range, ".0" when whole. */
static size_t layout(const char *d, size_t nd, int decpt, char *out)
{
	size_t o = 0, ip = (size_t)decpt;
	if (ip >= nd) {
		memcpy(out, d, nd);
		o = nd;
		while (o < ip)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	} else {
		memcpy(out, d, ip);
		out[ip] = '.';
		memcpy(out + ip + 1, d + ip, nd - ip);
		o = nd + 1;
	}
	out[o] = 0;
	return o;
}

/* N / 2^s (N < 2^58, s <= 54) as 16 integer digits, then s fractional ones: exact. */
static void fixed_digits(uint64_t n, int s, char *out)
{
	uint64_t ip = n >> s, f = n & ((1ull << s) - 1);
	for (int i = 15; i >= 0; i--, ip /= 10)
		out[i] = (char)('0' + ip % 10);
	for (int i = 0; i < s; i++) {
		f *= 10;
		out[16 + i] = (char)('0' + (f >> s));
		f &= (1ull << s) - 1;
	}
}

/* Shortest round-trip digits of 1 <= x < 2^53 (a time, say) with integers
 * only: the correctly rounded p digits for the smallest p that falls within
 * x's rounding interval. Returns the digit count, 0 outside that range. */
static int short_digits_fast(double x, char *d, int *decpt)
{
	uint64_t bits;
	memcpy(&bits, &x, 8);
	int biased = (int)((bits >> 52) & 0x7ff), exp = biased - 1075;
	if (bits >> 63 || exp < -52 || exp > 0)
		return 0;
	uint64_t frac = bits & ((1ull << 52) - 1), mant = frac | 1ull << 52;
	int s = 2 - exp; /* two more fractional bits: the half gaps below and above */
	uint64_t X = mant << 2, hi = X + 2, lo = frac ? X - 2 : X - 1;
	int len = 16 + s, incl = !(mant & 1); /* a tie rounds to the even mantissa */
	char dx[72], dl[72], dh[72];
	fixed_digits(X, s, dx);
	fixed_digits(lo, s, dl);
	fixed_digits(hi, s, dh);
	int first = 0;
	while (dx[first] == '0')
		first++;
	for (int p = 1; p <= 17 && first + p <= len; p++) {
		int cut = first + p, tail = 0, rest = 0;
		char cand[2][72]; /* the nearest p digits first, then the other side */
		memcpy(cand[0], dx, (size_t)len);
		if (cut < len) {
			tail = dx[cut] - '0';
			for (int i = cut + 1; i < len && !rest; i++)
				rest = dx[i] != '0';
			memset(cand[0] + cut, '0', (size_t)(len - cut));
		}
		memcpy(cand[1], cand[0], (size_t)len);
		int up = 1; /* cand[1] = cand[0] one unit up in the last kept digit */
		for (int i = cut - 1; up && i >= 0; i--) {
			up = cand[1][i] == '9';
			cand[1][i] = up ? '0' : (char)(cand[1][i] + 1);
		}
		int nearest_up = tail > 5 || (tail == 5 && (rest || (dx[cut - 1] - '0') % 2));
		int n = tail || rest ? 2 : 1; /* exact at p digits: no other side */
		for (int k = 0; k < n; k++) {
			const char *c = cand[nearest_up ^ k];
			int a = memcmp(c, dl, (size_t)len), b = memcmp(c, dh, (size_t)len);
			if (!((a > 0 || (incl && a == 0)) && (b < 0 || (incl && b == 0))))
				continue;
			int f = 0;
			while (c[f] == '0')
				f++;
			int nd = cut - f;
			while (nd > 1 && c[f + nd - 1] == '0')
				nd--;
			memcpy(d, c + f, (size_t)nd);
			*decpt = 16 - f;
			return nd;
		}
	}
	return 0;
}

size_t sf_float_repr(double x, char *out, size_t cap)
{
	char d[20];
	int decpt, nd;
	if (cap < 40 || !(nd = short_digits_fast(x, d, &decpt)))
		return 0;
	return layout(d, (size_t)nd, decpt, out);
}

struct w { char *p; size_t n; };

static void put(struct w *w, const char *s, size_t n)
{
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void puts_(struct w *w, const char *s) { put(w, s, strlen(s)); }

static void put_int(struct w *w, long long v)
{
	w->n += (size_t)sprintf(w->p + w->n, "%lld", v);
}

/* json.encoder.encode_basestring of the path decoded with surrogateescape:
 * bytes pass through, but for quotes, backslashes and control characters. */
static void put_jstr(struct w *w, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	w->p[w->n++] = '"';
	for (size_t i = 0; i < n; i++) {
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
		} else if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put(w, u, 6);
		} else {
			w->p[w->n++] = (char)c;
		}
	}
	w->p[w->n++] = '"';
}

/* '{"time":T,' or 0: a time outside [1, 2^53) is left to Python. */
static size_t time_json(const unsigned char *rec, char *out)
{
	double tm;
	memcpy(&tm, rec + 4, 8);
	memcpy(out, "{\"time\":", 8);
	size_t n = sf_float_repr(tm, out + 8, 48);
	if (!n)
		return 0;
	out[8 + n] = ',';
	return 9 + n;
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

/* One syscall record, or -1 when it needs Python (nothing written). */
static int syscall_line(struct sf_lines *l, const unsigned char *rec, size_t size, struct w *w,
			size_t room, struct str *rest_out)
{
	int32_t v[4];
	int64_t ret;
	uint64_t args[6];
	uint16_t rl, cl;
	if (size < HEAD)
		return -1;
	memcpy(v, rec + COMMON, 16);
	memcpy(&ret, rec + COMMON + 16, 8);
	memcpy(args, rec + COMMON + 24, 48);
	memcpy(&rl, rec + COMMON + 72, 2);
	memcpy(&cl, rec + COMMON + 74, 2);
	if ((size_t)HEAD + rl + cl != size)
		return -1;
	struct thread *t = thread_get(l, v[0], 0);
	if (!t || !t->json.p || t->tgid != v[1] || v[2] < 0 || v[2] >= MAX_NR)
		return -1;
	struct call *c = &l->calls[v[2]];
	if (!c->known)
		return -1;
	const struct text *tx[6] = { 0 };
	size_t need = 200 + t->json.n + c->head.n + 6 * ((size_t)rl + cl);
	for (int i = 0; i < c->nargs; i++) {
		if (c->text[i]) {
			tx[i] = text_get(l, v[2], i, (uint64_t)arg_value(c->kind[i], args[i]));
			if (!tx[i])
				return -1;
			need += tx[i]->json.n;
		} else {
			need += c->prefix[i].n + 24;
		}
	}
	int64_t err = -ret;
	char ename[16];
	const char *ep = NULL;
	size_t en = 0;
	if (ret < 0 && ret > -4096) {
		if (l->err[err].p) { /* a name Python gave; else errno_name()'s "E<n>" */
			ep = l->err[err].p;
			en = l->err[err].n;
		} else {
			en = (size_t)snprintf(ename, sizeof(ename), "\"E%lld\"", (long long)err);
			ep = ename;
		}
		need += en;
	}
	char tj[64];
	size_t tn = time_json(rec, tj);
	if (!tn)
		return -1;
	if (need > room)
		return -2;
	put(w, tj, tn);
	size_t rest = w->n;
	put(w, t->json.p, t->json.n);
	w->p[w->n++] = ',';
	put(w, c->head.p, c->head.n);
	for (int i = 0; i < c->nargs; i++) {
		if (i)
			w->p[w->n++] = ',';
		if (tx[i]) {
			put(w, tx[i]->json.p, tx[i]->json.n);
			continue;
		}
		put(w, c->prefix[i].p, c->prefix[i].n);
		if (c->kind[i] == -1)
			w->n += (size_t)sprintf(w->p + w->n, "%llu", (unsigned long long)args[i]);
		else
			put_int(w, arg_value(c->kind[i], args[i]));
		w->p[w->n++] = '}';
	}
	puts_(w, "],\"path\":");
	if (rl)
		put_jstr(w, rec + HEAD, rl);
	else
		puts_(w, "null");
	puts_(w, ",\"resolved\":");
	if (cl)
		put_jstr(w, rec + HEAD + rl, cl);
	else
		puts_(w, "null");
	puts_(w, ",\"rule\":");
	if (v[3] == -1)
		puts_(w, "null");
	else
		put_int(w, v[3]);
	puts_(w, ",\"result\":");
	put_int(w, ret);
	puts_(w, ",\"errno\":");
	if (ep)
		put(w, ep, en);
	else
		puts_(w, "null");
	puts_(w, ",\"flags\":");
	put_int(w, rec[3]);
	puts_(w, ",\"type\":\"syscall\"}\n");
	rest_out->p = w->p + rest;
	rest_out->n = w->n - rest;
	return 0;
}

int sf_lines_render(struct sf_lines *l, const unsigned char *buf, size_t len, size_t *pos,
		    char *out, size_t cap, size_t *outn, uint64_t *events)
{
	struct w w = { out, *outn };
	int rc = SF_LINES_DONE;
	size_t p = *pos;
	while (len - p >= 2) {
		uint16_t size;
		memcpy(&size, buf + p, 2);
		if (size < COMMON) {
			rc = SF_LINES_NEED;
			break;
		}
		if (len - p < size)
			break;
		const unsigned char *rec = buf + p;
		if (rec[2] == T_REPEAT && size == COMMON + 4) {
			int32_t tid;
			memcpy(&tid, rec + COMMON, 4);
			struct thread *t = thread_get(l, tid, 0);
			if (!t || !t->last.p) {
				rc = SF_LINES_NEED;
				break;
			}
			char tj[64];
			size_t tn = time_json(rec, tj);
			if (!tn) {
				rc = SF_LINES_NEED;
				break;
			}
			if (cap - w.n < t->last.n + 64) {
				rc = SF_LINES_FULL;
				break;
			}
			put(&w, tj, tn);
			put(&w, t->last.p, t->last.n);
		} else if (rec[2] == T_SYSCALL) {
			struct str rest;
			size_t start = w.n;
			int r = syscall_line(l, rec, size, &w, cap - w.n, &rest);
			if (r == -2) {
				rc = SF_LINES_FULL;
				break;
			}
			if (r < 0) {
				rc = SF_LINES_NEED;
				break;
			}
			int32_t tid;
			memcpy(&tid, rec + COMMON, 4);
			if (sf_lines_set_last(l, tid, rest.p, rest.n)) {
				w.n = start; /* out of memory: let Python write it */
				rc = SF_LINES_NEED;
				break;
			}
		} else {
			rc = SF_LINES_NEED;
			break;
		}
		(*events)++;
		p += size;
	}
	*pos = p;
	*outn = w.n;
	return rc;
}
