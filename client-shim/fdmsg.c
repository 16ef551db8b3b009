/* SCM_RIGHTS: attaching fds to a Unix-socket message and reading the fds one carried. */
#include "fdmsg.h"

#include <string.h>

void fdmsg_attach(struct msghdr *msg, void *ctl, const int *fds, size_t nfds)
{
	struct cmsghdr *c;

	memset(ctl, 0, FDMSG_SPACE(nfds));
	msg->msg_control = ctl;
	msg->msg_controllen = FDMSG_SPACE(nfds);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
}

void fdmsg_each(struct msghdr *msg, void (*each)(int fd, void *arg), void *arg)
{
	struct cmsghdr *c;
	size_t n, i;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			each(fd, arg);
		}
	}
}
