// SPDX-License-Identifier: MIT
/*
 * vmatrace events: the recorded events, one line each, decoded like strace, or as JSON
 * Lines with --json. Filters: --pid, --tid, --mm, --syscall LIST.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "sysent.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace events [-d DB] [--pid P] [--tid T] [--mm M] [--syscall LIST] "
		"[--stacks] [--json]\n"
		"\n"
		"Print the recorded events in order, decoded like strace.\n"
		"\n"
		"  -d, --db DB        read DB (default ./%s)\n"
		"  -p, --pid P        only process P (PID, or PID@N for the Nth with that pid)\n"
		"  -t, --tid T        only thread T\n"
		"      --mm M         only address space M\n"
		"  -e, --syscall LIST only these syscalls (comma-separated names, or %%memory,\n"
		"                     %%process)\n"
		"  -k, --stacks       each event's user stack (run --stacks) under it, as strace -k:\n"
		"                     \" > MODULE(FUNCTION+OFFSET) [ELF ADDRESS]\"; with --json,\n"
		"                     a \"stack\" array of frames\n"
		"      --json         JSON Lines: seq, time_ns, pid, tid, mm, syscall, args, ret\n"
		"  -h, --help         show this help\n",
		DB_DEFAULT);
}

struct print_ctx {
	bool json;
	bool stacks;
	struct store_ro *r;
};

static int print_one(const struct event *ev, void *data)
{
	struct print_ctx *ctx = data;

	if (ctx->json && ctx->stacks)
		return event_print_json_stack(ctx->r, ev, stdout);
	if (ctx->json)
		event_print_json(ev, stdout);
	else
		event_print(ev, stdout);
	if (ctx->stacks && !ctx->json)
		return stack_print_text(ctx->r, ev->stack_id, stdout);
	return 0;
}

int cmd_events(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "tid", required_argument, NULL, 't' },
		{ "mm", required_argument, NULL, 'M' },
		{ "syscall", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'J' },
		{ "stacks", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *db = DB_DEFAULT, *list = NULL;
	struct store_event_filter f = { 0 };
	struct print_ctx ctx = { 0 };
	struct proc_ref pid = { 0 };
	int c, *nrs = NULL;

	while ((c = getopt_long(argc, argv, "d:p:t:e:kh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			parse_proc_ref(optarg, "--pid", &pid);
			break;
		case 't':
			f.tid = parse_pid(optarg, "--tid");
			break;
		case 'M':
			f.mm = (uint64_t)parse_pid(optarg, "--mm");
			break;
		case 'e':
			list = optarg;
			break;
		case 'J':
			ctx.json = true;
			break;
		case 'k':
			ctx.stacks = true;
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
		die("events: unexpected argument '%s'", argv[optind]);
	if (list) {
		const char *bad = NULL;
		int n = sysent_parse_list(list, &nrs, &bad);
		if (n < 0)
			die("events: unknown syscall '%s' in --syscall", bad ? bad : list);
		f.nrs = nrs;
		f.n_nrs = n;
		f.syscalls_only = true;
	}

	struct store_ro *r = open_db_or_die(db);
	struct store_proc_info p;
	int err = 0;
	ctx.r = r;
	if (pid.pid && resolve_process(r, "events", db, &pid, &p) == 0) {
		/* That process's life only: the pid may have been reused. */
		f.pid = p.pid;
		f.min_seq = p.start_seq;
		f.max_seq = p.end_seq;
	}
	if (pid.pid && !f.pid) {
		err = 1;
	} else if (f.tid && store_has_tid(r, f.tid) == 0) {
		log_error("events: no thread %d in '%s'", f.tid, db);
		err = 1;
	} else if (f.mm && store_has_mm(r, f.mm) == 0) {
		log_error("events: no address space %" PRIu64 " in '%s'", f.mm, db);
		err = 1;
	} else if ((err = store_query_events(r, &f, print_one, &ctx)) < 0) {
		db_read_error("events", db, r, err);
		err = 1;
	}
	store_ro_close(r);
	free(nrs);
	if (err)
		return 1;
	return 0;
}
