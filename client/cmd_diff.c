// SPDX-License-Identifier: MIT
/*
 * vmatrace diff: how the map of a process changed between two events. Both maps come from
 * store_query_vmas_at() (one indexed query each, whatever the trace's length), in address
 * order, and are merged by start address:
 * - a VMA whose start is in one map only was added or removed;
 * - a VMA whose start is in both is the same VMA; it "changed" if its end (size), perms,
 *   offset, file or name differ, and is left out if nothing differs.
 * So a split (mprotect of the tail of a VMA) shows as the VMA changed in size plus the new
 * tail added, and a merge into the lower VMA as a size change plus the absorbed neighbour
 * removed: the kernel keeps the vm_area_struct at the lower address in both cases, and so
 * do we. A VMA whose start moved (a mapping merged into the VMA above it, which grows
 * down; mremap) shows as removed and added: matching by overlap would guess.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace diff [-d DB] --pid P [--json] SEQ1 SEQ2\n"
		"\n"
		"How the map of process P changed from after event SEQ1 to after event SEQ2: the\n"
		"VMAs added (+), removed (-) and changed (~- before, ~+ after), in address order,\n"
		"as /proc/P/maps lines, then the totals (VMAs, virtual size) before and after.\n"
		"VMAs are matched by start address: one with the same start in both maps is the\n"
		"same VMA, changed if its size, perms, offset, file or name differ. A split shows\n"
		"as the first part changed (size) and the others added; a merge as a size change\n"
		"and the absorbed VMAs removed; a VMA whose start moved as removed and added.\n"
		"If P exec'd in between, the two address spaces are compared all the same, and\n"
		"a '#' line says so.\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"  -p, --pid P   the process: PID or PID@N (see 'vmatrace ps')\n"
		"      --json    one JSON object: pid, from and to (seq, mm, vmas, bytes),\n"
		"                mm_changed, added, removed, changed (what, before, after)\n"
		"  -h, --help    show this help\n",
		DB_DEFAULT);
}

/* One map: its VMAs in address order, with copies of their names. */
struct vlist {
	struct store_vma *v;
	size_t n, cap;
	uint64_t bytes;
};

static int keep_vma(const struct store_vma *v, uint64_t id, void *data)
{
	struct vlist *l = data;

	(void)id;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n] = *v;
	l->v[l->n].name = xstrdup(v->name ? v->name : "");
	l->n++;
	l->bytes += v->end - v->start;
	return 0;
}

static void vlist_release(struct vlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->v[i].name);
	free(l->v);
}

/* What differs between two versions of the VMA at one start, as a bit set. */
enum {
	CH_SIZE = 1,
	CH_PERMS = 2,
	CH_OFFSET = 4,
	CH_FILE = 8,    /* dev or inode */
	CH_NAME = 16,
};
static const char *const ch_names[] = { "size", "perms", "offset", "file", "name" };

static unsigned changes(const struct store_vma *a, const struct store_vma *b)
{
	return (a->end != b->end ? CH_SIZE : 0) | (strcmp(a->perms, b->perms) ? CH_PERMS : 0) |
	       (a->offset != b->offset ? CH_OFFSET : 0) |
	       (a->dev != b->dev || a->ino != b->ino ? CH_FILE : 0) |
	       (strcmp(a->name, b->name) ? CH_NAME : 0);
}

struct diff {
	struct vlist from, to;
	uint64_t seq[2], mm[2];
	bool json;
	size_t added, removed, changed;
	int json_kind;          /* the array being printed: 0 added, 1 removed, 2 changed */
	bool json_first;        /* no element printed in it yet */
};

static void text_line(const char *mark, const struct store_vma *v)
{
	char line[8192];

	vma_format_maps(v, line, sizeof(line));
	printf("%-2s %s\n", mark, line);
}

/*
 * walk - the merge by start: calls @fn(a, b) with a from the first map, b from the second
 * (either NULL when the start is in one map only) for every VMA that differs.
 */
static void walk(struct diff *d, void (*fn)(struct diff *d, const struct store_vma *a,
					    const struct store_vma *b, unsigned what))
{
	size_t i = 0, j = 0;

	while (i < d->from.n || j < d->to.n) {
		const struct store_vma *a = i < d->from.n ? &d->from.v[i] : NULL;
		const struct store_vma *b = j < d->to.n ? &d->to.v[j] : NULL;

		if (a && (!b || a->start < b->start)) {
			fn(d, a, NULL, 0);
			i++;
		} else if (b && (!a || b->start < a->start)) {
			fn(d, NULL, b, 0);
			j++;
		} else {
			unsigned what = changes(a, b);
			if (what)
				fn(d, a, b, what);
			i++;
			j++;
		}
	}
}

static void count(struct diff *d, const struct store_vma *a, const struct store_vma *b,
		  unsigned what)
{
	(void)what;
	d->added += !a;
	d->removed += !b;
	d->changed += a && b;
}

static void print_text(struct diff *d, const struct store_vma *a, const struct store_vma *b,
		       unsigned what)
{
	(void)what;
	if (a && b) {
		text_line("~-", a);
		text_line("~+", b);
	} else {
		text_line(a ? "-" : "+", a ? a : b);
	}
}

/* JSON: three arrays, filled by three walks (one per kind), so that each is one array. */
static void print_json(struct diff *d, const struct store_vma *a, const struct store_vma *b,
		       unsigned what)
{
	int kind = !a ? 0 : !b ? 1 : 2;

	if (kind != d->json_kind)
		return;
	if (!d->json_first)
		putchar(',');
	d->json_first = false;
	if (kind < 2) {
		vma_print_json(a ? a : b, stdout);
		return;
	}
	printf("{\"what\":[");
	for (unsigned k = 0, n = 0; k < sizeof(ch_names) / sizeof(ch_names[0]); k++)
		if (what & (1u << k))
			printf("%s\"%s\"", n++ ? "," : "", ch_names[k]);
	printf("],\"before\":");
	vma_print_json(a, stdout);
	printf(",\"after\":");
	vma_print_json(b, stdout);
	putchar('}');
}

static void signed_kb(char *buf, size_t size, uint64_t from, uint64_t to)
{
	if (to >= from)
		snprintf(buf, size, "+%" PRIu64, (to - from) / 1024);
	else
		snprintf(buf, size, "-%" PRIu64, (from - to) / 1024);
}

static void output(struct diff *d, const char *name, pid_t pid)
{
	static const char *const kinds[] = { "added", "removed", "changed" };
	char dk[32];

	walk(d, count);
	if (d->json) {
		printf("{\"pid\":%d,\"process\":\"%s\"", pid, name);
		for (int k = 0; k < 2; k++)
			printf(",\"%s\":{\"seq\":%" PRIu64 ",\"mm\":%" PRIu64 ",\"vmas\":%zu,"
			       "\"bytes\":%" PRIu64 "}", k ? "to" : "from", d->seq[k], d->mm[k],
			       k ? d->to.n : d->from.n, k ? d->to.bytes : d->from.bytes);
		printf(",\"mm_changed\":%s", d->mm[0] != d->mm[1] ? "true" : "false");
		for (d->json_kind = 0; d->json_kind < 3; d->json_kind++) {
			printf(",\"%s\":[", kinds[d->json_kind]);
			d->json_first = true;
			walk(d, print_json);
			putchar(']');
		}
		printf("}\n");
		return;
	}
	for (int k = 0; k < 2; k++)
		printf("%s %s after event %" PRIu64 ": mm %" PRIu64 ", %zu VMAs, %" PRIu64 " kB\n",
		       k ? "+++" : "---", name, d->seq[k], d->mm[k], k ? d->to.n : d->from.n,
		       (k ? d->to.bytes : d->from.bytes) / 1024);
	if (d->mm[0] != d->mm[1])
		printf("# process %s changed address space (execve) between the two events: "
		       "comparing mm %" PRIu64 " with mm %" PRIu64 "\n", name, d->mm[0], d->mm[1]);
	walk(d, print_text);
	signed_kb(dk, sizeof(dk), d->from.bytes, d->to.bytes);
	printf("total: %zu -> %zu VMAs (%+" PRId64 "), %" PRIu64 " -> %" PRIu64 " kB (%s kB); "
	       "%zu added, %zu removed, %zu changed\n", d->from.n, d->to.n,
	       (int64_t)d->to.n - (int64_t)d->from.n, d->from.bytes / 1024, d->to.bytes / 1024, dk,
	       d->added, d->removed, d->changed);
}

static struct diff arg_diff;     /* its seq[] from the command line */

static void check(struct cmd_args *a, int argc, char **argv)
{
	(void)a;
	if (argc != 2)
		die("diff: expected two event numbers, SEQ1 SEQ2 (see 'vmatrace diff --help')");
	arg_diff.seq[0] = parse_seq(argv[0], "SEQ1");
	arg_diff.seq[1] = parse_seq(argv[1], "SEQ2");
}

static int cmd_diff(struct cmd_args *a)
{
	struct diff *d = &arg_diff;
	char name[PROC_REF_NAME_MAX];
	int err;

	d->json = a->json;
	if (process_mm_at(a->r, "diff", a->db, &a->pid, &a->proc, &d->seq[0], &d->mm[0]) < 0 ||
	    process_mm_at(a->r, "diff", a->db, &a->pid, &a->proc, &d->seq[1], &d->mm[1]) < 0)
		return 1;
	err = store_query_vmas_at(a->r, d->mm[0], d->seq[0], keep_vma, &d->from);
	if (!err)
		err = store_query_vmas_at(a->r, d->mm[1], d->seq[1], keep_vma, &d->to);
	if (err < 0)
		db_read_error("diff", a->db, a->r, err);
	else
		output(d, proc_ref_name(&a->pid, name), a->proc.pid);
	vlist_release(&d->from);
	vlist_release(&d->to);
	return err < 0 ? 1 : 0;
}

QUERY_COMMAND(diff, "d:p:h", NULL, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP);
