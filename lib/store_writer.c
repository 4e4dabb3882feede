// SPDX-License-Identifier: MIT
/*
 * The store's writer thread: takes the queue that store.c's store_add_*() calls fill and
 * inserts it with prepared statements, in transactions (design: store.c). It is the only
 * user of the writer's SQLite handle.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_internal.h"
#include "store_writer.h"
#include "xalloc.h"

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
	/* What came of a +signal, known at the thread's next stop (store_set_event_ret). */
	[ST_EVENT_RET] = "UPDATE event SET ret = ?2 WHERE seq = ?1",
	[ST_DIVERGENCE] = "INSERT INTO divergence (seq, mm, report) VALUES (?1, ?2, ?3)",
};

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

int store_writer_prepare(struct store *s)
{
	int rc = sqlite3_create_function(s->db, "vmatrace_life_class", 1,
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

/* The writer is done with @n records (committed, rolled back or dropped). */
static void writer_done(struct store *s, uint64_t n)
{
	__atomic_add_fetch(&s->done, n, __ATOMIC_RELEASE);
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

	int err = store_error(s);

	if (err) {
		/* An error the producer saw (ENOMEM) has no SQLite message. */
		snprintf(buf, sizeof(buf), "error: %s", s->errmsg[0] ? s->errmsg : strerror(-err));
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
	if (!store_error(s))
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
	log_debug("store: %s: %s", what, sqlite3_errmsg(s->db));
	store_set_error(s, err);
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
	case REC_EVENT_RET:
		st = s->st[ST_EVENT_RET];
		store_bind_u64(st, 1, r->event_ret.seq);
		sqlite3_bind_int64(st, 2, r->event_ret.ret);
		return store_step(st);
	case REC_DIVERGENCE:
		st = s->st[ST_DIVERGENCE];
		store_bind_u64(st, 1, r->divergence.seq);
		store_bind_u64(st, 2, r->divergence.mm);
		bind_text(st, 3, r->divergence.report);
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
			/* s->err: the producer may set it too (ENOMEM), hence atomic reads */
			if (!store_error(s) && !s->in_txn) {
				rc = store_step(s->st[ST_BEGIN]);
				if (rc == SQLITE_OK) {
					s->in_txn = true;
					s->txn_start_ms = store_mono_ns() / 1000000;
				} else {
					writer_fail(s, rc, "begin");
				}
			}
			if (store_error(s)) {
				/* Dropped: the store has failed. */
				writer_done(s, 1);
				store_rec_free(r);
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
			store_rec_free(r);
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

/* Tell the owner's loop (store_ready, store_closed changed): add 1 to its eventfd. */
static void writer_notify(struct store *s)
{
	uint64_t one = 1;

	if (s->notify_fd >= 0 && write(s->notify_fd, &one, sizeof(one)) < 0)
		log_debug("store: cannot notify: %m"); /* EAGAIN: a wake-up is pending anyway */
}

void *store_writer_main(void *arg)
{
	struct store *s = arg;
	uint64_t gather_until = 0;
	struct timespec ts;
	struct chunk *batch;
	int r;

	if (s->fsuid != (uid_t)-1) {
		setfsgid(s->fsgid);
		setfsuid(s->fsuid);
	}

	/*
	 * The DB's setup first, here rather than in store_create_async(): it costs a
	 * transaction and its fsyncs. Records queued meanwhile wait in the queue. After a
	 * failure the store's error is sticky: every record is dropped until the close.
	 */
	r = store_writer_open(s);
	if (r < 0)
		store_set_error(s, r);
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->setup, r, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&s->setup_cv);
	pthread_mutex_unlock(&s->lock);
	writer_notify(s);

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
	bool discard = s->discard;
	pthread_mutex_unlock(&s->lock);
	/* The close (commit, checkpoint, back to rollback-journal mode) is the slow part of
	 * a trace's end: here, off the owner's loop. */
	if (s->db)
		writer_finish(s);
	if (discard)
		store_writer_remove(s);
	__atomic_store_n(&s->closed, true, __ATOMIC_RELEASE);
	writer_notify(s);
	return NULL;
}
