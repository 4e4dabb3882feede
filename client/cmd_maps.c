// SPDX-License-Identifier: MIT
/*
 * vmatrace maps: the replayed map of a process after an event, exactly in /proc/PID/maps
 * format, from the stored VMA versions (an indexed query, not a replay from the start).
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

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace maps [-d DB] --pid P [--at SEQ]\n"
		"\n"
		"Print the map of process P after event SEQ (default: its last state), as\n"
		"/proc/P/maps showed it then.\n"
		"\n"
		"  -d, --db DB     read DB (default ./%s)\n"
		"  -p, --pid P     the process: PID (the most recent one with that pid) or\n"
		"                  PID@N (the Nth, from 1)\n"
		"  -a, --at SEQ    after event SEQ (see 'vmatrace events')\n"
		"  -h, --help      show this help\n",
		DB_DEFAULT);
}

static int print_vma(const struct store_vma *v, uint64_t id, void *data)
{
	char line[8192];

	(void)id;
	(void)data;
	vma_format_maps(v, line, sizeof(line));
	puts(line);
	return 0;
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
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *db = DB_DEFAULT;
	struct proc_ref pid = { 0 };
	uint64_t at = 0, mm, last;
	char name[PROC_REF_NAME_MAX];
	struct store_proc_info p;
	int c, err;

	while ((c = getopt_long(argc, argv, "d:p:a:h", opts, NULL)) != -1) {
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

	struct store_ro *r = open_db_or_die(db);
	if (resolve_process(r, "maps", db, &pid, &p) < 0)
		goto error;
	err = store_query_last_seq(r, &last);
	if (err < 0) {
		log_error("maps: cannot read '%s': %s", db, store_ro_errmsg(r));
		goto error;
	}
	if (at > last) {
		log_error("maps: event %" PRIu64 " is past the end of the trace (last: %" PRIu64 ")",
			  at, last);
		goto error;
	}
	/* Default: the last state, the one just before the process's end. */
	if (!at)
		at = p.end_seq ? p.end_seq - 1 : last;
	err = store_query_mm_of_process(r, p.id, at, &mm);
	/* mm 0 is the client's own image before the first execve: not recorded. */
	if (err == -ENOENT || (err == 0 && (!mm || at < p.start_seq ||
					    (p.end_seq && at >= p.end_seq)))) {
		log_error("maps: process %s had no recorded map after event %" PRIu64
			  " (it lived from event %" PRIu64 " to %s)",
			  proc_ref_name(&pid, name), at, p.start_seq,
			  p.end_seq ? "its end" : "the end of the trace");
		goto error;
	}
	if (err == 0)
		err = store_query_vmas_at(r, mm, at, print_vma, NULL);
	if (err < 0) {
		log_error("maps: cannot read '%s': %s", db, store_ro_errmsg(r));
		goto error;
	}
	store_ro_close(r);
	return 0;

error:
	store_ro_close(r);
	return 1;
}
