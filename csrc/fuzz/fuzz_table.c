/* libFuzzer target for the rule-table parser and matcher (csrc/table.c,
 * csrc/match.c): arbitrary bytes go to sf_table_check and sf_match_path.
 *
 * Input layout: byte 0 selects a built-in path (or, when >= 0x80, the path is
 * taken from the input: bytes 1..n up to the first NUL), the rest is the table.
 * Build and run: csrc/fuzz/run.sh SECONDS
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sysfake.h"

static const char *const paths[] = {
	"/", "/proc/sys/kernel/cap_last_cap", "/proc/self/mountinfo", "/sys/fs/cgroup",
	"/a", "/a/", "/a/b/c", "/proc/sys/net/ipv4/ip_forward", "", "//", "/a/**/b",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	/* the whole input as a table */
	if (sf_table_check(data, size, err, sizeof(err)) == 0) {
		if (!memchr(err, 0, sizeof(err)))
			abort(); /* err must stay a string */
	}
	if (size < 1)
		return 0;
	const uint8_t *tab = data + 1;
	size_t tlen = size - 1;
	char path[4200];
	const char *p;
	if (data[0] >= 0x80) {
		const uint8_t *z = memchr(tab, 0, tlen);
		size_t n = z ? (size_t)(z - tab) : tlen;
		if (n >= sizeof(path))
			n = sizeof(path) - 1;
		memcpy(path, tab, n);
		path[n] = 0;
		p = path;
		if (z) {
			tlen -= (size_t)(z - tab) + 1;
			tab = z + 1;
		}
	} else {
		p = paths[data[0] % (sizeof(paths) / sizeof(paths[0]))];
	}
	int a = sf_match_path(tab, tlen, p, NULL, NULL);
	int b = sf_match_path(tab, tlen, p, "/usr/bin/runc", "runc");
	if (a < -2 || b < -2)
		abort();
	int ok = sf_table_check(tab, tlen, err, sizeof(err)) == 0;
	if (ok != (a != -2) || ok != (b != -2))
		abort(); /* sf_match_path must agree with sf_table_check on validity */
	return 0;
}
