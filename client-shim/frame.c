#include "frame.h"
#include "fdmsg.h"
#include "msgpack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int frame_send(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	const uint8_t *p = buf;
	size_t off = 0;
	union {
		struct cmsghdr h;
		char b[FDMSG_SPACE(FRAME_MAX_FDS)];
	} ctl;

	if (nfds < 0 || nfds > FRAME_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	while (off < len) {
		struct iovec iov;
		struct msghdr msg;
		ssize_t n;

		iov.iov_base = (void *)(p + off);
		iov.iov_len = len - off;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		/* The fds go with the first byte; once any byte went out they
		 * went with it. */
		if (off == 0 && nfds > 0)
			fdmsg_attach(&msg, ctl.b, fds, (size_t)nfds);
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

void frame_put_len(uint8_t *p, uint32_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

void frame_reader_init(struct frame_reader *r, int fd)
{
	r->fd = fd;
	r->buf = r->inline_buf;
	r->cap = sizeof(r->inline_buf);
	r->start = r->end = 0;
}

void frame_reader_free(struct frame_reader *r)
{
	if (r->buf != r->inline_buf)
		free(r->buf);
	r->buf = r->inline_buf;
	r->cap = sizeof(r->inline_buf);
	r->start = r->end = 0;
}

static void close_one(int fd, void *arg)
{
	(void)arg;
	close(fd);
}

/* Closes every fd carried by a received message. */
static void close_fds(struct msghdr *msg)
{
	fdmsg_each(msg, close_one, NULL);
}

/* Makes room for `need` bytes from r->start, moving or growing the buffer.
 * Returns 0, or -1 when memory runs out. */
static int reserve(struct frame_reader *r, size_t need)
{
	size_t have = r->end - r->start;
	uint8_t *nb;

	if (r->cap - r->start >= need)
		return 0;
	if (r->cap >= need) {
		memmove(r->buf, r->buf + r->start, have);
	} else {
		nb = malloc(need);
		if (!nb)
			return -1;
		memcpy(nb, r->buf + r->start, have);
		if (r->buf != r->inline_buf)
			free(r->buf);
		r->buf = nb;
		r->cap = need;
	}
	r->start = 0;
	r->end = have;
	return 0;
}

/* One recvmsg into the free space. Returns bytes read, 0 at EOF, or a
 * negative wire error (-WIRE_IO with errno, -WIRE_BAD_FDS). */
static long fill(struct frame_reader *r)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	ssize_t n;

	if (r->end == r->cap && reserve(r, r->end - r->start + 1) < 0) {
		errno = ENOMEM;
		return -WIRE_IO;
	}
	for (;;) {
		iov.iov_base = r->buf + r->end;
		iov.iov_len = r->cap - r->end;
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.b;
		msg.msg_controllen = sizeof(ctl.b);
		n = recvmsg(r->fd, &msg, MSG_CMSG_CLOEXEC);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return -WIRE_IO;
	}
	if (msg.msg_controllen > 0)
		close_fds(&msg);
	if (msg.msg_flags & MSG_CTRUNC)
		return -WIRE_BAD_FDS;
	r->end += (size_t)n;
	return (long)n;
}

int frame_read(struct frame_reader *r, const uint8_t **payload, size_t *len)
{
	const uint8_t *h;
	uint32_t n;
	long got;
	int err;

	while (r->end - r->start < 4) {
		if (reserve(r, 4) < 0) {
			errno = ENOMEM;
			return WIRE_IO;
		}
		got = fill(r);
		if (got < 0)
			return (int)-got;
		if (got == 0)
			return r->end == r->start ? WIRE_EOF : WIRE_TRUNCATED;
	}
	h = r->buf + r->start;
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (n == 0)
		return WIRE_FRAME_EMPTY;
	if (n > FRAME_MAX)
		return WIRE_FRAME_TOO_LARGE;
	if (reserve(r, 4 + (size_t)n) < 0) {
		errno = ENOMEM;
		return WIRE_IO;
	}
	while (r->end - r->start < 4 + (size_t)n) {
		got = fill(r);
		if (got < 0)
			return (int)-got;
		if (got == 0)
			return WIRE_TRUNCATED;
	}
	*payload = r->buf + r->start + 4;
	*len = n;
	r->start += 4 + (size_t)n;
	if ((err = mp_check(*payload, *len)))
		return err;
	return WIRE_OK;
}
