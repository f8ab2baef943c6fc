/* What record mode's line writer knows of each thread: its process, the
 * process's parent, exe and comm, tracked from the records exactly as the
 * Python Enricher (src/sysfake/record/enrich.py) tracks them, and counts for
 * the trace's end line and the progress line. Internal to csrc/render/. */
#ifndef SF_RECORD_THREADS_H
#define SF_RECORD_THREADS_H

#include <stddef.h>
#include <stdint.h>

struct str { char *p; size_t n; };

int str_set(struct str *s, const char *p, size_t n);

struct group; /* a thread group (process) ever seen: Enricher.processes */

struct rthread {
	int32_t tid, tgid, ppid;
	struct str exe, comm;
	struct group *g;
	uint32_t gen;   /* the group's generation when the thread joined it */
	int alive;      /* with gen: an exec in the group ends the others */
	/* the text after the time of the thread's last syscall line (a repeat
	 * record repeats it), valid while no exec, fork or exit record came after */
	unsigned char *last;
	size_t last_n, last_cap;
	uint64_t last_gen;
	struct rthread *next;
};

struct threads {
	struct rthread **tb;
	size_t tn, tcap; /* threads, buckets */
	struct group **gb;
	size_t gn, gcap; /* groups, buckets */
	uint64_t live;   /* groups with a live thread */
	uint64_t gen;    /* bumped by every exec, fork and exit record */
};

void threads_free(struct threads *ts);
struct rthread *threads_find(struct threads *ts, int32_t tid);
/* Enricher.state(tid, tgid): the thread, made if new; has_tgid 0 when the
 * record does not say (state(tid)). NULL: out of memory. */
struct rthread *threads_state(struct threads *ts, int32_t tid, int has_tgid, int32_t tgid);
/* The facts changes of an exec (after the thread's state()), a fork (after
 * the parent's state()) and an exit. Return -1: out of memory. */
int threads_exec(struct threads *ts, struct rthread *t, int32_t ppid, const char *exe, size_t el,
		 const char *comm, size_t cl);
int threads_fork(struct threads *ts, const struct rthread *parent, int32_t child, uint64_t flags);
void threads_exit(struct threads *ts, struct rthread *t);

#endif
