// SPDX-License-Identifier: MIT
/*
 * vmatrace history: every event that created, changed or removed a mapping covering an
 * address, oldest first, each with the VMA versions it ended (-) and began (+).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "stresc.h"
#include "sysent.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace history [-d DB] [--pid P] [--no-stacks] [--json] ADDR\n"
		"\n"
		"Every event that created, changed or removed a mapping covering ADDR (0x-hex or\n"
		"decimal), oldest first: the event's seq and the event, then the VMA versions it\n"
		"ended (-) and the ones it began (+), as /proc/PID/maps lines. Fault signals\n"
		"(+signal) at an address in ADDR's page or in those mappings are among them\n"
		"('vmatrace why SEQ' explains one).\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"  -p, --pid P   only the address spaces of process P (PID or PID@N)\n"
		"      --no-stacks  leave the stacks out (recorded with run --stacks)\n"
		"      --json    JSON Lines, one object per event: seq, event (as events --json\n"
		"                prints it, with its \"stack\" when recorded; null before the\n"
		"                trace), ended and began (the VMA versions, as maps --json\n"
		"                prints them)\n"
		"  -h, --help    show this help\n",
		DB_DEFAULT);
}

struct version {
	struct store_vma v;
	char *name;
	uint64_t died_seq;      /* 0 while alive at the end */
};

struct hist {
	struct version *vs;
	size_t n, cap;
	uint64_t *mms;          /* --pid: the process's mms */
	size_t n_mms;
};

static int add_version(const struct store_vma *v, uint64_t id, uint64_t died_seq, void *data)
{
	struct hist *h = data;

	(void)id;
	if (h->mms) {
		size_t i;
		for (i = 0; i < h->n_mms && h->mms[i] != v->mm; i++)
			;
		if (i == h->n_mms)
			return 0;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 32;
		h->vs = xrealloc(h->vs, h->cap * sizeof(*h->vs));
	}
	struct version *o = &h->vs[h->n++];
	o->v = *v;
	o->name = xstrdup(v->name ? v->name : "");
	o->v.name = o->name;
	o->died_seq = died_seq;
	return 0;
}

static int add_mm(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct hist *h = data;

	(void)seq;
	(void)exe;
	h->mms = xrealloc(h->mms, (h->n_mms + 1) * sizeof(*h->mms));
	h->mms[h->n_mms++] = mm;
	return 0;
}

static void print_line(char sign, const struct store_vma *v)
{
	printf("  %c %08" PRIx64 "-%08" PRIx64 " %.4s %08" PRIx64 " %02x:%02x %" PRIu64 "%s",
	       sign, v->start, v->end, v->perms, v->offset, major(v->dev), minor(v->dev), v->ino,
	       v->name[0] ? "  " : "");
	/* Escaped as maps escapes it: the name comes from the traced program. */
	stresc_print_name(stdout, v->name);
	putchar('\n');
}

/* Walking the versions in event order: two orders, by birth and by death. */
struct walk {
	struct hist *h;
	size_t *by_born, *by_died; /* indexes into h->vs */
	size_t nb, nd;             /* next in each order */
	size_t n_died;             /* versions that died (the others live on) */
	bool json, stacks;
	struct store_ro *r;
};

/* The - and + lines of every version that ended or began at or before @seq. */
static void print_changes(struct walk *w, uint64_t seq)
{
	while (w->nd < w->n_died && w->h->vs[w->by_died[w->nd]].died_seq <= seq)
		print_line('-', &w->h->vs[w->by_died[w->nd++]].v);
	while (w->nb < w->h->n && w->h->vs[w->by_born[w->nb]].v.born_seq <= seq)
		print_line('+', &w->h->vs[w->by_born[w->nb++]].v);
}

/* The same as JSON: ,"ended":[...],"began":[...]} and the end of the line. */
static void print_changes_json(struct walk *w, uint64_t seq)
{
	printf(",\"ended\":[");
	for (bool first = true; w->nd < w->n_died && w->h->vs[w->by_died[w->nd]].died_seq <= seq;
	     first = false) {
		printf("%s", first ? "" : ",");
		vma_print_json(&w->h->vs[w->by_died[w->nd++]].v, stdout);
	}
	printf("],\"began\":[");
	for (bool first = true; w->nb < w->h->n && w->h->vs[w->by_born[w->nb]].v.born_seq <= seq;
	     first = false) {
		printf("%s", first ? "" : ",");
		vma_print_json(&w->h->vs[w->by_born[w->nb++]].v, stdout);
	}
	printf("]}\n");
}

/* print_event_json - {"seq":N,"event":{...} (events --json's object, without its newline). */
static int print_event_json(const struct event *ev, struct walk *w)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err = 0;

	if (!f)
		return -ENOMEM;
	if (w->stacks && ev->stack_id)
		err = event_print_json_stack(w->r, ev, f);
	else
		event_print_json(ev, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	while (len && buf[len - 1] == '\n')
		len--;
	printf("{\"seq\":%" PRIu64 ",\"event\":%.*s", ev->seq, (int)len, buf);
	free(buf);
	print_changes_json(w, ev->seq);
	return err;
}

static int print_event(const struct event *ev, void *data)
{
	struct walk *w = data;

	int err = 0;

	if (w->json)
		return print_event_json(ev, w);
	printf("%" PRIu64 " ", ev->seq);
	event_print(ev, stdout);
	if (w->stacks)
		err = stack_print_text(w->r, ev->stack_id, stdout);
	print_changes(data, ev->seq);
	return err;
}

/*
 * Fault signals at the address: a +signal whose si_addr lies in ADDR's page or in a
 * version that covered ADDR (in that version's mm) joins the history, where it tells
 * what went wrong there ('vmatrace why' explains it).
 */
struct sig_walk {
	struct hist *h;
	uint64_t addr;
	uint64_t *seqs;
	size_t n;
};

static int add_signal(const struct event *ev, void *data)
{
	struct sig_walk *s = data;
	uint64_t a = ev->args[EVENT_SIG_ADDR], page = s->addr & ~(uint64_t)4095;
	bool hit = false;

	if (!signal_code_has_addr((int)ev->args[EVENT_SIG_SIGNO], (int)ev->args[EVENT_SIG_CODE]))
		return 0;
	for (size_t i = 0; i < s->h->n && !hit; i++)
		hit = s->h->vs[i].v.mm == ev->mm && a >= s->h->vs[i].v.start &&
		      a < s->h->vs[i].v.end;
	if (!hit && a - page < 4096) {
		/* Its own page: in the process's mms with --pid, else anywhere. */
		hit = !s->h->mms;
		for (size_t i = 0; i < s->h->n_mms && !hit; i++)
			hit = s->h->mms[i] == ev->mm;
	}
	if (hit) {
		s->seqs = xrealloc(s->seqs, (s->n + 1) * sizeof(*s->seqs));
		s->seqs[s->n++] = ev->seq;
	}
	return 0;
}

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct hist *sort_hist;

static int cmp_born(const void *a, const void *b)
{
	uint64_t x = sort_hist->vs[*(const size_t *)a].v.born_seq;
	uint64_t y = sort_hist->vs[*(const size_t *)b].v.born_seq;

	return x < y ? -1 : x > y;
}

static int cmp_died(const void *a, const void *b)
{
	uint64_t x = sort_hist->vs[*(const size_t *)a].died_seq;
	uint64_t y = sort_hist->vs[*(const size_t *)b].died_seq;

	return x < y ? -1 : x > y;
}

static uint64_t arg_addr;

static void check(struct cmd_args *a, int argc, char **argv)
{
	(void)a;
	if (argc != 1)
		die("history: expected one address (see 'vmatrace history --help')");
	arg_addr = parse_addr(argv[0]);
}

static int cmd_history(struct cmd_args *a)
{
	struct store_ro *r = a->r;
	const char *db = a->db;
	uint64_t addr = arg_addr;
	bool json = a->json, stacks = !a->no_stacks;
	struct hist h = { 0 };
	int err = 0;

	if (a->pid.pid) {
		err = store_query_process_mms(r, a->proc.id, add_mm, &h);
		if (!err && !h.n_mms)
			h.mms = xcalloc(1, sizeof(*h.mms)); /* filter everything out */
	}
	if (!err)
		err = store_query_vma_history(r, 0, addr, add_version, &h);

	/* The events that began or ended a version, in order, each once. */
	struct walk w = { .h = &h, .json = json, .stacks = stacks, .r = r };
	w.by_born = xcalloc(h.n + 1, sizeof(size_t));
	w.by_died = xcalloc(h.n + 1, sizeof(size_t));
	for (size_t i = 0; i < h.n; i++) {
		w.by_born[i] = i;
		if (h.vs[i].died_seq)
			w.by_died[w.n_died++] = i;
	}
	sort_hist = &h;
	qsort(w.by_born, h.n, sizeof(size_t), cmp_born);
	qsort(w.by_died, w.n_died, sizeof(size_t), cmp_died);
	uint64_t *seqs = xcalloc(h.n + w.n_died + 1, sizeof(*seqs));
	size_t n = 0, b = 0, d = 0;
	while (b < h.n || d < w.n_died) {
		uint64_t sb = b < h.n ? h.vs[w.by_born[b]].v.born_seq : UINT64_MAX;
		uint64_t sd = d < w.n_died ? h.vs[w.by_died[d]].died_seq : UINT64_MAX;
		uint64_t seq = sb < sd ? sb : sd;
		b += sb == seq;
		d += sd == seq;
		if (!n || seqs[n - 1] != seq)
			seqs[n++] = seq;
	}
	struct sig_walk sw = { .h = &h, .addr = addr };
	struct store_event_filter sf = { .signals_only = true };
	if (!err)
		err = store_query_events(r, &sf, add_signal, &sw);
	if (sw.n) {
		seqs = xrealloc(seqs, (n + sw.n) * sizeof(*seqs));
		memcpy(seqs + n, sw.seqs, sw.n * sizeof(*seqs));
		n += sw.n;
		qsort(seqs, n, sizeof(*seqs), cmp_seq);
	}
	free(sw.seqs);
	if (!err && n && seqs[0] == 0 && json) {
		printf("{\"seq\":0,\"event\":null");
		print_changes_json(&w, 0);
	} else if (!err && n && seqs[0] == 0) {
		printf("(before the trace)\n");
		print_changes(&w, 0);
	}
	if (!err)
		err = store_query_events_at(r, seqs, n, print_event, &w);
	/* Versions whose event is not in the DB. */
	if (json && (w.nd < w.n_died || w.nb < h.n)) {
		printf("{\"seq\":null,\"event\":null");
		print_changes_json(&w, UINT64_MAX);
	} else if (!json) {
		print_changes(&w, UINT64_MAX);
	}
	if (!err && !h.n)
		fprintf(stderr, "vmatrace: no recorded mapping ever covered 0x%" PRIx64 "\n", addr);
	if (err < 0)
		db_read_error("history", db, r, err);
	for (size_t i = 0; i < h.n; i++)
		free(h.vs[i].name);
	free(h.vs);
	free(h.mms);
	free(seqs);
	free(w.by_born);
	free(w.by_died);
	return err < 0 ? 1 : 0;
}

QUERY_COMMAND(history, "d:p:h", NULL, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_NO_STACKS, ARG_OPT_HELP);
