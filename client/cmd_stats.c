// SPDX-License-Identifier: MIT
/*
 * vmatrace stats: a report on a trace, per process and per address space (mm): events by
 * syscall, failed calls by errno, busiest threads; peak and final virtual size and VMA
 * count with the event of the peak, mm_users peak, largest mappings; the trace's duration.
 *
 * Cost: one grouped query per process (index event_pid, one pass over its events) and one
 * pass over each mm's VMA versions (index vma_life's mm prefix), sorted in memory into a
 * merge of births and deaths: sizes change only at those seqs. Never a query per event.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include "store_changes.h"
#include "sysent.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace stats [-d DB] [--pid P] [--json]\n"
		"\n"
		"A report on the trace: per process, its events by syscall, failed calls by\n"
		"errno and busiest threads; per address space (mm), its events, peak and final\n"
		"virtual size and VMA count (with the event of the peak), mm_users peak and\n"
		"largest mappings; the trace's duration.\n"
		"\n"
		"  -d, --db DB     read DB (default ./%s)\n"
		"  -p, --pid P     only process P (PID or PID@N) and the mms it used\n"
		"  -j, --json      one JSON object\n"
		"  -h, --help      show this help\n",
		DB_DEFAULT);
}

/* Counting. ------------------------------------------------------------------------------ */

static void count_add(struct st_count **v, size_t *n, int64_t key, uint64_t by)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].key == key) {
			(*v)[i].count += by;
			return;
		}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct st_count){ key, by };
}

static int cmp_count(const void *a, const void *b)
{
	const struct st_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* sort_counts - by count, most first (qsort must not see NULL, even for 0 elements). */
static void sort_counts(struct st_count *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_count);
}

static struct st_mm *mm_get(struct stats *s, uint64_t id)
{
	for (size_t i = 0; i < s->n_mms; i++)
		if (s->mms[i].id == id)
			return &s->mms[i];
	s->mms = xrealloc(s->mms, (s->n_mms + 1) * sizeof(*s->mms));
	memset(&s->mms[s->n_mms], 0, sizeof(*s->mms));
	s->mms[s->n_mms].id = id;
	return &s->mms[s->n_mms++];
}

struct count_ctx {
	struct stats *s;
	struct st_proc *p;
};

static int count_row(const struct store_event_count *c, void *data)
{
	struct count_ctx *x = data;
	struct st_proc *p = x->p;
	/* Key of a syscall: its number; a thread exit (nr -1), a fault signal (-2) and a
	 * rename from outside (-3) sort as keys of their own. */
	int64_t key = c->kind == EVENT_TASK_EXIT ? -1 : c->kind == EVENT_SIGNAL ? -2 :
		      c->kind == EVENT_RENAME ? -3 : c->nr;

	p->events += c->count;
	count_add(&p->by_nr, &p->n_nr, key, c->count);
	if (c->err)
		count_add(&p->by_err, &p->n_err, ((int64_t)c->err << 32) | (uint32_t)c->nr,
			  c->count);
	count_add(&p->by_tid, &p->n_tid, c->tid, c->count);
	if (c->mm)
		mm_get(x->s, c->mm)->events += c->count;
	if (!p->first_seq || c->first_seq < p->first_seq)
		p->first_seq = c->first_seq;
	if (c->last_seq > p->last_seq)
		p->last_seq = c->last_seq;
	return 0;
}

static int mms_row(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct count_ctx *x = data;

	(void)seq;
	(void)exe;
	if (!mm)
		return 0; /* the client's own image before the first execve: not recorded */
	x->p->mms = xrealloc(x->p->mms, (x->p->n_mms + 1) * sizeof(*x->p->mms));
	x->p->mms[x->p->n_mms++] = mm;
	mm_get(x->s, mm);
	return 0;
}

static int proc_row(const struct store_proc_info *pi, void *data)
{
	struct stats *s = data;
	struct st_proc *p;

	if (s->only_id && pi->id != s->only_id)
		return 0;
	s->procs = xrealloc(s->procs, (s->n_procs + 1) * sizeof(*s->procs));
	p = &s->procs[s->n_procs++];
	memset(p, 0, sizeof(*p));
	p->info = *pi;
	p->exe = pi->exe ? xstrdup(pi->exe) : NULL;
	p->info.exe = p->info.argv = NULL;
	return 0;
}

/* Pids repeat: the Nth process with a pid is named PID@N when there are several. */
static void name_procs(struct stats *s)
{
	for (size_t i = 0; i < s->n_procs; i++) {
		unsigned nth = 1, all = 0;
		for (size_t j = 0; j < s->n_procs; j++)
			if (s->procs[j].info.pid == s->procs[i].info.pid) {
				all++;
				nth += j < i;
			}
		if (all > 1 || s->only_nth)
			snprintf(s->procs[i].name, sizeof(s->procs[i].name), "%d@%u",
				 s->procs[i].info.pid, s->only_nth ? s->only_nth : nth);
		else
			snprintf(s->procs[i].name, sizeof(s->procs[i].name), "%d",
				 s->procs[i].info.pid);
	}
}

/* The address-space sweep. ------------------------------------------------------------- */

struct delta {
	uint64_t seq;
	int64_t bytes;
	int vmas;
};

struct sweep {
	struct st_mm *m;
	struct delta *d;
	size_t n, cap;
};

static void top_add(struct st_mm *m, const struct store_vma *v, uint64_t died)
{
	uint64_t size = v->end - v->start;
	size_t min = 0;

	/* One row per range: a range that changed perms is still one mapping. */
	for (size_t i = 0; i < m->n_top; i++) {
		struct st_top *t = &m->top[i];
		if (t->v.start == v->start && t->v.end == v->end) {
			if (v->born_seq < t->v.born_seq)
				t->v.born_seq = v->born_seq;
			if (!died || (t->died_seq && died > t->died_seq))
				t->died_seq = died;
			return;
		}
	}
	if (m->n_top < ST_TOP)
		min = m->n_top++;
	else {
		for (size_t i = 1; i < ST_TOP; i++)
			if (m->top[i].size < m->top[min].size)
				min = i;
		if (size <= m->top[min].size)
			return;
		free(m->top[min].name);
	}
	m->top[min] = (struct st_top){ .v = *v, .size = size, .died_seq = died,
				       .name = xstrdup(v->name ? v->name : "") };
	m->top[min].v.name = m->top[min].name;
}

static void push_delta(struct sweep *w, uint64_t seq, int64_t bytes, int vmas)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->d = xrealloc(w->d, w->cap * sizeof(*w->d));
	}
	w->d[w->n++] = (struct delta){ seq, bytes, vmas };
}

static int version_row(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct sweep *w = data;
	int64_t size = (int64_t)(v->end - v->start);

	(void)id;
	if (died && died == v->born_seq)
		return 0; /* never part of any state */
	push_delta(w, v->born_seq, size, 1);
	if (died)
		push_delta(w, died, -size, -1);
	top_add(w->m, v, died);
	return 0;
}

static int cmp_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_top(const void *a, const void *b)
{
	const struct st_top *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->v.start < y->v.start ? -1 : x->v.start > y->v.start;
}

/* The state after each seq with changes; final: the last state before the mm ended. */
static void run_sweep(struct sweep *w)
{
	struct st_mm *m = w->m;
	int64_t bytes = 0;
	int64_t vmas = 0;
	bool final = false;

	if (w->n > 1)
		qsort(w->d, w->n, sizeof(*w->d), cmp_delta);
	for (size_t i = 0; i < w->n;) {
		uint64_t seq = w->d[i].seq;
		if (m->info.end_seq && seq >= m->info.end_seq && !final) {
			m->final_bytes = (uint64_t)bytes;
			m->final_vmas = (uint64_t)vmas;
			final = true;
		}
		for (; i < w->n && w->d[i].seq == seq; i++) {
			bytes += w->d[i].bytes;
			vmas += w->d[i].vmas;
		}
		if ((uint64_t)bytes > m->peak_bytes) {
			m->peak_bytes = (uint64_t)bytes;
			m->peak_bytes_seq = seq;
		}
		if ((uint64_t)vmas > m->peak_vmas) {
			m->peak_vmas = (uint64_t)vmas;
			m->peak_vmas_seq = seq;
		}
	}
	if (!final) {
		m->final_bytes = (uint64_t)bytes;
		m->final_vmas = (uint64_t)vmas;
	}
	if (m->n_top > 1)
		qsort(m->top, m->n_top, sizeof(*m->top), cmp_top);
}

static int users_row(uint64_t seq, int users, void *data)
{
	struct st_mm *m = data;

	if (users > m->peak_users) {
		m->peak_users = users;
		m->peak_users_seq = seq;
	}
	return 0;
}

static int load_mm(struct store_ro *r, struct st_mm *m)
{
	struct sweep w = { .m = m };
	int err = store_query_mm(r, m->id, &m->info);

	if (!err)
		err = store_query_mm_versions(r, m->id, version_row, &w);
	if (!err)
		run_sweep(&w);
	free(w.d);
	if (!err)
		err = store_query_mm_users(r, m->id, users_row, m);
	return err;
}

/* Loading. ------------------------------------------------------------------------------- */

static int load(struct store_ro *r, struct stats *s)
{
	int err = store_query_trace(r, &s->trace);

	if (!err)
		err = store_query_summary(r, &s->summary);
	if (!err)
		err = store_query_last_seq(r, &s->last_seq);
	if (!err && s->last_seq) {
		err = store_query_event_time(r, 1, &s->first_ns);
		if (!err)
			err = store_query_event_time(r, s->last_seq, &s->last_ns);
		if (err == -ENOENT)
			err = 0;
	}
	if (!err)
		err = store_query_processes(r, proc_row, s);
	name_procs(s);
	for (size_t i = 0; !err && i < s->n_procs; i++) {
		struct st_proc *p = &s->procs[i];
		struct count_ctx x = { s, p };
		uint64_t end = p->info.end_seq ? p->info.end_seq : s->last_seq;
		err = store_query_event_counts(r, p->info.pid, p->info.start_seq, end, count_row,
					       &x);
		if (!err)
			err = store_query_process_mms(r, p->info.id, mms_row, &x);
		sort_counts(p->by_nr, p->n_nr);
		sort_counts(p->by_err, p->n_err);
		sort_counts(p->by_tid, p->n_tid);
	}
	for (size_t i = 0; !err && i < s->n_mms; i++)
		err = load_mm(r, &s->mms[i]);
	return err;
}

static void stats_release(struct stats *s)
{
	for (size_t i = 0; i < s->n_procs; i++) {
		free(s->procs[i].exe);
		free(s->procs[i].by_nr);
		free(s->procs[i].by_err);
		free(s->procs[i].by_tid);
		free(s->procs[i].mms);
	}
	for (size_t i = 0; i < s->n_mms; i++)
		for (size_t k = 0; k < s->mms[i].n_top; k++)
			free(s->mms[i].top[k].name);
	free(s->procs);
	free(s->mms);
	store_trace_info_release(&s->trace);
}

static int cmd_stats(struct cmd_args *a)
{
	struct stats s = { 0 };
	int err, status = 1;

	if (a->pid.pid) {
		s.only_id = a->proc.id;
		s.only_nth = a->pid.nth;
	}
	err = load(a->r, &s);
	if (err < 0) {
		db_read_error("stats", a->db, a->r, err);
		goto out;
	}
	if (a->json)
		stats_print_json(&s, stdout);
	else
		stats_print_text(&s, stdout);
	status = 0;
out:
	stats_release(&s);
	return status;
}

QUERY_COMMAND(stats, "d:p:jh", NULL, NULL,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP);
