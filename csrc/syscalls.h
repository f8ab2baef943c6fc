/* Path-syscall table: which arguments hold paths and dirfds, and what a
 * virtual file answers for each. Filled per architecture in syscalls_<arch>.c. */
#ifndef SF_SYSCALLS_H
#define SF_SYSCALLS_H

#include <stdint.h>

enum sf_class {
	SC_OTHER = 0,  /* generic: vfile answer is given by vf_errno */
	SC_OPEN,       /* open, openat, creat: returns an fd */
	SC_OPENAT2,    /* openat2: flags in struct open_how */
	SC_STAT,       /* stat, lstat, newfstatat: struct stat */
	SC_STATX,      /* statx */
	SC_ACCESS,     /* access, faccessat, faccessat2 */
	SC_READLINK,   /* readlink, readlinkat */
	SC_STATFS,     /* statfs */
	SC_TRUNCATE,   /* truncate */
	SC_EXEC,       /* execve, execveat */
	SC_ROOTCHANGE, /* chroot, pivot_root: refresh the tracee's root afterwards */
};

#define SF_NOFOLLOW  0x01 /* operates on a symlink itself (lstat, lchown, ...) */
#define SF_ATFLAGS   0x02 /* flagsarg holds AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH */
#define SF_NSCHANGE  0x04 /* not a path call; trapped to notice namespace changes */

#define SF_VF_REWRITE  0    /* vfile: rewrite the path to the backing memfd */
#define SF_VF_SUCCESS  (-1) /* vfile: pretend success */

struct sf_sysent {
	int nr;
	const char *name;
	uint8_t cls;
	uint8_t flags;
	int8_t path[2];  /* argument index of each path, -1 if none */
	int8_t dfd[2];   /* argument index of the matching dirfd, -1: AT_FDCWD */
	int8_t flagsarg; /* argument index of open flags or AT_* flags, -1 if none */
	int16_t vf_errno;/* for SC_OTHER on a virtual file: errno, or SF_VF_* */
};

const struct sf_sysent *sf_sysent_lookup(long nr);
/* All entries, terminated by nr < 0. */
extern const struct sf_sysent sf_systab[];

#endif
