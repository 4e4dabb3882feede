// SPDX-License-Identifier: MIT
/*
 * vmatrace timeline: a picture of address spaces over time, one panel per mm. Here: the
 * options, loading the VMA versions, the layout (address bands, rectangles) and sampling;
 * timeline_svg.c writes the page.
 *
 * The layout. x is the time of the event (or, with --seq, its number), shared by all
 * panels: the whole trace, or with --pid the life of that process's address spaces. y is the address, high addresses at the top as in the usual layout drawings,
 * compressed: the ranges that were ever mapped in the mm merge into occupied bands, each
 * band gets a height that grows with the log of its size (so a 4 KiB band and a 1 TiB one
 * are 16 and 352 pixels high), and the unmapped gaps between bands shrink to thin break
 * marks. Inside a band the scale is linear.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "store_timeline.h"
#include "sysent.h"
#include "timeline.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace timeline [-d DB] [--pid P] [--seq] [--max-rects N] -o FILE.svg|FILE.html\n"
		"\n"
		"Draw the address spaces of the trace over time: x is the time of the events, y\n"
		"the address (high at the top), each VMA version a rectangle from the event that\n"
		"made it to the event that ended it, coloured by kind (hue: file, anonymous,\n"
		"heap, stack, shared, kernel) and by perms (darker: r, rw, rx). The address\n"
		"ranges ever mapped form bands, sized by the log of their size, and the gaps\n"
		"between them are cut out. One panel per address space (mm), in order. A fault\n"
		"signal (+signal: SIGSEGV, SIGBUS...) is a red line across its mm's panel.\n"
		"FILE.svg: a static picture (hover shows each VMA as a tooltip); FILE.html: the\n"
		"same picture in a page (no network needed) whose hover box shows the VMA and\n"
		"the events that made and ended it.\n"
		"\n"
		"  -d, --db DB        read DB (default ./%s)\n"
		"  -p, --pid P        only the address spaces of process P (PID or PID@N)\n"
		"  -o, --output FILE  write FILE; its extension (.svg, .html) says the format;\n"
		"                     '-' (standard output), a FIFO or a device without one:\n"
		"                     SVG, written in place\n"
		"      --seq          x is the event number instead of the time\n"
		"      --max-rects N  above N rectangles (default %d), merge those narrower\n"
		"                     than a pixel that share a pixel column, rows and colour\n"
		"                     into one; then 2, 4, ... 64-pixel cells while more than\n"
		"                     N remain (wider rectangles are always drawn)\n"
		"  -h, --help         show this help\n",
		DB_DEFAULT, TL_MAX_RECTS);
}

/* Loading. ------------------------------------------------------------------------------ */

static enum tl_kind vma_kind(const struct store_vma *v)
{
	const char *n = v->name;

	if (v->perms[3] == 's')
		return TL_SHARED;
	if (!strcmp(n, "[heap]"))
		return TL_HEAP;
	if (!strncmp(n, "[stack", 6))
		return TL_STACK;
	if (!strcmp(n, "[vdso]") || !strcmp(n, "[vvar]") || !strcmp(n, "[vsyscall]") ||
	    !strcmp(n, "[uprobes]") || !strcmp(n, "[vvar_vclock]"))
		return TL_SPECIAL;
	if (v->ino || n[0] == '/')
		return TL_FILE;
	return TL_ANON;
}

static enum tl_level vma_level(const char *perms)
{
	if (perms[2] == 'x')
		return TL_X;
	if (perms[1] == 'w')
		return TL_W;
	if (perms[0] == 'r')
		return TL_R;
	return TL_NONE;
}

static int add_version(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct tl_panel *p = data;
	struct tl_version *t;
	char line[8192];
	size_t name_at;

	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	t = &p->v[p->n++];
	vma_format_maps_name(v, line, sizeof(line), &name_at);
	*t = (struct tl_version){
		.id = id, .start = v->start, .end = v->end, .born_seq = v->born_seq,
		.died_seq = died, .line = xstrdup(line),
		.kind = (uint8_t)vma_kind(v), .level = (uint8_t)vma_level(v->perms),
	};
	/* The name is the line's tail (escaped, maybe cut): it follows the fixed columns. */
	t->name = t->line + name_at;
	return 0;
}

struct mm_pick {
	struct timeline *tl;
	const uint64_t *only;       /* the mms of --pid, or NULL for all */
	size_t nonly;
	/* The program of each mm so far (fork copies inherit), in id order as the mms come:
	 * one entry per mm row, not per id value, which a damaged DB may make huge. */
	uint64_t *ids;
	char **names;
	size_t nnames;
};

/* name_of_mm - the program recorded for mm @id so far, NULL if none. */
static const char *name_of_mm(const struct mm_pick *k, uint64_t id)
{
	size_t lo = 0, hi = k->nnames;

	/* ids ascend as SQLite orders them: as signed 64-bit values. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((int64_t)k->ids[mid] < (int64_t)id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < k->nnames && k->ids[lo] == id ? k->names[lo] : NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

static int pick_mm(const struct store_mm_info *m, void *data)
{
	struct mm_pick *k = data;
	struct timeline *tl = k->tl;
	const char *exe = m->exe;
	bool want = !k->only;

	/* A fork's copy runs its parent's program until it execs. */
	if (!exe && m->parent && m->parent != m->id)
		exe = name_of_mm(k, m->parent);
	k->ids = xrealloc(k->ids, (k->nnames + 1) * sizeof(*k->ids));
	k->names = xrealloc(k->names, (k->nnames + 1) * sizeof(*k->names));
	k->ids[k->nnames] = m->id;
	k->names[k->nnames++] = exe ? xstrdup(exe) : NULL;
	for (size_t i = 0; !want && i < k->nonly; i++)
		want = k->only[i] == m->id;
	if (!want)
		return 0;
	tl->panels = xrealloc(tl->panels, (tl->npanels + 1) * sizeof(*tl->panels));
	tl->panels[tl->npanels++] = (struct tl_panel){
		.mm = m->id, .pid = m->pid,
		.title = xasprintf("mm %" PRIu64 " \xc2\xb7 pid %d \xc2\xb7 %s%s", m->id, m->pid,
				   exe ? base_name(exe) : "(unknown program)",
				   m->parent ? " (fork copy)" : ""),
	};
	return 0;
}

struct pid_mms {
	uint64_t mm[64];
	size_t n;
};

static int add_pid_mm(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct pid_mms *p = data;

	(void)seq;
	(void)exe;
	/* mm 0 is the client's own image before the first execve: not recorded. */
	if (mm && p->n < sizeof(p->mm) / sizeof(p->mm[0]))
		p->mm[p->n++] = mm;
	return 0;
}

/* Layout. ------------------------------------------------------------------------------- */

static int cmp_start(const void *a, const void *b)
{
	const struct tl_version *x = *(const struct tl_version *const *)a;
	const struct tl_version *y = *(const struct tl_version *const *)b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* band_height - 16 px for a page, 12 px more per doubling. */
static double band_height(uint64_t size)
{
	double pages = (double)size / 4096.0;

	return 16.0 + 12.0 * (pages > 1.0 ? log2(pages) : 0.0);
}

/*
 * layout_bands - merge @p's version ranges into bands (highest first) and place them from
 * @y down. Returns the height used.
 */
static double layout_bands(struct tl_panel *p, double y)
{
	struct tl_version **s = xmalloc((p->n ? p->n : 1) * sizeof(*s));
	struct tl_band *b = xmalloc((p->n ? p->n : 1) * sizeof(*b));
	uint64_t *best = xcalloc(p->n ? p->n : 1, sizeof(*best));
	size_t nb = 0;
	double top = y;

	for (size_t i = 0; i < p->n; i++)
		s[i] = &p->v[i];
	qsort(s, p->n, sizeof(*s), cmp_start);
	for (size_t i = 0; i < p->n; i++) {
		uint64_t size = s[i]->end - s[i]->start;

		if (!nb || s[i]->start > b[nb - 1].hi) {
			b[nb++] = (struct tl_band){ .lo = s[i]->start, .hi = s[i]->end,
						    .label = s[i]->name };
			best[nb - 1] = size;
			continue;
		}
		if (s[i]->end > b[nb - 1].hi)
			b[nb - 1].hi = s[i]->end;
		/* The main name: that of the largest named version ("" only if none is). */
		if ((size > best[nb - 1] && (*s[i]->name || !*b[nb - 1].label)) ||
		    (*s[i]->name && !*b[nb - 1].label))
			b[nb - 1].label = s[i]->name, best[nb - 1] = size;
	}
	/* Highest band first. */
	for (size_t i = 0; i < nb / 2; i++) {
		struct tl_band t = b[i];
		b[i] = b[nb - 1 - i];
		b[nb - 1 - i] = t;
	}
	for (size_t i = 0; i < nb; i++) {
		if (i)
			y += TL_GAP;
		b[i].y = y;
		b[i].h = band_height(b[i].hi - b[i].lo);
		y += b[i].h;
	}
	free(best);
	free(s);
	p->bands = b;
	p->nbands = nb;
	return y - top;
}

/* band_of - the band holding [start, end) (bands are sorted by descending address). */
static const struct tl_band *band_of(const struct tl_panel *p, uint64_t start)
{
	size_t lo = 0, hi = p->nbands;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->bands[mid].lo > start)
			lo = mid + 1;
		else
			hi = mid;
	}
	assert(lo < p->nbands && start < p->bands[lo].hi);
	return &p->bands[lo];
}

static double band_y(const struct tl_band *b, uint64_t addr)
{
	return b->y + b->h * (double)(b->hi - addr) / (double)(b->hi - b->lo);
}

/* x of an event: its time, or its seq with --seq. */
static uint64_t x_of(const struct timeline *tl, uint64_t seq)
{
	if (tl->by_seq)
		return seq;
	return store_event_time_at(&tl->times, seq);
}

double timeline_x(const struct timeline *tl, uint64_t seq)
{
	double v = (double)x_of(tl, seq) - (double)tl->x_start;

	return tl->plot_x + tl->plot_w * v /
	       (double)(tl->x_end > tl->x_start ? tl->x_end - tl->x_start : 1);
}

static void make_rects(struct timeline *tl)
{
	size_t n = 0;

	tl->rects = xmalloc((tl->nversions ? tl->nversions : 1) * sizeof(*tl->rects));
	for (size_t i = 0; i < tl->npanels; i++) {
		struct tl_panel *p = &tl->panels[i];

		for (size_t j = 0; j < p->n; j++) {
			const struct tl_version *v = &p->v[j];
			const struct tl_band *b = band_of(p, v->start);
			double x0 = timeline_x(tl, v->born_seq);
			double x1 = v->died_seq ? timeline_x(tl, v->died_seq)
						: tl->plot_x + tl->plot_w;
			double y0 = band_y(b, v->end), y1 = band_y(b, v->start);

			tl->rects[n++] = (struct tl_rect){
				.x = (float)x0, .y = (float)y0,
				/* At least a pixel, so that a short life still shows. */
				.w = (float)(x1 - x0 < 1.0 ? 1.0 : x1 - x0),
				.h = (float)(y1 - y0 < 1.0 ? 1.0 : y1 - y0),
				.v = (uint32_t)j, .count = 1,
				.cls = (uint8_t)(v->kind * TL_NLEVELS + v->level),
				.panel = (uint32_t)i,
			};
		}
	}
	tl->nrects = n;
}

/* Sampling. ----------------------------------------------------------------------------- */

static double sample_cell;

/* A narrow rectangle's cell: panel, colour, column and quantised rows. */
static void cell_key(const struct tl_rect *r, int64_t key[5])
{
	key[0] = r->panel;
	key[1] = r->cls;
	key[2] = (int64_t)floor(r->x / sample_cell);
	key[3] = (int64_t)floor(r->y / sample_cell);
	key[4] = (int64_t)floor((r->y + r->h) / sample_cell);
}

static int cmp_cell(const void *a, const void *b)
{
	int64_t x[5], y[5];

	cell_key(a, x);
	cell_key(b, y);
	for (int i = 0; i < 5; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/*
 * sample - while there are more than max_rects rectangles, merge the ones narrower than
 * a cell (1 px, then 2, 4, ... 64) that fall in the same cell: one rectangle spanning
 * them, counting them, whose tooltip is its first version's. Wide rectangles stay.
 */
static void sample(struct timeline *tl)
{
	for (sample_cell = 1.0; tl->nrects > tl->max_rects && sample_cell <= 64.0;
	     sample_cell *= 2.0) {
		size_t narrow = 0, out = 0;

		/* Narrow ones first, sorted by cell; then merge runs of one cell. */
		for (size_t i = 0; i < tl->nrects; i++) {
			if (tl->rects[i].w < sample_cell) {
				struct tl_rect t = tl->rects[i];
				tl->rects[i] = tl->rects[narrow];
				tl->rects[narrow++] = t;
			}
		}
		qsort(tl->rects, narrow, sizeof(*tl->rects), cmp_cell);
		for (size_t i = 0; i < narrow; i++) {
			struct tl_rect *o = out ? &tl->rects[out - 1] : NULL;

			if (o && !cmp_cell(o, &tl->rects[i])) {
				struct tl_rect *r = &tl->rects[i];
				float x1 = fmaxf(o->x + o->w, r->x + r->w);
				float y1 = fmaxf(o->y + o->h, r->y + r->h);

				o->x = fminf(o->x, r->x);
				o->y = fminf(o->y, r->y);
				o->w = x1 - o->x;
				o->h = y1 - o->y;
				o->count += r->count;
				continue;
			}
			tl->rects[out++] = tl->rects[i];
		}
		memmove(tl->rects + out, tl->rects + narrow,
			(tl->nrects - narrow) * sizeof(*tl->rects));
		tl->nrects = out + tl->nrects - narrow;
	}
}

/* Events for the tooltips. -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int decode_event(const struct event *ev, void *data)
{
	struct timeline *tl = data;
	char *buf = event_line(ev);

	if (!buf)
		return -ENOMEM;
	tl->ev_seq[tl->nev] = ev->seq;
	tl->ev_text[tl->nev++] = buf;
	return 0;
}

/* load_events - decode the events that made and ended the drawn versions. */
static int load_events(struct store_ro *r, struct timeline *tl)
{
	uint64_t *seqs = xmalloc((2 * tl->nrects + 1) * sizeof(*seqs));
	size_t n = 0, u = 0;
	int err;

	for (size_t i = 0; i < tl->nrects; i++) {
		const struct tl_version *v = &tl->panels[tl->rects[i].panel].v[tl->rects[i].v];

		if (v->born_seq)
			seqs[n++] = v->born_seq;
		if (v->died_seq)
			seqs[n++] = v->died_seq;
	}
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!u || seqs[u - 1] != seqs[i])
			seqs[u++] = seqs[i];
	tl->ev_seq = xmalloc((u + 1) * sizeof(*tl->ev_seq));
	tl->ev_text = xmalloc((u + 1) * sizeof(*tl->ev_text));
	err = store_query_events_at(r, seqs, u, decode_event, tl);
	free(seqs);
	return err;
}

/* A fault signal in a drawn mm becomes a marker. */
static int add_mark(const struct event *ev, void *data)
{
	struct timeline *tl = data;

	for (size_t i = 0; i < tl->npanels; i++) {
		if (tl->panels[i].mm != ev->mm)
			continue;
		char *buf = event_line(ev);
		if (!buf)
			return -ENOMEM;
		tl->marks = xrealloc(tl->marks, (tl->nmarks + 1) * sizeof(*tl->marks));
		tl->marks[tl->nmarks++] = (struct tl_mark){ .seq = ev->seq, .panel = i, .text = buf };
		break;
	}
	return 0;
}

const char *timeline_event_text(const struct timeline *tl, uint64_t seq)
{
	const uint64_t *p = bsearch(&seq, tl->ev_seq, tl->nev, sizeof(seq), cmp_u64);

	return p ? tl->ev_text[p - tl->ev_seq] : NULL;
}

/* The command. -------------------------------------------------------------------------- */

static void timeline_free(struct timeline *tl)
{
	for (size_t i = 0; i < tl->npanels; i++) {
		for (size_t j = 0; j < tl->panels[i].n; j++)
			free(tl->panels[i].v[j].line);
		free(tl->panels[i].v);
		free(tl->panels[i].bands);
		free(tl->panels[i].title);
	}
	for (size_t i = 0; i < tl->nev; i++)
		free(tl->ev_text[i]);
	for (size_t i = 0; i < tl->nmarks; i++)
		free(tl->marks[i].text);
	free(tl->marks);
	free(tl->ev_seq);
	free(tl->ev_text);
	free(tl->panels);
	free(tl->rects);
	store_event_times_release(&tl->times);
}

/*
 * --pid: the x axis spans the life of the drawn versions only, from the first birth to
 * the last death (or the end of the trace if one lives on), so that a short-lived process
 * of a long trace is not a sliver at one side.
 */
static void zoom_to_versions(struct timeline *tl)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	bool alive = false;

	for (size_t i = 0; i < tl->npanels; i++) {
		for (size_t j = 0; j < tl->panels[i].n; j++) {
			const struct tl_version *v = &tl->panels[i].v[j];
			uint64_t b = x_of(tl, v->born_seq);

			lo = b < lo ? b : lo;
			if (!v->died_seq)
				alive = true;
			else if (x_of(tl, v->died_seq) > hi)
				hi = x_of(tl, v->died_seq);
		}
	}
	if (lo == UINT64_MAX)
		return;
	tl->x_start = lo;
	if (!alive && hi > lo)
		tl->x_end = hi;
}

/* load - the panels, versions, times and layout of @tl from @r. 0 or -errno. */
static int load(struct store_ro *r, struct timeline *tl, const struct pid_mms *only)
{
	struct mm_pick k = { .tl = tl, .only = only ? only->mm : NULL,
			     .nonly = only ? only->n : 0 };
	struct store_trace_info info;
	double y = TL_TOP;
	int err;

	err = store_query_mms(r, pick_mm, &k);
	for (size_t i = 0; i < k.nnames; i++)
		free(k.names[i]);
	free(k.names);
	free(k.ids);
	if (err < 0)
		return err;
	err = store_query_event_times(r, &tl->times);
	if (err < 0)
		return err;
	for (size_t i = 0; i < tl->npanels; i++) {
		err = store_query_mm_versions(r, tl->panels[i].mm, add_version, &tl->panels[i]);
		if (err < 0)
			return err;
		tl->nversions += tl->panels[i].n;
	}
	/* The right edge: the end of the trace (its close), else its last event. */
	uint64_t last_t, last = store_event_times_last(&tl->times, &last_t);
	tl->x_end = tl->by_seq ? last + 1 : last_t;
	if (!tl->by_seq && store_query_trace(r, &info) == 0) {
		if (info.end_mono_ns > info.start_mono_ns &&
		    info.end_mono_ns - info.start_mono_ns > tl->x_end)
			tl->x_end = info.end_mono_ns - info.start_mono_ns;
		store_trace_info_release(&info);
	}
	if (only)
		zoom_to_versions(tl);
	tl->width = TL_WIDTH;
	tl->plot_x = TL_MARGIN + TL_LABEL_W;
	tl->plot_w = tl->width - tl->plot_x - TL_MARGIN;
	for (size_t i = 0; i < tl->npanels; i++) {
		struct tl_panel *p = &tl->panels[i];

		p->y = y;
		p->h = TL_PANEL_HEAD + layout_bands(p, y + TL_PANEL_HEAD);
		y += p->h + TL_MARGIN;
	}
	tl->height = y + TL_AXIS;
	make_rects(tl);
	sample(tl);
	err = load_events(r, tl);
	if (err < 0)
		return err;
	struct store_event_filter signals = { .signals_only = true };
	return store_query_events(r, &signals, add_mark, tl);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

static struct timeline arg_tl = { .max_rects = TL_MAX_RECTS }; /* by_seq, max_rects */
static const char *arg_output;
static bool arg_html;

static void parse_opt(int c, const char *arg)
{
	char *end;

	switch (c) {
	case 'o':
		arg_output = arg;
		break;
	case 'S':
		arg_tl.by_seq = true;
		break;
	case 'M':
		errno = 0;
		arg_tl.max_rects = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || !arg_tl.max_rects)
			die("invalid --max-rects '%s': expected a positive number", arg);
		break;
	}
}

static void check(struct cmd_args *a, int argc, char **argv)
{
	const char *out = arg_output;

	args_no_operands(a, argc, argv);
	if (!out)
		die("timeline: -o FILE.svg or -o FILE.html is required");
	/* The extension says the format; "-", a pipe or a device without one gets SVG. */
	arg_html = has_suffix(out, ".html") || has_suffix(out, ".htm");
	if (!arg_html && !has_suffix(out, ".svg") && !out_file_in_place(out))
		die("timeline: cannot tell the format of '%s': name it FILE.svg or FILE.html", out);
}

static int cmd_timeline(struct cmd_args *a)
{
	struct store_ro *r = a->r;
	const char *db = a->db, *out = arg_output;
	struct timeline tl = arg_tl;
	struct pid_mms mms = { .n = 0 };
	bool html = arg_html;
	int err;

	tl.db = db;
	if (a->pid.pid) {
		err = store_query_process_mms(r, a->proc.id, add_pid_mm, &mms);
		if (err < 0)
			goto error_read;
		if (!mms.n) {
			log_error("timeline: process %d had no recorded address space", a->proc.pid);
			goto error;
		}
	}
	err = load(r, &tl, a->pid.pid ? &mms : NULL);
	if (err < 0)
		goto error_read;
	/* done with the DB before a long write: main closes what is left open */
	store_ro_close(a->r);
	a->r = r = NULL;

	/* A regular file is written beside, then renamed: a failed run leaves no half
	 * picture. A device, FIFO or symlink is written in place (out_file_open). */
	struct out_file o;
	err = out_file_open(&o, out);
	if (err < 0) {
		log_error("timeline: cannot write '%s': %s", out, strerror(-err));
		goto error;
	}
	err = html ? timeline_write_html(&tl, o.f) : timeline_write_svg(&tl, o.f);
	err = out_file_close(&o, err == -EIO ? 0 : err);
	if (err) {
		log_error("timeline: cannot write '%s': %s", out, strerror(-err));
		goto error;
	}
	timeline_free(&tl);
	return output_failed() ? 1 : 0;

error_read:
	db_read_error("timeline", db, r, err);
error:
	timeline_free(&tl);
	return 1;
}

QUERY_COMMAND(timeline, "d:p:o:h", parse_opt, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_OUTPUT, ARG_OPT_HELP,
	      { "seq", no_argument, NULL, 'S' },
	      { "max-rects", required_argument, NULL, 'M' });
