// SPDX-License-Identifier: MIT
/*
 * Whole-trace reader queries for the timeline picture and the Perfetto export (see
 * store_timeline.h): one pass over a table each, no per-row lookups.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "store_timeline.h"

/*
 * Who used an mm: the process that exec'ed into it, else the first process born with it
 * (a fork child; mm.owner is the parent that forked), else its creator. exec has no index
 * on mm, but it has one row per execve: a few per trace.
 */
static const char mms_sql[] =
	"SELECT m.id, m.start_seq, coalesce(m.end_seq, 0), coalesce(m.parent, 0),"
	" coalesce((SELECT x.pid FROM main.exec x WHERE x.mm = m.id ORDER BY x.seq LIMIT 1),"
	"  (SELECT p.pid FROM main.process p WHERE p.mm = m.id ORDER BY p.id LIMIT 1), m.owner),"
	" (SELECT x.exe FROM main.exec x WHERE x.mm = m.id ORDER BY x.seq LIMIT 1), m.owner"
	" FROM main.mm m ORDER BY m.id";

struct walk {
	void *fn;
	void *data;
};

static int mm_row(sqlite3_stmt *st, void *ctx)
{
	struct walk *w = ctx;
	int (*fn)(const struct store_mm_info *, void *) = w->fn;
	struct store_mm_info m = {
		.id = (uint64_t)sqlite3_column_int64(st, 0),
		.start_seq = (uint64_t)sqlite3_column_int64(st, 1),
		.end_seq = (uint64_t)sqlite3_column_int64(st, 2),
		.parent = (uint64_t)sqlite3_column_int64(st, 3),
		.pid = sqlite3_column_int(st, 4),
		.exe = (const char *)sqlite3_column_text(st, 5),
		.owner = sqlite3_column_int(st, 6),
	};

	return fn(&m, w->data);
}

int store_query_mms(struct store_ro *r, int (*fn)(const struct store_mm_info *m, void *data),
		    void *data)
{
	struct walk w = { (void *)fn, data };

	return store_ro_walk(r, mms_sql, 0, NULL, mm_row, &w);
}

int store_query_mm_versions(struct store_ro *r, uint64_t mm,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data)
{
	const int64_t args[1] = { (int64_t)mm };

	/* One mm: index vma_life's first column, then a sort of that mm's rows only. */
	if (mm)
		return store_ro_walk_versions(r, "SELECT " VMA_COLUMNS " FROM main.vma v WHERE"
					      " v.mm = ?1 ORDER BY v.id", 1, args, fn, data);
	return store_ro_walk_versions(r, "SELECT " VMA_COLUMNS " FROM main.vma v"
				      " ORDER BY v.mm, v.id",
				      0, NULL, fn, data);
}

static int thread_row(sqlite3_stmt *st, void *ctx)
{
	struct walk *w = ctx;
	int (*fn)(const struct store_thread_info *, void *) = w->fn;
	struct store_thread_info t = {
		.tid = sqlite3_column_int(st, 0),
		.pid = sqlite3_column_int(st, 1),
		.start_seq = (uint64_t)sqlite3_column_int64(st, 2),
		.end_seq = (uint64_t)sqlite3_column_int64(st, 3),
	};

	return fn(&t, w->data);
}

int store_query_threads(struct store_ro *r,
			int (*fn)(const struct store_thread_info *t, void *data), void *data)
{
	struct walk w = { (void *)fn, data };

	return store_ro_walk(r, "SELECT tid, pid, start_seq, coalesce(end_seq, 0) FROM main.thread"
			     " ORDER BY id", 0, NULL, thread_row, &w);
}

struct times {
	struct store_event_times *out;
	size_t cap;
	uint64_t base;     /* trace.start_mono_ns */
	uint64_t max;      /* the running maximum time */
	struct store_ro *r;
};

static int time_row(sqlite3_stmt *st, void *ctx)
{
	struct times *c = ctx;
	struct store_event_times *o = c->out;
	int64_t seq = sqlite3_column_int64(st, 0);
	uint64_t t = (uint64_t)sqlite3_column_int64(st, 1);

	/* Rows come by rowid, ascending: a seq below 1 (or absurdly high) is damage. */
	if (seq < 1 || (uint64_t)seq >= STORE_SEQ_MAX)
		return store_ro_damaged(c->r, "event seq %lld is out of range", (long long)seq);
	if (o->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		uint64_t *s = realloc(o->seq, cap * sizeof(*s));

		if (s)
			o->seq = s;
		uint64_t *tt = s ? realloc(o->t, cap * sizeof(*tt)) : NULL;
		if (!tt)
			return -ENOMEM;
		o->t = tt;
		c->cap = cap;
	}
	t = t > c->base ? t - c->base : 0;
	if (t > c->max)
		c->max = t;
	o->seq[o->n] = (uint64_t)seq;
	o->t[o->n++] = c->max;
	return 0;
}

int store_query_event_times(struct store_ro *r, struct store_event_times *ret)
{
	struct store_event_times o = { 0 };
	struct times c = { .out = &o, .r = r };
	int err;

	err = store_ro_u64(r, "SELECT coalesce(start_mono_ns, 0) FROM main.trace", 0, NULL,
			   &c.base);
	if (err == -ENOENT)
		c.base = 0;
	else if (err < 0)
		return err;
	err = store_ro_walk(r, "SELECT seq, time_ns FROM main.event ORDER BY seq", 0, NULL,
			    time_row, &c);
	if (err < 0) {
		store_event_times_release(&o);
		return err;
	}
	*ret = o;
	return 0;
}

void store_event_times_release(struct store_event_times *t)
{
	free(t->seq);
	free(t->t);
	memset(t, 0, sizeof(*t));
}

uint64_t store_event_time_at(const struct store_event_times *t, uint64_t seq)
{
	size_t lo = 0, hi = t->n;

	/* The first entry past @seq; the one before it is the last at or before @seq. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->seq[mid] <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? t->t[lo - 1] : 0;
}

uint64_t store_event_times_last(const struct store_event_times *t, uint64_t *ret_time)
{
	*ret_time = t->n ? t->t[t->n - 1] : 0;
	return t->n ? t->seq[t->n - 1] : 0;
}
