/* SPDX-License-Identifier: MIT */
/*
 * Framing on a Unix stream socket: a buffered reader that yields whole messages, and a
 * writer. Both sides use it: the client with blocking sockets (conn_send, conn_recv), the
 * daemon with non-blocking ones driven by its event loop (conn_fill, conn_next,
 * conn_queue, conn_flush).
 *
 * Ownership: struct conn is owned by the caller (conn_init/conn_release); it does not own
 * or close the fd.
 */
#ifndef VMATRACE_CONN_H
#define VMATRACE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#include "proto.h"

/*
 * conn_fill() reads at most this much at once, and the read buffer never grows past
 * PROTO_MAX_FRAME + CONN_READ_CHUNK: a peer cannot make us buffer more than that.
 */
#define CONN_READ_CHUNK (16 * 1024)

struct conn {
	int fd;
	uint8_t *rbuf;          /* received, not yet decoded bytes: rbuf[roff, roff + rlen) */
	size_t rlen, rcap;
	size_t roff;            /* decoded bytes at the front, dropped lazily by conn_fill */
	uint8_t *wbuf;          /* encoded, not yet written bytes */
	size_t wlen, wcap;
};

void conn_init(struct conn *c, int fd);
void conn_release(struct conn *c);

/*
 * conn_fill - read what the socket has (non-blocking or one blocking read).
 * Returns bytes read (> 0), 0 at EOF, -EAGAIN if nothing is there, -errno on error (also
 * -EINTR: the caller decides whether a signal ends the wait), or -EMSGSIZE when more than
 * one maximal frame is buffered undecoded (the caller did not drain with conn_next()).
 */
ssize_t conn_fill(struct conn *c);

/*
 * conn_next - decode one buffered message into @ret. Returns 1 (a message, release it with
 * proto_msg_release), 0 (need more bytes), or a negative proto_decode() error (the stream
 * is then unusable: the caller should answer with an error and close).
 */
int conn_next(struct conn *c, struct proto_msg *ret);

/* conn_queue - encode @m into the write buffer. 0 or -errno. */
int conn_queue(struct conn *c, const struct proto_msg *m);

/* conn_flush - write what is queued. 0 when all is written, -EAGAIN if some remains, -errno. */
int conn_flush(struct conn *c);

/* conn_pending - bytes queued for writing. */
static inline size_t conn_pending(const struct conn *c)
{
	return c->wlen;
}

/*
 * Blocking helpers for the client: send one message (after anything queued before it);
 * receive one message into @ret (release it with proto_msg_release). 0 or -errno:
 * -ECONNRESET at EOF (also in the middle of a frame), -EPIPE when the peer has gone (never
 * SIGPIPE), a proto_decode() error. EINTR is retried; a non-blocking fd is polled.
 * On error @ret is untouched.
 */
int conn_send(struct conn *c, const struct proto_msg *m);
int conn_recv(struct conn *c, struct proto_msg *ret);

#endif
