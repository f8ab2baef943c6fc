/* Internal declarations shared by the core's files. */
#ifndef SF_CORE_H
#define SF_CORE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sysfake.h"
#include "syscalls.h"
#include "arch/x86_64.h"

#define SF_PATH_MAX 4096
/* A canonical path: a relative name (< SF_PATH_MAX) under a directory (< SF_PATH_MAX)
 * can name a file deeper than PATH_MAX; prefix and glob rules still see it. */
#define SF_CANON_MAX (2 * SF_PATH_MAX)

/* ---- table.c: the compiled rule table ---- */
enum { MK_EXACT = 0, MK_PREFIX = 1, MK_GLOB = 2 };
enum { ACT_CONTENT = 1, ACT_REDIRECT = 2, ACT_HIDE = 3, ACT_ERRNO = 4 };

struct sf_str { const char *p; uint32_t n; };

struct sf_vfile {
	struct sf_str content;
	uint32_t mode, uid, gid, flags;
	int memfd;          /* tracer-owned backing file, -1 until first use;
			     * for a directory: O_DIRECTORY fd of the placeholder */
	/* VF_DIR: content = placeholder path NUL, then records "<f|d>name" NUL */
	struct sf_str ph, ents, vpath; /* vpath: the virtual directory (rule pattern) */
};
#define VF_READONLY 1
#define VF_DIR 2
#define VF_DIR_WEAK 4 /* list it only where the process lacks the real directory */
#define VF_GENERATOR(v) (((v)->flags >> 8) & 0xff)
enum { GEN_STATIC = 0, GEN_MOUNTINFO = 1 };

struct sf_rule {
	uint8_t kind, action;
	int32_t err;
	struct sf_str pattern, target, only_exe, only_comm;
	uint32_t vfile;     /* index or UINT32_MAX */
	uint32_t rule_id;
	struct sf_str name; /* the pattern's last component if it is literal, else n = 0 */
};

#define SF_MAX_NR 512

enum { SA_ERRNO = 1, SA_RETURN = 2, SA_PATCH = 3, SA_PASS = 4, SA_REWRITE = 5, SA_DELAY = 6 };
enum { AM_EQ = 0, AM_ANY = 1, AM_ALL = 2, AM_NONE = 3, AM_NE = 4 };
enum { AS_SET = 0, AS_OR = 1, AS_CLEAR = 2 };

struct sf_argm {
	uint8_t idx, op, width;
	uint64_t value, mask;
};

struct sf_patch {
	uint8_t arg;
	uint32_t offset;
	struct sf_str data;
};

struct sf_aset {
	uint8_t idx, op;
	uint64_t value;
};

struct sf_sysrule {
	uint32_t nr, rule_id;
	uint8_t action, path_arg, path_fd, path_kind;
	int32_t err;
	int64_t retval;
	struct sf_str path, only_exe, only_comm;
	uint32_t when_first, when_last, when_step, delay_us;
	uint32_t patch_first, patch_count, aset_first, aset_count;
	int16_t if_errno[4];
	struct sf_argm argm[4];
	uint64_t count; /* occurrences seen, for `when` */
};

/* Emulation bits (docs/design.md). */
#define EM_CGROUPFS     1u
#define EM_PROCFD_MOUNT 2u
#define EM_PIVOT_CHROOT 4u
#define EM_GLOBAL_UMOUNT 8u
#define EM_CAPSET_MASK  16u
#define EM_NETLINK_ACK  32u
#define EM_REAPER       64u

struct sf_table {
	struct sf_rule *rules;
	uint32_t nrules;
	struct sf_vfile *vfiles;
	uint32_t nvfiles;
	uint32_t nvdirs;            /* vfiles with VF_DIR: getdents64 is trapped */
	int need_exe, need_comm;
	int record;                 /* record mode: the table has a trap list */
	struct sf_str *watch;       /* record: watched prefixes */
	uint32_t nwatch;
	unsigned char rec_nr[SF_MAX_NR]; /* record: extra syscalls to trap */
	unsigned char rec_arg[SF_MAX_NR]; /* record: trap only if argument rec_arg-1 is non-zero (0: always) */
	struct sf_sysrule *sysrules;
	uint32_t nsysrules;
	struct sf_patch *patches;
	uint32_t npatches;
	struct sf_aset *asets;
	uint32_t nasets;
	unsigned char has_sysrule[SF_MAX_NR];
	uint32_t emul;
	int by_name;   /* every rule's last component is literal (sf_name_may_match) */
	char cg_root[SF_PATH_MAX];     /* cgroupfs: tracer-view fake root, "" if none */
	/* cgroupfs: a new cgroup directory's files, "<ctrl>/<name>\0<content>\0" each */
	struct sf_str cg_files;
	unsigned char *blob; /* owned copy: strings point into it */
};

int sf_table_parse(struct sf_table *t, const unsigned char *blob, size_t len,
		   char *err, size_t errlen);
void sf_table_free(struct sf_table *t);

/* ---- match.c ---- */
int sf_glob_match(const char *pat, size_t pn, const char *s, size_t sn);
const struct sf_rule *sf_match(const struct sf_table *t, const char *path,
			       const char *exe, const char *comm);
/* Build the path a REDIRECT rule sends `path` to. Returns length or -1. */
int sf_redirect(const struct sf_rule *r, const char *path, char *out, size_t outlen);
/* Set each rule's name and the table's by_name (after parsing). */
void sf_names_build(struct sf_table *t);
/* Can the path `rel` (relative) name a file some rule matches, from any
 * directory? 0 only where no rule can: the caller need not resolve it. */
int sf_name_may_match(const struct sf_table *t, const char *rel);

/* ---- mech / probe.c ---- */
extern unsigned sf_mech;   /* what works, after sf_probe and disable_mech */
extern long sf_trace_opts; /* the PTRACE_O_* every tracee starts with */
extern int sf_verbose;
#define DBG(...) do { if (sf_verbose) sf_log(__VA_ARGS__); } while (0)
void sf_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- tracee.c: tracees, processes, address spaces ---- */
struct sf_mm {
	int refs;
	uint64_t scratch;       /* base of our injected mapping, 0 if none */
	int scratch_busy;       /* a thread's injected mmap is in flight */
	uint64_t slot_used[4];  /* bitmap of SCRATCH_SLOTS slots */
	pid_t slot_tid[64];     /* the thread that last took each of the first 64 */
	struct sf_shadow *shadow; /* mem.c: slot words known to be in the tracee */
	int tramp;              /* TR_*: the return trampolines of tramp.c */
	unsigned tramp_count;   /* two-stop rewrites that could have used them */
	uint64_t tramp_code;    /* slots whose trampoline is in the code page (tramp.c) */
	struct sf_batch *batch; /* records waiting for their results (rec_batch.c) */
	unsigned rec_exits;     /* records that took the exit stop for want of a scratch mapping */
	unsigned stat_answers;  /* tracer_stat.c: redirected stats the tracer answered */
	int inplace_used;       /* inplace.c: its one rewrite in place is used */
	int memfd;              /* open /proc/PID/mem, -1 */
	pid_t mem_pid;
};
#define SCRATCH_SLOT 16384
#define SCRATCH_EMUL 8192 /* emulations write from here, path rewrites below */
#define SCRATCH_SLOTS 256
#define SCRATCH_PATHS 64  /* path rewrites start here: below are the trampoline's data words */
#define SCRATCH_CODE_SLOT (SCRATCH_SLOTS - 1) /* never a slot: the trampolines' code */
#define TRAMP_SLOTS 64    /* slots with a trampoline: one page of code */
enum { TR_NONE = 0, TR_BUSY = 1, TR_READY = 2, TR_FAILED = -1 };

struct sf_proc {
	int refs;
	pid_t tgid;
	pid_t ns_tgid;          /* as the process sees itself; 0: unknown */
	int root_known;
	char root[SF_PATH_MAX]; /* tracer-view path of the process root, "/" normally */
	int view;               /* -1 unknown, 0 cannot open tracer's /proc, 1 can */
	char exe[SF_PATH_MAX];
	int exe_known;
	int pivoted;            /* emulated pivot_root, PV_*: how to answer umount2 of the old root */
	int hostview;           /* 1: the tracer's root, mount and user namespace (tracer_stat.c) */
	char *exec_raw;         /* the absolute name of its last execve, and who made it */
	pid_t exec_tid;
	uint64_t serial;        /* tells a process from a later one with its tgid */
	pid_t parent_tgid;      /* the process whose fork event made it (not CLONE_PARENT), */
	uint64_t parent_serial; /* ...and its serial; 0: not known */
	int threaded;           /* made a thread (CLONE_THREAD) at some time */
	int pidns_ours;         /* in the tracer's PID namespace (so gVisor's fork events
				 * name its children by the tracer's ids) */
	int pidns_kids_moved;   /* unshare(CLONE_NEWPID) or setns: its children may not be */
	int filtered;           /* may have a seccomp filter besides ours, which may
				 * refuse SF_NR_ERRNO: answers set rax */
	int netlink;            /* may hold a netlink socket: a receive may be the ack
				 * netlink-ack patches (emul.c) */
	/* fds opened on "/" in place of a virtual directory the process could not
	 * reach (see vdir.c); checked by dev/ino before use */
	struct sf_vmark { int fd; uint32_t vfile; dev_t dev; ino_t ino; } vmarks[8];
	int nvmarks;
};

/* sf_proc.pivoted: after pivot_root(".", ".") became chroot(".") */
enum { PV_NONE = 0, PV_PIVOTED = 1, PV_DETACHED = 2 };

enum await { AW_NONE = 0, AW_ENTER, AW_EXIT };

/* Work left for the syscall-exit stop (bits of sf_tracee.pf). */
#define PF_RESTORE  0x001 /* restore the saved registers, keep the result */
#define PF_RET      0x002 /* the result is t->ret (a skip finished at exit) */
#define PF_SCRATCH  0x004 /* our injected mmap: note the area, replay the call */
#define PF_MEMFD    0x008 /* open became memfd_create: fill it */
#define PF_OBSERVE  0x010 /* only the result is wanted (record) */
#define PF_PATCH    0x020 /* apply t->srule's patches if the call succeeded */
#define PF_FIXUP    0x040 /* t->srule acts only if the call failed with if_errno */
#define PF_GENFD    0x080 /* close the tracer's per-open memfd t->genfd */
#define PF_EMUL     0x100 /* an emulation's exit hook (t->emul) */
#define PF_REPLAY   0x200 /* rewind and run the original call again */
#define PF_VDIRMARK 0x400 /* the open stands in for virtual directory t->vfile: mark the fd */
#define PF_FDNEW    0x800 /* an open in a process with marks: unmark the new fd */
#define PF_VDIRLS   0x1000 /* getdents64 answered, turned into lseek: result t->ret */
#define PF_VDIRPOS  0x2000 /* getdents64 turned into lseek(SEEK_CUR): note, replay */
#define PF_ROOT     0x4000 /* chroot/pivot/namespace change: forget the cached root at exit */
#define PF_TRAMP    0x8000 /* our injected mprotect of the trampolines' code: note, replay */
#define PF_INPLACE  0x10000 /* the path was rewritten in place: put the old bytes back */
#define PF_SIGSENT  0x20000 /* sends a signal: sig_wake.c marks the receivers */

/* A syscall whose result record mode wants, kept from entry to exit. */
struct sf_recpend {
	int active;
	int only_failed; /* extra trapped syscall: record only if it failed */
	int nr;
	int rule_id;
	double time;     /* when the call was made, 0: when its record is written */
	uint64_t args[6];
	uint16_t raw_len, canon_len;
	char raw[SF_PATH_MAX];
	char canon[SF_PATH_MAX];
};

struct sf_tracee {
	pid_t tid;
	pid_t ns_tid;
	struct sf_proc *proc;
	struct sf_mm *mm;
	int attached;        /* saw its first stop */
	int in_syscall;      /* PTRACE_SYSCALL-only mode: between entry and exit */
	enum await await;
	unsigned pf;         /* PF_* work for the exit stop */
	const struct sf_sysrule *srule;
	int genfd;
	int emul;            /* which emulation exit hook, EMX_* */
	uint64_t emul_arg;
	long long delay_until_us; /* parked by a delay rule until then (monotonic us) */
	int wait_parked;     /* reaper: a blocking wait parked at its exit stop */
	int exec_seen;       /* exec happened between entry and exit */
	int slot;            /* scratch slot held, -1 */
	int tramp_slot;      /* slot whose trampoline the thread has yet to run, -1 */
	uint64_t tramp_at;   /* that trampoline's entry (the mapping may be gone since) */
	sf_regs tramp_orig;  /* registers of that call as the tracee made it */
	int left_out;        /* this call's slot words were not written again (mem.c) */
	uint64_t stat_last[SF_TRAMP_WORDS]; /* tracer_stat.c: its last redirected stat's words */
	int slot_wait;       /* the replay waits for a free scratch slot */
	int slot_waiting;    /* stopped at its exit stop until a slot is free */
	int replays;         /* replays in a row because scratch memory failed */
	int cred;            /* tracer_stat.c: 0 unknown, 1 may answer for it, 2 and it has
			      * the tracer's credentials, -1 not */
	int procdir[2];      /* O_PATH fds of /proc/<tid> and /proc/<tid>/fd, -1 (tr_procdir) */
	int proclinks[2];    /* links read below each without it */
	struct sf_sysrule *counted[8]; /* `when` counters this entry moved (undone on replay) */
	int ncounted;
	long ret;            /* for PD_RET */
	uint32_t vfile;      /* for PD_MEMFD_INJECT */
	int vf_trunc;
	int vf_write;        /* the PF_MEMFD open can write: watch the copy */
	int magic;           /* the path was rewritten to a tracer memfd */
	int via_vdir;        /* path_resolve went through a virtual directory stand-in */
	int vdir_pos_fd;     /* getdents64 replayed: the position of this fd is known */
	long vdir_pos;       /* -1: not known */
	int group_stop;      /* in PTRACE_LISTEN */
	int sig_check;       /* sig_wake.c: a signal may have come in a stop */
	long long sig_checked_us; /* ...when its mask was last toggled, 0: never */
	pid_t sig_to;        /* the receiver of the signal it sends, 0: any tracee */
	int sig_to_thread;   /* ...a thread, not a process */
	sf_regs saved;
	struct sf_recpend *rec; /* record mode: what to write at exit, or NULL */
	int rec_tramp;       /* rec waits for the result its trampoline stores */
	int exit_watched;    /* PTRACE_O_TRACEEXIT set on it (tramp_watch_exit) */
	char *inplace_old;   /* inplace.c: the bytes a rewrite in place replaced */
	uint64_t inplace_at;
	size_t inplace_len;
	unsigned char *rec_last; /* record mode: its last syscall record (after the time) */
	size_t rec_last_n;
	unsigned rec_last_gen;
	/* creation link (see loop.c) */
	pid_t creator;       /* tid of the tracee whose fork event created us, 0 unknown */
	int parked;          /* first stop seen before the creator's event */
	int parked_sig;
	pid_t pk_tgid, pk_ppid; /* from /proc/<tid>/status when parked */
	struct sf_tracee *next; /* hash chain */
};

struct sf_tracee *tr_find(pid_t tid);
struct sf_tracee *tr_new(pid_t tid);
void tr_del(struct sf_tracee *t);
size_t tr_count(void);
void tr_foreach(void (*fn)(struct sf_tracee *, void *), void *arg);
int tr_procdir(struct sf_tracee *t, int fd_dir);
struct sf_proc *proc_new(pid_t tgid);
/* /proc/TID/status (tid 0: the tracer's) into buf, NUL-terminated: its length, or -1 */
ssize_t proc_status(pid_t tid, char *buf, size_t cap);
void proc_put(struct sf_proc *p);
struct sf_mm *mm_new(void);
struct sf_mm *mm_get(struct sf_mm *m);
void mm_put(struct sf_mm *m);
struct sf_mm *mm_fork(const struct sf_mm *parent);
void mm_scratch_set(struct sf_mm *m, uint64_t addr);
void tr_injection_lost(struct sf_tracee *t);
int mm_slot_alloc(struct sf_mm *m, pid_t tid);
void mm_slot_free(struct sf_mm *m, int slot);
int mm_slot_free_count(const struct sf_mm *m);
int mm_slot_ready(const struct sf_mm *m);
void slot_wait_add(struct sf_tracee *t);

/* ---- mem.c: tracee memory ---- */
ssize_t mem_read(struct sf_tracee *t, uint64_t addr, void *buf, size_t len);
int mem_read_str(struct sf_tracee *t, uint64_t addr, char *buf, size_t cap);
void mem_str_forget(void); /* a new stop: the last string read may have changed */
/* Two ranges in one process_vm_readv (bytes read: the second may be cut
 * short at an unmapped page); -1 with ENOSYS where that call is missing. */
ssize_t mem_read_pair(struct sf_tracee *t, uint64_t a1, void *b1, size_t n1,
		      uint64_t a2, void *b2, size_t n2);
int mem_write(struct sf_tracee *t, uint64_t addr, const void *buf, size_t len);
/* 1: one tracer syscall writes any length; 0: only POKEDATA writes, a word
 * a syscall (gVisor, about 25 us each), so long writes are worth avoiding. */
int mem_write_bulk(void);
/* Into a buffer the tracee named: fails (EFAULT) where the tracee could not write. */
int mem_write_user(struct sf_tracee *t, uint64_t addr, const void *buf, size_t len);
void mem_close(struct sf_mm *m);
/* Bytes [off, off + len) of scratch slot `slot` (both multiples of 8).
 * 0 written, 1 left out (the slot holds them already, if still mapped), -1
 * failed. */
int mem_write_slot(struct sf_tracee *t, int slot, uint64_t off, const void *buf, size_t len);
/* Forget what the slots hold (a new mapping, or none). */
void mem_shadow_drop(struct sf_mm *m);
/* Can the tracer read the word at addr? (Is that part of our mapping still there?) */
int mem_mapped(struct sf_tracee *t, uint64_t addr);

/* ---- path.c ---- */
/* Make the path argument absolute and canonical in the tracee's view.
 * Returns 0 on success, -1 when the path cannot be resolved (leave the call alone). */
int path_resolve(struct sf_tracee *t, int dirfd, const char *in, char *out, size_t outlen);
int proc_root(struct sf_tracee *t);
int proc_ns_ids(struct sf_tracee *t);

/* ---- vfile.c ---- */
int vfile_fd(struct sf_table *tab, uint32_t idx);
int vfile_can_view(struct sf_tracee *t);
int vfile_magic_path(struct sf_table *tab, uint32_t idx, char *out, size_t outlen);
/* A writable private memfd copy (fd in tracee t): fold its writes back later. */
void vfile_shadow_add(struct sf_tracee *t, uint32_t idx, long fd);
/* Fold writes made to private copies of vfile idx into the shared memfd. */
void vfile_sync(uint32_t idx);

/* ---- vdir.c: virtual directories ---- */
/* A path inside a placeholder directory -> the same path below the virtual
 * directory. Returns 1 if it was mapped. */
int vdir_unmap(char *path, size_t outlen);
/* The virtual directory (vfile index) a marked fd stands in for, or -1. */
int vdir_marked(struct sf_tracee *t, int fd);
void vdir_mark(struct sf_tracee *t, uint32_t idx, long fd);
void vdir_unmark(struct sf_tracee *t, long fd);
/* Does the directory exist in the process's view? */
int vdir_exists(struct sf_tracee *t, const char *path);
/* getdents64 on a virtual directory: may answer or rewrite the call. */
struct sf_call;
void vdir_getdents(struct sf_tracee *t, struct sf_call *c);

/* ---- seccomp.c ---- */
/* Build the filter seccomp_plan() chose (in the parent), then load it in the
 * child with raw syscalls: 0 or -errno. */
const void *seccomp_build(void);
long seccomp_load(const void *prog);
int seccomp_trapped(long nr);
/* every unshare and setns stops (sf_proc.hostview, pidns_ours stay true) */
int seccomp_sees_nschange(void);
void seccomp_plan(const struct sf_table *t);
/* seccomp(SECCOMP_SET_MODE_FILTER) or prctl(PR_SET_SECCOMP): a filter of the
 * tracee's own, which also meets SF_NR_ERRNO (sf_proc.filtered) */
int seccomp_is_filter_install(long nr, uint64_t arg0);

/* An answer of 0 or -e (e <= 4095) at the seccomp stop writes one register,
 * orig_rax = SF_NR_ERRNO + e, instead of orig_rax = -1 and rax: the kernel
 * runs the filter again on the new number (Linux 4.8), and this block makes
 * it RET_ERRNO(e). Just below the x32 bit: no syscall has such a number. */
#define SF_NR_ERRNO 0x3ffff000u
#define SF_NR_ERRNO_MAX 4095
/* Follows the load of the number; A is left as it was for other numbers. */
#define SF_ERRNO_NR_BLOCK \
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SF_NR_ERRNO, 0, 5), \
	BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, SF_NR_ERRNO + SF_NR_ERRNO_MAX, 3, 0), \
	BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, SF_NR_ERRNO), \
	BPF_STMT(BPF_ALU | BPF_OR | BPF_K, SECCOMP_RET_ERRNO), \
	BPF_STMT(BPF_RET | BPF_A, 0), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* ---- caller_signals.c: the caller's signals, kept for the command ---- */
/* Note the caller's ignored signals (but those in sig_default, bit N-1 for
 * signal N) and its blocked mask, before sysfake installs its handlers. */
void sf_caller_signals_save(unsigned long long sig_default);
int sf_caller_ignores(int sig);
int sf_caller_blocks(int sig);
/* In the command's child: the caller's ignored signals, every other to its
 * default, the caller's mask. */
void sf_caller_signals_apply(void);

/* ---- spawn.c: the probe's child, sharing the tracer's memory ---- */
/* Code that runs in such a child: not instrumented (the sanitizers' runtime
 * would take the parent's thread for its own). */
#define SF_CHILD __attribute__((no_sanitize("address", "undefined")))
long sf_raw(long nr, long a, long b, long c, long d);
void sf_raw_exit(int status) __attribute__((noreturn));
/* Every disposition to the default, an empty mask: no handler of the
 * tracer's may run on the probe child's stack. */
void sf_child_signals(void);
/* clone(CLONE_VM) running fn(arg) on a new stack; free the stack once the
 * child has exited. */
pid_t sf_spawn(int (*fn)(void *), void *arg, void **stack);
void sf_spawn_free(void *stack);

/* ---- syscall.c: one trapped syscall ---- */
extern struct sf_table *sf_tab;
extern int sf_at_seccomp; /* set by the loop: this entry is a seccomp stop */
/* At the syscall-entry point (seccomp stop or entry stop). Returns how to resume:
 * 0 -> PTRACE_CONT-like (no exit stop needed), 1 -> need the exit stop. */
int sc_enter(struct sf_tracee *t);

/* ---- inplace.c: a first rewrite over the program's own path ---- */
int inplace_write(struct sf_tracee *t, const struct sf_sysent *e, const sf_regs *orig, int arg,
		  const char *data, size_t len, const char *old);
void inplace_restore(struct sf_tracee *t);
void sc_exit(struct sf_tracee *t);

/* ---- tramp.c: rewrites that return through a trampoline, in one stop ---- */
/* Should this rewrite return through a trampoline? 1 yes (the data words go
 * into the slot with the path), 0 no: two stops, -1: set the trampolines up
 * first (tramp_setup). */
int tramp_want(struct sf_tracee *t);
/* 1: a rewrite of this call would return through a trampoline (one stop),
 * as far as can be told before it is placed; no side effects. */
int tramp_ready(const struct sf_tracee *t);
/* 0: this address space will never have trampolines. */
int tramp_possible(const struct sf_tracee *t);
/* Write the code and make the call mprotect it; replayed at its exit stop. */
int tramp_setup(struct sf_tracee *t, const sf_regs *orig);
void tramp_setup_done(struct sf_tracee *t, long ret);
/* Point the call's return at its slot's trampoline; the slot stays held. */
void tramp_arm(struct sf_tracee *t, sf_regs *r, const sf_regs *orig);
/* At the thread's next seccomp stop: 1 if it is its armed call run again
 * (a restart), else the slot is freed and 0. */
int tramp_next_stop(struct sf_tracee *t, const sf_regs *r);
/* Where slot's trampoline stores the call's result. */
uint64_t tramp_result_at(const struct sf_mm *m, int slot);
/* At a signal-delivery stop: finish the trampoline's work here. */
void tramp_signal(struct sf_tracee *t);
/* 1: the signal is a SIGSEGV at the thread's trampoline, whose mapping is
 * gone; handled here, and not to be delivered. */
int tramp_fault(struct sf_tracee *t, int sig);
/* Record mode: the thread's record waits for its trampoline; make sure it
 * stops when it exits (PTRACE_O_TRACEEXIT, once per thread). */
void tramp_watch_exit(struct sf_tracee *t);
/* At its PTRACE_EVENT_EXIT stop: write the record still waiting, free the slot. */
void tramp_exit(struct sf_tracee *t);
/* The thread has run its trampoline (a fork event): record, free the slot. */
void tramp_release(struct sf_tracee *t);
/* The thread exits or execs. */
void tramp_drop(struct sf_tracee *t);

/* ---- tracer_stat.c ---- */
/* A redirected stat-like call to `target`: answer it here (c->skip, c->ret)
 * when the tracer's answer is the caller's. Returns 1 if answered. */
int tracer_stat(struct sf_tracee *t, struct sf_call *c, const char *target);
/* Calls that change a thread's credentials (trapped while redirects exist). */
int tracer_cred_syscall(long nr);
/* The thread has the tracer's uids, gids, groups, capabilities and label. */
int tracer_same_creds(struct sf_tracee *t);

/* ---- exec_facts.c: the exec line without /proc ---- */
struct exec_facts {
	char exe[SF_PATH_MAX], comm[32], argv[1024];
	size_t en, cn, an;
	int32_t ppid;
};
/* Around a recording run (record.c): hold the tracer's /proc/self/fd. */
void exec_facts_begin(void);
void exec_facts_end(void);
/* At an execve's seccomp stop: the name it execs (only an absolute one is used). */
void exec_note(struct sf_tracee *t, long nr, const char *raw);
/* At the exec event of thread `former`: 0 when f holds every fact, -1: read /proc. */
int exec_facts(struct sf_tracee *t, pid_t former, struct exec_facts *f);
/* The parent of pid by PIDFD_GET_INFO; -1 where that is missing. */
int sf_pidfd_ppid(pid_t pid);

/* ---- record.c ---- */
void rec_open(int fd);
void rec_close(void);
int rec_on(void);
int rec_watched(const char *canon);
void rec_syscall(struct sf_tracee *t, const struct sf_recpend *p, long ret);
/* The same for thread tid of process tgid, whose tracee t may be gone (NULL);
 * the paths from raw and canon instead of p's. */
void rec_syscall_of(pid_t tid, pid_t tgid, struct sf_tracee *t, const struct sf_recpend *p,
		    const char *raw, const char *canon, long ret);
void rec_exec(struct sf_tracee *t, pid_t former);
void rec_fork(pid_t parent, pid_t child, unsigned long flags);
void rec_exit(pid_t tid, int status);
void rec_flush(void);
int rec_failed(long ret);
/* Write t->rec's record with this result, if it is active (and wanted). */
void rec_finish(struct sf_tracee *t, long ret);

/* ---- rec_batch.c: recorded results read several at once ---- */
/* The thread's trampoline ran: keep its record and slot until its result is
 * read. 0: not kept (the caller frees the slot). */
int batch_hold(struct sf_tracee *t);
/* Read the waiting results of t's address space and write their records. */
void batch_write(struct sf_tracee *t);
/* The address space or its mapping is gone: forget what waits. */
void batch_drop(struct sf_mm *m);
double rec_now(void);

/* ---- call.c helpers shared by syscall.c, sysrule.c and emul_*.c ---- */
int sf_getregs(struct sf_tracee *t, sf_regs *r);
int sf_setregs(struct sf_tracee *t, const sf_regs *r);
/* Back at the syscall instruction of the call made with registers o: it
 * runs again as the program made it. */
int sf_run_again(struct sf_tracee *t, const sf_regs *o);
/* The same where `was` is what the tracee has now: writes only what differs. */
int sf_setregs_from(struct sf_tracee *t, const sf_regs *r, const sf_regs *was);
/* Path behind an fd in the tracee's view ("pipe:[..]" etc. stay as named). */
int fd_path(struct sf_tracee *t, int fd, char *out, size_t outlen);
/* Map a tracer-view path that lies inside a redirect target back to the path the
 * process named (so rules about /sys/fs/cgroup match fds opened there). */
void unredirect(char *path, size_t outlen);
long long sf_now_us(void);

/* ---- sig_wake.c: signals gVisor leaves pending in a stopped tracee ---- */
extern volatile sig_atomic_t sigwake_fwd_pid;
#define SIGWAKE_NUNFOLLOWED 2
extern const int sigwake_unfollowed[SIGWAKE_NUNFOLLOWED];
int sigwake_sigarg(long nr);
int sigwake_enter(struct sf_tracee *t, long nr, const sf_regs *r);
void sigwake_exit(struct sf_tracee *t, long ret);
void sigwake_process(pid_t tgid);
void sigwake_thread(pid_t tid);
void sigwake_resume(struct sf_tracee *t);

/* ---- sysrule.c ---- */
struct sf_call {
	sf_regs r;            /* registers, possibly modified */
	sf_regs orig;         /* as the tracee made the call */
	long nr;
	const struct sf_sysent *e;
	int skip;             /* 1: answer without running */
	long ret;
	int modified;         /* r differs from orig and needs restoring */
	size_t emul_used;     /* bytes emulations put in scratch */
	int emul_fail;        /* emul_put could not place its data */
	char canon[2][SF_CANON_MAX]; /* canonical path per path slot, "" unknown */
	int canon_ok[2];
	int want_dir[2];      /* the path ends in "/" or "/.": the lookup wants a directory */
};
/* Try the syscall rules; may set c->skip/ret, c->r, t->pf, t->srule, t->delay_until_us. */
void sysrule_enter(struct sf_tracee *t, struct sf_call *c);
/* At exit: returns the (possibly new) result. */
long sysrule_exit(struct sf_tracee *t, long ret);
/* The call will run again from its entry: take back its `when` counts. */
void sysrule_uncount(struct sf_tracee *t);
int sysrule_write_patches(struct sf_tracee *t, const struct sf_sysrule *sr, const sf_regs *r);

/* ---- emul_*.c ---- */
enum { EMX_NONE = 0, EMX_CG_MKDIR, EMX_PIVOT, EMX_NLACK, EMX_WAIT4, EMX_WAITID,
       EMX_SUBREAPER, EMX_CG_DEVLIST };
void emul_enter(struct sf_tracee *t, struct sf_call *c);
long emul_exit(struct sf_tracee *t, long ret, sf_regs *r);
/* Write bytes into the emulations' half of the scratch slot, point argument
 * `arg` of c->r at them. Returns 0 or -1. */
int emul_put(struct sf_tracee *t, struct sf_call *c, int arg, const void *data, size_t len);
/* Reaper: process lifecycle, called by the loop. */
/* At a fork event: the intended parent of the new child (0: none, a thread). */
pid_t reaper_intended_parent(pid_t creator_tgid, unsigned long flags);
void reaper_on_link(pid_t child, pid_t creator_tgid, pid_t iparent, unsigned long flags);
/* Forget exited processes kept for links that were still pending. */
void reaper_prune(void);
void reaper_on_exit(pid_t tgid, int status);
void reaper_reset(void);
void reaper_enter(struct sf_tracee *t, struct sf_call *c);
long reaper_exit(struct sf_tracee *t, long ret, sf_regs *r);
void cgroupfs_enter(struct sf_tracee *t, struct sf_call *c);
long cgroupfs_exit(struct sf_tracee *t, long ret);

/* ---- loop.c ---- */
void tracer_on_exec_mm(struct sf_tracee *t);
void loop_resume(struct sf_tracee *t, int sig);
int loop_links_pending(void);

#endif
