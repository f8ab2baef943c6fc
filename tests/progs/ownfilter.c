/* ownfilter kill|eperm seccomp|prctl CMD ARGS...: install a seccomp filter of
 * the program's own, as a sandboxing program does, then exec CMD under it.
 * The filter allows every real syscall and answers any number from 1000 on
 * (none exists) with SECCOMP_RET_KILL_PROCESS or RET_ERRNO(EPERM): what a
 * default-deny profile does to numbers it does not know
 * (tests/test_run_errno_nr.py). */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: ownfilter kill|eperm seccomp|prctl CMD [ARGS...]\n");
		return 2;
	}
	unsigned action = !strcmp(argv[1], "kill") ? SECCOMP_RET_KILL_PROCESS
						   : SECCOMP_RET_ERRNO | EPERM;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 1000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		perror("PR_SET_NO_NEW_PRIVS");
		return 1;
	}
	long e = !strcmp(argv[2], "prctl")
		? prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0)
		: syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
	if (e) {
		perror("seccomp filter");
		return 1;
	}
	execvp(argv[3], argv + 3);
	perror("execvp");
	return 127;
}
