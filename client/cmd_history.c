// SPDX-License-Identifier: MIT
/*
 * vmatrace history: every event that created, changed or removed a mapping covering an
 * address, oldest first, each with the VMA versions it ended (-) and began (+).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "sysent.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace history [-d DB] [--pid P] [--no-stacks] [--json] ADDR\n"
		"\n"
		"Every event that created, changed or removed a mapping covering ADDR (0x-hex or\n"
		"decimal), oldest first: the event's seq and the event, then the VMA versions it\n"
		"ended (-) and the ones it began (+), as /proc/PID/maps lines, and the stack of\n"
		"the thread that made the event when the trace has stacks (run --stacks).\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"  -p, --pid P   only the address spaces of process P\n"
		"      --no-stacks  leave the stacks out\n"
		"      --json    JSON Lines: each event as 'events --json' prints it, with its\n"
		"                \"stack\" and the VMA versions it \"ended\" and \"began\"\n"
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
	printf("  %c %08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 "%s%s\n",
	       sign, v->start, v->end, v->perms, v->offset, major(v->dev), minor(v->dev), v->ino,
	       v->name[0] ? "  " : "", v->name);
}

static void print_json_vma(const struct version *o, bool first)
{
	const struct store_vma *v = &o->v;

	printf("%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"perms\":\"%s\",\"offset\":%" PRIu64
	       ",\"dev\":\"%02x:%02x\",\"ino\":%" PRIu64 ",\"name\":",
	       first ? "" : ",", v->start, v->end, v->perms, v->offset, major(v->dev),
	       minor(v->dev), v->ino);
	json_print_string(stdout, v->name);
	printf(",\"born_seq\":%" PRIu64, v->born_seq);
	if (o->died_seq)
		printf(",\"died_seq\":%" PRIu64, o->died_seq);
	putchar('}');
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

/*
 * Every version that ended or began at or before @seq: - and + lines, or (--json) the
 * members "ended" and "began" of the event's object.
 */
static void print_changes(struct walk *w, uint64_t seq)
{
	const struct version *vs = w->h->vs;

	if (w->json)
		fputs(",\"ended\":[", stdout);
	for (bool first = true; w->nd < w->n_died && vs[w->by_died[w->nd]].died_seq <= seq;
	     first = false) {
		if (w->json)
			print_json_vma(&vs[w->by_died[w->nd++]], first);
		else
			print_line('-', &vs[w->by_died[w->nd++]].v);
	}
	if (w->json)
		fputs("],\"began\":[", stdout);
	for (bool first = true; w->nb < w->h->n && vs[w->by_born[w->nb]].v.born_seq <= seq;
	     first = false) {
		if (w->json)
			print_json_vma(&vs[w->by_born[w->nb++]], first);
		else
			print_line('+', &vs[w->by_born[w->nb++]].v);
	}
	if (w->json)
		fputs("]}\n", stdout);
}

/* --json: the event's object, still open for print_changes(). */
static int print_event_json(struct walk *w, const struct event *ev)
{
	char *line = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&line, &len);
	int err = 0;

	if (!mem)
		return -ENOMEM;
	if (w->stacks)
		err = event_print_json_stack(w->r, ev, mem);
	else
		event_print_json(ev, mem);
	fclose(mem);
	if (len >= 2)
		fwrite(line, 1, len - 2, stdout); /* without "}\n" */
	free(line);
	return err;
}

static int print_event(const struct event *ev, void *data)
{
	struct walk *w = data;
	int err = 0;

	if (w->json) {
		err = print_event_json(w, ev);
	} else {
		printf("%" PRIu64 " ", ev->seq);
		event_print(ev, stdout);
		if (w->stacks)
			err = stack_print_text(w->r, ev->stack_id, stdout);
	}
	print_changes(w, ev->seq);
	return err;
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

uint64_t parse_addr(const char *s)
{
	char *end;
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;

	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || (base == 16 && !s[2]))
		die("invalid address '%s': expected 0x-hex or decimal", s);
	return v;
}

int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "no-stacks", no_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *db = DB_DEFAULT;
	struct hist h = { 0 };
	pid_t pid = 0;
	bool json = false, stacks = true;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "d:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			pid = parse_pid(optarg, "--pid");
			break;
		case 'N':
			stacks = false;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1)
		die("history: expected one address (see 'vmatrace history --help')");
	uint64_t addr = parse_addr(argv[optind]);

	struct store_ro *r = open_db_or_die(db);
	if (pid) {
		struct store_proc_info p;
		err = store_query_process(r, pid, &p);
		if (err == -ENOENT) {
			log_error("history: no process %d in '%s'", pid, db);
			store_ro_close(r);
			return 1;
		}
		if (!err)
			err = store_query_process_mms(r, p.id, add_mm, &h);
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
	if (!err && n && seqs[0] == 0) {
		if (json)
			fputs("{\"seq\":0,\"before_trace\":true", stdout);
		else
			printf("(before the trace)\n");
		print_changes(&w, 0);
	}
	if (!err)
		err = store_query_events_at(r, seqs, n, print_event, &w);
	if (w.nb < h.n || w.nd < w.n_died) {
		/* versions whose event is not in the DB */
		if (json)
			fputs("{\"seq\":null", stdout);
		print_changes(&w, UINT64_MAX);
	}
	if (!err && !h.n)
		fprintf(stderr, "vmatrace: no recorded mapping ever covered 0x%" PRIx64 "\n", addr);
	if (err < 0)
		log_error("history: cannot read '%s': %s", db, store_ro_errmsg(r));
	for (size_t i = 0; i < h.n; i++)
		free(h.vs[i].name);
	free(h.vs);
	free(h.mms);
	free(seqs);
	free(w.by_born);
	free(w.by_died);
	store_ro_close(r);
	return err < 0 ? 1 : 0;
}
