/* SPDX-License-Identifier: MIT */
/*
 * The tracer engine: ptrace state of every traced thread, stop dispatch, syscall decoding
 * into events, mm identity (threads and CLONE_VM children share an mm, fork and exec make
 * new ones) and mm_users, and hand-off of records to each trace's store.
 *
 * Threading: everything here runs on the daemon's one event-loop thread, which is also the
 * thread that seized the tracees (ptrace requires it).
 *
 * Ownership: the tracer owns every struct trace; a trace lives from tracer_run() until its
 * last task ended and its done callback returned.
 */
#ifndef VMATRACE_TRACER_H
#define VMATRACE_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "proto.h"

struct trace;

/* What a finished trace reports to whoever started it. */
struct trace_result {
	uint32_t trace_id;
	int status;             /* wait status of the root process, -1 if unknown */
	uint64_t events, processes, mms;
	uint64_t verified, diverged;
	int store_error;        /* 0 or errno */
	const char *message;    /* "" or a remark */
};

/* Called once when a trace ends (all its tasks gone, DB closed). */
typedef void (*trace_done_fn)(const struct trace_result *res, void *ctx);

/*
 * Called once when a trace that tracer_run() or tracer_attach() accepted has started
 * (@err 0: its id is @id) or could not (@err a -errno, @msg the one line why; the DB is
 * removed by then). Between the two, the store's writer thread sets the DB up.
 */
typedef void (*trace_started_fn)(int err, uint32_t id, const char *msg, void *ctx);

/* Tuning from the command line. */
struct tracer_config {
	unsigned poll_us;       /* spin on waitpid(WNOHANG) this long after a stop; 0: never */
	bool system;            /* root daemon serving every user: DBs written as the client */
	unsigned stack_depth;   /* --stacks: frames kept per stack (at most UNWIND_MAX_DEPTH) */
};
extern struct tracer_config tracer_config;

/*
 * tracer_run - start tracing @pid, a stopped-by-handshake child of the requesting client
 * (see client/cmd_run.c), into a new DB at req->db_path. The caller has checked that the
 * client may trace @pid. Returns 0 when the DB file is made: @started is called later,
 * from the loop, once the writer has set the DB up and @pid is seized (or that failed);
 * then @done when the trace ends. Or -errno at once, with a message in *@ret_msg
 * (malloc'ed, the caller frees it), and no callback. @req is copied as needed.
 */
int tracer_run(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid,
	       trace_started_fn started, trace_done_fn done, void *ctx, char **ret_msg);

/*
 * tracer_attach - attach to the running process @pid (every thread; followed from then on
 * like a run, without a seccomp filter: every syscall stops, unrecorded ones are let
 * through) for a client of uid @uid, which must own it (root excepted). Its existing VMAs
 * are stored as of unknown origin. Errors as tracer_run, with a one-line reason (already
 * traced, gone, a zombie, a kernel thread, not the user's).
 */
int tracer_attach(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid,
		  trace_started_fn started, trace_done_fn done, void *ctx, char **ret_msg);

/*
 * tracer_detach - let the attached process @pid go: each thread is detached at its next
 * stop, with the signal it was about to receive; the trace then ends ("detached").
 * -ESRCH (not traced here) or -EINVAL (a run: its filter needs the tracer), with a reason
 * in *ret_msg (malloc'ed).
 */
int tracer_detach(pid_t pid, uid_t uid, char **ret_msg);

/* tracer_detach_all - detach every attached process (daemon stopping), and fail the traces
 * still starting ("the daemon is stopping"). Returns how many were detached. */
unsigned tracer_detach_all(void);

/* tracer_forget_ctx - a client went away: never call back with @ctx. */
void tracer_forget_ctx(void *ctx);

/* tracer_dispatch - handle one waitpid() result. */
void tracer_dispatch(pid_t tid, int status);

/*
 * tracer_drain - reap and dispatch every pending stop (waitpid __WALL|WNOHANG), then keep
 * polling for up to tracer_config.poll_us while stops keep coming. Returns how many stops
 * were handled.
 */
unsigned tracer_drain(void);

/*
 * tracer_notify_fd - the inotify fd on the files traces map (-1 if none): when it is
 * readable, call tracer_notify(), which records renames and unlinks of them made by
 * processes outside the traces.
 */
int tracer_notify_fd(void);
void tracer_notify(void);

/*
 * tracer_store_fd - the eventfd every store's writer thread signals (a DB set up, a DB
 * closed): when it is readable, call tracer_store_events(), which starts or ends the
 * traces concerned (calling their started and done callbacks). -1 if it cannot be made.
 */
int tracer_store_fd(void);
void tracer_store_events(void);

/* tracer_busy - number of traces, live or with a DB being set up or closed. */
unsigned tracer_busy(void);

/* tracer_status - fill up to @max entries describing the live traces of @uid (root: all);
 * returns the count. */
unsigned tracer_status(uid_t uid, struct proto_trace_info *out, unsigned max);

#endif
