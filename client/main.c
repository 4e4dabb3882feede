// SPDX-License-Identifier: MIT
/*
 * vmatrace: the client. Subcommands are a table (after git's commands[]). A row's flags
 * say what main does for the command, so that no command repeats it: open the -d DB
 * read-only (CMD_DB), resolve --pid to a process of that DB (CMD_PID), refuse to go on
 * without --pid (CMD_NEEDS_PID). Option parsing shared by the commands is in args.c.
 *
 * Adding a command:
 * - one that reads a DB: write client/cmd_NAME.c with usage(), cmd_NAME(struct cmd_args *)
 *   and, last, QUERY_COMMAND(NAME, ...) (its options, operand check and query; args.h),
 *   the shared ARG_OPT_* rows among its options; declare query_NAME in client.h and add
 *   a QUERY(NAME) row with CMD_DB and what else it needs;
 * - any other: write `int cmd_NAME(int argc, char **argv)`, declare it in client.h and
 *   add a row with no flags;
 * then add the file to meson.build, its help to README.md, the man page and the
 * completions (tests/cli checks them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"

enum command_flags {
	CMD_DB = 1 << 0,        /* a query: main opens a->db read-only before cmd_NAME() */
	CMD_PID = 1 << 1,       /* takes --pid: main resolves it in a->db into a->proc */
	CMD_NEEDS_PID = 1 << 2, /* and cannot go on without it */
};

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);       /* a command without CMD_DB */
	const struct cmd_options *query;      /* CMD_DB: its options and query (args.h) */
	unsigned int flags;                     /* enum command_flags */
	const char *summary;
};

#define PLAIN(name) #name, cmd_##name, NULL
#define QUERY(name) #name, NULL, &query_##name

static const struct command commands[] = {
	{ PLAIN(run), 0, "trace a program and its descendants into a DB" },
	{ PLAIN(attach), 0, "trace a running process until it exits or Ctrl-C" },
	{ PLAIN(detach), 0, "stop tracing an attached process, leaving it running" },
	{ QUERY(events), CMD_DB | CMD_PID, "print the recorded events, decoded like strace" },
	{ QUERY(maps), CMD_DB | CMD_PID | CMD_NEEDS_PID,
	  "the replayed map of a process after an event, as /proc/PID/maps" },
	{ QUERY(history), CMD_DB | CMD_PID,
	  "every event that changed the mappings covering an address" },
	{ QUERY(why), CMD_DB | CMD_PID,
	  "explain a crash: the fault, its address's history, a verdict" },
	{ QUERY(diff), CMD_DB | CMD_PID | CMD_NEEDS_PID,
	  "VMAs added, removed and changed between two events" },
	{ QUERY(replay), CMD_DB | CMD_PID | CMD_NEEDS_PID,
	  "step through a process's history, event by event" },
	{ QUERY(stats), CMD_DB | CMD_PID,
	  "per process and address space: syscalls, errors, peak size" },
	{ QUERY(ps), CMD_DB, "the traced process tree, address spaces and mm_users" },
	{ QUERY(timeline), CMD_DB | CMD_PID,
	  "draw the address spaces over time as SVG or HTML" },
	{ QUERY(export), CMD_DB | CMD_PID,
	  "write the trace for other tools (Perfetto, flame graphs)" },
	{ QUERY(sql), CMD_DB, "run a read-only SQL query on a DB" },
	{ PLAIN(status), 0, "list the daemon's live traces" },
	{ PLAIN(stop), 0, "ask the daemon to exit (running traces finish first)" },
	{ PLAIN(doctor), 0, "check what tracing needs here, and how to fix what is missing" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: vmatrace COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nSee 'vmatrace COMMAND --help'. Version %s.\n", VMATRACE_VERSION);
}

/*
 * run_command - a query's steps in order: its options (and their errors) first, then the
 * DB, then the process --pid names, so that a bad option never reports a missing DB.
 */
static int run_command(const struct command *cmd, int argc, char **argv)
{
	struct cmd_args a = { .name = cmd->name, .db = DB_DEFAULT };
	int status;

	if (!(cmd->flags & CMD_DB))
		return cmd->fn(argc, argv);
	status = args_parse(&a, cmd->query, argc, argv);
	if (status != ARGS_CONTINUE)
		return status;
	if ((cmd->flags & CMD_NEEDS_PID) && !a.pid.pid)
		die("%s: --pid is required (see 'vmatrace ps' for the processes)", cmd->name);
	a.r = open_db_or_die(a.db);
	if ((cmd->flags & CMD_PID) && a.pid.pid &&
	    resolve_process(a.r, cmd->name, a.db, &a.pid, &a.proc) < 0)
		status = 1;
	else
		status = cmd->query->run(&a);
	store_ro_close(a.r);
	return status;
}

int main(int argc, char **argv)
{
	log_prog = "vmatrace";
	output_init();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("vmatrace %s\n", VMATRACE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return run_command(&commands[i], argc - 1, argv + 1);
	die("unknown command '%s' (see 'vmatrace --help')", cmd);
}
