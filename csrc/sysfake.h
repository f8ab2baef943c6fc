/* Public interface of the sysfake C core (bound with cffi). */
#ifndef SYSFAKE_H
#define SYSFAKE_H

#include <stddef.h>

/* Mechanism bits, for sf_probe results and for forcing fallbacks in tests. */
#define SF_MECH_VM_READV     0x001 /* process_vm_readv works */
#define SF_MECH_VM_WRITEV    0x002 /* process_vm_writev works */
#define SF_MECH_MEM_READ     0x004 /* pread of /proc/PID/mem works */
#define SF_MECH_MEM_WRITE    0x008 /* pwrite of /proc/PID/mem works */
#define SF_MECH_SYSCALL_INFO 0x010 /* PTRACE_GET_SYSCALL_INFO works */
#define SF_MECH_SECCOMP      0x020 /* SECCOMP_RET_TRACE + PTRACE_O_TRACESECCOMP work */
#define SF_MECH_SECCOMP_OLD_ORDER 0x040 /* seccomp stop comes before syscall-enter stop */
#define SF_MECH_SKIP_AT_SECCOMP   0x080 /* orig_rax=-1 at the seccomp stop skips with our rax */
#define SF_MECH_SUBREAPER    0x100 /* PR_SET_CHILD_SUBREAPER works */
#define SF_MECH_TRACER_STAT  0x200 /* the tracer can tell a path has no symlink (O_PATH + readlink of its fd) */
#define SF_MECH_SET_RETURN   0x400 /* a return address set at the seccomp stop is where the call returns */
#define SF_MECH_PIDFD_INFO   0x800 /* PIDFD_GET_INFO tells a process's parent (Linux 6.13) */
#define SF_MECH_NSPID        0x1000 /* /proc/PID/status has NSpid: fork events name children by our ids (Linux) */
#define SF_MECH_ERRNO_NR     0x2000 /* a number set at the seccomp stop meets the filter again: SF_NR_ERRNO + e returns -e */
#define SF_MECH_STUCK_SIGNALS 0x4000 /* a quirk (gVisor): a signal sent to a tracee in a ptrace stop waits for an interrupt (reported by doctor; docs/safety.md) */

struct sf_probe_result {
	int ok;           /* 1: tracing works here */
	unsigned mech;    /* SF_MECH_* */
	char error[256];  /* why tracing does not work, when ok == 0 */
};

struct sf_options {
	int orphans_wait;      /* 0: SIGTERM then SIGKILL leftovers after the command exits; 1: wait */
	int grace_ms;          /* between SIGTERM and SIGKILL */
	unsigned disable_mech; /* SF_MECH_* bits to pretend are missing (tests, benchmarks) */
	int record_fd;         /* -1: no record; else binary records are written here */
	int verbose;           /* debug log to stderr */
	/* Signals the caller ignores for its own sake (Python ignores SIGPIPE
	 * and SIGXFSZ), bit N-1 for signal N: the command gets them at their
	 * default. Any other signal the caller ignores stays ignored in the
	 * command, and the command starts with the caller's blocked mask, as
	 * it would untraced. */
	unsigned long long sig_default;
};

/* Run argv[0] (searched in PATH) traced by the rules in table. Returns the
 * command's wait status, as waitpid() gives it, or -1 with err set. */
int sf_run(const unsigned char *table, size_t table_len, char *const argv[],
	   char *const envp[], const struct sf_options *opt, char *err, size_t errlen);

/* End this process as the command ended (its wait status from sf_run):
 * exit with its status, or die of the signal that killed it, with core
 * dumps of this process off, so that a shell sees what it would have seen
 * untraced (a Ctrl-C stops a script only if the child died of SIGINT). */
void sf_exit_as(int status);

/* Probe what this kernel offers. Returns 0 and fills res. */
int sf_probe(struct sf_probe_result *res);

/* Parse and validate a table without running anything (fuzz target, `check`).
 * Returns 0, or -1 with err set. */
int sf_table_check(const unsigned char *table, size_t table_len, char *err, size_t errlen);

/* Which rule (rule_id) decides an already canonical path; -1 none, -2 bad table.
 * exe/comm may be NULL. Used by tests to hold the C matcher to paths.py. */
int sf_match_path(const unsigned char *table, size_t table_len, const char *path,
		  const char *exe, const char *comm);

/* May a rule match the relative path rel from some directory? 0: none can,
 * so the core skips resolving it; 1: maybe; -2 bad table. For tests. */
int sf_name_may_match_path(const unsigned char *table, size_t table_len, const char *rel);

#endif
