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

static struct store_event_filter arg_filter;
static struct print_ctx arg_print;
static const char *arg_syscalls;        /* --syscall LIST */

static void parse_opt(int c, const char *arg)
{
	switch (c) {
	case 't':
		arg_filter.tid = parse_pid(arg, "--tid");
		break;
	case 'M':
		arg_filter.mm = (uint64_t)parse_pid(arg, "--mm");
		break;
	case 'e':
		arg_syscalls = arg;
		break;
	case 'k':
		arg_print.stacks = true;
		break;
	}
}

static void check(struct cmd_args *a, int argc, char **argv)
{
	const char *bad = NULL;
	int n, *nrs = NULL;

	args_no_operands(a, argc, argv);
	if (!arg_syscalls)
		return;
	n = sysent_parse_list(arg_syscalls, &nrs, &bad);
	if (n < 0)
		die("events: unknown syscall '%s' in --syscall", bad ? bad : arg_syscalls);
	arg_filter.nrs = nrs;
	arg_filter.n_nrs = n;
	arg_filter.syscalls_only = true;
}

static int cmd_events(struct cmd_args *a)
{
	struct store_event_filter *f = &arg_filter;
	int err = 0;

	arg_print.r = a->r;
	arg_print.json = a->json;
	if (a->pid.pid) {
		/* That process's life only: the pid may have been reused. */
		f->pid = a->proc.pid;
		f->min_seq = a->proc.start_seq;
		f->max_seq = a->proc.end_seq;
	}
	if (f->tid && store_has_tid(a->r, f->tid) == 0) {
		log_error("events: no thread %d in '%s'", f->tid, a->db);
		err = 1;
	} else if (f->mm && store_has_mm(a->r, f->mm) == 0) {
		log_error("events: no address space %" PRIu64 " in '%s'", f->mm, a->db);
		err = 1;
	} else if ((err = store_query_events(a->r, f, print_one, &arg_print)) < 0) {
		db_read_error("events", a->db, a->r, err);
		err = 1;
	}
	free((void *)f->nrs);
	return err ? 1 : 0;
}

QUERY_COMMAND(events, "d:p:t:e:kh", parse_opt, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP,
	      { "tid", required_argument, NULL, 't' },
	      { "mm", required_argument, NULL, 'M' },
	      { "syscall", required_argument, NULL, 'e' },
	      { "stacks", no_argument, NULL, 'k' });
