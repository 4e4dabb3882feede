/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between vmatrace (client) and vmatraced (daemon), on a Unix stream
 * socket. Pure: encode and decode on byte buffers, no I/O (conn.h does the framing on a
 * socket). Used by both sides; nothing else lives here.
 *
 * A frame is a 12-byte header followed by the payload, all integers little-endian:
 *
 *   u32 magic   = PROTO_MAGIC ("VMTP")
 *   u16 version = PROTO_VERSION
 *   u16 type    = enum proto_type
 *   u32 len     = payload length, at most PROTO_MAX_PAYLOAD
 *
 * A payload is the message's fields in the order of its struct below: u32/i32/u64/i64 as
 * fixed-width integers, strings as u32 length + bytes (no NUL; at most PROTO_MAX_STRING),
 * string vectors as u32 count + that many strings. A payload must be consumed exactly: bytes
 * left over make the frame malformed.
 *
 * Every decoder is bounded and total: any byte string yields a message, "need more bytes",
 * or an error, never a crash or an unbounded allocation.
 */
#ifndef VMATRACE_PROTO_H
#define VMATRACE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x50544d56u /* "VMTP" read as little-endian bytes */
#define PROTO_VERSION 1
#define PROTO_HEADER_SIZE 12
#define PROTO_MAX_PAYLOAD (256 * 1024)
#define PROTO_MAX_STRING 4096
#define PROTO_MAX_STRV 1024 /* strings in one vector */
#define PROTO_MAX_TRACES 256 /* entries in one STATUS_REPLY */
#define PROTO_MAX_FRAME (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD) /* largest valid frame */

enum proto_type {
	PROTO_HELLO = 1,        /* c->d: client version; d replies HELLO */
	PROTO_RUN = 2,          /* c->d: trace the client's stopped child; d replies ATTACHED or ERROR */
	PROTO_ATTACHED = 3,     /* d->c: the target is seized; the client may let it go */
	PROTO_FINISHED = 4,     /* d->c: every traced task ended and the DB is committed */
	PROTO_ERROR = 5,        /* d->c: a request failed */
	PROTO_ATTACH = 6,       /* c->d: attach to an existing process */
	PROTO_DETACH = 7,       /* c->d: detach from a traced process; d replies ERROR{0} (ok) */
	PROTO_STATUS = 8,       /* c->d: list live traces; d replies STATUS_REPLY */
	PROTO_STATUS_REPLY = 9,
	PROTO_STOP = 10,        /* c->d: stop the daemon (see the lifecycle in README) */
	PROTO_TYPE_MAX = 10
};

/* Options of a trace (RUN, ATTACH). */
enum proto_trace_flags {
	PROTO_F_STACKS = 1u << 0,
	PROTO_F_VERIFY = 1u << 1,
	PROTO_F_ALL = (1u << 2) - 1
};

struct proto_hello {
	uint32_t pid;           /* sender's pid (the daemon's, in the reply) */
	char *version;          /* sender's vmatrace version string */
};

struct proto_run {             /* also ATTACH: pid = the first target; argv = further pids
				* (decimal) to attach into the same trace */
	uint32_t pid;           /* the target's pid */
	uint32_t flags;         /* enum proto_trace_flags */
	char *db_path;          /* absolute path of the DB to write */
	char *cwd;              /* the client's working directory (metadata) */
	uint32_t argc;          /* at most PROTO_MAX_STRV; 0 for ATTACH */
	char **argv;            /* the traced command line (metadata), argc entries; decoded:
				 * argc + 1 slots, argv[argc] == NULL (also when argc is 0) */
};

struct proto_attached {
	uint32_t trace_id;      /* daemon-wide id of the new trace */
};

struct proto_finished {
	uint32_t trace_id;
	int32_t status;         /* wait(2) status of the root process, -1 if unknown (attach) */
	uint64_t events;
	uint64_t processes;
	uint64_t mms;
	uint64_t verified;      /* --verify: events checked */
	uint64_t diverged;      /* --verify: events whose model differed from the kernel */
	int32_t store_error;    /* 0, or the errno that ended recording (e.g. ENOSPC) */
	char *message;          /* "" or a human-readable remark (e.g. the first divergence) */
};

struct proto_error {
	int32_t err;            /* errno value, 0 for plain success acknowledgements */
	char *message;
};

struct proto_detach {
	uint32_t pid;
};

struct proto_trace_info {
	uint32_t trace_id;
	uint32_t pid;
	uint64_t events;
	uint64_t start_mono_ns;
	char *program;
	char *db_path;
};

struct proto_status_reply {
	uint32_t daemon_pid;
	uint32_t n;
	struct proto_trace_info *traces; /* n entries */
};

struct proto_msg {
	uint16_t type;          /* enum proto_type; selects the member of u */
	union {
		struct proto_hello hello;
		struct proto_run run;           /* RUN and ATTACH */
		struct proto_attached attached;
		struct proto_finished finished;
		struct proto_error error;
		struct proto_detach detach;
		struct proto_status_reply status_reply;
	} u;                    /* STATUS and STOP have no payload */
};

/*
 * proto_encode - encode @m as one frame into @buf (capacity @cap).
 * Returns the frame length, or -EMSGSIZE (too big for @cap or PROTO_MAX_PAYLOAD, or a field
 * over its limit), -EINVAL (unknown type, flags outside PROTO_F_ALL, a count > 0 with a
 * NULL array). @buf is not meaningful on failure. A NULL string is encoded as "" (it
 * decodes as ""). @m is not modified and stays owned by the caller.
 */
int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/*
 * proto_frame_size - the length of the frame proto_encode() would write for @m, or the
 * error it would return other than "too big for @cap". Lets a caller size its buffer.
 */
int proto_frame_size(const struct proto_msg *m);

/*
 * proto_decode - decode the frame at the start of @buf (@len bytes available).
 * Returns the number of bytes the frame used (> 0) and the message in @ret, which owns its
 * strings (free with proto_msg_release()); or
 *   -EAGAIN   the header or the payload is not complete yet (read more),
 *   -EPROTO   wrong magic or version (the peer is not speaking our protocol),
 *   -EMSGSIZE the header announces a payload over PROTO_MAX_PAYLOAD,
 *   -EBADMSG  malformed payload (unknown type, bad string, limits, trailing bytes, flags
 *             outside PROTO_F_ALL, a non-empty payload on STATUS or STOP),
 *   -ENOMEM.
 * -EPROTO, -EMSGSIZE, and -EBADMSG for an unknown type or a payload on STATUS/STOP, depend
 * on the header alone: they are returned as soon as PROTO_HEADER_SIZE bytes are there,
 * without waiting for the payload.
 * On error @ret is untouched.
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *ret);

/*
 * proto_msg_release - free what a decoded message owns; the struct itself is the caller's.
 * Zeroes the payload fields afterwards, so releasing twice is harmless. NULL is a no-op.
 */
void proto_msg_release(struct proto_msg *m);

/* proto_type_name - "RUN", "ERROR", ... or "?" */
const char *proto_type_name(unsigned type);

#endif
