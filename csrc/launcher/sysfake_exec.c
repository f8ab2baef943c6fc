/* sysfake-exec: run a command under a rule table that `sysfake compile`
 * wrote, without starting Python. `sysfake run` takes some 45 ms before the
 * command starts, most of it the interpreter's; this starts it in 2
 * (README, benchmarks/results/2026-12-07-host-44-startup.json).
 *
 *   sysfake-exec [-v] [--orphans kill|wait] [--grace SECONDS] [--table FILE] [--] CMD [ARGS...]
 *
 * Without --table, the table is table.sft beside this executable (the
 * directory `sysfake compile -o DIR` made). Exit status: the command's own
 * (killed by signal N, it dies of N too: a shell shows 128+N); 2 for bad
 * usage or an unreadable table; 127 or 126 if the command cannot be run, as
 * from a shell.
 *
 * `sysfake run` hands its command over to this launcher once the table is
 * built (core.py: exec_launcher), so that no Python process stays behind
 * as the tracer; forking a small process is also far cheaper than forking
 * Python inside gVisor. For that it takes more options:
 *   --table-fd N       read the table from fd N (a memfd), then close it
 *   --disable-mask M   pretend these SF_MECH_* mechanisms are missing
 *   --remove DIR       delete the tree DIR when the run is over (repeatable)
 *   --prog NAME        the name in this launcher's own messages */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../sysfake.h"

extern char **environ;

#define MAX_REMOVE 8

static const char *prog = "sysfake-exec";

#define USAGE "sysfake-exec [-v] [--orphans kill|wait] [--grace SECONDS] [--table FILE] [--] CMD [ARGS...]"

/* One line: what was wrong, and the usage. */
static int usage(const char *why)
{
	fprintf(stderr, "%s: %s (usage: " USAGE ")\n", prog, why);
	return 2;
}

/* The whole file (or fd, when path is NULL), or NULL with a one-line reason
 * on stderr that names it. */
static unsigned char *read_table(const char *path, int fd, size_t *len)
{
	char fdname[32];
	snprintf(fdname, sizeof(fdname), "table fd %d", fd);
	const char *name = path ? path : fdname;
	if (path) /* O_NONBLOCK: a FIFO with no writer must not hang us here */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	int e = (fd < 0 || fstat(fd, &st)) ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (e || !S_ISREG(st.st_mode)) { /* a pipe's size says nothing of the table */
		if (e)
			fprintf(stderr, "%s: %s: %s%s\n", prog, name, strerror(e),
				path && e == ENOENT ? " (make it with `sysfake compile -o DIR`)" : "");
		else
			fprintf(stderr, "%s: %s: not a regular file\n", prog, name);
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
		fprintf(stderr, "%s: %s: cannot read the whole file\n", prog, name);
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path, strerror(errno));
	return 0;
}

/* A number: decimal, or hex with 0x; -1 if it is not one. */
static long number(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	return (errno || !*s || *end || v < 0) ? -1 : v;
}

int main(int argc, char **argv)
{
	struct sf_options opt = { .orphans_wait = 0, .grace_ms = 2000, .disable_mech = 0,
				  .record_fd = -1, .verbose = 0 };
	const char *table = NULL;
	const char *remove[MAX_REMOVE];
	int nremove = 0, table_fd = -1;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("usage: " USAGE "\nRuns CMD traced by the rules `sysfake compile -o DIR` "
			       "wrote into DIR/table.sft (docs/compile.md).\n");
			return 0;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			opt.verbose = 1;
		} else if (!strcmp(a, "--orphans") && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(v, "kill") && strcmp(v, "wait"))
				return usage("--orphans must be kill or wait");
			opt.orphans_wait = !strcmp(v, "wait");
		} else if (!strcmp(a, "--grace") && i + 1 < argc) {
			char *end;
			const char *v = argv[++i];
			double s = strtod(v, &end);
			if (!*v || *end || !(s >= 0 && s <= 86400)) /* NaN fails both */
				return usage("--grace needs a number of seconds from 0 to 86400");
			opt.grace_ms = (int)(s * 1000);
		} else if (!strcmp(a, "--table") && i + 1 < argc) {
			table = argv[++i];
		} else if (!strcmp(a, "--table-fd") && i + 1 < argc) {
			long fd = number(argv[++i]);
			if (fd < 0 || fd > INT_MAX)
				return usage("--table-fd needs a file descriptor");
			table_fd = (int)fd;
		} else if (!strcmp(a, "--disable-mask") && i + 1 < argc) {
			long m = number(argv[++i]);
			if (m < 0 || m > (long)UINT_MAX)
				return usage("--disable-mask needs a number");
			opt.disable_mech = (unsigned)m;
		} else if (!strcmp(a, "--remove") && i + 1 < argc) {
			if (nremove == MAX_REMOVE)
				return usage("too many --remove");
			remove[nremove++] = argv[++i];
		} else if (!strcmp(a, "--prog") && i + 1 < argc) {
			prog = argv[++i];
		} else {
			char why[128];
			snprintf(why, sizeof(why), "unknown or incomplete option %.64s", a);
			return usage(why);
		}
	}
	if (i >= argc)
		return usage("no command given");
	char beside[PATH_MAX];
	if (!table && table_fd < 0) {
		ssize_t n = readlink("/proc/self/exe", beside, sizeof(beside) - 16);
		if (n <= 0)
			return usage("cannot find my own directory: give --table FILE");
		beside[n] = 0;
		char *slash = strrchr(beside, '/');
		strcpy(slash ? slash + 1 : beside, "table.sft");
		table = beside;
	}
	size_t len = 0;
	unsigned char *tab = read_table(table_fd >= 0 ? NULL : table, table_fd, &len);
	int status = 2 << 8; /* as if it exited 2 */
	char err[512] = "";
	if (tab && sf_table_check(tab, len, err, sizeof(err))) { /* before anything starts */
		if (table_fd >= 0)
			fprintf(stderr, "%s: table fd %d: %s\n", prog, table_fd, err);
		else
			fprintf(stderr, "%s: %s: %s\n", prog, table, err);
		free(tab);
		tab = NULL;
	}
	if (tab) {
		status = sf_run(tab, len, argv + i, environ, &opt, err, sizeof(err));
		free(tab);
		if (status < 0) {
			fprintf(stderr, "%s: %s\n", prog, err);
			status = 2 << 8;
		}
	}
	for (int k = 0; k < nremove; k++)
		nftw(remove[k], remove_one, 16, FTW_DEPTH | FTW_PHYS);
	sf_exit_as(status);
}
