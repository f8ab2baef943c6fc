/* Record mode's line writer, in C (bound with cffi; not part of the tracer).
 *
 * The Python reader (src/sysfake/record/fastline.py) owns what a trace line
 * says: it hands this renderer the pieces it has worked out (a syscall's
 * argument layout, a thread's facts, an argument's symbolic text, the last
 * line of a thread) and the renderer turns the syscall and repeat records it
 * has every piece for into the same JSON lines, stopping at the first record
 * that needs Python. */
#ifndef SF_RECORD_LINES_H
#define SF_RECORD_LINES_H

#include <stddef.h>
#include <stdint.h>

#define SF_LINES_DONE 0  /* no whole record left in the buffer */
#define SF_LINES_FULL 1  /* the output buffer is full */
#define SF_LINES_NEED 2  /* the record at *pos needs Python */

struct sf_lines;

struct sf_lines *sf_lines_new(void);
void sf_lines_free(struct sf_lines *l);
/* Forget every thread's facts, and unless keep_last its last line too (an
 * exec, fork or exit record). */
void sf_lines_reset(struct sf_lines *l, int keep_last);
int sf_lines_set_thread(struct sf_lines *l, int32_t tid, int32_t tgid, const char *json, size_t n);
int sf_lines_set_last(struct sf_lines *l, int32_t tid, const char *rest, size_t n);
/* kinds[i]: how the register is read: 32/64 signed, 0 unsigned 32-bit, -1
 * unsigned 64-bit; texts[i]: 1 when the argument is written whole by value
 * (sf_lines_set_text, keyed by the value read as kinds[i] says), else
 * prefix[i] is the JSON before the number. */
int sf_lines_set_call(struct sf_lines *l, int32_t nr, const char *head, size_t headn, int nargs,
		      const int *kinds, const int *texts, const char *const *prefix);
int sf_lines_set_text(struct sf_lines *l, int32_t nr, int arg, uint64_t value, const char *json,
		      size_t n);
int sf_lines_set_errno(struct sf_lines *l, int err, const char *json, size_t n);
/* Render records from buf[*pos, len) into out[*outn, cap). Returns SF_LINES_*;
 * *pos and *outn advance past what was done; *events counts the lines. */
int sf_lines_render(struct sf_lines *l, const unsigned char *buf, size_t len, size_t *pos,
		    char *out, size_t cap, size_t *outn, uint64_t *events);
/* Python's repr(float) of 1 <= x < 2^53 (a time); 0 for other values. */
size_t sf_float_repr(double x, char *out, size_t cap);

#endif
