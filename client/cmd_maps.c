// SPDX-License-Identifier: MIT
/*
 * vmatrace maps: the replayed map of a process after an event, exactly in /proc/PID/maps
 * format, from the stored VMA versions (an indexed query, not a replay from the start);
 * or in pmap -x's columns (-x), or as JSON Lines (--json); -A keeps an address range.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "stresc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace maps [-d DB] --pid P [--at SEQ] [-x] [-A LOW,HIGH] [--json]\n"
		"\n"
		"Print the map of process P after event SEQ (default: its last state), as\n"
		"/proc/P/maps showed it then.\n"
		"\n"
		"  -d, --db DB          read DB (default ./%s)\n"
		"  -p, --pid P          the process: PID (the most recent one with that pid) or\n"
		"                       PID@N (the Nth, from 1; see 'vmatrace ps')\n"
		"  -a, --at SEQ         after event SEQ (see 'vmatrace events')\n"
		"  -x, --extended       pmap -x columns: Address, Kbytes, Mode, Mapping, and a\n"
		"                       'total kB' line (no RSS or Dirty: a trace does not know\n"
		"                       which pages were touched)\n"
		"  -A, --range LOW,HIGH only the VMAs that overlap [LOW, HIGH) (0x-hex or decimal;\n"
		"                       'LOW,' and ',HIGH' leave a side open; one ADDR alone: the\n"
		"                       VMA that covers it)\n"
		"      --json           JSON Lines: one object per VMA (start, end, perms, offset,\n"
		"                       dev, ino, name, born_seq, origin_unknown)\n"
		"  -h, --help           show this help\n",
		DB_DEFAULT);
}

struct maps_out {
	bool extended, json;
	uint64_t low, high;     /* -A: [low, high) */
	uint64_t total;         /* bytes printed, for -x's total */
};

/* pmap's Mapping column: the file's basename, "[ stack ]", or "[ anon ]" for the rest. */
static const char *pmap_mapping(const struct store_vma *v)
{
	const char *slash;

	if (v->name[0] == '/') {
		slash = strrchr(v->name, '/');
		return slash[1] ? slash + 1 : v->name;
	}
	return strcmp(v->name, "[stack]") ? "  [ anon ]" : "  [ stack ]";
}

static int print_vma(const struct store_vma *v, uint64_t id, void *data)
{
	struct maps_out *o = data;
	char line[8192];

	(void)id;
	if (v->end <= o->low || v->start >= o->high)
		return 0;
	o->total += v->end - v->start;
	if (o->json) {
		vma_print_json(v, stdout);
		putchar('\n');
	} else if (o->extended) {
		/* pmap's mode: rwx, then 's' for a shared mapping, then the reserve flag. */
		printf("%016" PRIx64 " %7" PRIu64 " %.3s%c- ", v->start,
		       (v->end - v->start) / 1024, v->perms, v->perms[3] == 's' ? 's' : '-');
		stresc_print_name(stdout, pmap_mapping(v));
		putchar('\n');
	} else {
		vma_format_maps(v, line, sizeof(line));
		puts(line);
	}
	return 0;
}

static struct maps_out arg_out = { .high = UINT64_MAX };
static uint64_t arg_at;         /* --at SEQ, 0: the process's last state */

static void parse_opt(int c, const char *arg)
{
	switch (c) {
	case 'a':
		arg_at = parse_seq(arg, "--at");
		break;
	case 'x':
		arg_out.extended = true;
		break;
	case 'A':
		parse_addr_range(arg, "maps", "-A", &arg_out.low, &arg_out.high);
		break;
	}
}

static void check(struct cmd_args *a, int argc, char **argv)
{
	args_no_operands(a, argc, argv);
	/* without --pid, main's "--pid is required" comes first, as it always did */
	if (a->pid.pid && a->json && arg_out.extended)
		die("maps: --json and -x are two outputs: choose one");
}

static int cmd_maps(struct cmd_args *a)
{
	struct maps_out *o = &arg_out;
	uint64_t at = arg_at, mm;
	int err;

	o->json = a->json;
	if (process_mm_at(a->r, "maps", a->db, &a->pid, &a->proc, &at, &mm) < 0)
		return 1;
	if (o->extended)
		printf("Address           Kbytes Mode  Mapping\n");
	err = store_query_vmas_at(a->r, mm, at, print_vma, o);
	if (err < 0) {
		db_read_error("maps", a->db, a->r, err);
		return 1;
	}
	if (o->extended)
		printf("---------------- -------\ntotal kB %15" PRIu64 "\n", o->total / 1024);
	return 0;
}

QUERY_COMMAND(maps, "d:p:a:xA:h", parse_opt, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP,
	      { "at", required_argument, NULL, 'a' },
	      { "extended", no_argument, NULL, 'x' },
	      { "range", required_argument, NULL, 'A' });
