/* x86_64 path-syscall table. Argument indexes follow the kernel's prototypes. */
#include <errno.h>
#include <stddef.h>
#include <sys/syscall.h>
#include "syscalls.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define E(nr, cls, fl, p0, d0, p1, d1, fa, vf) \
	{ SYS_##nr, #nr, cls, fl, { p0, p1 }, { d0, d1 }, fa, vf }
#define N -1

const struct sf_sysent sf_systab[] = {
	/*  name             class          flags                     p0 d0  p1 d1 flags vfile */
	E(open,              SC_OPEN,       0,                         0, N, N, N, 1, SF_VF_REWRITE),
	E(openat,            SC_OPEN,       0,                         1, 0, N, N, 2, SF_VF_REWRITE),
	E(creat,             SC_OPEN,       0,                         0, N, N, N, N, SF_VF_REWRITE),
	E(openat2,           SC_OPENAT2,    0,                         1, 0, N, N, N, SF_VF_REWRITE),
	E(stat,              SC_STAT,       0,                         0, N, N, N, N, 0),
	E(lstat,             SC_STAT,       SF_NOFOLLOW,               0, N, N, N, N, 0),
	E(newfstatat,        SC_STAT,       SF_ATFLAGS,                1, 0, N, N, 3, 0),
	E(statx,             SC_STATX,      SF_ATFLAGS,                1, 0, N, N, 2, 0),
	E(access,            SC_ACCESS,     0,                         0, N, N, N, N, 0),
	E(faccessat,         SC_ACCESS,     0,                         1, 0, N, N, N, 0),
	E(faccessat2,        SC_ACCESS,     SF_ATFLAGS,                1, 0, N, N, 3, 0),
	E(readlink,          SC_READLINK,   SF_NOFOLLOW,               0, N, N, N, N, EINVAL),
	E(readlinkat,        SC_READLINK,   SF_NOFOLLOW,               1, 0, N, N, N, EINVAL),
	E(statfs,            SC_STATFS,     0,                         0, N, N, N, N, 0),
	E(truncate,          SC_TRUNCATE,   0,                         0, N, N, N, N, 0),
	E(execve,            SC_EXEC,       0,                         0, N, N, N, N, EACCES),
	E(execveat,          SC_EXEC,       SF_ATFLAGS,                1, 0, N, N, 4, EACCES),
	E(chdir,             SC_OTHER,      0,                         0, N, N, N, N, ENOTDIR),
	E(chroot,            SC_ROOTCHANGE, 0,                         0, N, N, N, N, ENOTDIR),
	E(pivot_root,        SC_ROOTCHANGE, 0,                         0, N, 1, N, N, EINVAL),
	E(mkdir,             SC_OTHER,      0,                         0, N, N, N, N, EEXIST),
	E(mkdirat,           SC_OTHER,      0,                         1, 0, N, N, N, EEXIST),
	E(rmdir,             SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, ENOTDIR),
	E(unlink,            SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, EPERM),
	E(unlinkat,          SC_OTHER,      SF_NOFOLLOW,               1, 0, N, N, N, EPERM),
	E(mknod,             SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, EEXIST),
	E(mknodat,           SC_OTHER,      SF_NOFOLLOW,               1, 0, N, N, N, EEXIST),
	E(rename,            SC_OTHER,      SF_NOFOLLOW,               0, N, 1, N, N, EPERM),
	E(renameat,          SC_OTHER,      SF_NOFOLLOW,               1, 0, 3, 2, N, EPERM),
	E(renameat2,         SC_OTHER,      SF_NOFOLLOW,               1, 0, 3, 2, N, EPERM),
	E(link,              SC_OTHER,      SF_NOFOLLOW,               0, N, 1, N, N, EPERM),
	E(linkat,            SC_OTHER,      SF_NOFOLLOW,               1, 0, 3, 2, N, EPERM),
	E(symlink,           SC_OTHER,      SF_NOFOLLOW,               1, N, N, N, N, EEXIST),
	E(symlinkat,         SC_OTHER,      SF_NOFOLLOW,               2, 1, N, N, N, EEXIST),
	E(chmod,             SC_OTHER,      0,                         0, N, N, N, N, SF_VF_SUCCESS),
	E(fchmodat,          SC_OTHER,      0,                         1, 0, N, N, N, SF_VF_SUCCESS),
	E(fchmodat2,         SC_OTHER,      SF_ATFLAGS,                1, 0, N, N, 3, SF_VF_SUCCESS),
	E(chown,             SC_OTHER,      0,                         0, N, N, N, N, SF_VF_SUCCESS),
	E(lchown,            SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, SF_VF_SUCCESS),
	E(fchownat,          SC_OTHER,      SF_ATFLAGS,                1, 0, N, N, 4, SF_VF_SUCCESS),
	E(utime,             SC_OTHER,      0,                         0, N, N, N, N, SF_VF_SUCCESS),
	E(utimes,            SC_OTHER,      0,                         0, N, N, N, N, SF_VF_SUCCESS),
	E(futimesat,         SC_OTHER,      0,                         1, 0, N, N, N, SF_VF_SUCCESS),
	E(utimensat,         SC_OTHER,      SF_ATFLAGS,                1, 0, N, N, 3, SF_VF_SUCCESS),
	E(setxattr,          SC_OTHER,      0,                         0, N, N, N, N, EOPNOTSUPP),
	E(lsetxattr,         SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, EOPNOTSUPP),
	E(getxattr,          SC_OTHER,      0,                         0, N, N, N, N, ENODATA),
	E(lgetxattr,         SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, ENODATA),
	E(listxattr,         SC_OTHER,      0,                         0, N, N, N, N, SF_VF_SUCCESS),
	E(llistxattr,        SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, SF_VF_SUCCESS),
	E(removexattr,       SC_OTHER,      0,                         0, N, N, N, N, ENODATA),
	E(lremovexattr,      SC_OTHER,      SF_NOFOLLOW,               0, N, N, N, N, ENODATA),
	E(inotify_add_watch, SC_OTHER,      0,                         1, N, N, N, N, SF_VF_REWRITE),
	E(fanotify_mark,     SC_OTHER,      0,                         4, 3, N, N, N, SF_VF_REWRITE),
	E(mount,             SC_OTHER,      0,                         1, N, 0, N, 3, SF_VF_REWRITE),
	E(umount2,           SC_OTHER,      0,                         0, N, N, N, N, EINVAL),
	E(swapon,            SC_OTHER,      0,                         0, N, N, N, N, EPERM),
	E(swapoff,           SC_OTHER,      0,                         0, N, N, N, N, EPERM),
	E(acct,              SC_OTHER,      0,                         0, N, N, N, N, EPERM),
	E(uselib,            SC_OTHER,      0,                         0, N, N, N, N, ENOEXEC),
	E(name_to_handle_at, SC_OTHER,      SF_ATFLAGS,                1, 0, N, N, 4, EOPNOTSUPP),
	E(open_tree,         SC_OTHER,      0,                         1, 0, N, N, N, EINVAL),
	E(move_mount,        SC_OTHER,      0,                         1, 0, 3, 2, N, EINVAL),
	E(fspick,            SC_OTHER,      0,                         1, 0, N, N, N, EINVAL),
	E(mount_setattr,     SC_OTHER,      0,                         1, 0, N, N, N, EINVAL),
	E(unshare,           SC_OTHER,      SF_NSCHANGE,               N, N, N, N, N, 0),
	E(setns,             SC_OTHER,      SF_NSCHANGE,               N, N, N, N, N, 0),
	{ -1, NULL, 0, 0, { N, N }, { N, N }, N, 0 },
};

const struct sf_sysent *sf_sysent_lookup(long nr)
{
	/* Dense index built on first use: lookups happen at every stop. */
	static const struct sf_sysent *idx[512];
	static int built;
	if (!built) {
		for (const struct sf_sysent *e = sf_systab; e->nr >= 0; e++)
			if (e->nr < 512)
				idx[e->nr] = e;
		built = 1;
	}
	if (nr < 0 || nr >= 512)
		return NULL;
	return idx[nr];
}
