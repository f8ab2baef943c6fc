/* Record mode: binary records batched in a buffer and written to a pipe that
 * Python drains off the hot path (format: docs/design.md, "Record stream"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "core.h"

enum { R_SYSCALL = 1, R_EXEC = 2, R_FORK = 3, R_EXIT = 4, R_REPEAT = 5 };

static int rfd = -1;
/* Bumped by every exec, fork and exit record: a repeat record stands for the
 * thread's last syscall record only while no such record came between (the
 * reader drops what it remembers at each of them). */
static unsigned gen = 1;
static unsigned char buf[65536];
static size_t used;

void rec_open(int fd)
{
	rfd = fd;
	used = 0;
	gen++;
	exec_facts_begin();
}

int rec_on(void) { return rfd >= 0; }

void rec_flush(void)
{
	size_t off = 0;
	while (rfd >= 0 && off < used) {
		ssize_t n = write(rfd, buf + off, used - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rfd = -1; /* the reader is gone: stop recording, keep running */
			break;
		}
		off += (size_t)n;
	}
	used = 0;
}

void rec_close(void)
{
	rec_flush();
	rfd = -1;
	exec_facts_end();
}

int rec_failed(long ret)
{
	return ret == -ENOSYS || ret == -EINVAL || ret == -EPERM || ret == -EOPNOTSUPP ||
	       ret == -EACCES;
}

int rec_watched(const char *canon)
{
	size_t n = strlen(canon);
	for (uint32_t i = 0; i < sf_tab->nwatch; i++) {
		const struct sf_str *w = &sf_tab->watch[i];
		size_t wn = w->n;
		if (wn > 1 && w->p[wn - 1] == '/')
			wn--;
		if (n >= wn && !memcmp(canon, w->p, wn) && (n == wn || canon[wn] == '/' || wn == 1))
			return 1;
	}
	return 0;
}

double rec_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* whole microseconds: the trace's lines write them with no search for
	 * the shortest digits (render/float_repr.c) */
	return (double)((long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000) / 1e6;
}

/* Reserve a record of `size` bytes with its common header filled in
 * (time tm, or now when 0). */
static unsigned char *put_at(uint8_t type, size_t size, double tm)
{
	if (rfd < 0 || size > sizeof(buf) || size > 65535)
		return NULL;
	if (used + size > sizeof(buf))
		rec_flush();
	if (rfd < 0)
		return NULL;
	unsigned char *p = buf + used;
	used += size;
	uint16_t sz = (uint16_t)size;
	if (tm == 0)
		tm = rec_now();
	memcpy(p, &sz, 2);
	p[2] = type;
	p[3] = 0;
	memcpy(p + 4, &tm, 8);
	return p + 12;
}

static unsigned char *put(uint8_t type, size_t size)
{
	return put_at(type, size, 0);
}

void rec_syscall(struct sf_tracee *t, const struct sf_recpend *r, long ret)
{
	rec_syscall_of(t->tid, t->proc ? t->proc->tgid : t->tid, t, r, r->raw, r->canon, ret);
}

void rec_syscall_of(pid_t tid, pid_t tgid, struct sf_tracee *t, const struct sf_recpend *r,
		    const char *raw, const char *canon, long ret)
{
	size_t size = 12 + 4 * 4 + 8 + 6 * 8 + 4 + r->raw_len + r->canon_len;
	unsigned char *p = put_at(R_SYSCALL, size, r->time);
	if (!p)
		return;
	int32_t v[4] = { tid, tgid, r->nr, r->rule_id };
	int64_t rv = ret;
	memcpy(p, v, 16);
	memcpy(p + 16, &rv, 8);
	memcpy(p + 24, r->args, 48);
	memcpy(p + 72, &r->raw_len, 2);
	memcpy(p + 74, &r->canon_len, 2);
	memcpy(p + 76, raw, r->raw_len);
	memcpy(p + 76 + r->raw_len, canon, r->canon_len);
	if (!t)
		return; /* the thread is gone: nothing to repeat */
	/* A loop makes the same call again and again: say "the same as last
	 * time" in 16 bytes, which the reader turns into a line at a fraction
	 * of the cost of a whole record. */
	unsigned char *rec = p - 12;
	if (t->rec_last && t->rec_last_gen == gen && t->rec_last_n == size &&
	    t->rec_last[0] == rec[3] && !memcmp(t->rec_last + 1, p, size - 12)) {
		used -= size;
		unsigned char *q = put_at(R_REPEAT, 12 + 4, r->time);
		if (q) {
			q[-9] = t->rec_last[0]; /* the flags */
			memcpy(q, &t->tid, 4);
		}
		return;
	}
	unsigned char *keep = realloc(t->rec_last, size - 11);
	if (!keep) {
		free(t->rec_last);
		t->rec_last = NULL;
		return;
	}
	keep[0] = rec[3];
	memcpy(keep + 1, p, size - 12);
	t->rec_last = keep;
	t->rec_last_n = size;
	t->rec_last_gen = gen;
}

void rec_finish(struct sf_tracee *t, long ret)
{
	struct sf_recpend *p = t->rec;
	t->rec_tramp = 0;
	if (!p || !p->active)
		return;
	p->active = 0;
	batch_write(t); /* the records of earlier calls come first */
	if (!p->only_failed || rec_failed(ret))
		rec_syscall(t, p, ret);
}

static size_t read_small(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, out, cap);
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/* The exec line's facts from /proc/PID (exec_facts.c says why not always). */
static void proc_facts(pid_t tid, struct exec_facts *f)
{
	char p[64], st[512];
	snprintf(p, sizeof(p), "/proc/%d/exe", tid);
	ssize_t en = readlink(p, f->exe, sizeof(f->exe) - 1);
	f->en = en > 0 ? (size_t)en : 0;
	snprintf(p, sizeof(p), "/proc/%d/cmdline", tid);
	f->an = read_small(p, f->argv, sizeof(f->argv));
	/* "pid (comm) state ppid ...": comm and ppid in one short read (comm may
	 * hold spaces and parentheses: it ends at the last ')') */
	snprintf(p, sizeof(p), "/proc/%d/stat", tid);
	size_t sn = read_small(p, st, sizeof(st) - 1);
	st[sn] = 0;
	f->ppid = 0;
	f->cn = 0;
	char *open_ = strchr(st, '('), *close_ = strrchr(st, ')');
	if (open_ && close_ && close_ > open_) {
		f->cn = (size_t)(close_ - open_ - 1);
		if (f->cn > sizeof(f->comm))
			f->cn = sizeof(f->comm);
		memcpy(f->comm, open_ + 1, f->cn);
		if (close_[1] == ' ' && close_[2] && close_[3] == ' ')
			f->ppid = (int32_t)strtol(close_ + 4, NULL, 10);
	}
}

void rec_exec(struct sf_tracee *t, pid_t former)
{
	gen++;
	struct exec_facts f;
	int direct = rfd >= 0 && exec_facts(t, former, &f) == 0;
	free(t->proc->exec_raw);
	t->proc->exec_raw = NULL;
	if (rfd < 0)
		return;
	if (direct)
		DBG("%d: exec facts without /proc (%.*s)", t->tid, (int)f.en, f.exe);
	else
		proc_facts(t->tid, &f);
	unsigned char *q = put(R_EXEC, 12 + 8 + 6 + f.en + f.cn + f.an);
	if (!q)
		return;
	int32_t v[2] = { t->tid, f.ppid };
	uint16_t lens[3] = { (uint16_t)f.en, (uint16_t)f.cn, (uint16_t)f.an };
	memcpy(q, v, 8);
	memcpy(q + 8, lens, 6);
	memcpy(q + 14, f.exe, f.en);
	memcpy(q + 14 + f.en, f.comm, f.cn);
	memcpy(q + 14 + f.en + f.cn, f.argv, f.an);
}

void rec_fork(pid_t parent, pid_t child, unsigned long flags)
{
	gen++;
	unsigned char *q = put(R_FORK, 12 + 8 + 8);
	if (!q)
		return;
	int32_t v[2] = { parent, child };
	uint64_t f = flags;
	memcpy(q, v, 8);
	memcpy(q + 8, &f, 8);
}

void rec_exit(pid_t tid, int status)
{
	gen++;
	unsigned char *q = put(R_EXIT, 12 + 8);
	if (!q)
		return;
	int32_t v[2] = { tid, status };
	memcpy(q, v, 8);
}
