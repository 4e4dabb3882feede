// SPDX-License-Identifier: MIT
/*
 * Reader queries for `replay` and `stats` (declared in store_changes.h): VMA versions by
 * range of events and by mm, an mm row, and a process's events counted by group. Each is
 * one statement, so that a command pays one pass over what it reads, never a query per
 * event.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store.h"
#include "store_changes.h"
#include "store_internal.h"

/*
 * Versions of mm ?1 born or ended in (?2, ?3], from index vma_life. A version that died at
 * D > ?2 with life class c was born after D - 2^(c+1) > ?2 - 2^(c+1), so per class one
 * range of born_seq in (?2 - 2^(c+1), ?3] holds every candidate; class -1 (alive) needs
 * born_seq in (?2, ?3] only (2 << -1 is 1 in SQLite, and the last term drops the rest).
 */
static const char changes_sql[] =
	"WITH RECURSIVE class(c) AS (SELECT -1 UNION ALL SELECT c + 1 FROM class WHERE c < 47)"
	" SELECT " VMA_COLUMNS " FROM class, main.vma v"
	"  WHERE v.mm = ?1 AND v.life_class = class.c"
	"  AND v.born_seq > ?2 - (2 << class.c) AND v.born_seq <= ?3"
	"  AND (v.born_seq > ?2 OR (v.died_seq > ?2 AND v.died_seq <= ?3))";

int store_query_vma_changes(struct store_ro *r, uint64_t mm, uint64_t after, uint64_t upto,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data)
{
	const int64_t args[3] = { (int64_t)mm, (int64_t)after, (int64_t)upto };

	/* Keeps ?2 - (2 << 47) far from int64 overflow, as store_query_vmas_at does. */
	if (after > INT64_MAX / 2 || upto > INT64_MAX / 2)
		return -EINVAL;
	return store_ro_walk_versions(r, changes_sql, 3, args, fn, data);
}

static int mm_row(sqlite3_stmt *st, void *ctx)
{
	struct store_mm_info *m = ctx;

	m->id = (uint64_t)sqlite3_column_int64(st, 0);
	m->start_seq = (uint64_t)sqlite3_column_int64(st, 1);
	m->end_seq = (uint64_t)sqlite3_column_int64(st, 2);
	m->parent = (uint64_t)sqlite3_column_int64(st, 3);
	m->owner = (pid_t)sqlite3_column_int64(st, 4);
	return 1;
}

int store_query_mm(struct store_ro *r, uint64_t id, struct store_mm_info *ret)
{
	struct store_mm_info m = { 0 };
	const int64_t args[1] = { (int64_t)id };
	int err = store_ro_walk(r, "SELECT id, start_seq, end_seq, parent, owner FROM main.mm"
				" WHERE id = ?1", 1, args, mm_row, &m);

	if (err < 0)
		return err;
	if (err == 0)
		return -ENOENT;
	*ret = m;
	return 0;
}

/*
 * Groups of events, counted in C: SQLite's GROUP BY sorts every row through a temporary
 * B-tree (1.4 s for 1,000,000 events here), while the groups are few (threads x mms x
 * syscalls x errnos), so a small hash table with a last-hit shortcut (a thread's calls
 * come in runs) costs about one step per row (0.4 s).
 */
struct count_walk {
	struct store_event_count *g;
	size_t n, cap;
	size_t *slot;           /* index + 1 into g, 0 for empty; cap * 2 slots */
	size_t last;            /* the group of the previous row */
};

static bool same_group(const struct store_event_count *a, const struct store_event_count *b)
{
	return a->tid == b->tid && a->mm == b->mm && a->kind == b->kind && a->nr == b->nr &&
	       a->err == b->err;
}

static size_t group_hash(const struct store_event_count *c, size_t mask)
{
	uint64_t h = (uint64_t)(uint32_t)c->tid * 0x9e3779b97f4a7c15ull;

	h ^= (c->mm + ((uint64_t)(uint32_t)c->nr << 20) + ((uint64_t)c->err << 40) +
	      (uint64_t)c->kind) * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 29)) & mask;
}

static size_t *group_slot(struct count_walk *w, const struct store_event_count *c)
{
	size_t mask = 2 * w->cap - 1, i = group_hash(c, mask);

	while (w->slot[i] && !same_group(&w->g[w->slot[i] - 1], c))
		i = (i + 1) & mask;
	return &w->slot[i];
}

static int group_grow(struct count_walk *w)
{
	size_t cap = w->cap ? 2 * w->cap : 64;
	struct store_event_count *g = realloc(w->g, cap * sizeof(*g));
	size_t *slot = calloc(2 * cap, sizeof(*slot));

	if (!g || !slot) {
		free(slot);
		if (g)
			w->g = g;
		return -ENOMEM;
	}
	w->g = g;
	free(w->slot);
	w->slot = slot;
	w->cap = cap;
	for (size_t i = 0; i < w->n; i++)
		*group_slot(w, &w->g[i]) = i + 1;
	return 0;
}

static int count_row(sqlite3_stmt *st, void *ctx)
{
	struct count_walk *w = ctx;
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 5);
	struct store_event_count c = {
		.tid = (pid_t)sqlite3_column_int64(st, 0),
		.mm = (uint64_t)sqlite3_column_int64(st, 1),
		.kind = sqlite3_column_int(st, 2),
		.nr = sqlite3_column_int(st, 3),
		.err = sqlite3_column_int(st, 4),
		.count = 1,
		.first_seq = seq,
		.last_seq = seq,
	};
	struct store_event_count *g;

	if (w->n && same_group(&w->g[w->last], &c)) {
		g = &w->g[w->last];
	} else {
		if (2 * (w->n + 1) > w->cap && group_grow(w) < 0)
			return -ENOMEM;
		size_t *slot = group_slot(w, &c);
		if (!*slot) {
			w->g[w->n++] = c;
			*slot = w->n;
			w->last = w->n - 1;
			return 0;
		}
		w->last = *slot - 1;
		g = &w->g[w->last];
	}
	g->count++;
	g->last_seq = seq; /* rows come in seq order */
	return 0;
}

int store_query_event_counts(struct store_ro *r, pid_t pid, uint64_t from, uint64_t to,
			     int (*fn)(const struct store_event_count *c, void *data),
			     void *data)
{
	struct count_walk w = { 0 };
	const int64_t args[3] = { pid, (int64_t)from, (int64_t)to };

	/* A failure is ret in -4095..-1 of a syscall; a thread exit's ret is a wait status. */
	int err = store_ro_walk(r,
				"SELECT tid, mm, kind, nr,"
				" CASE WHEN kind = 0 AND ret BETWEEN -4095 AND -1 THEN -ret ELSE 0"
				" END, seq FROM main.event WHERE pid = ?1 AND seq BETWEEN ?2 AND ?3"
				" ORDER BY seq",
				3, args, count_row, &w);
	for (size_t i = 0; !err && i < w.n; i++)
		err = fn(&w.g[i], data);
	free(w.g);
	free(w.slot);
	return err;
}

int store_query_event_time(struct store_ro *r, uint64_t seq, uint64_t *ret_ns)
{
	const int64_t args[1] = { (int64_t)seq };

	return store_ro_u64(r, "SELECT time_ns FROM main.event WHERE seq = ?1", 1, args, ret_ns);
}
