/* observe: perform path operations and print one line per operation.
 *
 *   observe OUTFILE OP...
 *
 * OP is "name:arg[:arg2]"; in paths "%p" becomes getpid() and "%t" gettid().
 *   read:P          open(O_RDONLY)+read   -> "read P = <hex>" | "read P ERR <errno>"
 *   write:P:TEXT    open(O_WRONLY|O_TRUNC)+write
 *   stat:P lstat:P  raw stat/lstat        -> "<type> mode=<octal> size= uid= gid= nlink="
 *   fstatat:P       newfstatat(AT_FDCWD, AT_SYMLINK_NOFOLLOW)
 *   statx:P         statx(AT_FDCWD, 0)
 *   access:P:MODE   raw access            faccessat2:P:MODE
 *   readlink:P      raw readlink
 *   openat2:P       raw openat2(O_RDONLY|O_NOFOLLOW)+read
 *   at:DIR:REL      open(DIR, O_DIRECTORY) then openat(dirfd, REL)+read
 *   chdir:DIR       chdir
 *   threads:P       8 threads each read P 20 times -> reads equal to the first
 *   exit:N          exit(N) after flushing
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <pthread.h>

static FILE *out;
static char tpath[4096];
static char tfirst[4096];
static ssize_t tfirst_n = -1;
static int tsame;
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg)
{
	(void)arg;
	for (int k = 0; k < 20; k++) {
		char buf[4096];
		ssize_t n = -1;
		int fd = open(tpath, O_RDONLY);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
		}
		pthread_mutex_lock(&tlock);
		if (tfirst_n < 0 && n >= 0) {
			memcpy(tfirst, buf, (size_t)n);
			tfirst_n = n;
		}
		if (n >= 0 && n == tfirst_n && !memcmp(buf, tfirst, (size_t)n))
			tsame++;
		pthread_mutex_unlock(&tlock);
	}
	return NULL;
}

static void expand(const char *in, char *o, size_t n)
{
	size_t k = 0;
	for (const char *p = in; *p && k + 24 < n; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			k += (size_t)snprintf(o + k, n - k, "%d", (int)getpid());
			p++;
		} else if (p[0] == '%' && p[1] == 't') {
			k += (size_t)snprintf(o + k, n - k, "%d", (int)gettid());
			p++;
		} else {
			o[k++] = *p;
		}
	}
	o[k] = 0;
}

static void err(const char *op, const char *p)
{
	const char *n = strerrorname_np(errno);
	fprintf(out, "%s %s ERR %s\n", op, p, n ? n : "E?");
}

static void dump(const char *op, const char *p, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		err(op, p);
		return;
	}
	fprintf(out, "%s %s =", op, p);
	for (ssize_t i = 0; i < n; i++)
		fprintf(out, "%02x", (unsigned char)buf[i]);
	fprintf(out, "\n");
}

static void st(const char *op, const char *p, long rc, unsigned mode, long long size,
	       unsigned uid, unsigned gid, unsigned long nlink)
{
	if (rc < 0) {
		err(op, p);
		return;
	}
	const char *t = S_ISREG(mode) ? "reg" : S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "lnk" : "other";
	/* directories: sizes and link counts depend on the filesystem, not on the rules */
	if (S_ISDIR(mode))
		size = 0, nlink = 0;
	fprintf(out, "%s %s %s mode=%o size=%lld uid=%u gid=%u nlink=%lu\n", op, p, t,
		mode & 07777, size, uid, gid, nlink);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	out = fopen(argv[1], "w");
	if (!out)
		return 2;
	for (int i = 2; i < argc; i++) {
		char op[4096 * 2 + 64], p[4096], q[4096];
		snprintf(op, sizeof(op), "%s", argv[i]);
		char *a = strchr(op, ':');
		char *b = NULL;
		if (a) {
			*a++ = 0;
			b = strchr(a, ':');
			if (b)
				*b++ = 0;
		}
		expand(a ? a : "", p, sizeof(p));
		expand(b ? b : "", q, sizeof(q));
		struct stat s;
		long rc;
		if (!strcmp(op, "read")) {
			int fd = open(p, O_RDONLY);
			if (fd < 0)
				err(op, p);
			else
				dump(op, p, fd);
		} else if (!strcmp(op, "write")) {
			int fd = open(p, O_WRONLY | O_TRUNC);
			if (fd < 0) {
				err(op, p);
				continue;
			}
			ssize_t n = write(fd, q, strlen(q));
			if (n < 0)
				err(op, p);
			else
				fprintf(out, "write %s %zd\n", p, n);
			close(fd);
		} else if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
			rc = syscall(op[0] == 's' ? SYS_stat : SYS_lstat, p, &s);
			st(op, p, rc, s.st_mode, s.st_size, s.st_uid, s.st_gid, s.st_nlink);
		} else if (!strcmp(op, "fstatat")) {
			rc = syscall(SYS_newfstatat, AT_FDCWD, p, &s, AT_SYMLINK_NOFOLLOW);
			st(op, p, rc, s.st_mode, s.st_size, s.st_uid, s.st_gid, s.st_nlink);
		} else if (!strcmp(op, "statx")) {
			struct statx x;
			rc = statx(AT_FDCWD, p, 0, STATX_BASIC_STATS, &x);
			st(op, p, rc, x.stx_mode, (long long)x.stx_size, x.stx_uid, x.stx_gid,
			   x.stx_nlink);
		} else if (!strcmp(op, "access") || !strcmp(op, "faccessat2")) {
			int mode = atoi(q);
			rc = op[0] == 'a' ? syscall(SYS_access, p, mode)
					  : syscall(439, AT_FDCWD, p, mode, 0);
			if (rc < 0)
				err(op, p);
			else
				fprintf(out, "%s %s %d ok\n", op, p, mode);
		} else if (!strcmp(op, "readlink")) {
			char buf[4096];
			rc = syscall(SYS_readlink, p, buf, sizeof(buf) - 1);
			if (rc < 0)
				err(op, p);
			else
				fprintf(out, "readlink %s = %.*s\n", p, (int)rc, buf);
		} else if (!strcmp(op, "openat2")) {
			struct open_how how = { .flags = O_RDONLY | O_NOFOLLOW };
			rc = syscall(437, AT_FDCWD, p, &how, sizeof(how));
			if (rc < 0)
				err(op, p);
			else
				dump(op, p, (int)rc);
		} else if (!strcmp(op, "at")) {
			int d = open(p, O_RDONLY | O_DIRECTORY);
			if (d < 0) {
				err(op, p);
				continue;
			}
			int fd = openat(d, q, O_RDONLY);
			close(d);
			if (fd < 0)
				err(op, q);
			else
				dump(op, q, fd);
		} else if (!strcmp(op, "chdir")) {
			if (chdir(p))
				err(op, p);
			else
				fprintf(out, "chdir %s ok\n", p);
		} else if (!strcmp(op, "threads")) {
			pthread_t th[8];
			snprintf(tpath, sizeof(tpath), "%s", p);
			for (int k = 0; k < 8; k++)
				pthread_create(&th[k], NULL, reader, NULL);
			for (int k = 0; k < 8; k++)
				pthread_join(th[k], NULL);
			fprintf(out, "threads %s same=%d first=", p, tsame);
			for (ssize_t k = 0; k < tfirst_n; k++)
				fprintf(out, "%02x", (unsigned char)tfirst[k]);
			fprintf(out, "\n");
		} else if (!strcmp(op, "exit")) {
			fclose(out);
			exit(atoi(p));
		} else {
			fprintf(out, "unknown op %s\n", op);
		}
	}
	fclose(out);
	return 0;
}
