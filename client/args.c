// SPDX-License-Identifier: MIT
/*
 * The command-line parsing every command shares (args.h): pids and PID@N, event numbers,
 * addresses and ranges, the -d/--db, --pid and --help options of the query commands, and
 * opening their DB. One place, so that "invalid --pid" reads the same in every command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "client.h"
#include "log.h"
#include "store.h"

pid_t parse_pid(const char *s, const char *what)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	/* 4194304: PID_MAX_LIMIT on 64-bit kernels, the largest pid_max can be */
	if (errno || end == s || *end || v <= 0 || v > 4194304)
		die("invalid %s '%s': expected a positive process id", what, s);
	return (pid_t)v;
}

void parse_proc_ref(const char *s, const char *what, struct proc_ref *ret)
{
	const char *at = strchr(s, '@');
	char pid[32];
	char *end;

	if (!at) {
		*ret = (struct proc_ref){ .pid = parse_pid(s, what) };
		return;
	}
	if ((size_t)(at - s) >= sizeof(pid))
		die("invalid %s '%s': expected PID or PID@N", what, s);
	memcpy(pid, s, (size_t)(at - s));
	pid[at - s] = '\0';
	errno = 0;
	unsigned long n = strtoul(at + 1, &end, 10);
	if (errno || end == at + 1 || *end || at[1] == '-' || n == 0 || n > 1000000)
		die("invalid %s '%s': expected PID or PID@N (N from 1: the Nth process with "
		    "that pid)", what, s);
	*ret = (struct proc_ref){ .pid = parse_pid(pid, what), .nth = (unsigned int)n };
}

const char *proc_ref_name(const struct proc_ref *ref, char buf[PROC_REF_NAME_MAX])
{
	if (ref->nth)
		snprintf(buf, PROC_REF_NAME_MAX, "%d@%u", ref->pid, ref->nth);
	else
		snprintf(buf, PROC_REF_NAME_MAX, "%d", ref->pid);
	return buf;
}

uint64_t parse_seq(const char *s, const char *what)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	/* strtoull takes "-1" as ULLONG_MAX: refuse the sign rather than wrap */
	if (errno || end == s || *end || s[0] == '-' || v == 0)
		die("invalid %s '%s': expected an event number (seq, from 1)", what, s);
	return v;
}

uint64_t parse_addr(const char *s)
{
	char *end;
	int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;

	errno = 0;
	unsigned long long v = strtoull(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || (base == 16 && !s[2]))
		die("invalid address '%s': expected 0x-hex or decimal", s);
	return v;
}

void parse_addr_range(const char *s, const char *cmd, const char *opt, uint64_t *ret_low,
		      uint64_t *ret_high)
{
	const char *comma = strchr(s, ',');
	uint64_t low, high;
	char buf[64];

	if (!comma) {
		low = parse_addr(s);
		*ret_low = low;
		*ret_high = low + 1;
		return;
	}
	if ((size_t)(comma - s) >= sizeof(buf))
		die("%s: invalid %s '%s': expected LOW,HIGH (0x-hex or decimal)", cmd, opt, s);
	memcpy(buf, s, (size_t)(comma - s));
	buf[comma - s] = '\0';
	low = buf[0] ? parse_addr(buf) : 0;
	high = comma[1] ? parse_addr(comma + 1) : UINT64_MAX;
	if (low >= high)
		die("%s: invalid %s '%s': LOW must be below HIGH", cmd, opt, s);
	*ret_low = low;
	*ret_high = high;
}

int args_parse(struct cmd_args *a, const struct cmd_options *q, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, q->shortopts, q->longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a->db = optarg;
			continue;
		case 'p':
			parse_proc_ref(optarg, "--pid", &a->pid);
			continue;
		case 'h':
			q->usage(stdout);
			return 0;
		case '?':
		case ':':
			q->usage(stderr);
			return 2;
		case 'J':
		case 'j':
			a->json = true;
			break;
		case 'N':
			a->no_stacks = true;
			break;
		}
		/* --json too: sql's --list and --json are one choice, the last one wins */
		if (q->opt)
			q->opt(c, optarg);
	}
	if (q->check)
		q->check(a, argc - optind, argv + optind);
	else
		args_no_operands(a, argc - optind, argv + optind);
	return ARGS_CONTINUE;
}

void args_no_operands(const struct cmd_args *a, int argc, char **argv)
{
	if (argc > 0)
		die("%s: unexpected argument '%s'", a->name, argv[0]);
}

void args_simple(int argc, char **argv, const char *help)
{
	static const struct option opts[] = { ARG_OPT_HELP, {} };
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("%s", help);
			exit(0);
		}
		fprintf(stderr, "%s", help);
		exit(2);
	}
	if (optind < argc)
		die("%s: unexpected argument '%s'", argv[0], argv[optind]);
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
