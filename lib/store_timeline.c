// SPDX-License-Identifier: MIT
/*
 * Whole-trace reader queries for the timeline picture and the Perfetto export (see
 * store_timeline.h): one pass over a table each, no per-row lookups.
 */
#include <errno.h>
#include <stdlib.h>

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
	" coalesce((SELECT x.pid FROM exec x WHERE x.mm = m.id ORDER BY x.seq LIMIT 1),"
	"  (SELECT p.pid FROM process p WHERE p.mm = m.id ORDER BY p.id LIMIT 1), m.owner),"
	" (SELECT x.exe FROM exec x WHERE x.mm = m.id ORDER BY x.seq LIMIT 1), m.owner"
	" FROM mm m ORDER BY m.id";

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
		return store_ro_walk_versions(r, "SELECT " VMA_COLUMNS " FROM vma v WHERE"
					      " v.mm = ?1 ORDER BY v.id", 1, args, fn, data);
	return store_ro_walk_versions(r, "SELECT " VMA_COLUMNS " FROM vma v ORDER BY v.mm, v.id",
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

	return store_ro_walk(r, "SELECT tid, pid, start_seq, coalesce(end_seq, 0) FROM thread"
			     " ORDER BY id", 0, NULL, thread_row, &w);
}

struct times {
	uint64_t *t;
	uint64_t n;
	uint64_t base;     /* trace.start_mono_ns */
	uint64_t last;     /* the highest seq filled, and the running maximum time */
	uint64_t max;
};

static int time_row(sqlite3_stmt *st, void *ctx)
{
	struct times *c = ctx;
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	uint64_t t = (uint64_t)sqlite3_column_int64(st, 1);

	if (seq >= c->n || seq <= c->last)
		return 0; /* cannot happen: seq is the rowid, below max(seq) */
	t = t > c->base ? t - c->base : 0;
	/* A gap in seq takes its predecessor's time. */
	while (++c->last < seq)
		c->t[c->last] = c->max;
	if (t > c->max)
		c->max = t;
	c->t[seq] = c->max;
	return 0;
}

int store_query_event_times(struct store_ro *r, uint64_t **ret_times, uint64_t *ret_n)
{
	struct times c = { 0 };
	uint64_t last = 0;
	int err;

	err = store_query_last_seq(r, &last);
	if (err < 0)
		return err;
	err = store_ro_u64(r, "SELECT coalesce(start_mono_ns, 0) FROM trace", 0, NULL, &c.base);
	if (err == -ENOENT)
		c.base = 0;
	else if (err < 0)
		return err;
	c.n = last + 1;
	c.t = calloc(c.n, sizeof(*c.t));
	if (!c.t)
		return -ENOMEM;
	err = store_ro_walk(r, "SELECT seq, time_ns FROM event ORDER BY seq", 0, NULL, time_row,
			    &c);
	if (err < 0) {
		free(c.t);
		return err;
	}
	while (++c.last < c.n)
		c.t[c.last] = c.max;
	*ret_times = c.t;
	*ret_n = c.n;
	return 0;
}
