// SPDX-License-Identifier: MIT
/*
 * Encode and decode of protocol frames on byte buffers (the layout is in proto.h).
 *
 * Both directions go byte by byte through a small cursor (struct writer, struct reader):
 * integers are assembled with shifts, so the code is the same on any host byte order and
 * never makes an unaligned load, and every read is checked against the bytes that remain
 * before anything is copied or allocated. A decoded message therefore costs at most about
 * PROTO_MAX_PAYLOAD bytes of memory plus the array headers, whatever the input.
 *
 * The encoder and proto_frame_size() share one code path: a writer without a buffer only
 * counts, so the size a caller is told is by construction the size that will be written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/*
 * Smallest encoding of a struct proto_trace_info: trace_id, pid, events, start_mono_ns and
 * two empty strings. Used to refuse a count that the payload cannot possibly hold before
 * the array for it is allocated.
 */
#define TRACE_INFO_MIN_SIZE (4 + 4 + 8 + 8 + 4 + 4)

static const char *const type_names[] = {
	[PROTO_HELLO] = "HELLO",
	[PROTO_RUN] = "RUN",
	[PROTO_ATTACHED] = "ATTACHED",
	[PROTO_FINISHED] = "FINISHED",
	[PROTO_ERROR] = "ERROR",
	[PROTO_ATTACH] = "ATTACH",
	[PROTO_DETACH] = "DETACH",
	[PROTO_STATUS] = "STATUS",
	[PROTO_STATUS_REPLY] = "STATUS_REPLY",
	[PROTO_STOP] = "STOP",
};

const char *proto_type_name(unsigned type)
{
	if (type >= sizeof(type_names) / sizeof(type_names[0]) || !type_names[type])
		return "?";
	return type_names[type];
}

/* Types whose frame must have an empty payload. */
static int type_is_empty(unsigned type)
{
	return type == PROTO_STATUS || type == PROTO_STOP;
}

static int type_is_known(unsigned type)
{
	return type >= PROTO_HELLO && type <= PROTO_TYPE_MAX;
}

/* ---- encoding ------------------------------------------------------------------------ */

struct writer {
	uint8_t *buf;           /* NULL: only count (proto_frame_size) */
	size_t cap;
	size_t pos;             /* bytes produced so far, also past cap (then nothing is copied) */
};

static void put_bytes(struct writer *w, const void *p, size_t n)
{
	/*
	 * Once one write did not fit, pos is past cap and so is every later write: the buffer
	 * holds a clean prefix and the caller reports -EMSGSIZE from pos.
	 */
	if (w->buf && w->pos <= w->cap && n <= w->cap - w->pos)
		memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

static void put_u16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	put_bytes(w, b, sizeof(b));
}

static void put_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4];

	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, sizeof(b));
}

static void put_u64(struct writer *w, uint64_t v)
{
	uint8_t b[8];

	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, sizeof(b));
}

/* A NULL string is sent as "", so that optional fields need no special casing by callers. */
static int put_str(struct writer *w, const char *s)
{
	size_t n;

	if (!s)
		s = "";
	/* strnlen: a field over the limit is refused without scanning the whole of it */
	n = strnlen(s, PROTO_MAX_STRING + 1);
	if (n > PROTO_MAX_STRING)
		return -EMSGSIZE;
	put_u32(w, (uint32_t)n);
	put_bytes(w, s, n);
	return 0;
}

static int put_strv(struct writer *w, uint32_t n, char *const *v)
{
	if (n > PROTO_MAX_STRV)
		return -EMSGSIZE;
	if (n && !v)
		return -EINVAL;
	put_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		int r = put_str(w, v[i]);

		if (r < 0)
			return r;
		/* the payload limit is far below MAX_STRV * MAX_STRING: stop counting early */
		if (w->pos > PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD)
			return -EMSGSIZE;
	}
	return 0;
}

static int put_run(struct writer *w, const struct proto_run *m)
{
	int r;

	if (m->flags & ~(uint32_t)PROTO_F_ALL)
		return -EINVAL;
	put_u32(w, m->pid);
	put_u32(w, m->flags);
	r = put_str(w, m->db_path);
	if (r < 0)
		return r;
	r = put_str(w, m->cwd);
	if (r < 0)
		return r;
	return put_strv(w, m->argc, m->argv);
}

static int put_finished(struct writer *w, const struct proto_finished *m)
{
	put_u32(w, m->trace_id);
	put_u32(w, (uint32_t)m->status);
	put_u64(w, m->events);
	put_u64(w, m->processes);
	put_u64(w, m->mms);
	put_u64(w, m->verified);
	put_u64(w, m->diverged);
	put_u32(w, (uint32_t)m->store_error);
	return put_str(w, m->message);
}

static int put_status_reply(struct writer *w, const struct proto_status_reply *m)
{
	if (m->n > PROTO_MAX_TRACES)
		return -EMSGSIZE;
	if (m->n && !m->traces)
		return -EINVAL;
	put_u32(w, m->daemon_pid);
	put_u32(w, m->n);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct proto_trace_info *t = &m->traces[i];
		int r;

		put_u32(w, t->trace_id);
		put_u32(w, t->pid);
		put_u64(w, t->events);
		put_u64(w, t->start_mono_ns);
		r = put_str(w, t->program);
		if (r < 0)
			return r;
		r = put_str(w, t->db_path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Encode the whole frame; the header's len is patched in once the payload is known. */
static int put_frame(struct writer *w, const struct proto_msg *m)
{
	size_t payload;
	int r = 0;

	if (!type_is_known(m->type))
		return -EINVAL;

	w->pos = PROTO_HEADER_SIZE;
	switch (m->type) {
	case PROTO_HELLO:
		put_u32(w, m->u.hello.pid);
		r = put_str(w, m->u.hello.version);
		break;
	case PROTO_RUN:
	case PROTO_ATTACH:
		r = put_run(w, &m->u.run);
		break;
	case PROTO_ATTACHED:
		put_u32(w, m->u.attached.trace_id);
		break;
	case PROTO_FINISHED:
		r = put_finished(w, &m->u.finished);
		break;
	case PROTO_ERROR:
		put_u32(w, (uint32_t)m->u.error.err);
		r = put_str(w, m->u.error.message);
		break;
	case PROTO_DETACH:
		put_u32(w, m->u.detach.pid);
		break;
	case PROTO_STATUS_REPLY:
		r = put_status_reply(w, &m->u.status_reply);
		break;
	case PROTO_STATUS:
	case PROTO_STOP:
		break;
	}
	if (r < 0)
		return r;

	payload = w->pos - PROTO_HEADER_SIZE;
	if (payload > PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;

	/* rewind to write the header in front of the payload, then restore the end */
	w->pos = 0;
	put_u32(w, PROTO_MAGIC);
	put_u16(w, PROTO_VERSION);
	put_u16(w, m->type);
	put_u32(w, (uint32_t)payload);
	w->pos = PROTO_HEADER_SIZE + payload;
	return 0;
}

int proto_frame_size(const struct proto_msg *m)
{
	struct writer w = { 0 };
	int r = put_frame(&w, m);

	return r < 0 ? r : (int)w.pos;
}

int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	struct writer w = { .buf = buf, .cap = cap };
	int r = put_frame(&w, m);

	if (r < 0)
		return r;
	if (w.pos > cap)
		return -EMSGSIZE;
	return (int)w.pos;
}

/* ---- decoding ------------------------------------------------------------------------ */

struct reader {
	const uint8_t *p;
	size_t left;            /* payload bytes not consumed yet */
};

static uint16_t load_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int get_u32(struct reader *r, uint32_t *ret)
{
	if (r->left < 4)
		return -EBADMSG;
	*ret = load_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int get_i32(struct reader *r, int32_t *ret)
{
	uint32_t v;
	int e = get_u32(r, &v);

	if (e < 0)
		return e;
	/* two's complement on every target we build for; the wire carries the same bits */
	*ret = (int32_t)v;
	return 0;
}

static int get_u64(struct reader *r, uint64_t *ret)
{
	uint64_t v = 0;

	if (r->left < 8)
		return -EBADMSG;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	*ret = v;
	r->p += 8;
	r->left -= 8;
	return 0;
}

/*
 * A string: u32 length, then that many bytes, none of them NUL. The length is checked
 * against the limit and against what remains before the copy is allocated.
 */
static int get_str(struct reader *r, char **ret)
{
	uint32_t n;
	char *s;
	int e = get_u32(r, &n);

	if (e < 0)
		return e;
	if (n > PROTO_MAX_STRING || n > r->left)
		return -EBADMSG;
	/* an embedded NUL would silently truncate the string on the receiving side */
	if (memchr(r->p, '\0', n))
		return -EBADMSG;
	s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	r->left -= n;
	*ret = s;
	return 0;
}

static void strv_free(char **v, uint32_t n)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * A string vector, returned with a NULL after the last entry (argc + 1 slots, also for
 * argc 0) so that it can be handed to code expecting a classic argv.
 */
static int get_strv(struct reader *r, uint32_t *ret_n, char ***ret_v)
{
	uint32_t n;
	char **v;
	int e = get_u32(r, &n);

	if (e < 0)
		return e;
	/* every entry takes at least its 4-byte length: refuse counts the payload cannot hold */
	if (n > PROTO_MAX_STRV || n > r->left / 4)
		return -EBADMSG;
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		e = get_str(r, &v[i]);
		if (e < 0) {
			strv_free(v, i);
			return e;
		}
	}
	*ret_n = n;
	*ret_v = v;
	return 0;
}

/*
 * The get_* helpers fill the destination in place; the caller decodes into a scratch
 * proto_msg zeroed beforehand, so proto_msg_release() on it is always safe, and copies it
 * to the caller's struct only on success.
 */
static int get_run(struct reader *r, struct proto_run *m)
{
	int e;

	if ((e = get_u32(r, &m->pid)) < 0 || (e = get_u32(r, &m->flags)) < 0)
		return e;
	/* same version but unknown options: the client asked for something we would ignore */
	if (m->flags & ~(uint32_t)PROTO_F_ALL)
		return -EBADMSG;
	if ((e = get_str(r, &m->db_path)) < 0 || (e = get_str(r, &m->cwd)) < 0)
		return e;
	return get_strv(r, &m->argc, &m->argv);
}

static int get_finished(struct reader *r, struct proto_finished *m)
{
	int e;

	if ((e = get_u32(r, &m->trace_id)) < 0 || (e = get_i32(r, &m->status)) < 0 ||
	    (e = get_u64(r, &m->events)) < 0 || (e = get_u64(r, &m->processes)) < 0 ||
	    (e = get_u64(r, &m->mms)) < 0 || (e = get_u64(r, &m->verified)) < 0 ||
	    (e = get_u64(r, &m->diverged)) < 0 || (e = get_i32(r, &m->store_error)) < 0)
		return e;
	return get_str(r, &m->message);
}

static int get_status_reply(struct reader *r, struct proto_status_reply *m)
{
	uint32_t n;
	int e;

	if ((e = get_u32(r, &m->daemon_pid)) < 0 || (e = get_u32(r, &n)) < 0)
		return e;
	if (n > PROTO_MAX_TRACES || n > r->left / TRACE_INFO_MIN_SIZE)
		return -EBADMSG;
	if (n) {
		m->traces = calloc(n, sizeof(*m->traces));
		if (!m->traces)
			return -ENOMEM;
	}
	/*
	 * n counts the entries that exist so far, so that a release after a failure half-way
	 * frees exactly what was allocated (later entries are zeroed: free(NULL) is fine too).
	 */
	m->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct proto_trace_info *t = &m->traces[i];

		if ((e = get_u32(r, &t->trace_id)) < 0 || (e = get_u32(r, &t->pid)) < 0 ||
		    (e = get_u64(r, &t->events)) < 0 || (e = get_u64(r, &t->start_mono_ns)) < 0 ||
		    (e = get_str(r, &t->program)) < 0 || (e = get_str(r, &t->db_path)) < 0)
			return e;
	}
	return 0;
}

static int get_payload(struct reader *r, struct proto_msg *m)
{
	int e;

	switch (m->type) {
	case PROTO_HELLO:
		if ((e = get_u32(r, &m->u.hello.pid)) < 0)
			return e;
		return get_str(r, &m->u.hello.version);
	case PROTO_RUN:
	case PROTO_ATTACH:
		return get_run(r, &m->u.run);
	case PROTO_ATTACHED:
		return get_u32(r, &m->u.attached.trace_id);
	case PROTO_FINISHED:
		return get_finished(r, &m->u.finished);
	case PROTO_ERROR:
		if ((e = get_i32(r, &m->u.error.err)) < 0)
			return e;
		return get_str(r, &m->u.error.message);
	case PROTO_DETACH:
		return get_u32(r, &m->u.detach.pid);
	case PROTO_STATUS_REPLY:
		return get_status_reply(r, &m->u.status_reply);
	case PROTO_STATUS:
	case PROTO_STOP:
		return 0;
	}
	return -EBADMSG;
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *ret)
{
	struct proto_msg m;
	struct reader r;
	uint32_t plen;
	uint16_t type;
	int e;

	/*
	 * Judge the header as soon as it is complete, before the payload arrives: a peer that
	 * does not speak the protocol, or announces a frame we would never accept, is told so
	 * at once instead of being waited for.
	 */
	if (len < PROTO_HEADER_SIZE)
		return -EAGAIN;
	if (load_u32(buf) != PROTO_MAGIC || load_u16(buf + 4) != PROTO_VERSION)
		return -EPROTO;
	type = load_u16(buf + 6);
	plen = load_u32(buf + 8);
	if (plen > PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!type_is_known(type) || (type_is_empty(type) && plen != 0))
		return -EBADMSG;
	if (len - PROTO_HEADER_SIZE < plen)
		return -EAGAIN;

	memset(&m, 0, sizeof(m));
	m.type = type;
	r.p = buf + PROTO_HEADER_SIZE;
	r.left = plen;
	e = get_payload(&r, &m);
	/* exact consumption: a frame longer than its fields is as malformed as a short one */
	if (e == 0 && r.left != 0)
		e = -EBADMSG;
	if (e < 0) {
		proto_msg_release(&m);
		return e;
	}
	*ret = m;
	return (int)(PROTO_HEADER_SIZE + plen);
}

void proto_msg_release(struct proto_msg *m)
{
	if (!m)
		return;
	switch (m->type) {
	case PROTO_HELLO:
		free(m->u.hello.version);
		break;
	case PROTO_RUN:
	case PROTO_ATTACH:
		free(m->u.run.db_path);
		free(m->u.run.cwd);
		strv_free(m->u.run.argv, m->u.run.argc);
		break;
	case PROTO_FINISHED:
		free(m->u.finished.message);
		break;
	case PROTO_ERROR:
		free(m->u.error.message);
		break;
	case PROTO_STATUS_REPLY:
		for (uint32_t i = 0; m->u.status_reply.traces && i < m->u.status_reply.n; i++) {
			free(m->u.status_reply.traces[i].program);
			free(m->u.status_reply.traces[i].db_path);
		}
		free(m->u.status_reply.traces);
		break;
	default:
		break;
	}
	/* a second release, or a release of a released message, is then harmless */
	memset(&m->u, 0, sizeof(m->u));
}
