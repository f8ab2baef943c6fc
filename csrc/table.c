/* Parse and bounds-check the compiled rule table (format: docs/design.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define HDR 48
#define SYSRULE 184
#define PATCHSZ 16
#define ASETSZ 16
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

static int parse_rules(struct sf_table *t, const unsigned char *b, uint32_t nrules,
		       uint32_t nvf, const unsigned char *pool, uint32_t plen,
		       char *err, size_t errlen);

static uint64_t u64(const unsigned char *p)
{
	return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
}

static int sf_parse_sysrules(struct sf_table *t, const unsigned char *sysr, uint32_t nsys,
			     const unsigned char *pat, uint32_t npatch,
			     const unsigned char *ase, uint32_t naset,
			     const unsigned char *pool, uint32_t plen, char *err, size_t errlen)
{
	t->sysrules = calloc(nsys ? nsys : 1, sizeof(*t->sysrules));
	t->patches = calloc(npatch ? npatch : 1, sizeof(*t->patches));
	t->asets = calloc(naset ? naset : 1, sizeof(*t->asets));
	if (!t->sysrules || !t->patches || !t->asets) {
		sf_table_free(t);
		return fail(err, errlen, "rule table: out of memory");
	}
	t->nsysrules = nsys;
	t->npatches = npatch;
	t->nasets = naset;
	for (uint32_t i = 0; i < npatch; i++) {
		const unsigned char *p = pat + (size_t)i * PATCHSZ;
		struct sf_patch *x = &t->patches[i];
		x->arg = p[0];
		x->offset = u32(p + 4);
		if (x->arg > 5 || x->offset > 65536 ||
		    str(&x->data, pool, plen, u32(p + 8), u32(p + 12)) || x->data.n > 65536) {
			sf_table_free(t);
			return fail(err, errlen, "rule table: patch %u is malformed", i);
		}
	}
	for (uint32_t i = 0; i < naset; i++) {
		const unsigned char *p = ase + (size_t)i * ASETSZ;
		struct sf_aset *x = &t->asets[i];
		x->idx = p[0];
		x->op = p[1];
		x->value = u64(p + 8);
		if (x->idx > 5 || x->op > AS_CLEAR) {
			sf_table_free(t);
			return fail(err, errlen, "rule table: argument set %u is malformed", i);
		}
	}
	for (uint32_t i = 0; i < nsys; i++) {
		const unsigned char *p = sysr + (size_t)i * SYSRULE;
		struct sf_sysrule *x = &t->sysrules[i];
		x->nr = u32(p);
		x->rule_id = u32(p + 4);
		x->action = p[8];
		x->path_arg = p[9];
		x->path_fd = p[10];
		x->path_kind = p[11];
		x->err = (int32_t)u32(p + 12);
		x->retval = (int64_t)u64(p + 16);
		const unsigned char *q = p + 24;
		if (str(&x->path, pool, plen, u32(q), u32(q + 4)) ||
		    str(&x->only_exe, pool, plen, u32(q + 8), u32(q + 12)) ||
		    str(&x->only_comm, pool, plen, u32(q + 16), u32(q + 20)))
			goto bad;
		x->when_first = u32(q + 24);
		x->when_last = u32(q + 28);
		x->when_step = u32(q + 32);
		x->delay_us = u32(q + 36);
		x->patch_first = u32(q + 40);
		x->patch_count = u32(q + 44);
		x->aset_first = u32(q + 48);
		x->aset_count = u32(q + 52);
		for (int k = 0; k < 4; k++)
			x->if_errno[k] = (int16_t)(p[80 + 2 * k] | p[81 + 2 * k] << 8);
		for (int k = 0; k < 4; k++) {
			const unsigned char *m = p + 88 + 24 * k;
			x->argm[k].idx = m[0];
			x->argm[k].op = m[1];
			x->argm[k].width = m[2];
			x->argm[k].value = u64(m + 8);
			x->argm[k].mask = u64(m + 16);
			if (x->argm[k].idx != 0xff &&
			    (x->argm[k].idx > 5 || x->argm[k].op > AM_NE ||
			     (x->argm[k].width != 4 && x->argm[k].width != 8)))
				goto bad;
		}
		if (x->nr >= SF_MAX_NR || x->rule_id > INT32_MAX || x->action < SA_ERRNO || x->action > SA_DELAY ||
		    (x->path.n && (x->path_arg > 5 || x->path_kind > MK_GLOB)) ||
		    (uint64_t)x->patch_first + x->patch_count > npatch ||
		    (uint64_t)x->aset_first + x->aset_count > naset ||
		    (x->action == SA_ERRNO && (x->err <= 0 || x->err > 4095)))
			goto bad;
		for (int k = 0; k < 4; k++)
			if (x->if_errno[k] < 0)
				goto bad;
		t->has_sysrule[x->nr] = 1;
		continue;
bad:
		sf_table_free(t);
		return fail(err, errlen, "rule table: syscall rule %u is malformed", i);
	}
	return 0;
}

int sf_table_parse(struct sf_table *t, const unsigned char *blob_in, size_t len,
		   char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (len < HDR)
		return fail(err, errlen, "rule table: too short (%zu bytes)", len);
	if (memcmp(blob_in, "SFT1", 4) || u32(blob_in + 4) != 3)
		return fail(err, errlen, "rule table: bad magic or version");
	uint32_t nrules = u32(blob_in + 8), nvf = u32(blob_in + 12), nsys = u32(blob_in + 16);
	uint32_t plen = u32(blob_in + 20), emul = u32(blob_in + 24);
	uint32_t ntrap = u32(blob_in + 28), npatch = u32(blob_in + 32), naset = u32(blob_in + 36);
	uint64_t need = (uint64_t)HDR + (uint64_t)nrules * RULE + (uint64_t)nvf * VF +
			(uint64_t)ntrap * TRAP + (uint64_t)nsys * SYSRULE +
			(uint64_t)npatch * PATCHSZ + (uint64_t)naset * ASETSZ + plen;
	if (need != len)
		return fail(err, errlen, "rule table: size %zu does not match header (%llu)", len,
			    (unsigned long long)need);
	t->blob = malloc(len ? len : 1);
	if (!t->blob)
		return fail(err, errlen, "rule table: out of memory");
	memcpy(t->blob, blob_in, len);
	const unsigned char *b = t->blob;
	const unsigned char *traps = b + HDR + (size_t)nrules * RULE + (size_t)nvf * VF;
	const unsigned char *sysr = traps + (size_t)ntrap * TRAP;
	const unsigned char *pat = sysr + (size_t)nsys * SYSRULE;
	const unsigned char *ase = pat + (size_t)npatch * PATCHSZ;
	const unsigned char *pool = ase + (size_t)naset * ASETSZ;
	t->emul = emul;
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
			if (bb > 6) {
				sf_table_free(t);
				return fail(err, errlen, "rule table: trap %u: bad argument %u", i, bb);
			}
			t->rec_nr[a] = 1;
			t->rec_arg[a] = (unsigned char)bb;
		} else if (kind == 2) {
			struct sf_str w;
			if (str(&w, pool, plen, a, bb) || !w.n || w.p[0] != '/' ||
			    w.n >= SF_PATH_MAX || memchr(w.p, 0, w.n)) {
				sf_table_free(t);
				return fail(err, errlen, "rule table: trap %u: bad cgroupfs path", i);
			}
			memcpy(t->cg_root, w.p, w.n);
			t->cg_root[w.n] = 0;
			continue;
		} else if (kind == 3) {
			/* pairs of NUL-terminated strings: the last byte must end one */
			if (str(&t->cg_files, pool, plen, a, bb) ||
			    (t->cg_files.n && t->cg_files.p[t->cg_files.n - 1] != 0)) {
				sf_table_free(t);
				return fail(err, errlen, "rule table: trap %u: bad cgroupfs files", i);
			}
			continue;
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
		if (f->flags & VF_DIR) {
			const char *nul = f->content.n ? memchr(f->content.p, 0, f->content.n) : NULL;
			if (!nul || nul == f->content.p || f->content.p[0] != '/' ||
			    (size_t)(nul - f->content.p) >= SF_PATH_MAX ||
			    f->content.p[f->content.n - 1] != 0 || (f->flags >> 8)) {
				sf_table_free(t);
				return fail(err, errlen, "rule table: vfile %u: bad directory", i);
			}
			f->ph.p = f->content.p;
			f->ph.n = (uint32_t)(nul - f->content.p);
			f->ents.p = nul + 1;
			f->ents.n = f->content.n - f->ph.n - 1;
			t->nvdirs++;
		}
	}
	if (sf_parse_sysrules(t, sysr, nsys, pat, npatch, ase, naset, pool, plen, err, errlen))
		return -1;
	int rc = parse_rules(t, b, nrules, nvf, pool, plen, err, errlen);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < nvf; i++)
		if ((t->vfiles[i].flags & VF_DIR) && !t->vfiles[i].vpath.n) {
			sf_table_free(t);
			return fail(err, errlen, "rule table: directory vfile %u has no rule", i);
		}
	return 0;
}

static int parse_rules(struct sf_table *t, const unsigned char *b, uint32_t nrules,
		       uint32_t nvf, const unsigned char *pool, uint32_t plen,
		       char *err, size_t errlen)
{
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
		/* ids are indices into the loader's rule list; they must fit an int */
		if (x->kind > MK_GLOB || x->rule_id > INT32_MAX)
			goto bad;
		if (!x->pattern.n || x->pattern.p[0] != '/' || memchr(x->pattern.p, 0, x->pattern.n))
			goto bad;
		if (x->kind == MK_PREFIX && x->pattern.p[x->pattern.n - 1] != '/')
			goto bad;
		switch (x->action) {
		case ACT_CONTENT:
			if (x->vfile >= nvf)
				goto bad;
			if (t->vfiles[x->vfile].flags & VF_DIR) {
				/* one directory, named once: vpath maps placeholders back */
				if (x->kind != MK_EXACT || t->vfiles[x->vfile].vpath.n ||
				    x->pattern.n >= SF_PATH_MAX)
					goto bad;
				t->vfiles[x->vfile].vpath = x->pattern;
			}
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
	sf_names_build(t);
	return 0;
}

void sf_table_free(struct sf_table *t)
{
	free(t->rules);
	free(t->vfiles);
	free(t->watch);
	free(t->sysrules);
	free(t->patches);
	free(t->asets);
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
