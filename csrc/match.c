/* Rule matching; the same semantics as src/sysfake/paths.py. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <string.h>
#include "core.h"

/* Glob over a whole path: '*' and '?' stay inside one component, '**' crosses
 * '/', a "**" component followed by "/" may also match nothing, and a
 * trailing slash-star-star matches the directory itself. */
int sf_glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0;
	while (pi < pn) {
		char c = p[pi];
		/* a trailing slash-star-star also matches the directory itself */
		if (c == '/' && pn - pi == 3 && p[pi + 1] == '*' && p[pi + 2] == '*' && si == sn)
			return 1;
		if (c == '*') {
			if (pi + 1 < pn && p[pi + 1] == '*') {
				size_t rest = pi + 2;
				/* "**" followed by '/' at a component start may match nothing. */
				if (rest < pn && p[rest] == '/' && (pi == 0 || p[pi - 1] == '/')) {
					if (sf_glob_match(p + rest + 1, pn - rest - 1, s + si, sn - si))
						return 1;
					for (size_t k = si; k < sn; k++)
						if (s[k] == '/' &&
						    sf_glob_match(p + rest + 1, pn - rest - 1, s + k + 1,
								  sn - k - 1))
							return 1;
					return 0;
				}
				for (size_t k = si; k <= sn; k++)
					if (sf_glob_match(p + rest, pn - rest, s + k, sn - k))
						return 1;
				return 0;
			}
			for (size_t k = si; k <= sn; k++) {
				if (sf_glob_match(p + pi + 1, pn - pi - 1, s + k, sn - k))
					return 1;
				if (k < sn && s[k] == '/')
					break;
			}
			return 0;
		}
		if (si >= sn)
			return 0;
		if (c == '?') {
			if (s[si] == '/')
				return 0;
		} else if (c != s[si]) {
			return 0;
		}
		pi++;
		si++;
	}
	return si == sn;
}

static int pat_match(const struct sf_rule *r, const char *path, size_t n)
{
	const char *p = r->pattern.p;
	size_t pn = r->pattern.n;
	switch (r->kind) {
	case MK_EXACT:
		return pn == n && !memcmp(p, path, n);
	case MK_PREFIX:
		if (pn == 1)
			return 1; /* "/" */
		if (n == pn - 1 && !memcmp(p, path, n))
			return 1;
		return n >= pn && !memcmp(p, path, pn);
	default:
		return sf_glob_match(p, pn, path, n);
	}
}

static int str_glob(const struct sf_str *pat, const char *s)
{
	char buf[SF_PATH_MAX];
	if (!s || pat->n >= sizeof(buf))
		return 0;
	memcpy(buf, pat->p, pat->n);
	buf[pat->n] = 0;
	return fnmatch(buf, s, 0) == 0;
}

const struct sf_rule *sf_match(const struct sf_table *t, const char *path, const char *exe,
			       const char *comm)
{
	size_t n = strlen(path);
	for (uint32_t i = 0; i < t->nrules; i++) {
		const struct sf_rule *r = &t->rules[i];
		if (r->only_exe.n && !str_glob(&r->only_exe, exe))
			continue;
		if (r->only_comm.n && !str_glob(&r->only_comm, comm))
			continue;
		if (pat_match(r, path, n))
			return r;
	}
	return NULL;
}

int sf_redirect(const struct sf_rule *r, const char *path, char *out, size_t outlen)
{
	size_t tn = r->target.n;
	const char *rest = "";
	if (r->kind == MK_PREFIX) {
		size_t base = r->pattern.n - 1; /* without the trailing '/' */
		rest = path + (strlen(path) >= base ? base : strlen(path));
		if (tn > 1 && r->target.p[tn - 1] == '/')
			tn--;
	}
	size_t rn = strlen(rest);
	if (tn + rn + 1 > outlen)
		return -1;
	memcpy(out, r->target.p, tn);
	memcpy(out + tn, rest, rn);
	out[tn + rn] = 0;
	if (!out[0]) {
		out[0] = '/';
		out[1] = 0;
	}
	return (int)(tn + rn);
}

void sf_names_build(struct sf_table *t)
{
	/* Virtual directories map paths back from their stand-ins, and record
	 * mode writes every resolved path: both need the whole path. */
	t->by_name = !t->nvdirs && !t->record;
	for (uint32_t i = 0; i < t->nrules; i++) {
		struct sf_rule *r = &t->rules[i];
		const char *p = r->pattern.p;
		const char *slash = memrchr(p, '/', r->pattern.n); /* p[0] is '/' */
		size_t off = (size_t)(slash - p) + 1;
		r->name.p = p + off;
		r->name.n = r->pattern.n - off;
		if (r->kind == MK_PREFIX || !r->name.n || memchr(r->name.p, '*', r->name.n) ||
		    memchr(r->name.p, '?', r->name.n)) {
			r->name.n = 0;
			t->by_name = 0;
		}
	}
}

int sf_name_may_match(const struct sf_table *t, const char *rel)
{
	if (!t->by_name)
		return 1;
	/* The resolved path ends with the last component other than "." that
	 * is not "..", whatever the directory: a rule can match it only if its
	 * own last component is the same (path.c: normalize, alias_proc). */
	const char *last = NULL;
	size_t ln = 0;
	for (const char *q = rel; *q;) {
		while (*q == '/')
			q++;
		if (!*q)
			break;
		const char *e = strchrnul(q, '/');
		if (e - q != 1 || q[0] != '.') {
			last = q;
			ln = (size_t)(e - q);
		}
		q = e;
	}
	if (!last || (ln == 2 && last[0] == '.' && last[1] == '.'))
		return 1; /* the directory itself, or one above it */
	/* alias_proc turns /proc/<pid>, .../task/<tid> and /proc/thread-self
	 * into /proc/self */
	if (ln == 11 && !memcmp(last, "thread-self", 11))
		return 1;
	size_t digits = 0;
	while (digits < ln && last[digits] >= '0' && last[digits] <= '9')
		digits++;
	if (digits == ln)
		return 1;
	for (uint32_t i = 0; i < t->nrules; i++) {
		const struct sf_rule *r = &t->rules[i];
		if (r->name.n == ln && !memcmp(r->name.p, last, ln))
			return 1;
	}
	return 0;
}

int sf_match_path(const unsigned char *table, size_t len, const char *path, const char *exe,
		  const char *comm)
{
	struct sf_table t;
	if (sf_table_parse(&t, table, len, NULL, 0))
		return -2;
	const struct sf_rule *r = sf_match(&t, path, exe, comm);
	int id = r ? (int)r->rule_id : -1;
	sf_table_free(&t);
	return id;
}

int sf_name_may_match_path(const unsigned char *table, size_t len, const char *rel)
{
	struct sf_table t;
	if (sf_table_parse(&t, table, len, NULL, 0))
		return -2;
	int may = sf_name_may_match(&t, rel);
	sf_table_free(&t);
	return may;
}
