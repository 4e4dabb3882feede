// SPDX-License-Identifier: MIT
/*
 * Message framing on a stream socket: a read buffer that yields whole frames through
 * proto_decode(), and a write buffer that holds encoded frames until the socket takes them.
 *
 * The same code serves the daemon (non-blocking fds, one conn_fill() per readable event,
 * then conn_next() until it returns 0) and the client (blocking fds through conn_send()
 * and conn_recv(), which also cope with a non-blocking fd by polling).
 *
 * Memory is bounded on the read side: conn_fill() reads at most CONN_READ_CHUNK at a time
 * and refuses to read once a maximal frame is buffered undecoded (conn_next() would have
 * produced a message or an error from it), so rcap never exceeds
 * PROTO_MAX_FRAME + CONN_READ_CHUNK whatever the peer sends. The write side grows with
 * what the owner queues, which is the owner's to bound.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

#define CONN_RBUF_MAX (PROTO_MAX_FRAME + CONN_READ_CHUNK)
#define CONN_WBUF_MIN 4096

void conn_init(struct conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

void conn_release(struct conn *c)
{
	int fd = c->fd;

	free(c->rbuf);
	free(c->wbuf);
	/* the fd is not ours to close; keep it visible so the owner can still close it */
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

/* Make room for one CONN_READ_CHUNK after the undecoded bytes, within CONN_RBUF_MAX. */
static int rbuf_reserve(struct conn *c)
{
	size_t want, ncap;
	uint8_t *p;

	/*
	 * Drop the decoded bytes at the front. Done here rather than in conn_next() so that a
	 * burst of small messages costs one move per read, not one per message.
	 */
	if (c->roff) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen);
		c->roff = 0;
	}

	want = c->rlen + CONN_READ_CHUNK;
	assert(want <= CONN_RBUF_MAX);
	if (c->rcap >= want)
		return 0;
	ncap = c->rcap ? c->rcap : CONN_READ_CHUNK;
	while (ncap < want)
		ncap *= 2;
	if (ncap > CONN_RBUF_MAX)
		ncap = CONN_RBUF_MAX;
	p = realloc(c->rbuf, ncap);
	if (!p)
		return -ENOMEM;
	c->rbuf = p;
	c->rcap = ncap;
	return 0;
}

ssize_t conn_fill(struct conn *c)
{
	ssize_t n;
	int r;

	/*
	 * More than a maximal frame undecoded means the owner is not calling conn_next():
	 * reading on would let the peer grow the buffer without limit.
	 */
	if (c->rlen > PROTO_MAX_FRAME)
		return -EMSGSIZE;
	r = rbuf_reserve(c);
	if (r < 0)
		return r;
	n = read(c->fd, c->rbuf + c->rlen, CONN_READ_CHUNK);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	c->rlen += (size_t)n;
	return n;
}

int conn_next(struct conn *c, struct proto_msg *ret)
{
	int r;

	if (!c->rlen)
		return 0;
	r = proto_decode(c->rbuf + c->roff, c->rlen, ret);
	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		return r;
	assert((size_t)r <= c->rlen);
	c->roff += (size_t)r;
	c->rlen -= (size_t)r;
	if (!c->rlen)
		c->roff = 0;
	return 1;
}

int conn_queue(struct conn *c, const struct proto_msg *m)
{
	int n = proto_frame_size(m), r;

	if (n < 0)
		return n;
	if (c->wcap - c->wlen < (size_t)n) {
		size_t ncap = c->wcap ? c->wcap : CONN_WBUF_MIN;
		uint8_t *p;

		while (ncap - c->wlen < (size_t)n)
			ncap *= 2;
		p = realloc(c->wbuf, ncap);
		if (!p)
			return -ENOMEM;
		c->wbuf = p;
		c->wcap = ncap;
	}
	r = proto_encode(m, c->wbuf + c->wlen, c->wcap - c->wlen);
	/* proto_frame_size() validated the message and sized it with the same code */
	assert(r == n);
	if (r < 0)
		return r;
	c->wlen += (size_t)r;
	return 0;
}

int conn_flush(struct conn *c)
{
	size_t done = 0;
	int r = 0;

	while (done < c->wlen) {
		/* MSG_NOSIGNAL: a peer that went away is -EPIPE, not a SIGPIPE that kills us */
		ssize_t n = send(c->fd, c->wbuf + done, c->wlen - done, MSG_NOSIGNAL);

		/* not a socket (a pipe, in tests or under a wrapper): plain write */
		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, c->wbuf + done, c->wlen - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
			break;
		}
		if (n == 0) {
			/* a stream socket never accepts 0 bytes of a non-empty write */
			r = -EIO;
			break;
		}
		done += (size_t)n;
	}
	if (done) {
		memmove(c->wbuf, c->wbuf + done, c->wlen - done);
		c->wlen -= done;
	}
	return r;
}

/* Wait until @fd is ready for @events; for the blocking helpers on a non-blocking fd. */
static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	while (poll(&p, 1, -1) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int conn_send(struct conn *c, const struct proto_msg *m)
{
	int r = conn_queue(c, m);

	if (r < 0)
		return r;
	/* also writes what was queued before @m, so the order on the wire is kept */
	while ((r = conn_flush(c)) == -EAGAIN) {
		r = wait_fd(c->fd, POLLOUT);
		if (r < 0)
			return r;
	}
	return r;
}

int conn_recv(struct conn *c, struct proto_msg *ret)
{
	for (;;) {
		ssize_t n;
		int r = conn_next(c, ret);

		if (r > 0)
			return 0;
		if (r < 0)
			return r;
		n = conn_fill(c);
		if (n > 0 || n == -EINTR)
			continue;
		/* EOF, also in the middle of a frame: the peer is gone */
		if (n == 0)
			return -ECONNRESET;
		if (n != -EAGAIN)
			return (int)n;
		r = wait_fd(c->fd, POLLIN);
		if (r < 0)
			return r;
	}
}
