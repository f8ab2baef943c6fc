/* Parse and bounds-check the compiled rule table (format: docs/design.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define HDR 32
#define RULE 48
#define VF 24
#define TRAP 12

static uint32_t u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && n)
		vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int str(struct sf_str *s, const unsigned char *pool, uint32_t plen, uint32_t off,
	       uint32_t n)
{
	if (n == 0) {
		s->p = NULL;
		s->n = 0;
		return 0;
	}
	if (off > plen || n > plen - off)
		return -1;
	s->p = (const char *)pool + off;
	s->n = n;
	return 0;
}

int sf_table_parse(struct sf_table *t, const unsigned char *blob_in, size_t len,
		   char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (len < HDR)
		return fail(err, errlen, "rule table: too short (%zu bytes)", len);
	if (memcmp(blob_in, "SFT1", 4) || u32(blob_in + 4) != 1)
		return fail(err, errlen, "rule table: bad magic or version");
	uint32_t nrules = u32(blob_in + 8), nvf = u32(blob_in + 12), nsys = u32(blob_in + 16);
	uint32_t plen = u32(blob_in + 20);
	uint32_t ntrap = u32(blob_in + 28);
	if (nsys)
		return fail(err, errlen, "rule table: syscall rules are not supported by this core");
	uint64_t need = (uint64_t)HDR + (uint64_t)nrules * RULE + (uint64_t)nvf * VF +
			(uint64_t)ntrap * TRAP + plen;
	if (need != len)
		return fail(err, errlen, "rule table: size %zu does not match header (%llu)", len,
			    (unsigned long long)need);
	t->blob = malloc(len ? len : 1);
	if (!t->blob)
		return fail(err, errlen, "rule table: out of memory");
	memcpy(t->blob, blob_in, len);
	const unsigned char *b = t->blob;
	const unsigned char *traps = b + HDR + (size_t)nrules * RULE + (size_t)nvf * VF;
	const unsigned char *pool = traps + (size_t)ntrap * TRAP;
	t->rules = calloc(nrules ? nrules : 1, sizeof(*t->rules));
	t->vfiles = calloc(nvf ? nvf : 1, sizeof(*t->vfiles));
	if (!t->rules || !t->vfiles) {
		sf_table_free(t);
		return fail(err, errlen, "rule table: out of memory");
	}
	t->nrules = nrules;
	t->nvfiles = nvf;
	t->watch = calloc(ntrap ? ntrap : 1, sizeof(*t->watch));
	if (!t->watch) {
		sf_table_free(t);
		return fail(err, errlen, "rule table: out of memory");
	}
	for (uint32_t i = 0; i < ntrap; i++) {
		const unsigned char *x = traps + (size_t)i * TRAP;
		uint32_t kind = u32(x), a = u32(x + 4), bb = u32(x + 8);
		if (kind == 0) {
			if (a >= SF_MAX_NR) {
				sf_table_free(t);
				return fail(err, errlen, "rule table: trap %u: bad syscall number", i);
			}
			t->rec_nr[a] = 1;
		} else if (kind == 1) {
			struct sf_str w;
			if (str(&w, pool, plen, a, bb) || !w.n || w.p[0] != '/') {
				sf_table_free(t);
				return fail(err, errlen, "rule table: trap %u: bad watch prefix", i);
			}
			t->watch[t->nwatch++] = w;
		} else {
			sf_table_free(t);
			return fail(err, errlen, "rule table: trap %u: unknown kind %u", i, kind);
		}
		t->record = 1;
	}
	for (uint32_t i = 0; i < nvf; i++) {
		const unsigned char *v = b + HDR + (size_t)nrules * RULE + (size_t)i * VF;
		struct sf_vfile *f = &t->vfiles[i];
		if (str(&f->content, pool, plen, u32(v), u32(v + 4))) {
			sf_table_free(t);
			return fail(err, errlen, "rule table: vfile %u content out of bounds", i);
		}
		f->mode = u32(v + 8) & 07777;
		f->uid = u32(v + 12);
		f->gid = u32(v + 16);
		f->flags = u32(v + 20);
		f->memfd = -1;
	}
	for (uint32_t i = 0; i < nrules; i++) {
		const unsigned char *r = b + HDR + (size_t)i * RULE;
		struct sf_rule *x = &t->rules[i];
		x->kind = r[0];
		x->action = r[1];
		x->err = (int32_t)u32(r + 4);
		x->vfile = u32(r + 24);
		x->rule_id = u32(r + 44);
		if (str(&x->pattern, pool, plen, u32(r + 8), u32(r + 12)) ||
		    str(&x->target, pool, plen, u32(r + 16), u32(r + 20)) ||
		    str(&x->only_exe, pool, plen, u32(r + 28), u32(r + 32)) ||
		    str(&x->only_comm, pool, plen, u32(r + 36), u32(r + 40))) {
			sf_table_free(t);
			return fail(err, errlen, "rule table: rule %u string out of bounds", i);
		}
		if (x->kind > MK_GLOB)
			goto bad;
		if (!x->pattern.n || x->pattern.p[0] != '/' || memchr(x->pattern.p, 0, x->pattern.n))
			goto bad;
		if (x->kind == MK_PREFIX && x->pattern.p[x->pattern.n - 1] != '/')
			goto bad;
		switch (x->action) {
		case ACT_CONTENT:
			if (x->vfile >= nvf)
				goto bad;
			break;
		case ACT_REDIRECT:
			if (!x->target.n || x->target.p[0] != '/' || x->kind == MK_GLOB ||
			    x->target.n >= SF_PATH_MAX || memchr(x->target.p, 0, x->target.n))
				goto bad;
			break;
		case ACT_HIDE:
			break;
		case ACT_ERRNO:
			if (x->err <= 0 || x->err > 4095)
				goto bad;
			break;
		default:
			goto bad;
		}
		if (x->only_exe.n)
			t->need_exe = 1;
		if (x->only_comm.n)
			t->need_comm = 1;
		continue;
bad:
		sf_table_free(t);
		return fail(err, errlen, "rule table: rule %u is malformed", i);
	}
	return 0;
}

void sf_table_free(struct sf_table *t)
{
	free(t->rules);
	free(t->vfiles);
	free(t->watch);
	free(t->blob);
	memset(t, 0, sizeof(*t));
}

int sf_table_check(const unsigned char *table, size_t len, char *err, size_t errlen)
{
	struct sf_table t;
	if (sf_table_parse(&t, table, len, err, errlen))
		return -1;
	sf_table_free(&t);
	return 0;
}
