// SPDX-License-Identifier: MIT
/*
 * vmatrace timeline's output: the laid-out timeline (timeline.h) as an SVG picture, or as
 * an HTML page that holds the same SVG inline plus a small script for the hover box. The
 * page needs no network: no fonts, no libraries, nothing but itself.
 *
 * Every VMA rectangle is <rect class="v cKL"> (K: kind, L: perms level) with a <title>
 * child: the maps line, then the events that made and ended it. Browsers show <title> as
 * a native tooltip in the SVG; the HTML page moves the titles into its hover box.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "timeline.h"

/* Hue and saturation per kind (enum tl_kind), lightness per perms level (enum tl_level). */
static const struct {
	const char *name;
	int hue, sat;
} kinds[TL_NKINDS] = {
	[TL_FILE] = { "file", 212, 70 },   [TL_ANON] = { "anon", 130, 55 },
	[TL_HEAP] = { "heap", 32, 90 },    [TL_STACK] = { "stack", 0, 75 },
	[TL_SHARED] = { "shared", 282, 60 }, [TL_SPECIAL] = { "kernel", 0, 0 },
};
static const struct {
	const char *name;
	int light;
} levels[TL_NLEVELS] = {
	[TL_NONE] = { "---", 90 }, [TL_R] = { "r--", 74 },
	[TL_W] = { "rw-", 57 }, [TL_X] = { "r-x", 38 },
};

/*
 * xml_text - @s as XML character data: the five specials escaped, and what XML 1.0 cannot
 * hold (control bytes, bytes that are not well-formed UTF-8: paths are bytes) as \xNN,
 * so that the page always parses.
 */
static void xml_text(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned char c = *p;
		int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
		int i;

		if (c < 0x80) {
			if (c == '&')
				fputs("&amp;", out);
			else if (c == '<')
				fputs("&lt;", out);
			else if (c == '>')
				fputs("&gt;", out);
			else if (c == '"')
				fputs("&quot;", out);
			else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				fprintf(out, "\\x%02x", c);
			else
				fputc(c, out);
			p++;
			continue;
		}
		/* A multi-byte sequence: its continuation bytes, and no overlong C0/C1 lead. */
		for (i = 1; n > 0 && i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		if (n < 0 || i <= n || c == 0xc0 || c == 0xc1 || c > 0xf4) {
			fprintf(out, "\\x%02x", c);
			p++;
			continue;
		}
		fwrite(p, 1, (size_t)n + 1, out);
		p += n + 1;
	}
}

static const char *short_name(const char *name)
{
	const char *s = strrchr(name, '/');

	if (!*name)
		return "[anon]";
	return s && s[1] ? s + 1 : name;
}

static void print_size(FILE *out, uint64_t n)
{
	static const char units[] = "KMGTPE";
	double v = (double)n / 1024.0;
	int u = 0;

	while (v >= 1024.0 && u < 5)
		v /= 1024.0, u++;
	fprintf(out, v < 10.0 && v != floor(v) ? "%.1f %ciB" : "%.0f %ciB", v, units[u]);
}

static void write_style(FILE *out)
{
	fputs("<style>\n"
	      "text{font:11px sans-serif;fill:#222}\n"
	      ".t{font-weight:bold;font-size:12px}\n"
	      ".a{font:10px monospace;fill:#555}\n"
	      ".brk{stroke:#999;stroke-dasharray:4 3;fill:none}\n"
	      ".ax{stroke:#888}\n"
	      ".band{fill:#f6f6f6}\n"
	      "rect.v{stroke:none}\n"
	      ".sig{stroke:#d00;stroke-width:1.5px}\n"
	      ".sigm{fill:#d00}\n", out);
	for (int k = 0; k < TL_NKINDS; k++)
		for (int l = 0; l < TL_NLEVELS; l++)
			fprintf(out, ".c%d%d{fill:hsl(%d,%d%%,%d%%)}\n", k, l, kinds[k].hue,
				l == TL_NONE ? kinds[k].sat / 4 : kinds[k].sat, levels[l].light);
	fputs("</style>\n", out);
}

static void write_legend(const struct timeline *tl, FILE *out)
{
	double x = TL_MARGIN;

	fprintf(out, "<text class=\"t\" x=\"%g\" y=\"18\">vmatrace timeline: ", TL_MARGIN);
	xml_text(out, tl->db);
	fprintf(out, " \xe2\x80\x94 %zu VMA versions in %zu address space%s", tl->nversions,
		tl->npanels, tl->npanels == 1 ? "" : "s");
	if (tl->nrects < tl->nversions)
		fprintf(out, ", drawn as %zu rectangles (narrow ones merged)", tl->nrects);
	fputs("</text>\n", out);
	for (int k = 0; k < TL_NKINDS; k++) {
		for (int l = 0; l < TL_NLEVELS; l++)
			fprintf(out, "<rect class=\"c%d%d\" x=\"%g\" y=\"28\" width=\"10\" height=\"12\"/>",
				k, l, x + 10.0 * l);
		fprintf(out, "<text x=\"%g\" y=\"38\">%s</text>\n", x + 44.0, kinds[k].name);
		x += 120.0;
	}
	fprintf(out, "<text x=\"%g\" y=\"54\">lightness, left to right: ---, r--, rw-, r-x "
		"\xc2\xb7 x: %s \xc2\xb7 y: address (high at the top; unmapped gaps cut out)</text>\n",
		TL_MARGIN, tl->by_seq ? "event number" : "time since the start of the trace");
}

static void write_band(const struct tl_band *b, FILE *out, bool first)
{
	fprintf(out, "<rect class=\"band\" x=\"%g\" y=\"%.1f\" width=\"%g\" height=\"%.1f\"/>",
		TL_MARGIN + TL_LABEL_W, b->y, TL_WIDTH - 2 * TL_MARGIN - TL_LABEL_W, b->h);
	/* A break mark above every band but the first: a gap of the address space cut out. */
	if (!first)
		fprintf(out, "<path class=\"brk\" d=\"M%g %.1fH%g\"/>", TL_MARGIN,
			b->y - TL_GAP / 2, TL_WIDTH - TL_MARGIN);
	fprintf(out, "<text x=\"%g\" y=\"%.1f\">", TL_MARGIN, b->y + 11);
	xml_text(out, short_name(b->label));
	fputs(" (", out);
	print_size(out, b->hi - b->lo);
	fprintf(out, ")</text>");
	if (b->h >= 26)
		fprintf(out, "<text class=\"a\" x=\"%g\" y=\"%.1f\">%" PRIx64 "-%" PRIx64 "</text>",
			TL_MARGIN, b->y + 23, b->lo, b->hi);
	fputc('\n', out);
}

/* The tooltip: the maps line, then how the version began and ended. */
static void write_title(const struct timeline *tl, const struct tl_rect *r, FILE *out)
{
	const struct tl_version *v = &tl->panels[r->panel].v[r->v];
	const char *t;

	fputs("<title>", out);
	if (r->count > 1)
		fprintf(out, "%u versions merged (narrower than a pixel); the first:\n", r->count);
	xml_text(out, v->line);
	if (!v->born_seq) {
		fputs("\nborn: before the trace", out);
	} else {
		fprintf(out, "\nborn: seq %" PRIu64 ": ", v->born_seq);
		t = timeline_event_text(tl, v->born_seq);
		xml_text(out, t ? t : "?");
	}
	if (!v->died_seq) {
		fputs("\nended: alive at the end of the trace", out);
	} else {
		fprintf(out, "\nended: seq %" PRIu64 ": ", v->died_seq);
		t = timeline_event_text(tl, v->died_seq);
		xml_text(out, t ? t : "?");
	}
	fputs("</title>", out);
}

static void write_axis(const struct timeline *tl, FILE *out)
{
	double y = tl->height - TL_AXIS + 4, span = (double)(tl->x_end - tl->x_start);
	double first;
	double raw, mag, step;

	if (span <= 0)
		span = 1;
	/* 1, 2 or 5 times a power of ten, for 4 to 10 ticks. */
	raw = span / 8;
	mag = pow(10, floor(log10(raw)));
	step = raw / mag <= 1 ? mag : raw / mag <= 2 ? 2 * mag : raw / mag <= 5 ? 5 * mag : 10 * mag;
	if (tl->by_seq && step < 1)
		step = 1;
	fprintf(out, "<path class=\"ax\" d=\"M%g %gH%g\"/>\n", tl->plot_x, y,
		tl->plot_x + tl->plot_w);
	/* Ticks at round values from the left edge (not 0 when zoomed on a process). */
	first = ceil((double)tl->x_start / step) * step;
	for (double v = first; v <= (double)tl->x_end; v += step) {
		double x = tl->plot_x + tl->plot_w * (v - (double)tl->x_start) / span;

		fprintf(out, "<path class=\"ax\" d=\"M%.1f %gv5\"/>", x, y);
		if (tl->by_seq)
			fprintf(out, "<text x=\"%.1f\" y=\"%g\">%.0f</text>\n", x - 4, y + 17, v);
		else
			fprintf(out, "<text x=\"%.1f\" y=\"%g\">%g ms</text>\n", x - 8, y + 17, v / 1e6);
	}
	fprintf(out, "<text x=\"%g\" y=\"%g\">%s</text>\n", TL_MARGIN, y + 17,
		tl->by_seq ? "event (seq)" : "time");
}

int timeline_write_svg(const struct timeline *tl, FILE *out)
{
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%.0f\""
		" viewBox=\"0 0 %g %.0f\">\n", tl->width, tl->height, tl->width, tl->height);
	write_style(out);
	write_legend(tl, out);
	for (size_t i = 0; i < tl->npanels; i++) {
		const struct tl_panel *p = &tl->panels[i];

		fprintf(out, "<g class=\"mm\" data-mm=\"%" PRIu64 "\">\n<text class=\"t\" x=\"%g\""
			" y=\"%.1f\">", p->mm, TL_MARGIN, p->y + 16);
		xml_text(out, p->title);
		fprintf(out, " \xc2\xb7 %zu VMA versions</text>\n", p->n);
		for (size_t j = 0; j < p->nbands; j++)
			write_band(&p->bands[j], out, j == 0);
		fputs("</g>\n", out);
	}
	fputs("<g class=\"vmas\">\n", out);
	for (size_t i = 0; i < tl->nrects; i++) {
		const struct tl_rect *r = &tl->rects[i];

		fprintf(out, "<rect class=\"v c%d%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
			" height=\"%.1f\">", r->cls / TL_NLEVELS, r->cls % TL_NLEVELS, r->x, r->y,
			r->w, r->h);
		write_title(tl, r, out);
		fputs("</rect>\n", out);
	}
	fputs("</g>\n", out);
	/* Fault signals: a red line across the panel of their mm, a flag on top. */
	fputs("<g class=\"sigs\">\n", out);
	for (size_t i = 0; i < tl->nmarks; i++) {
		const struct tl_mark *m = &tl->marks[i];
		const struct tl_panel *p = &tl->panels[m->panel];
		double x = timeline_x(tl, m->seq), top = p->y + TL_PANEL_HEAD;

		fprintf(out, "<g class=\"sig\" data-seq=\"%" PRIu64 "\"><title>", m->seq);
		xml_text(out, m->text);
		fprintf(out, "</title><path class=\"sig\" d=\"M%.1f %.1fV%.1f\"/><path class=\"sigm\""
			" d=\"M%.1f %.1fl-5 -8h10z\"/></g>\n", x, top, p->y + p->h, x, top);
	}
	fputs("</g>\n", out);
	write_axis(tl, out);
	fputs("</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}

/*
 * The page's script: take every rectangle's <title> out (so that the browser's own
 * tooltip does not double the box), keep its text, and show it in a box that follows the
 * pointer, with the rectangle outlined.
 */
static const char page_script[] =
	"(function () {\n"
	"  'use strict';\n"
	"  var tip = document.getElementById('tip');\n"
	"  var svg = document.querySelector('svg');\n"
	"  var rects = svg.querySelectorAll('rect.v');\n"
	"  var texts = new Array(rects.length);\n"
	"  var hot = null;\n"
	"  for (var i = 0; i < rects.length; i++) {\n"
	"    var t = rects[i].querySelector('title');\n"
	"    texts[i] = t ? t.textContent : '';\n"
	"    if (t) t.remove();\n"
	"    rects[i].setAttribute('data-i', i);\n"
	"  }\n"
	"  function hide() {\n"
	"    tip.style.display = 'none';\n"
	"    if (hot) hot.classList.remove('hot');\n"
	"    hot = null;\n"
	"  }\n"
	"  svg.addEventListener('mousemove', function (e) {\n"
	"    var i = e.target.getAttribute && e.target.getAttribute('data-i');\n"
	"    if (i === null || i === undefined) { hide(); return; }\n"
	"    if (hot !== e.target) {\n"
	"      if (hot) hot.classList.remove('hot');\n"
	"      hot = e.target;\n"
	"      hot.classList.add('hot');\n"
	"      tip.textContent = texts[+i];\n"
	"      tip.style.display = 'block';\n"
	"    }\n"
	"    var x = e.pageX + 14, y = e.pageY + 14;\n"
	"    if (x + tip.offsetWidth > window.scrollX + window.innerWidth)\n"
	"      x = Math.max(window.scrollX, e.pageX - 14 - tip.offsetWidth);\n"
	"    tip.style.left = x + 'px';\n"
	"    tip.style.top = y + 'px';\n"
	"  });\n"
	"  svg.addEventListener('mouseleave', hide);\n"
	"  document.body.setAttribute('data-vmas', String(rects.length));\n"
	"})();\n";

int timeline_write_html(const struct timeline *tl, FILE *out)
{
	int err;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<title>vmatrace timeline: ", out);
	xml_text(out, tl->db);
	fputs("</title>\n<style>\n"
	      "body{margin:0;background:#fff}\n"
	      "#tip{position:absolute;display:none;max-width:900px;padding:6px 8px;"
	      "background:#fffff0;border:1px solid #888;box-shadow:2px 2px 6px #0003;"
	      "font:12px monospace;white-space:pre-wrap;pointer-events:none}\n"
	      "rect.v.hot{stroke:#000;stroke-width:1.5px}\n"
	      "</style>\n</head>\n<body>\n<div id=\"tip\"></div>\n", out);
	err = timeline_write_svg(tl, out);
	if (err)
		return err;
	fprintf(out, "<script>\n%s</script>\n</body>\n</html>\n", page_script);
	return ferror(out) ? -EIO : 0;
}
