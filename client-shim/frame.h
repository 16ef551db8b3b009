/* Framing of wire protocol v1: a 4-byte big-endian length, then one msgpack
 * map. Sending attaches fds (SCM_RIGHTS) to the first byte of a frame;
 * reading checks each payload with mp_check before handing it out. */
#ifndef WARM_FRAME_H
#define WARM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX 16777216u /* payload limit, 16 MiB */
#define FRAME_MAX_FDS 3

/* Writes the whole buffer (a frame, length prefix included) to a stream
 * socket, with fds riding on the first sendmsg. Loops over partial writes
 * and EINTR; never raises SIGPIPE. Returns 0, or -1 with errno set. */
int frame_send(int fd, const void *buf, size_t len, const int *fds, int nfds);

/* Writes the 4-byte length prefix. */
void frame_put_len(uint8_t *p, uint32_t n);

struct frame_reader {
	int fd;
	uint8_t *buf;     /* inline_buf, or a malloc'd buffer for big frames */
	size_t cap, start, end;
	uint8_t inline_buf[4096];
};

void frame_reader_init(struct frame_reader *r, int fd);
void frame_reader_free(struct frame_reader *r);

/* Reads the next frame. Returns WIRE_OK with *payload and *len pointing into
 * the reader's buffer (valid until the next call), WIRE_EOF when the link
 * closed between frames, WIRE_IO (errno set) when a read failed, or the
 * spec's error code for a bad frame. Any fd that arrives is closed: the
 * shim expects none. */
int frame_read(struct frame_reader *r, const uint8_t **payload, size_t *len);

#endif
