// SPDX-License-Identifier: MIT
/*
 * Reading a replay (replay.h): the process's mms, the map it starts from, the VMA versions
 * that changed in the range, then one walk of its events in seq order, each turned into a
 * step with the versions it removed and added.
 *
 * The queries, and why: one store_query_vmas_at() for the starting map and one per execve
 * (the new image's map), one store_query_vma_changes() per mm the process used in the
 * range (index vma_life: the versions born or ended in the range, whatever the trace's
 * length; no extra index, which would slow the writer), one walk of the process's events
 * (index event_pid), and one lookup per batch of other tasks' events that changed its map.
 * Never one query per event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "replay.h"
#include "store.h"
#include "store_changes.h"
#include "sysent.h"
#include "xalloc.h"

/* A version that began (add) or ended (!add) at an event. */
struct rp_entry {
	uint64_t seq;
	size_t v;
	bool add;
};

/* Versions by vma.id, so that one seen twice (in the starting map and among the changes)
 * is one rp_version: open addressing, ids are never 0. */
struct id_map {
	uint64_t *ids;
	size_t *idx;
	size_t cap;             /* a power of 2, at least twice the entries */
	size_t n;
};

static struct id_map ids;

static size_t *id_slot(uint64_t id)
{
	size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (ids.cap - 1);

	while (ids.ids[i] && ids.ids[i] != id)
		i = (i + 1) & (ids.cap - 1);
	return &ids.idx[i];
}

static void id_grow(void)
{
	struct id_map old = ids;

	ids.cap = old.cap ? 2 * old.cap : 1024;
	ids.ids = xcalloc(ids.cap, sizeof(*ids.ids));
	ids.idx = xcalloc(ids.cap, sizeof(*ids.idx));
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.ids[i])
			continue;
		size_t *slot = id_slot(old.ids[i]);
		ids.ids[slot - ids.idx] = old.ids[i];
		*slot = old.idx[i];
	}
	free(old.ids);
	free(old.idx);
}

/* add_version - the index of version @id in rp->vs, copied there on first sight. */
static size_t add_version(struct replay *rp, const struct store_vma *v, uint64_t id,
			  uint64_t died_seq)
{
	if (2 * (ids.n + 1) > ids.cap)
		id_grow();
	size_t *slot = id_slot(id);
	if (ids.ids[slot - ids.idx])
		return *slot;
	ids.ids[slot - ids.idx] = id;
	ids.n++;
	if ((rp->n_vs & (rp->n_vs - 1)) == 0) /* 0, 1, 2, 4...: double */
		rp->vs = xrealloc(rp->vs, (rp->n_vs ? 2 * rp->n_vs : 1) * sizeof(*rp->vs));
	struct rp_version *o = &rp->vs[rp->n_vs];
	o->v = *v;
	o->name = xstrdup(v->name ? v->name : "");
	o->v.name = o->name;
	o->id = id;
	o->died_seq = died_seq;
	*slot = rp->n_vs;
	return rp->n_vs++;
}

static void add_entry(struct replay *rp, uint64_t seq, size_t v, bool add)
{
	if (rp->n_entries == rp->cap_entries) {
		rp->cap_entries = rp->cap_entries ? 2 * rp->cap_entries : 256;
		rp->entries = xrealloc(rp->entries, rp->cap_entries * sizeof(*rp->entries));
	}
	rp->entries[rp->n_entries++] = (struct rp_entry){ seq, v, add };
}

static int initial_row(const struct store_vma *v, uint64_t id, void *data)
{
	struct replay *rp = data;

	if ((rp->n_initial & (rp->n_initial - 1)) == 0)
		rp->initial = xrealloc(rp->initial, (rp->n_initial ? 2 * rp->n_initial : 1) *
						     sizeof(*rp->initial));
	rp->initial[rp->n_initial++] = add_version(rp, v, id, 0);
	return 0;
}

/* The new image's map at an execve: all of it added at that step. */
struct exec_ctx {
	struct replay *rp;
	uint64_t seq;
};

static int exec_row(const struct store_vma *v, uint64_t id, void *data)
{
	struct exec_ctx *x = data;

	add_entry(x->rp, x->seq, add_version(x->rp, v, id, 0), true);
	return 0;
}

/* A version born or ended in the segment's range (lo, hi]. */
struct change_ctx {
	struct replay *rp;
	uint64_t lo, hi;
};

static int change_row(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct change_ctx *c = data;
	/* Born and ended by one event: it never existed in any state. */
	if (died && died == v->born_seq)
		return 0;
	size_t i = add_version(c->rp, v, id, died);
	if (v->born_seq > c->lo && v->born_seq <= c->hi)
		add_entry(c->rp, v->born_seq, i, true);
	if (died > c->lo && died <= c->hi)
		add_entry(c->rp, died, i, false);
	return 0;
}

static int seg_row(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct replay *rp = data;

	(void)exe;
	rp->segs = xrealloc(rp->segs, (rp->n_segs + 1) * sizeof(*rp->segs));
	rp->seg_mms = xrealloc(rp->seg_mms, (rp->n_segs + 1) * sizeof(*rp->seg_mms));
	rp->segs[rp->n_segs] = seq;
	rp->seg_mms[rp->n_segs++] = mm;
	return 0;
}

/* seg_of - the segment in effect after event @seq (0 before the process existed). */
static size_t seg_of(const struct replay *rp, uint64_t seq)
{
	size_t k = 0;

	while (k + 1 < rp->n_segs && rp->segs[k + 1] <= seq)
		k++;
	return k;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct rp_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (int)x->add - (int)y->add; /* removals first */
}

static const struct replay *sort_rp;

static int cmp_start(const void *a, const void *b)
{
	const struct store_vma *x = &sort_rp->vs[*(const size_t *)a].v;
	const struct store_vma *y = &sort_rp->vs[*(const size_t *)b].v;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* sort_by_start - @n version indexes by address (qsort must not see NULL, even for 0). */
static void sort_by_start(const struct replay *rp, size_t *v, size_t n)
{
	if (n < 2)
		return;
	sort_rp = rp;
	qsort(v, n, sizeof(*v), cmp_start);
}

static void push_change(struct replay *rp, size_t v)
{
	if (rp->n_changes == rp->cap_changes) {
		rp->cap_changes = rp->cap_changes ? 2 * rp->cap_changes : 256;
		rp->changes = xrealloc(rp->changes, rp->cap_changes * sizeof(*rp->changes));
	}
	rp->changes[rp->n_changes++] = v;
}

static struct rp_step *new_step(struct replay *rp)
{
	if (!rp->keep) {
		rp->n_steps = 0;
		rp->n_changes = 0;
	}
	if (rp->n_steps == rp->cap_steps) {
		rp->cap_steps = rp->cap_steps ? 2 * rp->cap_steps : 256;
		rp->steps = xrealloc(rp->steps, rp->cap_steps * sizeof(*rp->steps));
	}
	struct rp_step *st = &rp->steps[rp->n_steps++];
	memset(st, 0, sizeof(*st));
	return st;
}

/* emit - the step of event @ev: apply its entries to the alive set and call the sink. */
static int emit(const struct event *ev, void *data)
{
	struct replay *rp = data;
	struct rp_entry *e = rp->entries;
	size_t k = seg_of(rp, ev->seq);

	/* Entries of an event the DB lacks (none expected): applied without a step. */
	for (; rp->next_entry < rp->n_entries && e[rp->next_entry].seq < ev->seq; rp->next_entry++)
		rp->alive[e[rp->next_entry].v] = e[rp->next_entry].add;

	struct rp_step *st = new_step(rp);
	st->seq = ev->seq;
	st->mm = st->old_mm = rp->seg_mms[k];
	st->del = rp->n_changes;
	if (k > 0 && rp->segs[k] == ev->seq) {
		/* execve: the whole old map goes. */
		st->old_mm = rp->seg_mms[k - 1];
		for (size_t i = 0; i < rp->n_vs; i++)
			if (rp->alive[i])
				push_change(rp, i);
	}
	for (size_t i = rp->next_entry; i < rp->n_entries && e[i].seq == ev->seq; i++)
		if (!e[i].add && rp->alive[e[i].v])
			push_change(rp, e[i].v);
	st->n_del = rp->n_changes - st->del;
	for (size_t i = st->del; i < rp->n_changes; i++)
		rp->alive[rp->changes[i]] = false;
	st->add = rp->n_changes;
	for (; rp->next_entry < rp->n_entries && e[rp->next_entry].seq == ev->seq; rp->next_entry++)
		if (e[rp->next_entry].add && !rp->alive[e[rp->next_entry].v]) {
			push_change(rp, e[rp->next_entry].v);
			rp->alive[e[rp->next_entry].v] = true;
		}
	st->n_add = rp->n_changes - st->add;
	if (rp->n_changes) {
		sort_by_start(rp, rp->changes + st->del, st->n_del);
		sort_by_start(rp, rp->changes + st->add, st->n_add);
	}
	if (rp->keep && !(st->line = event_line(ev)))
		die("out of memory");
	return rp->sink(rp, ev, st);
}

/* flush_before - the steps of other tasks' events that changed the map before @seq. */
static int flush_before(struct replay *rp, uint64_t seq)
{
	size_t n = 0;

	for (size_t i = rp->next_entry; i < rp->n_entries && rp->entries[i].seq < seq; i++) {
		if (n && rp->pending[n - 1] == rp->entries[i].seq)
			continue;
		if (n == rp->cap_pending) {
			rp->cap_pending = rp->cap_pending ? 2 * rp->cap_pending : 64;
			rp->pending = xrealloc(rp->pending, rp->cap_pending * sizeof(*rp->pending));
		}
		rp->pending[n++] = rp->entries[i].seq;
	}
	return n ? store_query_events_at(rp->r, rp->pending, n, emit, rp) : 0;
}

static int on_event(const struct event *ev, void *data)
{
	struct replay *rp = data;
	int err = flush_before(rp, ev->seq);

	return err ? err : emit(ev, rp);
}

/* load_versions - the starting map, and every entry of the range, sorted. */
static int load_versions(struct replay *rp)
{
	uint64_t before = rp->from - 1;
	size_t k0 = seg_of(rp, before);
	int err = 0;

	rp->initial_mm = rp->seg_mms[k0];
	/* A vfork or CLONE_VM child starts with its parent's map; a fork child's mm has no
	 * versions before the fork. */
	if (rp->initial_mm)
		err = store_query_vmas_at(rp->r, rp->initial_mm, before, initial_row, rp);
	for (size_t k = 0; !err && k < rp->n_segs; k++) {
		struct change_ctx c = { rp, before, rp->to };
		if (k > 0 && rp->segs[k] > c.lo)
			c.lo = rp->segs[k];
		if (k + 1 < rp->n_segs && rp->segs[k + 1] - 1 < c.hi)
			c.hi = rp->segs[k + 1] - 1;
		if (rp->seg_mms[k] && c.lo < c.hi)
			err = store_query_vma_changes(rp->r, rp->seg_mms[k], c.lo, c.hi,
						      change_row, &c);
		if (!err && k > 0 && rp->seg_mms[k] && rp->segs[k] >= rp->from &&
		    rp->segs[k] <= rp->to) {
			struct exec_ctx x = { rp, rp->segs[k] };
			err = store_query_vmas_at(rp->r, rp->seg_mms[k], rp->segs[k], exec_row, &x);
		}
	}
	if (rp->n_entries > 1)
		qsort(rp->entries, rp->n_entries, sizeof(*rp->entries), cmp_entry);
	return err;
}

int replay_load(struct replay *rp)
{
	int err = store_query_process_mms(rp->r, rp->proc.id, seg_row, rp);

	if (err < 0)
		return err;
	if (!rp->n_segs)
		return -ENOENT;
	err = load_versions(rp);
	if (err)
		return err;
	rp->alive = xcalloc(rp->n_vs + 1, sizeof(*rp->alive));
	for (size_t i = 0; i < rp->n_initial; i++)
		rp->alive[rp->initial[i]] = true;
	sort_by_start(rp, rp->initial, rp->n_initial);
	if (rp->begin && (err = rp->begin(rp)))
		return err;

	struct store_event_filter f = { .pid = rp->proc.pid, .min_seq = rp->from,
					.max_seq = rp->to };
	err = store_query_events(rp->r, &f, on_event, rp);
	if (!err)
		err = flush_before(rp, UINT64_MAX);
	return err;
}

void replay_release(struct replay *rp)
{
	for (size_t i = 0; i < rp->n_vs; i++)
		free(rp->vs[i].name);
	for (size_t i = 0; i < rp->n_steps; i++)
		free(rp->steps[i].line);
	free(rp->vs);
	free(rp->initial);
	free(rp->changes);
	free(rp->steps);
	free(rp->entries);
	free(rp->alive);
	free(rp->segs);
	free(rp->seg_mms);
	free(rp->pending);
	free(ids.ids);
	free(ids.idx);
	memset(&ids, 0, sizeof(ids));
}
