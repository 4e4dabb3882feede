/* SPDX-License-Identifier: MIT */
/*
 * Command-line arguments every query command shares (after git's parse-options.h): the
 * DB option, --pid with PID@N, event numbers, addresses and address ranges, and the
 * getopt_long loop that handles -d, --pid and --help once for all of them.
 *
 * The parsers below print one line and exit 1 on bad input (die(), the house rule for
 * option parsing): "vmatrace: invalid --at 'x': expected an event number (seq, from 1)".
 * The line names the option as the caller spelled it in @what, so each command keeps its
 * own wording. Nothing they return needs freeing.
 *
 * A query command describes its options in a struct cmd_options; args_parse() reads them
 * into a struct cmd_args (the shared ones) and the command's own arg_* variables, then
 * main opens the DB and resolves --pid, as the command's row in main.c says, and calls
 * its run function.
 */
#ifndef VMATRACE_ARGS_H
#define VMATRACE_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "store.h"

/* DB_DEFAULT - the DB a command reads or writes without -d/-o, in the working directory. */
#define DB_DEFAULT "vmatrace.db"

/*
 * A process named on the command line: "PID" is the most recent process with that pid in
 * the trace, "PID@N" the Nth (from 1, in order of appearance; the kernel reuses pids).
 */
struct proc_ref {
	pid_t pid;
	unsigned int nth;      /* 0: the most recent */
};
#define PROC_REF_NAME_MAX 32

/* parse_pid - a positive pid from @s, or die: "invalid @what '@s': expected a positive
 * process id". */
pid_t parse_pid(const char *s, const char *what);

/* parse_proc_ref - "PID" or "PID@N" from @s, or die: "invalid @what '@s': expected PID or
 * PID@N" (with what N means when the part after '@' is wrong). */
void parse_proc_ref(const char *s, const char *what, struct proc_ref *ret);

/* proc_ref_name - @ref as the user wrote it ("1234", "1234@2"), in @buf. */
const char *proc_ref_name(const struct proc_ref *ref, char buf[PROC_REF_NAME_MAX]);

/* parse_seq - an event number (>= 1) from @s, or die: "invalid @what '@s': expected an
 * event number (seq, from 1)". */
uint64_t parse_seq(const char *s, const char *what);

/* parse_addr - an address in 0x-hex or decimal, or die: "invalid address '@s': expected
 * 0x-hex or decimal". */
uint64_t parse_addr(const char *s);

/*
 * parse_addr_range - "LOW,HIGH", "LOW," (to the top), ",HIGH" (from 0) or "ADDR" (that one
 * byte) into [*@ret_low, *@ret_high), or die: "@cmd: invalid @opt '@s': expected LOW,HIGH
 * (0x-hex or decimal)" or "...: LOW must be below HIGH"; a bad address as parse_addr().
 */
void parse_addr_range(const char *s, const char *cmd, const char *opt, uint64_t *ret_low,
		      uint64_t *ret_high);

/*
 * The options a query command shares. args_parse() fills name .. no_stacks; main fills r
 * and proc before the command's run function, as its row's flags say.
 */
struct cmd_args {
	const char *name;               /* the command, for error lines: "maps" */
	const char *db;                 /* -d/--db DB, DB_DEFAULT without it */
	struct proc_ref pid;            /* -p/--pid PID[@N]; .pid 0 when not given */
	bool json;                      /* --json */
	bool no_stacks;                 /* --no-stacks */
	struct store_ro *r;             /* CMD_DB: the DB, open read-only; main closes it
					 * (a command done with it early may close it, set NULL) */
	struct store_proc_info proc;    /* CMD_PID and --pid given: that process (strings NULL) */
};

/* Rows of getopt_long tables for the options several commands share. --json's value is
 * 'J'; a command that also takes -j for it lists "j" in its short options. */
#define ARG_OPT_DB { "db", required_argument, NULL, 'd' }
#define ARG_OPT_PID { "pid", required_argument, NULL, 'p' }
#define ARG_OPT_JSON { "json", no_argument, NULL, 'J' }
#define ARG_OPT_NO_STACKS { "no-stacks", no_argument, NULL, 'N' }
#define ARG_OPT_HELP { "help", no_argument, NULL, 'h' }
#define ARG_OPT_OUTPUT { "output", required_argument, NULL, 'o' } /* -o, what is written */

/*
 * A command's options, as its file describes them for args_parse(); every step dies with
 * one line on bad input:
 * - @usage: its help text, on stdout for --help, on stderr after a bad option;
 * - @shortopts, @longopts: its getopt_long options, the shared ARG_OPT_* rows among them;
 * - @opt: its own options, one call each in command-line order (NULL: only shared ones);
 * - @check: its operands (@argc, @argv: those after the options) and whatever else needs
 *   no DB; NULL: it takes no operands (args_no_operands);
 * - @run: a query command's query (main.c's CMD_DB rows), with a->r open and a->proc
 *   resolved; returns the exit status. NULL for a command that calls args_parse itself.
 */
struct cmd_options {
	void (*usage)(FILE *out);
	const char *shortopts;
	const struct option *longopts;
	void (*opt)(int c, const char *arg);
	void (*check)(struct cmd_args *a, int argc, char **argv);
	int (*run)(struct cmd_args *a);
};

/*
 * QUERY_COMMAND - define query_@name from the file's usage() and cmd_@name() (its run
 * function), with getopt_long's @shortopts, @opt and @check as above (NULL for none) and
 * the rows of its long options after them, shared ARG_OPT_* rows first:
 *
 *	QUERY_COMMAND(maps, "d:p:a:xA:h", parse_opt, check,
 *		      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_HELP,
 *		      { "at", required_argument, NULL, 'a' }, ...);
 */
#define QUERY_COMMAND(name, shortopts, opt, check, ...)                                   \
	static const struct option name##_options[] = { __VA_ARGS__, {} };                \
	const struct cmd_options query_##name = { usage, shortopts, name##_options, opt, \
						    check, cmd_##name }

/* args_parse() returns it when the command goes on. */
#define ARGS_CONTINUE (-1)

/*
 * args_parse - read the options @q describes from @argv (argv[0] the command's name), then
 * its operands: -d sets a->db, --pid a->pid (parse_proc_ref, "--pid"), --json (and -j) a->json,
 * --no-stacks a->no_stacks; --help prints q->usage on stdout and returns 0; an unknown
 * option or a missing argument (getopt has printed why) prints q->usage on stderr and
 * returns 2. Options other than -d, --pid and --help go to q->opt as well. Then q->check
 * (or args_no_operands) sees the operands. Returns ARGS_CONTINUE when the command goes on.
 */
int args_parse(struct cmd_args *a, const struct cmd_options *q, int argc, char **argv);

/* args_no_operands - die "@a->name: unexpected argument 'X'" if @argc > 0 (@argv: the
 * operands). */
void args_no_operands(const struct cmd_args *a, int argc, char **argv);

/*
 * args_simple - the options of a command that takes none but --help (status, stop):
 * --help prints @help on stdout and exits 0, anything else prints it on stderr and exits
 * 2, an operand dies "NAME: unexpected argument 'X'".
 */
void args_simple(int argc, char **argv, const char *help);

/*
 * db_strerror - what a store_open_ro() or query error (-errno) means for the user's DB, in
 * words about the DB rather than strerror's (EUCLEAN is "Structure needs cleaning").
 */
const char *db_strerror(int err);

/* open_db_or_die - open a DB read-only for a query command, or print why and exit 1:
 * "cannot open 'DB': no such file (record one with 'vmatrace run')", "'DB' is damaged:
 * WHY", "cannot open 'DB': REASON". The caller closes it with store_ro_close(). */
struct store_ro *open_db_or_die(const char *path);

#endif
