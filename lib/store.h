/* SPDX-License-Identifier: MIT */
/*
 * The event store: the only module that calls sqlite3_*. One SQLite file per trace
 * (schema in sql/schema.sql, versioned with PRAGMA user_version, marked ours with
 * PRAGMA application_id).
 *
 * Writer side (daemon): store_create() opens a new DB and starts a writer thread (the
 * _async variants of create and close leave SQLite's setup and close to that thread). The
 * tracer hands records over with the store_add_*() calls, which only queue (no SQLite work
 * on the ptrace stop path); the writer thread inserts them in order with prepared
 * statements and commits a transaction at least every STORE_COMMIT_MS, so a reader sees a
 * live trace within a second. All store_add_*() calls must come from one thread.
 *
 * Reader side (client): store_open_ro() opens an existing DB read-only and checks that it
 * is a vmatrace DB of a schema version we understand; the store_query_*() calls walk it.
 *
 * Errors: functions return 0 or -errno. A write error (ENOSPC, EIO) in the writer thread is
 * sticky: store_error() returns it, later records are dropped, and store_close() returns it.
 */
#ifndef VMATRACE_STORE_H
#define VMATRACE_STORE_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "event.h"

#define STORE_COMMIT_MS 200
#define STORE_APPLICATION_ID 0x564d4154 /* "VMAT" */
#define STORE_SCHEMA_VERSION 3 /* 2: stacks, 3: +signal events; readers still open 1 */

struct store;

/* Trace metadata, written once at store_begin_trace(). Strings are copied. */
struct store_trace_meta {
	const char *cmdline;      /* the traced command line as a JSON array of strings */
	const char *cwd;          /* the working directory of the run */
	const char *host;         /* uname nodename */
	const char *kernel;       /* uname release */
	const char *version;      /* vmatrace version */
	const char *mode;         /* "run" or "attach" */
	uint64_t start_realtime_ns; /* CLOCK_REALTIME at start */
	uint64_t start_mono_ns;   /* CLOCK_MONOTONIC at start; event time_ns share this base */
	long page_size;
};

/* A process (thread group) appeared: the first thread of a new tgid. */
struct store_process {
	pid_t pid;
	pid_t ppid;            /* the traced parent's pid, 0 for the root */
	uint64_t start_seq;    /* event that created it (clone/fork/vfork), 0 for the root */
	uint64_t mm;           /* its mm id at birth */
	const char *exe;       /* program path when known (root: the run's program), may be NULL */
};

/* A file the trace mapped (executable, library, data), once per (dev, ino). */
struct store_file {
	uint64_t dev;
	uint64_t ino;
	const char *path;
	const char *build_id;  /* lowercase hex of the GNU build-id note, NULL if none */
};

/* An address space. Threads and CLONE_VM children share one; fork and exec make new ones. */
struct store_mm {
	uint64_t id;
	uint64_t start_seq;    /* event that created it (fork, exec), 0 for the initial one */
	uint64_t parent;       /* mm it was copied from (fork), 0 if none */
	pid_t owner;           /* pid of the process that created it */
};

/*
 * store_create - create a new DB at @path (mode 0600) and start its writer thread.
 * The file must not exist (the caller keeps an old one as PATH.old, like perf record):
 * -EEXIST if it does. The store holds the trace lock of the file (store_try_lock) from
 * its creation to store_close(), or until the daemon dies.
 * Returns 0 and the store in @ret, or -errno (the file is not left behind on failure).
 * The caller owns the store and releases it with store_close().
 */
int store_create(const char *path, struct store **ret);

/*
 * store_create_as - the same, with every file of the DB opened with the filesystem ids
 * @uid/@gid (setfsuid): a daemon running as root writes a user's DB only where that user
 * could, and the user owns it. (uid_t)-1: our own ids.
 */
int store_create_as(const char *path, uid_t uid, gid_t gid, struct store **ret);

/*
 * store_create_async - store_create_as() for an event loop that must not wait: only the
 * file is made (O_EXCL, locked; its errors come back at once) before it returns; the
 * writer thread then opens it with SQLite, creates the schema and turns WAL on. Records
 * may be queued meanwhile. The writer adds 1 to @notify_fd (an eventfd, EFD_NONBLOCK;
 * -1: none) when that setup has ended (store_ready() tells how) and again when the store
 * has closed after store_close_begin() or store_discard_begin() (store_closed()). One
 * eventfd may serve many stores: on a wake-up, ask each. The caller owns the store:
 * after a failed setup only store_discard*() is left to do with it.
 */
int store_create_async(const char *path, uid_t uid, gid_t gid, int notify_fd,
		       struct store **ret);

/* store_ready - -EINPROGRESS while the writer sets the DB up, 0 once done, or the -errno of
 * the failed setup (-ENOSPC, -EACCES...). Never blocks; any thread. */
int store_ready(struct store *s);

/*
 * store_discard - close a store whose trace never started (the target could not be seized)
 * and remove its files: through the directory fd the DB was created in, with the store's
 * filesystem ids, and the main file only if it is still the inode store_create() made.
 * Never by path, which may lead elsewhere by now. NULL-safe.
 */
void store_discard(struct store *s);

/* store_discard_begin - store_discard() without waiting: the writer closes the DB and
 * removes the files; then store_closed() is true, and store_close_end() frees the store. */
void store_discard_begin(struct store *s);

/*
 * store_try_lock - take the trace lock of the DB at @path without waiting: for a client
 * that is about to move or replace the file. Returns an fd that holds the lock (close it
 * to let go), -EBUSY if a writer holds it (a trace is being written into the file), or
 * -errno. The lock is an flock(2) on the DB file itself, which SQLite does not use.
 */
int store_try_lock(const char *path);

/* store_begin_trace - record the trace metadata. Call once, before any other record. */
int store_begin_trace(struct store *s, const struct store_trace_meta *meta);

/* Queue records. They never block on SQLite; they copy what they need. */
void store_add_event(struct store *s, struct event *ev); /* takes ev's strings, clears ev */
/* Set the ret of event @seq, queued earlier (a +signal's outcome, known later). */
void store_set_event_ret(struct store *s, uint64_t seq, int64_t ret);

/* --verify: after event @seq, the model of @mm differed from the kernel (@report: the
 * first differing VMA, kernel line and model line). Schema 3's divergence table. */
void store_add_divergence(struct store *s, uint64_t seq, uint64_t mm, const char *report);
void store_add_process(struct store *s, const struct store_process *p);
void store_add_process_exec(struct store *s, pid_t pid, uint64_t seq, const char *exe,
			    const char *argv_json, uint64_t mm);
void store_end_process(struct store *s, pid_t pid, uint64_t seq, int wait_status);
void store_add_thread(struct store *s, pid_t tid, pid_t pid, uint64_t start_seq);
void store_end_thread(struct store *s, pid_t tid, uint64_t seq, int wait_status);
void store_add_file(struct store *s, const struct store_file *f);
void store_add_mm(struct store *s, const struct store_mm *mm);
void store_end_mm(struct store *s, uint64_t id, uint64_t seq);
/* mm_users of @mm became @users at event @seq (thread/CLONE_VM child came or went, exec). */
void store_mm_users(struct store *s, uint64_t mm, uint64_t seq, int users);

/*
 * A VMA version, as the model emits it: born at @born_seq, alive until store_end_vma().
 * perms is the /proc/PID/maps column ("rw-p"); name the last column ("/usr/lib/libc.so.6",
 * "[heap]", "[anon:name]", "" for none). @origin_unknown marks VMAs found at attach (no
 * event created them). store_add_vma returns the version's id (assigned without SQLite).
 */
struct store_vma {
	uint64_t mm;
	uint64_t start, end;
	char perms[5];
	uint64_t offset;
	uint64_t dev, ino;
	const char *name;
	uint64_t born_seq;
	bool origin_unknown;
};
uint64_t store_add_vma(struct store *s, const struct store_vma *v);
void store_end_vma(struct store *s, uint64_t id, uint64_t died_seq);

/*
 * A distinct stack frame (run --stacks), once per trace: its id is the daemon's. The
 * module is the file (dev, ino, path, build-id) it lies in, or a pseudo file (dev = ino =
 * 0, path "[vdso]", "[anon]"...). @function is NULL when no symbol covers @rel_pc.
 * Strings are copied.
 */
struct store_frame {
	uint64_t id;
	uint64_t dev, ino;
	const char *path;
	const char *build_id;  /* NULL if none */
	uint64_t rel_pc;       /* ELF virtual address in the module */
	const char *function;
	uint64_t func_off;
};
void store_add_frame(struct store *s, const struct store_frame *f);

/* A distinct stack @id: @n frame ids, innermost first (copied). Events name it by id. */
void store_add_stack(struct store *s, uint64_t id, const uint64_t *frames, unsigned n);

/*
 * store_add_syscall_names - fill the DB's syscall table (nr -> name, used by the views)
 * from @name, called on this thread for 0 <= nr <= @max_nr (NULL: no such syscall).
 * Call once, early. Returns 0 or -errno (the sticky error, -ENOMEM).
 */
int store_add_syscall_names(struct store *s, const char *(*name)(int nr), int max_nr);

/*
 * store_test_set_max_pages - tests only: cap the DB at @pages pages (PRAGMA
 * max_page_count, applied by the writer in queue order), to provoke SQLITE_FULL.
 */
void store_test_set_max_pages(struct store *s, int pages);

/* store_error - the sticky writer error, 0 if none. Thread-safe. */
int store_error(struct store *s);

/* store_pending - records queued but not yet committed (for status displays). Thread-safe. */
uint64_t store_pending(struct store *s);

/*
 * store_close - flush and commit everything queued, record the trace's end (@end_status
 * is a short word: "done", "detached", "error: ..."), stop the writer, close the DB.
 * Returns the first error of the store's life, or 0. NULL-safe.
 */
int store_close(struct store *s, const char *end_status);

/* store_close_stats - the same, and the number of events actually stored in @ret_events
 * (fewer than were queued when a write failed). */
int store_close_stats(struct store *s, const char *end_status, uint64_t *ret_events);

/*
 * store_close_begin - store_close_stats() in two halves, for a loop that must not wait for
 * the commit, the WAL checkpoint and the fsyncs (tens of ms for a large trace): this half
 * queues the end and tells the writer to finish, and returns at once; no store_add_*()
 * after it. The writer then closes the DB, and store_closed() becomes true (the store's
 * notify fd is told). store_close_end() waits for the writer thread (at once if
 * store_closed() said true), frees the store and returns what store_close_stats() would.
 */
void store_close_begin(struct store *s, const char *end_status);
bool store_closed(struct store *s);
int store_close_end(struct store *s, uint64_t *ret_events);

/* Reader side. -------------------------------------------------------------------------- */

struct store_ro;

/*
 * store_open_ro - open @path read-only. Errors: -ENOENT (no such file), -EMEDIUMTYPE (not a
 * vmatrace DB: not SQLite, or another application's), -EPROTONOSUPPORT (a newer schema
 * version than this build knows), -EUCLEAN (SQLite finds it malformed), -ENOTRECOVERABLE
 * (in WAL mode, with commits in its -wal, in a directory we cannot write: SQLite cannot
 * read the WAL without creating -shm there; with no WAL content such a DB is read as
 * immutable). The caller frees it with store_ro_close(). A trace still being written can
 * be opened: it shows what the writer has committed so far.
 * One store_ro is for one thread at a time.
 */
int store_open_ro(const char *path, struct store_ro **ret);

/*
 * store_open_ro_why - the same; a DB whose tables are not the schema's (a view or a
 * virtual table in place of one, generated columns, a broken schema) gives -EUCLEAN, and
 * why in @why (@size bytes), for "'DB' is damaged: WHY". The readers check the rows they
 * read the same way (a negative seq, a VMA that ends before it starts): -EUCLEAN, and
 * store_ro_errmsg() says why.
 */
int store_open_ro_why(const char *path, struct store_ro **ret, char *why, size_t size);
void store_ro_close(struct store_ro *r);

/* store_ro_version - the schema version of @r's DB (PRAGMA user_version). */
int store_ro_version(const struct store_ro *r);

/*
 * store_ro_errmsg - SQLite's last error message for @r (valid until the next call); when
 * the error was the reader's own (SQLite's last call succeeded), a sentence about the DB's
 * contents instead of SQLite's "not an error".
 */
const char *store_ro_errmsg(struct store_ro *r);

/* Filter for store_query_events(); zero/NULL fields do not filter. */
struct store_event_filter {
	pid_t pid;
	pid_t tid;
	uint64_t mm;
	const int *nrs;        /* syscall numbers to keep */
	int n_nrs;
	bool syscalls_only;    /* leave out EVENT_TASK_EXIT and EVENT_SIGNAL */
	bool signals_only;     /* only EVENT_SIGNAL (index event_signal, schema 3) */
	uint64_t min_seq, max_seq; /* inclusive bounds, 0 = none */
};

/*
 * store_query_events - call @fn for every matching event in seq order. The event passed
 * to @fn is valid during the call only. A non-zero return from @fn stops the walk and is
 * returned. Returns 0 or -errno. The pid and tid filters use an index; mm alone scans
 * (about 0.1 s per 1,000,000 events).
 */
int store_query_events(struct store_ro *r, const struct store_event_filter *f,
		       int (*fn)(const struct event *ev, void *data), void *data);

/*
 * store_query_events_at - call @fn for the events with the given seqs (@n of them, in the
 * order given; a seq with no event is skipped). One prepared statement for all.
 */
int store_query_events_at(struct store_ro *r, const uint64_t *seqs, size_t n,
			  int (*fn)(const struct event *ev, void *data), void *data);

/* Summary of a trace for `run`'s last line and `stats`. */
struct store_summary {
	uint64_t events;
	uint64_t processes;
	uint64_t threads;
	uint64_t mms;
};
int store_query_summary(struct store_ro *r, struct store_summary *ret);

/* One frame of a stored stack, as store_query_stack() reads it back. */
struct store_frame_info {
	unsigned depth;         /* 0 = innermost */
	uint64_t rel_pc;        /* ELF virtual address in the module */
	const char *module;     /* path, "[vdso]"... */
	const char *build_id;   /* NULL if unknown */
	const char *function;   /* NULL if no symbol covers rel_pc */
	uint64_t func_off;
};

/*
 * store_query_stack - call @fn for each frame of stack @id, innermost first (same rules for
 * @fn as store_query_events). A DB of schema version 1 has no stacks: nothing is called.
 * Returns 0 or -errno.
 */
int store_query_stack(struct store_ro *r, int64_t id,
		      int (*fn)(const struct store_frame_info *f, void *data), void *data);

/*
 * store_query_mapped_by_stack - the bytes mapped from each recorded stack: for every
 * (stack, mm), the sum over its events of what each event added to that mm's mapped size
 * (versions born at the event minus those that died at it, when positive; munmap and
 * mprotect add nothing). @pid non-zero: only that process's events in [@min_seq,
 * @max_seq] (@max_seq 0: to the end). Rows in no particular order. A version-1 DB has no
 * stacks: nothing is called. Same rules for @fn as store_query_events.
 */
int store_query_mapped_by_stack(struct store_ro *r, pid_t pid, uint64_t min_seq,
				uint64_t max_seq,
				int (*fn)(int64_t stack_id, uint64_t mm, uint64_t bytes,
					  void *data),
				void *data);

/*
 * What stacks cost in a trace: distinct stacks and frames, events that have one, and the
 * bytes they take (the pages of the frame, stack and stack_frame tables, from SQLite's
 * dbstat table when it is built in, else estimated from the rows, plus the stack_id
 * values in event rows).
 */
struct store_stack_summary {
	uint64_t stacks, frames, events, events_with_stack;
	uint64_t bytes;
};
int store_query_stack_summary(struct store_ro *r, struct store_stack_summary *ret);

/* store_has_tid, store_has_mm - 1 if the thread id / mm id appears in the trace, 0 if
 * not, -errno on error. (Processes: store_count_pid.) */
int store_has_tid(struct store_ro *r, pid_t tid);
int store_has_mm(struct store_ro *r, uint64_t mm);

/* The trace row, read back. Strings are malloc'ed copies (NULL when not recorded). */
struct store_trace_info {
	char *cmdline, *cwd, *host, *kernel, *version, *mode;
	uint64_t start_realtime_ns;
	uint64_t start_mono_ns;
	long page_size;
	uint64_t end_mono_ns;  /* 0 while the trace is being written */
	char *end_status;      /* "done", "error: ...", NULL while being written */
};

/*
 * store_query_trace - read the trace row into @ret. The caller owns the strings and frees
 * them with store_trace_info_release(). Returns 0 or -errno (@ret untouched on failure).
 */
int store_query_trace(struct store_ro *r, struct store_trace_info *ret);
void store_trace_info_release(struct store_trace_info *t);

/*
 * store_query_divergences - call @fn for each check of run --verify after which the model
 * differed from the kernel, in the order they were made (schema 3; nothing before). The
 * report string is valid during the call only. Returns 0, @fn's non-zero, or -errno.
 */
int store_query_divergences(struct store_ro *r,
			    int (*fn)(uint64_t seq, uint64_t mm, const char *report, void *data),
			    void *data);

/* store_query_last_seq - the seq of the last event, 0 if the trace has none. */
int store_query_last_seq(struct store_ro *r, uint64_t *ret_seq);

/*
 * store_query_vmas_at - call @fn for every VMA version of @mm alive after event @seq
 * (born_seq <= seq < died_seq), in address order: the map `maps --at SEQ` prints. The
 * version passed to @fn (and its name) is valid during the call only. A non-zero return
 * from @fn stops the walk and is returned. Returns 0 or -errno. Cost: an index range per
 * life class (see sql/schema.sql), about 2 ms for 1,500 VMAs whatever the trace's length.
 */
int store_query_vmas_at(struct store_ro *r, uint64_t mm, uint64_t seq,
			int (*fn)(const struct store_vma *v, uint64_t id, void *data), void *data);

/*
 * store_query_vma_history - call @fn for every VMA version that covered address @addr
 * (start <= addr < end) at some point, in mm @mm (0: in every mm), in order of birth.
 * @died_seq is 0 for a version still alive at the end of the trace. Same rules for @fn.
 */
int store_query_vma_history(struct store_ro *r, uint64_t mm, uint64_t addr,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data);

/* A process as the trace saw it (one row per tgid life; pids may repeat). */
struct store_proc_info {
	uint64_t id;            /* surrogate id, in order of appearance */
	pid_t pid, ppid;
	uint64_t start_seq;     /* creating event, 0 for the root */
	uint64_t end_seq;       /* ending event, 0 while alive at the end of the trace */
	int exit_status;        /* wait(2) status, -1 if it had not ended */
	const char *exe;        /* last program, NULL if unknown */
	const char *argv;       /* last argv, JSON array, NULL if none */
	uint64_t mm;            /* mm at birth */
};

/* store_query_processes - every process in order of appearance. Same rules for @fn. */
int store_query_processes(struct store_ro *r,
			  int (*fn)(const struct store_proc_info *p, void *data), void *data);

/* store_query_process_mms - the mms process @id used, in order: (start_seq, mm, NULL) for
 * its birth, then (seq, mm, program) for each execve. */
int store_query_process_mms(struct store_ro *r, uint64_t id,
			    int (*fn)(uint64_t seq, uint64_t mm, const char *exe, void *data),
			    void *data);

/* store_query_mm_users - the mm_users history of @mm: (seq, users) in order. */
int store_query_mm_users(struct store_ro *r, uint64_t mm,
			 int (*fn)(uint64_t seq, int users, void *data), void *data);

/*
 * store_query_process - the most recent process with @pid into @ret (strings NULL: use
 * store_query_processes for them). 0, or -ENOENT.
 */
int store_query_process(struct store_ro *r, pid_t pid, struct store_proc_info *ret);

/*
 * store_query_process_nth - process @pid by order of appearance: @nth 1 is the first
 * process that had this pid in the trace, 2 the next (pids are reused); 0 the most
 * recent. Same rules as store_query_process(). 0, or -ENOENT.
 */
int store_query_process_nth(struct store_ro *r, pid_t pid, unsigned int nth,
			    struct store_proc_info *ret);

/* store_count_pid - how many processes had @pid in the trace. */
int store_count_pid(struct store_ro *r, pid_t pid, uint64_t *ret_count);

/*
 * store_query_mm_of_process - the mm process row @id (store_proc_info.id) used after event
 * @seq: that of its last execve at or before @seq, else its mm at birth. The caller checks
 * that @seq is within the process's life. 0, or -ENOENT for an unknown id.
 */
int store_query_mm_of_process(struct store_ro *r, uint64_t id, uint64_t seq, uint64_t *ret_mm);

/* Ad-hoc queries (lib/store_query.c). ---------------------------------------------------- */

/*
 * One result row of store_sql_exec(), valid during the callback only. For each of the
 * n_cols columns: its name, its type (STORE_SQL_INTEGER...: SQLite's fundamental types, per
 * value, since a column may mix them), and its value as SQLite's text (a BLOB's raw bytes),
 * lens[i] bytes long; texts[i] is NULL for NULL.
 */
enum {
	STORE_SQL_INTEGER = 1,
	STORE_SQL_FLOAT = 2,
	STORE_SQL_TEXT = 3,
	STORE_SQL_BLOB = 4,
	STORE_SQL_NULL = 5,
};
struct store_sql_row {
	int n_cols;
	const char *const *names;
	const int *types;
	const char *const *texts;
	const int *lens;
};

/*
 * store_sql_exec - run one read-only SQL statement @sql on @r, calling @fn for each row (a
 * non-zero return stops the walk and is returned). Trailing blanks, ';' and comments are
 * allowed. Errors: -EROFS (the statement would write, or change the connection: ATTACH,
 * DETACH, a PRAGMA given a value), -ENOTSUP (more than one statement), -ENODATA (no
 * statement), -EINVAL (an SQL error: store_ro_errmsg() says which), other -errno.
 */
int store_sql_exec(struct store_ro *r, const char *sql,
		   int (*fn)(const struct store_sql_row *row, void *data), void *data);

#endif
