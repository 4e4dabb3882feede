// SPDX-License-Identifier: MIT
/*
 * vmatrace replay: step through a process's history one event at a time, each event with
 * the change it made to the process's map (the VMA versions it ended, `-`, and began, `+`,
 * as /proc/PID/maps lines). Plain text when stdout is not a terminal (or with --plain),
 * JSON Lines with --json, else the interactive view of replay_tui.c. Which events are
 * steps, and how an execve shows: replay.h.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "replay.h"
#include "store.h"
#include "sysent.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace replay [-d DB] --pid P [--from SEQ] [--to SEQ] [--json|--plain]\n"
		"\n"
		"Step through the history of process P one event at a time: each event of P (and\n"
		"each event of another task that changed P's map), then the VMAs it removed (-)\n"
		"and added (+), or (no change). At an execve P moves to a new address space: the\n"
		"whole old map is removed and the new one added. On a terminal, an interactive\n"
		"view (press ? there for its keys); plain text when piped.\n"
		"\n"
		"  -d, --db DB     read DB (default ./%s)\n"
		"  -p, --pid P     the process: PID (the most recent one with that pid) or PID@N\n"
		"  -f, --from SEQ  start at event SEQ (default: the process's first)\n"
		"  -t, --to SEQ    stop after event SEQ (default: the process's last)\n"
		"  -j, --json      JSON Lines: the starting map, then one object per step\n"
		"      --plain     plain text even on a terminal\n"
		"  -h, --help      show this help\n",
		DB_DEFAULT);
}

static void print_vma_line(char sign, const struct store_vma *v)
{
	char line[8192];

	vma_format_maps(v, line, sizeof(line));
	printf("  %c %s\n", sign, line);
}

static int plain_step(struct replay *rp, const struct event *ev, const struct rp_step *st)
{
	printf("%" PRIu64 " ", ev->seq);
	event_print(ev, stdout);
	if (st->old_mm != st->mm)
		printf("  mm %" PRIu64 " -> mm %" PRIu64 " (execve: a new address space)\n",
		       st->old_mm, st->mm);
	if (!st->n_del && !st->n_add)
		printf("  (no change)\n");
	for (size_t i = 0; i < st->n_del; i++)
		print_vma_line('-', &rp->vs[rp->changes[st->del + i]].v);
	for (size_t i = 0; i < st->n_add; i++)
		print_vma_line('+', &rp->vs[rp->changes[st->add + i]].v);
	return ferror(stdout) ? -EIO : 0;
}

static void print_json_list(struct replay *rp, const char *key, const size_t *idx, size_t n)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; idx && i < n; i++) {
		if (i)
			putchar(',');
		vma_print_json(&rp->vs[idx[i]].v, stdout);
	}
	putchar(']');
}

static int json_step(struct replay *rp, const struct event *ev, const struct rp_step *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		die("out of memory");
	event_print_json(ev, f);
	fclose(f);
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	printf("{\"seq\":%" PRIu64 ",\"mm\":%" PRIu64, st->seq, st->mm);
	if (st->old_mm != st->mm)
		printf(",\"old_mm\":%" PRIu64, st->old_mm);
	printf(",\"event\":%s", buf);
	free(buf);
	print_json_list(rp, "removed", rp->changes + st->del, st->n_del);
	print_json_list(rp, "added", rp->changes + st->add, st->n_add);
	printf("}\n");
	return ferror(stdout) ? -EIO : 0;
}

static int keep_step(struct replay *rp, const struct event *ev, const struct rp_step *st)
{
	(void)rp;
	(void)ev;
	(void)st;
	return 0;
}

/* The map the replay starts from, before its first step. */
static int print_start(struct replay *rp, bool json)
{
	const char *who = rp->who;
	uint64_t kb = 0;

	for (size_t i = 0; i < rp->n_initial; i++) {
		const struct store_vma *v = &rp->vs[rp->initial[i]].v;
		kb += (v->end - v->start) >> 10;
	}
	if (json) {
		printf("{\"pid\":%d,\"process\":\"%s\",\"from\":%" PRIu64 ",\"to\":%" PRIu64
		       ",\"mm\":%" PRIu64, rp->proc.pid, who, rp->from, rp->to, rp->initial_mm);
		print_json_list(rp, "map", rp->initial, rp->n_initial);
		printf("}\n");
		return 0;
	}
	printf("process %s, events %" PRIu64 "..%" PRIu64 ", from the map after event %" PRIu64
	       " (mm %" PRIu64 ": %zu VMAs, %" PRIu64 " kB)%s\n", who, rp->from, rp->to,
	       rp->from - 1, rp->initial_mm, rp->n_initial, kb, rp->n_initial ? ":" : "");
	for (size_t i = 0; i < rp->n_initial; i++)
		print_vma_line(' ', &rp->vs[rp->initial[i]].v);
	return 0;
}

static int begin_plain(struct replay *rp)
{
	return print_start(rp, false);
}

static int begin_json(struct replay *rp)
{
	return print_start(rp, true);
}

/* check_range - the range in the process's life and the trace, or one line and -1. */
static int check_range(struct replay *rp, const char *who, uint64_t last, bool from_set,
		       bool to_set)
{
	uint64_t first = rp->proc.start_seq ? rp->proc.start_seq : 1;
	uint64_t end = rp->proc.end_seq ? rp->proc.end_seq : last;

	if (!last) {
		log_error("replay: the trace has no events");
		return -1;
	}
	if (!from_set)
		rp->from = first;
	if (!to_set)
		rp->to = end;
	for (int i = 0; i < 2; i++) {
		uint64_t s = i ? rp->to : rp->from;
		if (s > last) {
			log_error("replay: event %" PRIu64 " is past the end of the trace (last: %"
				  PRIu64 ")", s, last);
			return -1;
		}
		if (s < first || s > end) {
			log_error("replay: event %" PRIu64 " is outside the life of process %s"
				  " (events %" PRIu64 "..%" PRIu64 ")", s, who, first, end);
			return -1;
		}
	}
	if (rp->from > rp->to) {
		log_error("replay: --from %" PRIu64 " is after --to %" PRIu64, rp->from, rp->to);
		return -1;
	}
	return 0;
}

enum { OPT_PLAIN = 0x100 };
static struct replay arg_rp;    /* its from and to from the command line */
static bool arg_plain, arg_from_set, arg_to_set;

static void parse_opt(int c, const char *arg)
{
	switch (c) {
	case 'f':
		arg_rp.from = parse_seq(arg, "--from");
		arg_from_set = true;
		break;
	case 't':
		arg_rp.to = parse_seq(arg, "--to");
		arg_to_set = true;
		break;
	case OPT_PLAIN:
		arg_plain = true;
		break;
	}
}

static int cmd_replay(struct cmd_args *a)
{
	struct replay rp = arg_rp;
	const char *db = a->db;
	bool json = a->json, plain = arg_plain;
	char who[PROC_REF_NAME_MAX];
	uint64_t last;
	int err, status = 1;

	proc_ref_name(&a->pid, who);
	rp.r = a->r;
	rp.proc = a->proc;
	err = store_query_last_seq(rp.r, &last);
	if (err < 0) {
		db_read_error("replay", db, rp.r, err);
		goto out;
	}
	if (check_range(&rp, who, last, arg_from_set, arg_to_set) < 0)
		goto out;

	bool tui = !json && !plain && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	rp.keep = tui;
	rp.sink = tui ? keep_step : json ? json_step : plain_step;
	rp.begin = tui ? NULL : json ? begin_json : begin_plain;
	rp.who = who;
	err = replay_load(&rp);
	if (err < 0) {
		db_read_error("replay", db, rp.r, err);
		goto out;
	}
	status = tui ? replay_tui(&rp, who) : 0;
out:
	replay_release(&rp);
	return status;
}

QUERY_COMMAND(replay, "d:p:f:t:jh", parse_opt, NULL,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP,
	      { "from", required_argument, NULL, 'f' },
	      { "to", required_argument, NULL, 't' },
	      { "plain", no_argument, NULL, OPT_PLAIN });
