/* SPDX-License-Identifier: MIT */
/*
 * The vmatrace client's shared pieces: subcommand entry points (one file each, listed in
 * main.c's command table), the daemon connection, and option helpers.
 */
#ifndef VMATRACE_CLIENT_H
#define VMATRACE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "conn.h"

/* Subcommands: argv[0] is the subcommand's name; return the process exit status. */
int cmd_run(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_maps(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);

/*
 * prepare_db - the absolute path of the DB to write at @path (relative to the working
 * directory); an existing vmatrace DB is kept as PATH.old (perf record's habit), anything
 * else there is refused. Dies with one line on error. The caller frees the result.
 */
char *prepare_db(const char *path);

/* print_summary - the paragraph a finished trace prints on stderr (DB named as given). */
struct proto_finished;
void print_summary(const struct proto_finished *f, const char *db, unsigned flags);
int cmd_stop(int argc, char **argv);

/*
 * daemon_connect - connect to the user's vmatraced, starting it when none answers and
 * @autostart is set, and exchange HELLO. Returns 0 with the daemon's pid in @ret_pid, or
 * -errno with a one-line reason already printed.
 */
int daemon_connect(struct conn *c, bool autostart, pid_t *ret_pid);

/* seccomp_install - install the filter that stops the recorded syscalls (seccomp.c).
 * Called in the child after the daemon seized it. 0 or -errno. */
int seccomp_install(void);

/* parse_pid - a positive pid from @s, or die with a clear message naming @what. */
pid_t parse_pid(const char *s, const char *what);

/* parse_seq - an event number (>= 1) from @s, or die naming @what. */
uint64_t parse_seq(const char *s, const char *what);

/* parse_addr - an address in 0x-hex or decimal, or die with a clear message. */
uint64_t parse_addr(const char *s);

/*
 * stack_print_text - the frames of stack @stack_id under an event line, one " > " line
 * each, as strace -k prints them (stackfmt.c). Nothing for 0. Returns 0 or -errno.
 */
struct store_ro;
struct event;
int stack_print_text(struct store_ro *r, int64_t stack_id, FILE *out);

/*
 * event_print_json_stack - @ev as event_print_json() prints it, plus "stack": an array of
 * {"pc", "module", "build_id", "function", "offset"} (the last three when known),
 * innermost first, empty without a stack. Returns 0 or -errno.
 */
int event_print_json_stack(struct store_ro *r, const struct event *ev, FILE *out);

/* db_default - the default DB path ("vmatrace.db" in the working directory). */
#define DB_DEFAULT "vmatrace.db"

/* open_db_or_die - open a DB read-only for a query command, or print why and exit 1. */
struct store_ro;
struct store_ro *open_db_or_die(const char *path);

#endif
