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

/* parse_range - -A's "LOW,HIGH", "LOW,", ",HIGH" or "ADDR" into @o, or die. */
static void parse_range(const char *arg, struct maps_out *o)
{
	const char *comma = strchr(arg, ',');
	char low[64];

	if (!comma) {
		o->low = parse_addr(arg);
		o->high = o->low + 1;
		return;
	}
	if ((size_t)(comma - arg) >= sizeof(low))
		die("maps: invalid -A '%s': expected LOW,HIGH (0x-hex or decimal)", arg);
	memcpy(low, arg, (size_t)(comma - arg));
	low[comma - arg] = '\0';
	o->low = low[0] ? parse_addr(low) : 0;
	o->high = comma[1] ? parse_addr(comma + 1) : UINT64_MAX;
	if (o->low >= o->high)
		die("maps: invalid -A '%s': LOW must be below HIGH", arg);
}

uint64_t parse_seq(const char *s, const char *what)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0)
		die("invalid %s '%s': expected an event number (seq, from 1)", what, s);
	return v;
}

int cmd_maps(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "at", required_argument, NULL, 'a' },
		{ "extended", no_argument, NULL, 'x' },
		{ "range", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *db = DB_DEFAULT;
	struct proc_ref pid = { 0 };
	struct maps_out o = { .high = UINT64_MAX };
	uint64_t at = 0, mm;
	struct store_proc_info p;
	int c, err;

	while ((c = getopt_long(argc, argv, "d:p:a:xA:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			parse_proc_ref(optarg, "--pid", &pid);
			break;
		case 'a':
			at = parse_seq(optarg, "--at");
			break;
		case 'x':
			o.extended = true;
			break;
		case 'A':
			parse_range(optarg, &o);
			break;
		case 'J':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		die("maps: unexpected argument '%s'", argv[optind]);
	if (!pid.pid)
		die("maps: --pid is required (see 'vmatrace ps' for the processes)");
	if (o.json && o.extended)
		die("maps: --json and -x are two outputs: choose one");

	struct store_ro *r = open_db_or_die(db);
	if (resolve_process(r, "maps", db, &pid, &p) < 0 ||
	    process_mm_at(r, "maps", db, &pid, &p, &at, &mm) < 0)
		goto error;
	if (o.extended)
		printf("Address           Kbytes Mode  Mapping\n");
	err = store_query_vmas_at(r, mm, at, print_vma, &o);
	if (err < 0) {
		db_read_error("maps", db, r, err);
		goto error;
	}
	if (o.extended)
		printf("---------------- -------\ntotal kB %15" PRIu64 "\n", o.total / 1024);
	store_ro_close(r);
	return 0;

error:
	store_ro_close(r);
	return 1;
}
