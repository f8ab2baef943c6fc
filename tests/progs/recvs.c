/* recvs [--netlink] [--scm] [--fork] N: N datagrams sent and taken back
 * with recvfrom and recvmsg over a socketpair, after making a netlink
 * socket (--netlink) or being handed an fd over the pair (--scm, SCM_RIGHTS),
 * in a forked child (--fork). tests/test_run_netlink_ack.py counts which
 * receives stop at their exit for the netlink-ack emulation. */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int pass_fd(int sp[2])
{
	char c = 'f', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	int fd = dup(1);
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	if (sendmsg(sp[0], &m, 0) != 1)
		return -1;
	memset(cbuf, 0, sizeof(cbuf));
	m.msg_controllen = sizeof(cbuf);
	if (recvmsg(sp[1], &m, 0) != 1 || !CMSG_FIRSTHDR(&m))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int netlink = 0, scm = 0, child = 0, i;
	for (i = 1; i < argc - 1; i++) {
		netlink |= !strcmp(argv[i], "--netlink");
		scm |= !strcmp(argv[i], "--scm");
		child |= !strcmp(argv[i], "--fork");
	}
	int n = argc > 1 ? atoi(argv[argc - 1]) : 0, sp[2];
	if (netlink && socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) < 0) {
		perror("socket(AF_NETLINK)");
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) || (scm && pass_fd(sp))) {
		perror("socketpair/SCM_RIGHTS");
		return 1;
	}
	pid_t pid = child ? fork() : 0;
	if (pid > 0) {
		int st;
		waitpid(pid, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	for (i = 0; i < n; i++) {
		char c = 'x', r = 0;
		struct iovec iov = { &r, 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		if (send(sp[0], &c, 1, 0) != 1 || recvfrom(sp[1], &r, 1, 0, NULL, NULL) != 1 ||
		    send(sp[0], &c, 1, 0) != 1 || recvmsg(sp[1], &m, 0) != 1) {
			perror("send/recv");
			return 1;
		}
	}
	printf("recvs %d ok\n", n);
	return 0;
}
