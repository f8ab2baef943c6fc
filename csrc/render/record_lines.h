/* Record mode's line writer, in C (bound with cffi; not part of the tracer).
 *
 * It turns every well-formed record of the core's stream into its trace line
 * and keeps each thread's facts from the exec and fork records, as the Python
 * Enricher does. What a line says in words comes from Python, which owns it
 * (src/sysfake/record/fastline.py): a syscall's name and argument layout, an
 * argument's symbolic text, clone flags and signal names, errno names, a time
 * outside the range it formats. When a record needs a piece it was not
 * taught, sf_lines_render stops there and says which; Python teaches it and
 * calls again. The lines are byte for byte Decoder + Enricher + to_json's
 * (tests/record/test_lines_c.py). */
#ifndef SF_RECORD_LINES_H
#define SF_RECORD_LINES_H

#include <stddef.h>
#include <stdint.h>

#define SF_LINES_DONE 0  /* no whole record left in the buffer */
#define SF_LINES_FULL 1  /* the output buffer is full (none written: it is too small) */
#define SF_LINES_NEED 2  /* the record at *pos needs what *need says */
#define SF_LINES_NOMEM 3 /* out of memory */

#define SF_NEED_RECORD 1 /* not a well-formed record this writer knows: Python's */
#define SF_NEED_CALL 2   /* sf_lines_set_call(nr) */
#define SF_NEED_TEXT 3   /* sf_lines_set_text(nr, arg, value) */
#define SF_NEED_CLONE 4  /* sf_lines_set_clone(value) */
#define SF_NEED_SIGNAL 5 /* sf_lines_set_signal(arg) */
#define SF_NEED_TIME 6   /* sf_lines_set_time(time) */

struct sf_lines_need {
	int what;
	int32_t nr;
	int arg;
	uint64_t value;
	double time;
};

struct sf_lines;

struct sf_lines *sf_lines_new(void);
void sf_lines_free(struct sf_lines *l);
/* kinds[i]: how the register is read: 32/64 signed, 0 unsigned 32-bit, -1
 * unsigned 64-bit; texts[i]: 1 when the argument is written whole by value
 * (sf_lines_set_text, keyed by the value read as kinds[i] says), else
 * prefix[i] is the JSON before the number. */
int sf_lines_set_call(struct sf_lines *l, int32_t nr, const char *head, size_t headn, int nargs,
		      const int *kinds, const int *texts, const char *const *prefix);
int sf_lines_set_text(struct sf_lines *l, int32_t nr, int arg, uint64_t value, const char *json,
		      size_t n);
int sf_lines_set_errno(struct sf_lines *l, int err, const char *json, size_t n);
/* A signal's name as JSON ('"SIGKILL"'), 1 <= sig < 128. */
int sf_lines_set_signal(struct sf_lines *l, int sig, const char *json, size_t n);
/* Clone flags as JSON ('"CLONE_VM|..."'). */
int sf_lines_set_clone(struct sf_lines *l, uint64_t flags, const char *json, size_t n);
/* repr(t) for a time sf_float_repr does not format (remembered for one value). */
int sf_lines_set_time(struct sf_lines *l, double t, const char *text, size_t n);
/* Render records from buf[*pos, len) into out[*outn, cap). Returns SF_LINES_*;
 * *pos and *outn advance past what was done. */
int sf_lines_render(struct sf_lines *l, const unsigned char *buf, size_t len, size_t *pos,
		    char *out, size_t cap, size_t *outn, struct sf_lines_need *need);
/* Lines written (Enricher.events), processes seen, processes with a live thread. */
void sf_lines_counts(const struct sf_lines *l, uint64_t *events, uint64_t *processes,
		     uint64_t *live);
/* Python's repr(float) of 1 <= x < 2^53 (a time); 0 for other values. */
size_t sf_float_repr(double x, char *out, size_t cap);

#endif
