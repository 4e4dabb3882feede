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

#include "args.h"
#include "conn.h"

/*
 * Commands that read no DB: argv[0] is the command's name; return the exit status.
 */
int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* Query commands: each file describes its command (args.h) for main.c's table. */
extern const struct cmd_options query_events, query_maps, query_ps, query_history,
	query_why, query_diff, query_replay, query_stats, query_timeline, query_export,
	query_sql;

/*
 * prepare_db - the absolute path of the DB to write at @path (relative to the working
 * directory); an existing vmatrace DB is kept as PATH.old (perf record's habit) with its
 * -wal and -journal (stale ones of the old PATH.old removed first), anything else there
 * is refused, and so is a DB a live trace is writing (store_try_lock), naming that trace.
 * Dies with one line on error. The caller frees the result.
 */
char *prepare_db(const char *path);

/*
 * db_in_use - if a live trace holds the DB at @abs (its writer's lock, store_try_lock),
 * say so in one line naming that trace and @path, and return true; else false.
 */
bool db_in_use(const char *path, const char *abs);

/* print_summary - the paragraph a finished trace prints on stderr (DB named as given). */
struct proto_finished;
void print_summary(const struct proto_finished *f, const char *db, unsigned flags);
/*
 * daemon_connect - connect to the user's vmatraced, starting it when none answers and
 * @autostart is set, and exchange HELLO. Returns 0 with the daemon's pid in @ret_pid, or
 * -errno with a one-line reason already printed.
 */
int daemon_connect(struct conn *c, bool autostart, pid_t *ret_pid);

/* daemon_request - send @m on @c and receive the answer into @reply (the caller releases
 * it with proto_msg_release). 0, or -errno after "the daemon did not answer: WHY". */
struct proto_msg;
int daemon_request(struct conn *c, const struct proto_msg *m, struct proto_msg *reply);

/*
 * daemon_finish - the end of a request answered by OK or ERROR (stop, detach): the errno
 * of @reply, EPROTO for any other message, after one line "@prefix MESSAGE" when not 0;
 * releases @reply and closes @c.
 */
int daemon_finish(struct conn *c, struct proto_msg *reply, const char *prefix);

/* daemon_binary - the vmatraced that daemon_connect() starts: $VMATRACED, else the one
 * beside our own binary, else "vmatraced" (from PATH). The caller frees it. */
char *daemon_binary(void);

/* daemon_socket_connect - a connected socket to @path (a daemon's Unix socket), or -errno. */
int daemon_socket_connect(const char *path);

/* seccomp_install - install the filter that stops the recorded syscalls (seccomp.c).
 * Called in the child after the daemon seized it. 0 or -errno. */
int seccomp_install(void);

/*
 * resolve_process - the process @ref names in @r into @ret; on failure print one line
 * ("@cmd: no process 1234@3 in 'DB' (...)") and return -1. Strings of @ret are NULL.
 */
struct store_ro;
struct store_proc_info;
int resolve_process(struct store_ro *r, const char *cmd, const char *db,
		    const struct proc_ref *ref, struct store_proc_info *ret);

/*
 * process_mm_at - the mm process @p (named @ref) used after event *@at, into @ret_mm; *@at
 * 0 means its last state (set to that seq). Checks that the event is in the trace and in
 * the process's life, with a recorded map; else prints one line naming @cmd, returns -1.
 */
int process_mm_at(struct store_ro *r, const char *cmd, const char *db,
		  const struct proc_ref *ref, const struct store_proc_info *p, uint64_t *at,
		  uint64_t *ret_mm);

/* yama_ptrace_scope - /proc/sys/kernel/yama/ptrace_scope (0..3), -1 without Yama.
 * yama_meaning - what a value means, in a few words (advice.c). */
int yama_ptrace_scope(void);
const char *yama_meaning(int scope);

/*
 * advise_trace_error - after the daemon refused to trace @pid with errno @err (its line
 * already printed), one "vmatrace: hint:" line on stderr saying what to do: another
 * user's process, Yama's ptrace_scope, ptrace forbidden (containers). Nothing for other
 * errors. advise_seccomp_error - the same when the run child cannot install its filter.
 */
void advise_trace_error(int err, pid_t pid, bool attach);
void advise_seccomp_error(int err);

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

/*
 * output_init - check standard output at exit (client/output.c): if a write failed (a
 * full disk, an I/O error), print "vmatrace: write error: REASON" and exit 1 whatever the
 * command returned. A closed pipe (EPIPE) stays quiet. main() calls it once.
 * output_failed - true once a write to standard output failed: a long walk can stop.
 */
void output_init(void);
bool output_failed(void);

/*
 * db_read_error - the one line for a reader that failed with -errno @err on @db: "'DB' is
 * damaged: WHY" for a DB that breaks the schema's rules (-EUCLEAN), else "@cmd: cannot
 * read 'DB': WHY". Nothing when standard output failed: that is the error, and
 * output_init's check reports it.
 */
void db_read_error(const char *cmd, const char *db, struct store_ro *r, int err);

/*
 * The file of an -o option (export, timeline). out_file_open - open @path for writing:
 * "-" is standard output; a regular file or a new name is written as PATH.tmpPID and
 * renamed over PATH by out_file_close (a failed run leaves no half file); anything else
 * (a device, a FIFO, a symlink, /dev/fd/N) is written in place. 0 or -errno.
 * out_file_close - flush and close; on success rename the temporary file, else remove it.
 * Returns @err if set, else the first write error, else 0. Errors on standard output are
 * left to output_init's check. out_file_in_place - true if @path would be written in
 * place ("-" included).
 */
struct out_file {
	FILE *f;
	const char *path;
	char *tmp;              /* the temporary name, NULL when written in place */
};
int out_file_open(struct out_file *o, const char *path);
int out_file_close(struct out_file *o, int err);
bool out_file_in_place(const char *path);

/*
 * vma_format_maps - @v as a /proc/PID/maps line (no newline) in @buf; its length. The
 * name is escaped for a terminal (stresc_name: a newline as \012, as /proc shows it).
 * vma_format_maps_name - the same, and where the name starts in @buf in @ret_name_at.
 * vma_print_json - @v as a JSON object: start, end, offset, ino as numbers, perms, dev
 * ("fe:00"), name, born_seq, origin_unknown (client/vmaout.c).
 */
struct store_vma;
size_t vma_format_maps(const struct store_vma *v, char *buf, size_t size);
size_t vma_format_maps_name(const struct store_vma *v, char *buf, size_t size,
			    size_t *ret_name_at);
void vma_print_json(const struct store_vma *v, FILE *out);

#endif
