/* SPDX-License-Identifier: MIT */
/*
 * vmatrace timeline: the picture of address spaces over time. timeline.c loads the VMA
 * versions of the chosen mms and lays them out (compressed address bands, rectangles,
 * sampling); timeline_svg.c writes the layout as SVG or as an HTML page around the SVG.
 *
 * Coordinates are SVG pixels. Every string here is owned by the struct that holds it and
 * freed by timeline_free().
 */
#ifndef VMATRACE_TIMELINE_H
#define VMATRACE_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store_timeline.h"

/* What a VMA version is, for its colour (hue). */
enum tl_kind {
	TL_FILE,    /* a mapped file, private */
	TL_ANON,    /* anonymous memory, [anon:name] */
	TL_HEAP,    /* [heap] */
	TL_STACK,   /* [stack] */
	TL_SHARED,  /* any MAP_SHARED mapping (perms "...s"), file or /dev/zero or SysV */
	TL_SPECIAL, /* [vdso], [vvar], [vsyscall], [uprobes]: the kernel's */
	TL_NKINDS
};

/* Its perms, for its lightness: the strongest of x, w, r; none for PROT_NONE. */
enum tl_level { TL_NONE, TL_R, TL_W, TL_X, TL_NLEVELS };

/* One VMA version of a drawn mm. */
struct tl_version {
	uint64_t id;                /* vma.id */
	uint64_t start, end;
	uint64_t born_seq, died_seq; /* died_seq 0: alive at the end of the trace */
	char *line;                 /* its /proc/PID/maps line */
	const char *name;           /* points into line: its name, "" for none */
	uint8_t kind, level;        /* enum tl_kind, enum tl_level */
};

/* An occupied band of one mm's address space: the union of ranges that were ever mapped. */
struct tl_band {
	uint64_t lo, hi;            /* [lo, hi) */
	double y, h;                /* top and height on the page: hi is drawn at y */
	const char *label;          /* main name: the name of its largest version */
};

/* A rectangle to draw: one version, or several merged by sampling. */
struct tl_rect {
	float x, y, w, h;
	uint32_t v;                 /* index of its (first) version in the panel */
	uint32_t count;             /* versions merged into it, 1 normally */
	uint8_t cls;                /* kind * TL_NLEVELS + level */
	uint32_t panel;
};

/* A fault signal (+signal event) of a drawn mm: a red marker across its panel. */
struct tl_mark {
	uint64_t seq;
	size_t panel;
	char *text;                 /* the decoded event, for its tooltip */
};

/* One mm's panel. */
struct tl_panel {
	uint64_t mm;
	int pid;
	char *title;                /* "mm 3 · pid 1234 · /bin/true" */
	struct tl_version *v;
	size_t n, cap;
	struct tl_band *bands;
	size_t nbands;
	double y, h;                /* top of the panel (its title) and its height */
};

struct timeline {
	bool by_seq;                /* x is the event number, not the time */
	struct store_event_times times; /* event times (store_query_event_times) */
	uint64_t x_start, x_end;    /* the left and right edges, in ns or seq */
	struct tl_panel *panels;
	size_t npanels;
	struct tl_rect *rects;
	size_t nrects;
	size_t max_rects;           /* sampling threshold (--max-rects) */
	size_t nversions;           /* versions of every panel */
	double width, height;       /* of the page */
	double plot_x, plot_w;      /* the time axis spans [plot_x, plot_x + plot_w] */
	/* Decoded events named by the rectangles (for the tooltips), sorted by seq. */
	uint64_t *ev_seq;
	char **ev_text;
	size_t nev;
	struct tl_mark *marks;      /* fault signals, in seq order */
	size_t nmarks;
	const char *db;             /* for the header */
};

/* Page geometry. */
#define TL_WIDTH 1280.0
#define TL_LABEL_W 230.0            /* the band labels, left of the plot */
#define TL_MARGIN 16.0
#define TL_TOP 64.0                 /* the legend */
#define TL_PANEL_HEAD 26.0          /* a panel's title line */
#define TL_GAP 12.0                 /* an unmapped gap between two bands */
#define TL_AXIS 36.0                /* the time axis under the last panel */
#define TL_MAX_RECTS 20000

/* timeline_event_text - the decoded event @seq ("[1234] mmap(...) = 0x7f..."), or NULL. */
const char *timeline_event_text(const struct timeline *tl, uint64_t seq);

/* timeline_x - the x of event @seq's time (or of @seq itself with by_seq). */
double timeline_x(const struct timeline *tl, uint64_t seq);

/* timeline_write_svg, timeline_write_html - the page to @out. 0 or -errno (write error). */
int timeline_write_svg(const struct timeline *tl, FILE *out);
int timeline_write_html(const struct timeline *tl, FILE *out);

#endif
