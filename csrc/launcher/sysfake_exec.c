/* sysfake-exec: run a command under a rule table that `sysfake compile`
 * wrote, without starting Python. `sysfake run` spends about 80 ms in the
 * interpreter before the command starts; this starts it in a few.
 *
 *   sysfake-exec [-v] [--orphans kill|wait] [--grace SECONDS] [--table FILE] [--] CMD [ARGS...]
 *
 * Without --table, the table is table.sft beside this executable (the
 * directory `sysfake compile -o DIR` made). Exit status: the command's own
 * (128+N if killed by signal N); 2 for bad usage or an unreadable table; 127
 * or 126 if the command cannot be run, as from a shell. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../sysfake.h"

extern char **environ;

static int usage(const char *why)
{
	fprintf(stderr, "sysfake-exec: %s\n"
		"usage: sysfake-exec [-v] [--orphans kill|wait] [--grace SECONDS] "
		"[--table FILE] [--] CMD [ARGS...]\n", why);
	return 2;
}

/* The whole file, or NULL with a one-line reason on stderr. */
static unsigned char *read_table(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "sysfake-exec: %s: %s (make it with `sysfake compile -o DIR`)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	unsigned char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)st.st_size) {
		fprintf(stderr, "sysfake-exec: %s: cannot read the whole file\n", path);
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

int main(int argc, char **argv)
{
	struct sf_options opt = { .orphans_wait = 0, .grace_ms = 2000, .disable_mech = 0,
				  .record_fd = -1, .verbose = 0 };
	const char *table = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			opt.verbose = 1;
		} else if (!strcmp(a, "--orphans") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "kill") && strcmp(v, "wait"))
				return usage("--orphans must be kill or wait");
			opt.orphans_wait = !strcmp(v, "wait");
		} else if (!strcmp(a, "--grace") && i + 1 < argc) {
			char *end;
			double s = strtod(argv[++i], &end);
			if (*end || s < 0 || s > 86400)
				return usage("--grace needs a number of seconds");
			opt.grace_ms = (int)(s * 1000);
		} else if (!strcmp(a, "--table") && i + 1 < argc) {
			table = argv[++i];
		} else {
			char why[128];
			snprintf(why, sizeof(why), "unknown or incomplete option %.64s", a);
			return usage(why);
		}
	}
	if (i >= argc)
		return usage("no command given");
	char beside[PATH_MAX];
	if (!table) {
		ssize_t n = readlink("/proc/self/exe", beside, sizeof(beside) - 16);
		if (n <= 0)
			return usage("cannot find my own directory: give --table FILE");
		beside[n] = 0;
		char *slash = strrchr(beside, '/');
		strcpy(slash ? slash + 1 : beside, "table.sft");
		table = beside;
	}
	size_t len = 0;
	unsigned char *tab = read_table(table, &len);
	if (!tab)
		return 2;
	char err[512] = "";
	int rc = sf_run(tab, len, argv + i, environ, &opt, err, sizeof(err));
	free(tab);
	if (rc < 0) {
		fprintf(stderr, "sysfake-exec: %s\n", err);
		return 2;
	}
	return rc;
}
