/* statcmp: every stat-like call on SRC and on DST, compared byte for byte.
 *
 *   statcmp SRC DST [drop | rounds N | loop N]
 *
 * For stat, lstat (raw syscalls), newfstatat (flags 0 and
 * AT_SYMLINK_NOFOLLOW), statx (basic and all fields) and a stat into a
 * read-only buffer, prints "<call>: same <result>" when both calls give the
 * same result and the same bytes, else "<call>: DIFF ...". <result> is "ok"
 * or the errno name. With "drop", the same calls follow ("drop <call>: ...")
 * after this thread gave up root (setgroups, setresgid, setresuid 65534).
 * With "rounds N", the calls are made N - 1 times before, printing only
 * differences ("round <i> <call>: DIFF ..."): a tracer may answer the first
 * calls of a process one way and later ones another. With "loop N", N
 * stat calls on SRC come first, all alike (one path, one buffer).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct res {
	long rc;
	int err;
	unsigned char buf[512];
};

static void call(int kind, const char *path, struct res *r, void *ro)
{
	memset(r, 0, sizeof(*r));
	struct statx sx;
	switch (kind) {
	case 0: r->rc = syscall(SYS_stat, path, r->buf); break;
	case 1: r->rc = syscall(SYS_lstat, path, r->buf); break;
	case 2: r->rc = syscall(SYS_newfstatat, AT_FDCWD, path, r->buf, 0); break;
	case 3: r->rc = syscall(SYS_newfstatat, AT_FDCWD, path, r->buf, AT_SYMLINK_NOFOLLOW); break;
	case 4:
		r->rc = syscall(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx);
		memcpy(r->buf, &sx, sizeof(sx));
		break;
	case 5:
		r->rc = syscall(SYS_statx, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, 0xfff, &sx);
		memcpy(r->buf, &sx, sizeof(sx));
		break;
	case 6: r->rc = syscall(SYS_stat, path, ro); break;
	}
	r->err = r->rc < 0 ? errno : 0;
}

static const char *names[] = { "stat", "lstat", "newfstatat", "newfstatat_nofollow",
			       "statx", "statx_all", "stat_readonly_buf" };

static void compare(const char *prefix, const char *src, const char *dst, void *ro, int quiet)
{
	for (int k = 0; k < 7; k++) {
		struct res a, b;
		call(k, src, &a, ro);
		call(k, dst, &b, ro);
		const char *what = a.rc < 0 ? strerrorname_np(a.err) : "ok";
		if (a.rc == b.rc && a.err == b.err && !memcmp(a.buf, b.buf, sizeof(a.buf))) {
			if (!quiet)
				printf("%s%s: same %s\n", prefix, names[k], what);
		} else
			printf("%s%s: DIFF src %ld %s, dst %ld %s%s\n", prefix, names[k], a.rc, what,
			       b.rc, b.rc < 0 ? strerrorname_np(b.err) : "ok",
			       a.rc == b.rc && a.err == b.err ? " (bytes differ)" : "");
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: statcmp SRC DST [drop | rounds N | loop N]\n");
		return 2;
	}
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (argc > 4 && !strcmp(argv[3], "rounds")) {
		for (int i = 1; i < atoi(argv[4]); i++) {
			char prefix[32];
			snprintf(prefix, sizeof(prefix), "round %d ", i);
			compare(prefix, argv[1], argv[2], ro, 1);
		}
	}
	if (argc > 4 && !strcmp(argv[3], "loop")) {
		struct stat st;
		for (int i = 0; i < atoi(argv[4]); i++)
			if (syscall(SYS_stat, argv[1], &st)) {
				perror("loop");
				return 1;
			}
	}
	compare("", argv[1], argv[2], ro, 0);
	if (argc > 3 && !strcmp(argv[3], "drop")) {
		/* raw syscalls: only this thread, as a tracer sees them */
		if (syscall(SYS_setgroups, 0, NULL) || syscall(SYS_setresgid, 65534, 65534, 65534) ||
		    syscall(SYS_setresuid, 65534, 65534, 65534)) {
			perror("drop");
			return 1;
		}
		compare("drop ", argv[1], argv[2], ro, 0);
	}
	return 0;
}
