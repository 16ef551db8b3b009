/* fds attached to a Unix-socket message (SCM_RIGHTS), for the shim and the daemon's addon. */
#ifndef WARM_FDMSG_H
#define WARM_FDMSG_H

#include <stddef.h>
#include <sys/socket.h>

/* Control space a message carrying n fds needs. */
#define FDMSG_SPACE(n) CMSG_SPACE(sizeof(int) * (n))

/* Attaches fds[0..nfds) (nfds > 0) to msg, in ctl: at least
 * FDMSG_SPACE(nfds) bytes, aligned for struct cmsghdr. */
void fdmsg_attach(struct msghdr *msg, void *ctl, const int *fds, size_t nfds);

/* Calls each(fd, arg) for every fd a received msg carried, in order. */
void fdmsg_each(struct msghdr *msg, void (*each)(int fd, void *arg), void *arg);

#endif
