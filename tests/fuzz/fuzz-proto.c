// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for proto/: any byte string must decode to messages or an error, never
 * a crash, an overread, a leak or an inconsistency. Build and run with run-fuzz.sh.
 *
 * Each input is checked three ways:
 *  1. proto_decode() of the input: a decoded frame must re-encode to exactly the bytes it
 *     used (the encoding is canonical), must not fit a buffer one byte short, and each of
 *     its strict prefixes must give -EAGAIN; -EAGAIN is only allowed when bytes are missing.
 *  2. The input as a stream: frames decoded one after the other until an error or a tail
 *     that needs more bytes.
 *  3. The same stream through conn_fill()/conn_next() over a non-blocking socketpair, which
 *     must yield the same frames and end the same way.
 *
 * Built with -DFUZZ_PROTO_GENERATE instead, this file is a generator of the seed corpus:
 *
 *   cc -D_GNU_SOURCE -DFUZZ_PROTO_GENERATE -Iproto proto/proto.c proto/conn.c \
 *      tests/fuzz/fuzz-proto.c -o /tmp/gen && /tmp/gen tests/fuzz/corpus
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "proto.h"

#ifndef FUZZ_PROTO_GENERATE

/* Like assert(), but on in every build: a failed check is a finding, reported as a crash. */
#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			abort();                                                         \
		}                                                                        \
	} while (0)

#define MAX_FRAMES 4096 /* frames remembered per input; an input has at most size / 12 */

static uint8_t scratch[PROTO_MAX_FRAME];

static uint32_t header_len(const uint8_t *p)
{
	return (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
	       (uint32_t)p[11] << 24;
}

/* Check 1 on the frame at @data; returns proto_decode()'s result. */
static int check_one(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	uint8_t *exact;
	int r = proto_decode(data, size, &m), n;

	if (r <= 0) {
		CHECK(r == -EAGAIN || r == -EPROTO || r == -EMSGSIZE || r == -EBADMSG ||
		      r == -ENOMEM);
		if (r == -EAGAIN)
			CHECK(size < PROTO_HEADER_SIZE ||
			      size - PROTO_HEADER_SIZE < header_len(data));
		return r;
	}
	CHECK((size_t)r <= size && r >= PROTO_HEADER_SIZE && r <= PROTO_MAX_FRAME);
	CHECK(proto_frame_size(&m) == r);

	n = proto_encode(&m, scratch, sizeof(scratch));
	CHECK(n == r && !memcmp(scratch, data, (size_t)r));

	/* exactly-sized heap buffers: ASan sees any write past the capacity given */
	exact = malloc((size_t)r);
	CHECK(exact);
	CHECK(proto_encode(&m, exact, (size_t)r) == r);
	CHECK(proto_encode(&m, exact, (size_t)r - 1) == -EMSGSIZE);
	free(exact);

	if (m.type == PROTO_RUN || m.type == PROTO_ATTACH)
		CHECK(m.u.run.argv && !m.u.run.argv[m.u.run.argc]);
	proto_msg_release(&m);

	/* every strict prefix needs more bytes; all of them for small frames, a sample else */
	for (int k = 0; k < r; k += r <= 512 ? 1 : 1 + r / 64) {
		CHECK(proto_decode(data, (size_t)k, &m) == -EAGAIN);
	}
	CHECK(proto_decode(data, (size_t)r - 1, &m) == -EAGAIN);
	return r;
}

struct stream_result {
	int nframes;
	int len[MAX_FRAMES];
	int end;                /* the error that ended the stream, -EAGAIN, or 1: too long */
	size_t tail;            /* bytes left undecoded */
};

/* Check 2: decode @data as back-to-back frames. */
static void decode_stream(const uint8_t *data, size_t size, struct stream_result *res)
{
	size_t off = 0;

	res->nframes = 0;
	for (;;) {
		int r = check_one(data + off, size - off);

		if (r <= 0) {
			res->end = r;
			res->tail = size - off;
			return;
		}
		if (res->nframes == MAX_FRAMES) {
			/* only with a -max_len far above run-fuzz.sh's: skip check 3 */
			res->end = 1;
			return;
		}
		res->len[res->nframes++] = r;
		off += (size_t)r;
	}
}

/* Drop whatever is left in the socket, so that the next input starts clean. */
static void drain(int fd)
{
	uint8_t b[4096];

	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* Check 3: the same bytes through conn over a socketpair must give the same frames. */
static void conn_stream(const uint8_t *data, size_t size, const struct stream_result *want)
{
	static int sv[2] = { -1, -1 };
	struct proto_msg m;
	struct conn c;
	size_t sent = 0, off = 0;
	int got = 0, end = -EAGAIN;

	if (sv[0] < 0) {
		CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	}
	conn_init(&c, sv[1]);
	for (;;) {
		ssize_t n;
		int r;

		if (sent < size) {
			n = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			CHECK(n > 0 || errno == EAGAIN);
			if (n > 0)
				sent += (size_t)n;
		}
		n = conn_fill(&c);
		CHECK(n > 0 || n == -EAGAIN);
		CHECK(c.rcap <= PROTO_MAX_FRAME + CONN_READ_CHUNK);
		while ((r = conn_next(&c, &m)) == 1) {
			CHECK(got < want->nframes);
			/* the frame conn decoded is the one the plain decoder found there */
			CHECK(proto_encode(&m, scratch, sizeof(scratch)) == want->len[got]);
			CHECK(!memcmp(scratch, data + off, (size_t)want->len[got]));
			off += (size_t)want->len[got++];
			proto_msg_release(&m);
		}
		if (r < 0) {
			end = r;
			break;
		}
		/* AF_UNIX delivers synchronously: once all is sent, EAGAIN means all is read */
		if (sent == size && n == -EAGAIN)
			break;
	}
	CHECK(got == want->nframes);
	CHECK(end == want->end);
	if (end == -EAGAIN)
		CHECK(c.rlen == want->tail);
	conn_release(&c);
	drain(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stream_result res;

	decode_stream(data, size, &res);
	if (res.end <= 0)
		conn_stream(data, size, &res);
	return 0;
}

#else /* FUZZ_PROTO_GENERATE */

/* ---- seed corpus generator ----------------------------------------------------------- */

static const char *outdir;

static void put(const char *name, const uint8_t *b, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static size_t enc(const struct proto_msg *m, uint8_t *b, size_t cap)
{
	int n = proto_encode(m, b, cap);

	if (n < 0) {
		fprintf(stderr, "encode %s: %s\n", proto_type_name(m->type), strerror(-n));
		exit(1);
	}
	return (size_t)n;
}

static void put_msg(const char *name, const struct proto_msg *m)
{
	static uint8_t b[PROTO_MAX_FRAME];

	put(name, b, enc(m, b, sizeof(b)));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	static char *args[] = { "/bin/sh", "-c", "exec ./a.out \"$@\"", "x", "" };
	static struct proto_trace_info traces[] = {
		{ 1, 4242, 123456, 987654321012345ull, "/usr/bin/python3", "/home/u/t.db" },
		{ 2, 4300, 0, 1, "", "" },
		{ 3, 1, 99, 5, "sleep", "/tmp/s.db" },
	};
	static uint8_t b[8192];
	struct proto_msg m;
	size_t n, k;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* valid frames, one per type */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.u.hello = (struct proto_hello){ 31337, "vmatrace 0.1.0" };
	put_msg("valid-hello", &m);
	m.type = PROTO_RUN;
	m.u.run = (struct proto_run){ 4243, PROTO_F_STACKS | PROTO_F_VERIFY, "/home/u/v.db",
				      "/home/u", 5, args };
	put_msg("valid-run", &m);
	m.type = PROTO_ATTACH;
	m.u.run = (struct proto_run){ 1234, 0, "/tmp/x.db", "/", 0, NULL };
	put_msg("valid-attach-argc0", &m);
	m.type = PROTO_ATTACHED;
	m.u.attached.trace_id = 7;
	put_msg("valid-attached", &m);
	m.type = PROTO_FINISHED;
	m.u.finished = (struct proto_finished){ 7, 0x0b00, 1000001, 3, 2, 10, 1, 0,
						"first divergence at seq 17" };
	put_msg("valid-finished", &m);
	m.type = PROTO_ERROR;
	m.u.error = (struct proto_error){ -EPERM, "ptrace: Operation not permitted" };
	put_msg("valid-error", &m);
	m.type = PROTO_DETACH;
	m.u.detach.pid = 99999;
	put_msg("valid-detach", &m);
	m.type = PROTO_STATUS;
	put_msg("valid-status", &m);
	m.type = PROTO_STOP;
	put_msg("valid-stop", &m);
	m.type = PROTO_STATUS_REPLY;
	m.u.status_reply = (struct proto_status_reply){ 555, 3, traces };
	put_msg("valid-status-reply", &m);

	/* three frames back to back, and the same cut in the middle of the third */
	m.type = PROTO_HELLO;
	m.u.hello = (struct proto_hello){ 1, "1" };
	n = enc(&m, b, sizeof(b));
	m.type = PROTO_STATUS;
	n += enc(&m, b + n, sizeof(b) - n);
	m.type = PROTO_STATUS_REPLY;
	m.u.status_reply = (struct proto_status_reply){ 555, 2, traces };
	k = n;
	n += enc(&m, b + n, sizeof(b) - n);
	put("valid-stream-3", b, n);
	put("partial-stream-cut", b, k + (n - k) / 2);

	/* invalid frames: one per decoder error */
	m.type = PROTO_DETACH;
	m.u.detach.pid = 1;
	n = enc(&m, b, sizeof(b));
	b[0] ^= 0x20;
	put("invalid-magic", b, n);
	b[0] ^= 0x20;
	b[4] = 2;
	put("invalid-version", b, n);
	b[4] = 1;
	put_le32(b + 8, PROTO_MAX_PAYLOAD + 1);
	put("invalid-oversize-len", b, PROTO_HEADER_SIZE);
	put_le32(b + 8, 5);
	b[n++] = 0;
	put("invalid-trailing-byte", b, n);
	b[6] = 0x0b;
	put_le32(b + 8, 4);
	put("invalid-unknown-type", b, n - 1);
	b[6] = PROTO_STOP;
	put("invalid-stop-with-payload", b, n - 1);

	m.type = PROTO_HELLO;
	m.u.hello = (struct proto_hello){ 1, "abc" };
	n = enc(&m, b, sizeof(b));
	b[n - 2] = '\0';
	put("invalid-nul-in-string", b, n);
	b[n - 2] = 'b';
	put_le32(b + PROTO_HEADER_SIZE + 4, 4);
	put("invalid-string-past-end", b, n);

	m.type = PROTO_RUN;
	m.u.run = (struct proto_run){ 1, 0, "/d", "/", 2, args };
	n = enc(&m, b, sizeof(b));
	put_le32(b + PROTO_HEADER_SIZE + 8 + 6 + 5, PROTO_MAX_STRV + 1);
	put("invalid-argc-too-large", b, n);
	put_le32(b + PROTO_HEADER_SIZE + 8 + 6 + 5, 2);
	b[PROTO_HEADER_SIZE + 4] = 0x04;
	put("invalid-unknown-flag", b, n);

	m.type = PROTO_STATUS_REPLY;
	m.u.status_reply = (struct proto_status_reply){ 555, 1, traces };
	n = enc(&m, b, sizeof(b));
	put_le32(b + PROTO_HEADER_SIZE + 4, PROTO_MAX_TRACES + 1);
	put("invalid-traces-too-many", b, n);
	put("partial-header", b, PROTO_HEADER_SIZE - 1);
	return 0;
}

#endif /* FUZZ_PROTO_GENERATE */
