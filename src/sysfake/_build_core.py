"""cffi build script for the C core (API mode, out of line).

Set SYSFAKE_SANITIZE=1 to build with AddressSanitizer and
UndefinedBehaviorSanitizer (CI does this once).
"""
from __future__ import annotations

import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CSRC = os.path.join(ROOT, "csrc")

CDEF = """
#define SF_MECH_VM_READV ...
#define SF_MECH_VM_WRITEV ...
#define SF_MECH_MEM_READ ...
#define SF_MECH_MEM_WRITE ...
#define SF_MECH_SYSCALL_INFO ...
#define SF_MECH_SECCOMP ...
#define SF_MECH_SECCOMP_OLD_ORDER ...
#define SF_MECH_SKIP_AT_SECCOMP ...
#define SF_MECH_SUBREAPER ...
#define SF_MECH_TRACER_STAT ...

struct sf_probe_result {
    int ok;
    unsigned mech;
    char error[256];
};

struct sf_options {
    int orphans_wait;
    int grace_ms;
    unsigned disable_mech;
    int record_fd;
    int verbose;
};

int sf_run(const unsigned char *table, size_t table_len, char *const argv[],
           char *const envp[], const struct sf_options *opt, char *err, size_t errlen);
int sf_probe(struct sf_probe_result *res);
int sf_table_check(const unsigned char *table, size_t table_len, char *err, size_t errlen);
int sf_match_path(const unsigned char *table, size_t table_len, const char *path,
                  const char *exe, const char *comm);

#define SF_LINES_DONE ...
#define SF_LINES_FULL ...
#define SF_LINES_NEED ...
struct sf_lines;
struct sf_lines *sf_lines_new(void);
void sf_lines_free(struct sf_lines *l);
void sf_lines_reset(struct sf_lines *l, int keep_last);
int sf_lines_set_thread(struct sf_lines *l, int32_t tid, int32_t tgid, const char *json, size_t n);
int sf_lines_set_last(struct sf_lines *l, int32_t tid, const char *rest, size_t n);
int sf_lines_set_call(struct sf_lines *l, int32_t nr, const char *head, size_t headn, int nargs,
                      const int *kinds, const int *texts, const char *const *prefix);
int sf_lines_set_text(struct sf_lines *l, int32_t nr, int arg, uint64_t value, const char *json,
                      size_t n);
int sf_lines_set_errno(struct sf_lines *l, int err, const char *json, size_t n);
int sf_lines_render(struct sf_lines *l, const unsigned char *buf, size_t len, size_t *pos,
                    char *out, size_t cap, size_t *outn, uint64_t *events);
size_t sf_float_repr(double x, char *out, size_t cap);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)

_cflags = ["-std=gnu11", "-Wall", "-Wextra", "-O2", "-fno-strict-aliasing"]
_ldflags: list[str] = []
if os.environ.get("SYSFAKE_SANITIZE"):
    _cflags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
    _ldflags += ["-fsanitize=address,undefined"]

# the tracer, and record mode's line writer (csrc/render/: not the tracer's)
_sources = sorted(glob.glob(os.path.join(CSRC, "*.c")) +
                  glob.glob(os.path.join(CSRC, "render", "*.c")))
ffibuilder.set_source(
    "sysfake._core",
    '#include "sysfake.h"\n#include "render/record_lines.h"\n',
    sources=[os.path.relpath(s, ROOT) for s in _sources],
    include_dirs=[os.path.relpath(CSRC, ROOT)],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
