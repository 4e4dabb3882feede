// SPDX-License-Identifier: MIT
/*
 * vmatrace: the client. Subcommands are a table (after git's commands[]); each parses its
 * own options with getopt_long.
 *
 * Adding a command: write client/cmd_NAME.c with `int cmd_NAME(int argc, char **argv)`,
 * declare it in client.h, add a row below and the file to meson.build.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "store.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", cmd_run, "trace a program and its descendants into a DB" },
	{ "attach", cmd_attach, "trace a running process until it exits or Ctrl-C" },
	{ "detach", cmd_detach, "stop tracing an attached process, leaving it running" },
	{ "events", cmd_events, "print the recorded events, decoded like strace" },
	{ "maps", cmd_maps, "the replayed map of a process after an event, as /proc/PID/maps" },
	{ "history", cmd_history, "every event that changed the mappings covering an address" },
	{ "why", cmd_why, "explain a crash: the fault, its address's history, a verdict" },
	{ "diff", cmd_diff, "VMAs added, removed and changed between two events" },
	{ "replay", cmd_replay, "step through a process's history, event by event" },
	{ "stats", cmd_stats, "per process and address space: syscalls, errors, peak size" },
	{ "ps", cmd_ps, "the traced process tree, address spaces and mm_users" },
	{ "timeline", cmd_timeline, "draw the address spaces over time as SVG or HTML" },
	{ "export", cmd_export, "write the trace for other tools (Perfetto, flame graphs)" },
	{ "sql", cmd_sql, "run a read-only SQL query on a DB" },
	{ "status", cmd_status, "list the daemon's live traces" },
	{ "stop", cmd_stop, "ask the daemon to exit (running traces finish first)" },
	{ "doctor", cmd_doctor, "check what tracing needs here, and how to fix what is missing" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: vmatrace COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nSee 'vmatrace COMMAND --help'. Version %s.\n", VMATRACE_VERSION);
}

pid_t parse_pid(const char *s, const char *what)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 4194304)
		die("invalid %s '%s': expected a positive process id", what, s);
	return (pid_t)v;
}

const char *db_strerror(int err)
{
	switch (err) {
	case -EMEDIUMTYPE:
		return "not a vmatrace DB";
	case -EPROTONOSUPPORT:
		return "written by a newer vmatrace (schema version too new)";
	case -EUCLEAN:
		/* SQLITE_CORRUPT; strerror's "Structure needs cleaning" speaks of file systems */
		return "the file is damaged (SQLite finds it malformed: cut short, or overwritten "
		       "in part)";
	case -ENOTRECOVERABLE:
		return "its last events are in its -wal file, which SQLite can only read by "
		       "writing a -shm file beside it, and this directory is not writable: copy "
		       "the DB and its -wal to a directory you can write";
	default:
		return strerror(-err);
	}
}

struct store_ro *open_db_or_die(const char *path)
{
	struct store_ro *r;
	char why[200];
	int err = store_open_ro_why(path, &r, why, sizeof(why));

	if (err == -ENOENT)
		die("cannot open '%s': no such file (record one with 'vmatrace run')", path);
	if (err == -EUCLEAN && why[0])
		die("'%s' is damaged: %s", path, why);
	if (err < 0)
		die("cannot open '%s': %s", path, db_strerror(err));
	return r;
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
			return commands[i].fn(argc - 1, argv + 1);
	die("unknown command '%s' (see 'vmatrace --help')", cmd);
}
