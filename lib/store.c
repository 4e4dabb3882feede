// SPDX-License-Identifier: MIT
/*
 * The event store: with store_read.c, the only code that calls sqlite3_*. It owns the trace DB's life (create,
 * schema, PRAGMAs, close), the writer thread that turns queued records into rows, and the
read-only queries live in store_read.c. The schema and its rationale are in sql/schema.sql.
 *
 * Writer design. The tracer calls store_add_*() from its ptrace stop path, so those calls
 * only copy the record into a queue under a mutex: an O(1) append into a chunk of
 * CHUNK_RECS records, no SQLite and, most of the time, no syscall. The writer thread takes
 * the whole queue at once (swapping the chunk list out under the lock), inserts it with
 * prepared statements inside one transaction, and commits when the queue runs dry or the
 * transaction is STORE_COMMIT_MS old. It sleeps while the queue is short, up to GATHER_MS,
 * so that a slow trickle of events still makes few, large transactions; the producer
 * wakes it only when the queue goes from empty to non-empty or reaches WAKE_RECS.
 *
 * Errors. A failing SQLite call in the writer makes the store's error sticky (first one
 * wins); the open transaction is rolled back and every later record is dropped. A record
 * that only breaks a constraint (a duplicate id from a model bug) is dropped alone, with a
 * debug line, so one bad record does not end the trace.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "schema.h"
#include "store.h"
#include "store_internal.h"
#include "xalloc.h"

#define CHUNK_RECS 256                    /* records per queue chunk (~40 KiB) */
#define WAKE_RECS 1024                    /* wake the writer when this many wait */
#define GATHER_MS (STORE_COMMIT_MS / 2)   /* how long the writer lets a short queue fill */
#define SPARE_CHUNKS 16                   /* drained chunks kept for reuse */
#define LIFE_CLASS_MAX 47                 /* see vma.life_class in sql/schema.sql */
#define SIZE_CLASS_MAX 61                 /* see vma.size_class; 2 << 61 still fits int64 */

enum rec_type {
	REC_EVENT,
	REC_TRACE_META,
	REC_TRACE_END,
	REC_SYSCALL,
	REC_PROCESS,
	REC_EXEC,
	REC_PROCESS_END,
	REC_THREAD,
	REC_THREAD_END,
	REC_FILE,
	REC_MM,
	REC_MM_END,
	REC_MM_USERS,
	REC_VMA,
	REC_VMA_END,
	REC_MAX_PAGES,
	REC_FRAME,
	REC_STACK,
};

/*
 * One queued record. The union keeps them all at the size of the largest (struct event,
 * 152 bytes); strings are owned by the record until the writer frees them.
 */
struct rec {
	enum rec_type type;
	union {
		struct event ev;
		struct {
			char *cmdline, *cwd, *host, *kernel, *version, *mode;
			uint64_t realtime_ns, mono_ns;
			long page_size;
		} meta;
		struct {
			uint64_t mono_ns;
			char *status;
		} end;
		struct {
			int nr;
			char *name;
		} sys;
		struct {
			pid_t pid, ppid;
			uint64_t seq, mm;
			char *exe, *argv;
		} proc;                /* REC_PROCESS, REC_EXEC */
		struct {
			pid_t id, pid;
			uint64_t seq;
			int status;
		} task;                /* REC_PROCESS_END, REC_THREAD, REC_THREAD_END */
		struct {
			uint64_t dev, ino;
			char *path, *build_id;
		} file;
		struct {
			uint64_t id, seq, parent;
			pid_t owner;
			int users;
		} mm;                  /* REC_MM, REC_MM_END, REC_MM_USERS */
		struct {
			uint64_t id, mm, start, end, offset, dev, ino, born_seq;
			char *name;
			char perms[5];
			bool origin_unknown;
		} vma;
		struct {
			uint64_t id, seq;
		} vma_end;
		struct store_frame frame; /* strings owned (cast away const) */
		struct {
			uint64_t id;
			uint64_t *frames;
			unsigned n;
		} stack;
		int max_pages;
	};
};

struct chunk {
	struct chunk *next;
	unsigned n;
	struct rec recs[CHUNK_RECS];
};

/* Prepared statements of the writer, indexes into store->st. */
enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_EVENT,
	ST_FILE_FIND,
	ST_FILE_NEW,
	ST_FILE_UPSERT,
	ST_TRACE_META,
	ST_TRACE_END,
	ST_SYSCALL,
	ST_PROCESS,
	ST_EXEC,
	ST_EXEC_PROCESS,
	ST_PROCESS_END,
	ST_THREAD,
	ST_THREAD_END,
	ST_MM,
	ST_MM_END,
	ST_MM_USERS,
	ST_VMA,
	ST_VMA_END,
	N_ST
};

static const char *const writer_sql[N_ST] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_EVENT] = "INSERT INTO event (seq, time_ns, pid, tid, mm, kind, nr, a0, a1, a2, a3, a4,"
		     " a5, ret, dur_ns, file, argv, stack_id)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
		     " ?16, ?17, ?18)",
	[ST_FILE_FIND] = "SELECT id FROM file WHERE dev = ?1 AND ino = ?2 AND path = ?3",
	[ST_FILE_NEW] = "INSERT INTO file (dev, ino, path) VALUES (?1, ?2, ?3)",
	/* A later store_add_file() may know the build-id an event's mmap did not. */
	[ST_FILE_UPSERT] = "INSERT INTO file (dev, ino, path, build_id) VALUES (?1, ?2, ?3, ?4)"
			   " ON CONFLICT (dev, ino, path)"
			   " DO UPDATE SET build_id = coalesce(excluded.build_id, build_id)",
	[ST_TRACE_META] = "UPDATE trace SET cmdline = ?1, cwd = ?2, host = ?3, kernel = ?4,"
			  " version = ?5, mode = ?6, start_realtime_ns = ?7, start_mono_ns = ?8,"
			  " page_size = ?9 WHERE id = 1",
	[ST_TRACE_END] = "UPDATE trace SET end_mono_ns = ?1, end_status = ?2 WHERE id = 1",
	[ST_SYSCALL] = "INSERT OR REPLACE INTO syscall (nr, name) VALUES (?1, ?2)",
	[ST_PROCESS] = "INSERT INTO process (pid, ppid, start_seq, exe, mm)"
		       " VALUES (?1, ?2, ?3, ?4, ?5)",
	/* "Process P" is the most recent live row with pid P (pids are reused). */
	[ST_EXEC] = "INSERT INTO exec (process, pid, seq, exe, argv, mm)"
		    " VALUES ((SELECT max(id) FROM process WHERE pid = ?1 AND end_seq IS NULL),"
		    " ?1, ?2, ?3, ?4, ?5)",
	[ST_EXEC_PROCESS] = "UPDATE process SET exe = ?2, argv = ?3 WHERE id ="
			    " (SELECT max(id) FROM process WHERE pid = ?1 AND end_seq IS NULL)",
	[ST_PROCESS_END] = "UPDATE process SET end_seq = ?2, exit_status = ?3 WHERE id ="
			   " (SELECT max(id) FROM process WHERE pid = ?1 AND end_seq IS NULL)",
	[ST_THREAD] = "INSERT INTO thread (tid, pid, start_seq) VALUES (?1, ?2, ?3)",
	[ST_THREAD_END] = "UPDATE thread SET end_seq = ?2, exit_status = ?3 WHERE id ="
			  " (SELECT max(id) FROM thread WHERE tid = ?1 AND end_seq IS NULL)",
	[ST_MM] = "INSERT INTO mm (id, start_seq, parent, owner) VALUES (?1, ?2, ?3, ?4)",
	[ST_MM_END] = "UPDATE mm SET end_seq = ?2 WHERE id = ?1",
	[ST_MM_USERS] = "INSERT INTO mm_users (mm, seq, users) VALUES (?1, ?2, ?3)",
	[ST_VMA] = "INSERT INTO vma (id, mm, start, end, perms, offset, dev, ino, name, born_seq,"
		   " origin_unknown, life_class, size_class)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, -1, ?12)",
	/* The writer knows only the id at the end; vmatrace_life_class() is ours (below). */
	[ST_VMA_END] = "UPDATE vma SET died_seq = ?2,"
		       " life_class = vmatrace_life_class(?2 - born_seq) WHERE id = ?1",
};

struct store {
	uid_t fsuid;                /* files are opened as this user (system daemon), -1: ours */
	gid_t fsgid;
	/* Shared, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* the writer waits here */
	struct chunk *head, *tail;    /* queued records, oldest first */
	unsigned queued;              /* records in head..tail */
	struct chunk *spare;          /* drained chunks for reuse */
	unsigned n_spare;
	bool writer_waiting;
	bool stop;
	uint64_t enqueued;            /* records ever queued (atomic stores, under lock) */

	/* Shared, atomic. */
	int err;                      /* sticky -errno, 0 if none */
	uint64_t done;                /* records committed or dropped (writer) */

	/* Producer only. */
	uint64_t next_vma_id;

	/* Writer only (the creating thread until pthread_create). */
	pthread_t thread;
	sqlite3 *db;
	sqlite3_stmt *st[N_ST];
	struct store_stack_writer stack_st; /* store_stack.c */
	bool in_txn;
	uint64_t txn_start_ms;
	uint64_t txn_recs;            /* records in the open transaction */
	uint64_t txn_events;          /* ... of which events */
	uint64_t events_stored;       /* events in committed transactions (writer) */
	uint64_t end_mono_ns;         /* from REC_TRACE_END */
	char *end_status;
	char errmsg[200];             /* SQLite's message for the sticky error */
};

/* Common helpers. ---------------------------------------------------------------------- */

uint64_t store_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* sqlite_errno - the -errno for an SQLite (extended) result code. */
int store_sqlite_errno(sqlite3 *db, int rc)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		if (rc == SQLITE_IOERR_NOMEM)
			return -ENOMEM;
		/* The failing system call's errno (EIO, EDQUOT, EACCES...) says more. */
		e = db ? sqlite3_system_errno(db) : 0;
		return e > 0 ? -e : -EIO;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOTADB:
		return -EMEDIUMTYPE;
	case SQLITE_CORRUPT:
		return -EUCLEAN;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return -EINVAL;
	case SQLITE_INTERRUPT:
		return -EINTR;
	case SQLITE_PROTOCOL:
		return -EPROTO;
	case SQLITE_NOLFS:
		return -EFBIG;
	default:
		return -EIO;
	}
}

/* floor(log2(x)) for x >= 1, 0 for x <= 1, at most @max. */
static int log2_class(int64_t x, int max)
{
	int c;

	if (x <= 1)
		return 0;
	c = 63 - __builtin_clzll((unsigned long long)x);
	return c < max ? c : max;
}

static void sql_life_class(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int(ctx, log2_class(sqlite3_value_int64(argv[0]), LIFE_CLASS_MAX));
}

/*
 * bind_text - bind text or NULL. SQLITE_STATIC: SQLite reads the caller's buffer in place,
 * no copy; safe because every string bound here outlives the step and the reset (which
 * clears the bindings) that follow.
 */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Queue (producer side). --------------------------------------------------------------- */

static void set_error(struct store *s, int err)
{
	int zero = 0;

	__atomic_compare_exchange_n(&s->err, &zero, err, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

int store_error(struct store *s)
{
	return s ? __atomic_load_n(&s->err, __ATOMIC_SEQ_CST) : 0;
}

uint64_t store_pending(struct store *s)
{
	uint64_t done;

	if (!s)
		return 0;
	done = __atomic_load_n(&s->done, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->enqueued, __ATOMIC_ACQUIRE) - done;
}

/* The writer is done with @n records (committed, rolled back or dropped). */
static void writer_done(struct store *s, uint64_t n)
{
	__atomic_add_fetch(&s->done, n, __ATOMIC_RELEASE);
}

static void rec_free(struct rec *r)
{
	switch (r->type) {
	case REC_EVENT:
		event_release(&r->ev);
		break;
	case REC_TRACE_META:
		free(r->meta.cmdline);
		free(r->meta.cwd);
		free(r->meta.host);
		free(r->meta.kernel);
		free(r->meta.version);
		free(r->meta.mode);
		break;
	case REC_TRACE_END:
		free(r->end.status);
		break;
	case REC_SYSCALL:
		free(r->sys.name);
		break;
	case REC_PROCESS:
	case REC_EXEC:
		free(r->proc.exe);
		free(r->proc.argv);
		break;
	case REC_FILE:
		free(r->file.path);
		free(r->file.build_id);
		break;
	case REC_VMA:
		free(r->vma.name);
		break;
	case REC_FRAME:
		free((char *)r->frame.path);
		free((char *)r->frame.build_id);
		free((char *)r->frame.function);
		break;
	case REC_STACK:
		free(r->stack.frames);
		break;
	default:
		break;
	}
}

/* Duplicate @src into *@dst; false (and *dst NULL) only when out of memory. */
static bool dup_str(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

/*
 * enqueue - move @r (and the strings it owns) into the queue. If the store has failed or
 * memory runs out, the record is freed instead: the caller never keeps it.
 */
static void enqueue(struct store *s, struct rec *r, bool alloc_ok)
{
	struct chunk *c;

	if (!alloc_ok)
		set_error(s, -ENOMEM);
	if (__atomic_load_n(&s->err, __ATOMIC_RELAXED) && r->type != REC_TRACE_END)
		goto drop;

	pthread_mutex_lock(&s->lock);
	c = s->tail;
	if (!c || c->n == CHUNK_RECS) {
		if (s->spare) {
			c = s->spare;
			s->spare = c->next;
			s->n_spare--;
		} else {
			c = malloc(sizeof(*c));
			if (!c) {
				pthread_mutex_unlock(&s->lock);
				set_error(s, -ENOMEM);
				goto drop;
			}
		}
		c->next = NULL;
		c->n = 0;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
	}
	c->recs[c->n++] = *r;
	s->queued++;
	/* Only this thread writes it, under the lock: a plain store, no locked add. */
	__atomic_store_n(&s->enqueued, s->enqueued + 1, __ATOMIC_RELEASE);
	/* Wake a sleeping writer once per batch, and again when the batch is big. */
	if (s->writer_waiting && (s->queued == 1 || s->queued == WAKE_RECS))
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return;
drop:
	rec_free(r);
}

void store_add_event(struct store *s, struct event *ev)
{
	struct rec r = { .type = REC_EVENT };

	event_move(&r.ev, ev);
	if (!s) {
		event_release(&r.ev);
		return;
	}
	enqueue(s, &r, true);
}

int store_begin_trace(struct store *s, const struct store_trace_meta *m)
{
	struct rec r = { .type = REC_TRACE_META };
	bool ok;

	if (!s || !m)
		return -EINVAL;
	ok = dup_str(&r.meta.cmdline, m->cmdline) & dup_str(&r.meta.cwd, m->cwd) &
	     dup_str(&r.meta.host, m->host) & dup_str(&r.meta.kernel, m->kernel) &
	     dup_str(&r.meta.version, m->version) & dup_str(&r.meta.mode, m->mode);
	r.meta.realtime_ns = m->start_realtime_ns;
	r.meta.mono_ns = m->start_mono_ns;
	r.meta.page_size = m->page_size;
	enqueue(s, &r, ok);
	return store_error(s);
}

int store_add_syscall_names(struct store *s, const char *(*name)(int nr), int max_nr)
{
	if (!s || !name)
		return -EINVAL;
	for (int nr = 0; nr <= max_nr; nr++) {
		const char *n = name(nr);
		struct rec r = { .type = REC_SYSCALL, .sys.nr = nr };

		if (!n)
			continue;
		enqueue(s, &r, dup_str(&r.sys.name, n));
	}
	return store_error(s);
}

void store_test_set_max_pages(struct store *s, int pages)
{
	struct rec r = { .type = REC_MAX_PAGES, .max_pages = pages };

	enqueue(s, &r, true);
}

void store_add_process(struct store *s, const struct store_process *p)
{
	struct rec r = { .type = REC_PROCESS };

	r.proc.pid = p->pid;
	r.proc.ppid = p->ppid;
	r.proc.seq = p->start_seq;
	r.proc.mm = p->mm;
	enqueue(s, &r, dup_str(&r.proc.exe, p->exe));
}

void store_add_process_exec(struct store *s, pid_t pid, uint64_t seq, const char *exe,
			    const char *argv_json, uint64_t mm)
{
	struct rec r = { .type = REC_EXEC };
	bool ok;

	r.proc.pid = pid;
	r.proc.seq = seq;
	r.proc.mm = mm;
	ok = dup_str(&r.proc.exe, exe) & dup_str(&r.proc.argv, argv_json);
	enqueue(s, &r, ok);
}

void store_end_process(struct store *s, pid_t pid, uint64_t seq, int wait_status)
{
	struct rec r = { .type = REC_PROCESS_END };

	r.task.id = pid;
	r.task.seq = seq;
	r.task.status = wait_status;
	enqueue(s, &r, true);
}

void store_add_thread(struct store *s, pid_t tid, pid_t pid, uint64_t start_seq)
{
	struct rec r = { .type = REC_THREAD };

	r.task.id = tid;
	r.task.pid = pid;
	r.task.seq = start_seq;
	enqueue(s, &r, true);
}

void store_end_thread(struct store *s, pid_t tid, uint64_t seq, int wait_status)
{
	struct rec r = { .type = REC_THREAD_END };

	r.task.id = tid;
	r.task.seq = seq;
	r.task.status = wait_status;
	enqueue(s, &r, true);
}

void store_add_file(struct store *s, const struct store_file *f)
{
	struct rec r = { .type = REC_FILE };
	bool ok;

	r.file.dev = f->dev;
	r.file.ino = f->ino;
	ok = dup_str(&r.file.path, f->path ? f->path : "") & dup_str(&r.file.build_id, f->build_id);
	enqueue(s, &r, ok);
}

void store_add_frame(struct store *s, const struct store_frame *f)
{
	struct rec r = { .type = REC_FRAME, .frame = *f };
	char *path, *build_id, *function;
	bool ok = dup_str(&path, f->path) & dup_str(&build_id, f->build_id) &
		  dup_str(&function, f->function);

	r.frame.path = path;
	r.frame.build_id = build_id;
	r.frame.function = function;
	enqueue(s, &r, ok);
}

void store_add_stack(struct store *s, uint64_t id, const uint64_t *frames, unsigned n)
{
	struct rec r = { .type = REC_STACK, .stack = { .id = id, .n = n } };

	r.stack.frames = malloc((n ? n : 1) * sizeof(*frames));
	if (r.stack.frames)
		memcpy(r.stack.frames, frames, n * sizeof(*frames));
	enqueue(s, &r, r.stack.frames != NULL);
}

void store_add_mm(struct store *s, const struct store_mm *mm)
{
	struct rec r = { .type = REC_MM };

	r.mm.id = mm->id;
	r.mm.seq = mm->start_seq;
	r.mm.parent = mm->parent;
	r.mm.owner = mm->owner;
	enqueue(s, &r, true);
}

void store_end_mm(struct store *s, uint64_t id, uint64_t seq)
{
	struct rec r = { .type = REC_MM_END };

	r.mm.id = id;
	r.mm.seq = seq;
	enqueue(s, &r, true);
}

void store_mm_users(struct store *s, uint64_t mm, uint64_t seq, int users)
{
	struct rec r = { .type = REC_MM_USERS };

	r.mm.id = mm;
	r.mm.seq = seq;
	r.mm.users = users;
	enqueue(s, &r, true);
}

uint64_t store_add_vma(struct store *s, const struct store_vma *v)
{
	struct rec r = { .type = REC_VMA };

	/* Ids come from this counter, not from SQLite: the caller needs one right now. */
	r.vma.id = ++s->next_vma_id;
	r.vma.mm = v->mm;
	r.vma.start = v->start;
	r.vma.end = v->end;
	r.vma.offset = v->offset;
	r.vma.dev = v->dev;
	r.vma.ino = v->ino;
	r.vma.born_seq = v->born_seq;
	memcpy(r.vma.perms, v->perms, sizeof(r.vma.perms));
	r.vma.perms[sizeof(r.vma.perms) - 1] = '\0';
	r.vma.origin_unknown = v->origin_unknown;
	enqueue(s, &r, dup_str(&r.vma.name, v->name ? v->name : ""));
	return r.vma.id;
}

void store_end_vma(struct store *s, uint64_t id, uint64_t died_seq)
{
	struct rec r = { .type = REC_VMA_END };

	r.vma_end.id = id;
	r.vma_end.seq = died_seq;
	enqueue(s, &r, true);
}

/* Writer thread. ----------------------------------------------------------------------- */

/* store_step - run @st to completion and reset it; returns the SQLite result (DONE -> OK). */
int store_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Write the end row of the trace; best effort, also after an error. */
static void writer_write_end(struct store *s)
{
	sqlite3_stmt *st = s->st[ST_TRACE_END];
	char buf[sizeof(s->errmsg) + 16];
	const char *status = s->end_status;

	if (s->err) {
		/* An error the producer saw (ENOMEM) has no SQLite message. */
		snprintf(buf, sizeof(buf), "error: %s",
			 s->errmsg[0] ? s->errmsg : strerror(-s->err));
		status = buf;
	}
	if (s->end_mono_ns)
		store_bind_u64(st, 1, s->end_mono_ns);
	else
		sqlite3_bind_null(st, 1);
	bind_text(st, 2, status);
	if (store_step(st) != SQLITE_OK)
		log_debug("store: cannot record the trace's end: %s", sqlite3_errmsg(s->db));
}

/*
 * writer_fail - the sticky error path: keep the first error and SQLite's message, drop
 * the open transaction (its records are lost with it), and say so in the trace row if the
 * DB still takes a write (a full disk often still has room for rewriting one page).
 */
static void writer_fail(struct store *s, int rc, const char *what)
{
	int err = store_sqlite_errno(s->db, rc);

	if (!err)
		err = -EIO;
	if (!s->err)
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
	log_debug("store: %s: %s", what, sqlite3_errmsg(s->db));
	set_error(s, err);
	if (s->in_txn && sqlite3_get_autocommit(s->db) == 0)
		store_step(s->st[ST_ROLLBACK]);
	s->in_txn = false;
	writer_done(s, s->txn_recs);
	s->txn_recs = 0;
	s->txn_events = 0;
	writer_write_end(s);
}

static void writer_commit(struct store *s)
{
	int rc;

	if (!s->in_txn)
		return;
	rc = store_step(s->st[ST_COMMIT]);
	if (rc != SQLITE_OK) {
		writer_fail(s, rc, "commit");
		return;
	}
	s->in_txn = false;
	writer_done(s, s->txn_recs);
	s->txn_recs = 0;
	s->events_stored += s->txn_events;
	s->txn_events = 0;
}

/*
 * file_id - the id of file (@dev, @ino, @path), inserting it if new. One indexed lookup;
 * file mappings are a minority of events, so no cache in front of it.
 */
static int file_id(struct store *s, uint64_t dev, uint64_t ino, const char *path,
		   sqlite3_int64 *ret_id)
{
	sqlite3_stmt *st = s->st[ST_FILE_FIND];
	int rc;

	store_bind_u64(st, 1, dev);
	store_bind_u64(st, 2, ino);
	bind_text(st, 3, path ? path : "");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return SQLITE_OK;
	if (rc != SQLITE_DONE)
		return rc;

	st = s->st[ST_FILE_NEW];
	store_bind_u64(st, 1, dev);
	store_bind_u64(st, 2, ino);
	bind_text(st, 3, path ? path : "");
	rc = store_step(st);
	if (rc == SQLITE_OK)
		*ret_id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int insert_event(struct store *s, const struct event *ev)
{
	sqlite3_stmt *st = s->st[ST_EVENT];
	sqlite3_int64 file = 0;
	int rc;

	if (ev->path || ev->dev || ev->ino) {
		rc = file_id(s, ev->dev, ev->ino, ev->path, &file);
		if (rc != SQLITE_OK)
			return rc;
	}
	store_bind_u64(st, 1, ev->seq);
	store_bind_u64(st, 2, ev->time_ns);
	sqlite3_bind_int(st, 3, ev->pid);
	sqlite3_bind_int(st, 4, ev->tid);
	store_bind_u64(st, 5, ev->mm);
	sqlite3_bind_int(st, 6, ev->kind);
	sqlite3_bind_int(st, 7, ev->nr);
	for (int i = 0; i < 6; i++)
		store_bind_u64(st, 8 + i, ev->args[i]);
	sqlite3_bind_int64(st, 14, ev->ret);
	store_bind_u64(st, 15, ev->dur_ns);
	if (file)
		sqlite3_bind_int64(st, 16, file);
	bind_text(st, 17, ev->argv);
	if (ev->stack_id)
		sqlite3_bind_int64(st, 18, ev->stack_id);
	return store_step(st);
}

/* insert - write one record (inside the open transaction). Returns an SQLite code. */
static int insert(struct store *s, const struct rec *r)
{
	sqlite3_stmt *st;
	char sql[64];

	switch (r->type) {
	case REC_EVENT:
		return insert_event(s, &r->ev);
	case REC_TRACE_META:
		st = s->st[ST_TRACE_META];
		bind_text(st, 1, r->meta.cmdline);
		bind_text(st, 2, r->meta.cwd);
		bind_text(st, 3, r->meta.host);
		bind_text(st, 4, r->meta.kernel);
		bind_text(st, 5, r->meta.version);
		bind_text(st, 6, r->meta.mode);
		store_bind_u64(st, 7, r->meta.realtime_ns);
		store_bind_u64(st, 8, r->meta.mono_ns);
		sqlite3_bind_int64(st, 9, r->meta.page_size);
		return store_step(st);
	case REC_TRACE_END:
		/* Written after the last commit, by writer_finish(). */
		return SQLITE_OK;
	case REC_SYSCALL:
		st = s->st[ST_SYSCALL];
		sqlite3_bind_int(st, 1, r->sys.nr);
		bind_text(st, 2, r->sys.name);
		return store_step(st);
	case REC_PROCESS:
		st = s->st[ST_PROCESS];
		sqlite3_bind_int(st, 1, r->proc.pid);
		sqlite3_bind_int(st, 2, r->proc.ppid);
		store_bind_u64(st, 3, r->proc.seq);
		bind_text(st, 4, r->proc.exe);
		store_bind_u64(st, 5, r->proc.mm);
		return store_step(st);
	case REC_EXEC: {
		int rc;

		st = s->st[ST_EXEC];
		sqlite3_bind_int(st, 1, r->proc.pid);
		store_bind_u64(st, 2, r->proc.seq);
		bind_text(st, 3, r->proc.exe);
		bind_text(st, 4, r->proc.argv);
		store_bind_u64(st, 5, r->proc.mm);
		rc = store_step(st);
		if (rc != SQLITE_OK)
			return rc;
		st = s->st[ST_EXEC_PROCESS];
		sqlite3_bind_int(st, 1, r->proc.pid);
		bind_text(st, 2, r->proc.exe);
		bind_text(st, 3, r->proc.argv);
		return store_step(st);
	}
	case REC_PROCESS_END:
	case REC_THREAD_END:
		st = s->st[r->type == REC_PROCESS_END ? ST_PROCESS_END : ST_THREAD_END];
		sqlite3_bind_int(st, 1, r->task.id);
		store_bind_u64(st, 2, r->task.seq);
		sqlite3_bind_int(st, 3, r->task.status);
		return store_step(st);
	case REC_THREAD:
		st = s->st[ST_THREAD];
		sqlite3_bind_int(st, 1, r->task.id);
		sqlite3_bind_int(st, 2, r->task.pid);
		store_bind_u64(st, 3, r->task.seq);
		return store_step(st);
	case REC_FILE:
		st = s->st[ST_FILE_UPSERT];
		store_bind_u64(st, 1, r->file.dev);
		store_bind_u64(st, 2, r->file.ino);
		bind_text(st, 3, r->file.path);
		bind_text(st, 4, r->file.build_id);
		return store_step(st);
	case REC_MM:
		st = s->st[ST_MM];
		store_bind_u64(st, 1, r->mm.id);
		store_bind_u64(st, 2, r->mm.seq);
		store_bind_u64(st, 3, r->mm.parent);
		sqlite3_bind_int(st, 4, r->mm.owner);
		return store_step(st);
	case REC_MM_END:
		st = s->st[ST_MM_END];
		store_bind_u64(st, 1, r->mm.id);
		store_bind_u64(st, 2, r->mm.seq);
		return store_step(st);
	case REC_MM_USERS:
		st = s->st[ST_MM_USERS];
		store_bind_u64(st, 1, r->mm.id);
		store_bind_u64(st, 2, r->mm.seq);
		sqlite3_bind_int(st, 3, r->mm.users);
		return store_step(st);
	case REC_VMA:
		st = s->st[ST_VMA];
		store_bind_u64(st, 1, r->vma.id);
		store_bind_u64(st, 2, r->vma.mm);
		store_bind_u64(st, 3, r->vma.start);
		store_bind_u64(st, 4, r->vma.end);
		bind_text(st, 5, r->vma.perms);
		store_bind_u64(st, 6, r->vma.offset);
		store_bind_u64(st, 7, r->vma.dev);
		store_bind_u64(st, 8, r->vma.ino);
		bind_text(st, 9, r->vma.name);
		store_bind_u64(st, 10, r->vma.born_seq);
		sqlite3_bind_int(st, 11, r->vma.origin_unknown);
		sqlite3_bind_int(st, 12, log2_class((int64_t)(r->vma.end - r->vma.start),
						    SIZE_CLASS_MAX));
		return store_step(st);
	case REC_VMA_END:
		st = s->st[ST_VMA_END];
		store_bind_u64(st, 1, r->vma_end.id);
		store_bind_u64(st, 2, r->vma_end.seq);
		return store_step(st);
	case REC_MAX_PAGES:
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", r->max_pages);
		return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	case REC_FRAME:
		return store_stack_insert_frame(&s->stack_st, &r->frame);
	case REC_STACK:
		return store_stack_insert_stack(&s->stack_st, r->stack.id, r->stack.frames,
						r->stack.n);
	}
	assert(!"unknown record type");
	return SQLITE_MISUSE;
}

/* writer_run - insert a batch of chunks taken from the queue; recycles or frees them. */
static void writer_run(struct store *s, struct chunk *batch)
{
	struct chunk *c, *next;
	int rc;

	for (c = batch; c; c = next) {
		next = c->next;
		for (unsigned i = 0; i < c->n; i++) {
			struct rec *r = &c->recs[i];

			if (r->type == REC_TRACE_END) {
				s->end_mono_ns = r->end.mono_ns;
				free(s->end_status);
				s->end_status = steal_pointer(&r->end.status);
			}
			if (!s->err && !s->in_txn) {
				rc = store_step(s->st[ST_BEGIN]);
				if (rc == SQLITE_OK) {
					s->in_txn = true;
					s->txn_start_ms = store_mono_ns() / 1000000;
				} else {
					writer_fail(s, rc, "begin");
				}
			}
			if (s->err) {
				/* Dropped: the store has failed. */
				writer_done(s, 1);
				rec_free(r);
				continue;
			}
			s->txn_recs++;
			s->txn_events += r->type == REC_EVENT;
			rc = insert(s, r);
			if ((rc & 0xff) == SQLITE_CONSTRAINT) {
				/* A model bug (duplicate id), not a storage failure. */
				log_debug("store: record %d rejected: %s", r->type,
					  sqlite3_errmsg(s->db));
			} else if (rc != SQLITE_OK) {
				writer_fail(s, rc, "insert");
			}
			rec_free(r);
		}
		pthread_mutex_lock(&s->lock);
		if (s->n_spare < SPARE_CHUNKS) {
			c->next = s->spare;
			s->spare = c;
			s->n_spare++;
			c = NULL;
		}
		pthread_mutex_unlock(&s->lock);
		free(c);
	}
}

/*
 * writer_finish - after the last record: commit, write the trace's end, checkpoint the WAL
 * into the DB and return the file to rollback-journal mode, so that a finished trace is
 * one self-contained file that opens read-only anywhere (a WAL DB needs its -shm file,
 * which a read-only directory cannot hold). Both steps give way to a reader that has the
 * file open (SQLITE_BUSY): the trace then stays in WAL mode, which is fine.
 */
static void writer_finish(struct store *s)
{
	writer_commit(s);
	writer_write_end(s);
	for (int i = 0; i < N_ST; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	store_stack_finalize(&s->stack_st);
	/* Also after an error: what was committed is worth a self-contained file. */
	sqlite3_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_exec(s->db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_debug("store: close: %s", sqlite3_errmsg(s->db));
	s->db = NULL;
}

static void abs_deadline(struct timespec *ts, uint64_t ms)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	uint64_t gather_until = 0;
	struct timespec ts;
	struct chunk *batch;

	if (s->fsuid != (uid_t)-1) {
		setfsgid(s->fsgid);
		setfsuid(s->fsuid);
	}

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (!s->head) {
			if (s->stop)
				break;
			if (s->in_txn) {
				/* Drained after a burst: make it visible now. */
				pthread_mutex_unlock(&s->lock);
				writer_commit(s);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			gather_until = 0;
			s->writer_waiting = true;
			pthread_cond_wait(&s->wake, &s->lock);
			s->writer_waiting = false;
			continue;
		}
		if (s->queued < WAKE_RECS && !s->stop) {
			uint64_t now = store_mono_ns() / 1000000;

			if (!gather_until)
				gather_until = now + GATHER_MS;
			if (now < gather_until) {
				abs_deadline(&ts, gather_until);
				s->writer_waiting = true;
				pthread_cond_timedwait(&s->wake, &s->lock, &ts);
				s->writer_waiting = false;
				continue;
			}
		}
		gather_until = 0;
		batch = s->head;
		s->head = s->tail = NULL;
		s->queued = 0;
		pthread_mutex_unlock(&s->lock);

		writer_run(s, batch);
		if (s->in_txn && store_mono_ns() / 1000000 - s->txn_start_ms >= STORE_COMMIT_MS)
			writer_commit(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	writer_finish(s);
	return NULL;
}

/* Create and close. -------------------------------------------------------------------- */

static void unlink_db(const char *path)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char buf[4096];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]) < (int)sizeof(buf))
			unlink(buf);
	}
}

/*
 * create_schema - the schema and our marks, in one transaction in rollback-journal mode:
 * the main file holds a complete, marked DB before anyone can see it in WAL mode.
 */
static int create_schema(sqlite3 *db)
{
	char sql[160];
	int rc;

	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO trace (id) VALUES (1); PRAGMA application_id = %d;"
			 " PRAGMA user_version = %d",
			 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		log_debug("store: schema: %s", sqlite3_errmsg(db));
	return rc;
}

static int open_writer_db(const char *path, struct store *s)
{
	sqlite3_stmt *st;
	int rc;

	/* The writer thread is the handle's only user: no SQLite mutex needed. */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_extended_result_codes(s->db, 1);
	/*
	 * Readers do not block a WAL writer, except for a moment while one rebuilds the WAL
	 * index (recovery): wait that out instead of failing the trace with EBUSY.
	 */
	sqlite3_busy_timeout(s->db, 5000);
	rc = create_schema(s->db);
	if (rc != SQLITE_OK)
		return rc;

	/*
	 * WAL: readers (the client, while the trace runs) never block the writer. NORMAL:
	 * commits do not fsync (checkpoints do); a power cut may lose the last commits, never
	 * the file's consistency.
	 */
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		rc = SQLITE_CANTOPEN; /* a file system without shared memory, say */
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc;
	rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_create_function(s->db, "vmatrace_life_class", 1,
				     SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_life_class,
				     NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (int i = 0; i < N_ST; i++) {
		rc = sqlite3_prepare_v3(s->db, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->st[i], NULL);
		if (rc != SQLITE_OK) {
			log_debug("store: prepare '%s': %s", writer_sql[i], sqlite3_errmsg(s->db));
			return rc;
		}
	}
	return store_stack_prepare(s->db, &s->stack_st);
}

static void store_free(struct store *s)
{
	struct chunk *c;

	for (int i = 0; i < N_ST; i++)
		sqlite3_finalize(s->st[i]);
	store_stack_finalize(&s->stack_st);
	sqlite3_close(s->db);
	while ((c = s->spare)) {
		s->spare = c->next;
		free(c);
	}
	free(s->end_status);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int create(const char *path, uid_t uid, gid_t gid, struct store **ret);

int store_create(const char *path, struct store **ret)
{
	return store_create_as(path, (uid_t)-1, (gid_t)-1, ret);
}

int store_create_as(const char *path, uid_t uid, gid_t gid, struct store **ret)
{
	int r, old_uid = -1, old_gid = -1;

	/*
	 * The filesystem ids are per thread on Linux: this thread opens the DB as @uid, and
	 * the writer thread, which opens the WAL and journal later, takes the same ids.
	 */
	if (uid != (uid_t)-1) {
		old_gid = setfsgid(gid);
		old_uid = setfsuid(uid);
	}
	r = create(path, uid, gid, ret);
	if (uid != (uid_t)-1) {
		setfsuid((uid_t)old_uid);
		setfsgid((gid_t)old_gid);
	}
	return r;
}

static int create(const char *path, uid_t uid, gid_t gid, struct store **ret)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct store *s;
	int fd, rc, r;

	if (!path || !ret)
		return -EINVAL;
	/*
	 * O_EXCL: never overwrite a trace; SQLite itself would open an existing file. 0600
	 * like perf.data: a trace holds command lines and paths. SQLite gives -wal and -shm
	 * the same mode.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);

	s = calloc(1, sizeof(*s));
	if (!s) {
		unlink(path);
		return -ENOMEM;
	}
	s->fsuid = uid;
	s->fsgid = gid;
	pthread_mutex_init(&s->lock, NULL);
	/* Deadlines on CLOCK_MONOTONIC: a clock step must not stall or rush commits. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);

	rc = open_writer_db(path, s);
	if (rc != SQLITE_OK) {
		r = store_sqlite_errno(s->db, rc);
		log_debug("store: cannot create '%s': %s", path,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto error;
	}

	/*
	 * The writer thread takes no signals: the daemon reads SIGCHLD from a signalfd, which
	 * only works if no thread can have the signal delivered to it.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto error;
	pthread_setname_np(s->thread, "vmatrace-store");
	*ret = s;
	return 0;

error:
	store_free(s);
	unlink_db(path);
	return r ? r : -EIO;
}

int store_close(struct store *s, const char *end_status)
{
	return store_close_stats(s, end_status, NULL);
}

int store_close_stats(struct store *s, const char *end_status, uint64_t *ret_events)
{
	struct rec r = { .type = REC_TRACE_END };
	int err;

	if (!s)
		return 0;
	r.end.mono_ns = store_mono_ns();
	enqueue(s, &r, dup_str(&r.end.status, end_status ? end_status : "done"));

	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);

	err = store_error(s);
	if (ret_events)
		*ret_events = s->events_stored; /* the writer has ended: no race */
	store_free(s);
	return err;
}

