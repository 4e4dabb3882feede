// SPDX-License-Identifier: MIT
/*
 * The event store's writer side: with the other store*.c files, the only code that calls
 * sqlite3_*. Here: the trace DB's life (create, schema, PRAGMAs, close) and the queue the
 * tracer fills; store_writer.c is the thread that turns queued records into rows, and
 * store_read*.c the read-only queries. The schema and its rationale: sql/schema.sql.
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
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "schema.h"
#include "store.h"
#include "store_internal.h"
#include "store_writer.h"
#include "xalloc.h"

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

void store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* Queue (producer side). --------------------------------------------------------------- */

void store_set_error(struct store *s, int err)
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

void store_rec_free(struct rec *r)
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
	case REC_DIVERGENCE:
		free(r->divergence.report);
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
		store_set_error(s, -ENOMEM);
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
				store_set_error(s, -ENOMEM);
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
	store_rec_free(r);
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

void store_set_event_ret(struct store *s, uint64_t seq, int64_t ret)
{
	struct rec r = { .type = REC_EVENT_RET, .event_ret = { .seq = seq, .ret = ret } };

	enqueue(s, &r, true);
}

void store_add_divergence(struct store *s, uint64_t seq, uint64_t mm, const char *report)
{
	struct rec r = { .type = REC_DIVERGENCE };

	r.divergence.seq = seq;
	r.divergence.mm = mm;
	r.divergence.report = xstrdup(report);
	enqueue(s, &r, true);
}

void store_end_vma(struct store *s, uint64_t id, uint64_t died_seq)
{
	struct rec r = { .type = REC_VMA_END };

	r.vma_end.id = id;
	r.vma_end.seq = died_seq;
	enqueue(s, &r, true);
}

/* Create and close. -------------------------------------------------------------------- */

/*
 * Run as the store's filesystem ids (the client's, in system mode): what the daemon does to
 * the user's files it does with the user's rights. Per thread on Linux, so only this thread
 * changes. Returns the ids to give back to fsids_restore().
 */
struct fsids {
	int uid, gid;
};

static struct fsids fsids_take(uid_t uid, gid_t gid)
{
	struct fsids old = { -1, -1 };

	if (uid != (uid_t)-1) {
		old.gid = setfsgid(gid);
		old.uid = setfsuid(uid);
	}
	return old;
}

static void fsids_restore(struct fsids old)
{
	if (old.uid != -1) {
		setfsuid((uid_t)old.uid);
		setfsgid((gid_t)old.gid);
	}
}

/*
 * Remove the DB we created, and what SQLite left beside it, through the directory fd it was
 * created in: never by path, which anyone who can write a parent directory may have
 * redirected since (a symlink swapped in would make a root daemon delete any file). The
 * main file goes only if it is still the inode we created with O_EXCL; the -wal, -shm and
 * -journal files only if they are regular files. Called with the store's fsids.
 */
static void unlink_db(int dir_fd, const char *base, dev_t dev, ino_t ino)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char buf[4096];
	struct stat st;

	if (dir_fd < 0)
		return;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s%s", base, suffix[i]) >= (int)sizeof(buf))
			continue;
		if (fstatat(dir_fd, buf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (i == 0 && (st.st_dev != dev || st.st_ino != ino))
			continue; /* not ours any more: leave it */
		if (unlinkat(dir_fd, buf, 0) < 0)
			log_debug("store: cannot remove '%s': %m", buf);
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
	return store_writer_prepare(s);
}

int store_writer_open(struct store *s)
{
	int rc = open_writer_db(s->path, s);
	int r;

	if (rc == SQLITE_OK)
		return 0;
	r = store_sqlite_errno(s->db, rc);
	log_debug("store: cannot create '%s': %s", s->path,
		  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	for (int i = 0; i < N_ST; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	store_stack_finalize(&s->stack_st);
	sqlite3_close(s->db);
	s->db = NULL;
	return r ? r : -EIO;
}

void store_writer_remove(struct store *s)
{
	unlink_db(s->dir_fd, s->base, s->dev, s->ino);
}

static void store_free(struct store *s)
{
	struct chunk *c;

	for (int i = 0; i < N_ST; i++)
		sqlite3_finalize(s->st[i]);
	store_stack_finalize(&s->stack_st);
	/* The last close checkpoints and deletes -wal and -shm: as the user, like every other
	 * access to their files. */
	struct fsids old = fsids_take(s->fsuid, s->fsgid);
	sqlite3_close(s->db);
	fsids_restore(old);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->base);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* the trace lock goes last: the file is complete */
	while ((c = s->spare)) {
		s->spare = c->next;
		free(c);
	}
	free(s->end_status);
	free(s->path);
	pthread_cond_destroy(&s->setup_cv);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int create(const char *path, uid_t uid, gid_t gid, int notify_fd, struct store **ret);

int store_create(const char *path, struct store **ret)
{
	return store_create_as(path, (uid_t)-1, (gid_t)-1, ret);
}

int store_create_as(const char *path, uid_t uid, gid_t gid, struct store **ret)
{
	struct store *s;
	int r = store_create_async(path, uid, gid, -1, &s);

	if (r < 0)
		return r;
	/* Wait for the writer's setup: callers of this one may open the DB at once. */
	pthread_mutex_lock(&s->lock);
	while ((r = __atomic_load_n(&s->setup, __ATOMIC_ACQUIRE)) == -EINPROGRESS)
		pthread_cond_wait(&s->setup_cv, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		store_discard(s);
		return r;
	}
	*ret = s;
	return 0;
}

int store_create_async(const char *path, uid_t uid, gid_t gid, int notify_fd,
		       struct store **ret)
{
	/*
	 * The filesystem ids are per thread on Linux: this thread creates the file as @uid,
	 * and the writer thread, which opens the DB, its WAL and journal, takes the same ids.
	 */
	struct fsids old = fsids_take(uid, gid);
	int r = create(path, uid, gid, notify_fd, ret);

	fsids_restore(old);
	return r;
}

int store_ready(struct store *s)
{
	return __atomic_load_n(&s->setup, __ATOMIC_ACQUIRE);
}

/*
 * create - what must be known before the caller goes on, done here: the file made with
 * O_EXCL (EEXIST, EACCES, ENOENT are the caller's to report at once) and locked. What takes
 * time (SQLite's open, the schema's transaction with its fsyncs, WAL) is the writer
 * thread's first job (store_writer_open), so that a daemon's loop never waits for it.
 */
static int create(const char *path, uid_t uid, gid_t gid, int notify_fd, struct store **ret)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct store *s;
	int fd, r;

	if (!path || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fsuid = uid;
	s->fsgid = gid;
	s->dir_fd = -1;
	s->lock_fd = -1;
	s->notify_fd = notify_fd;
	s->setup = -EINPROGRESS;
	/*
	 * The directory is held by an fd, so that a failed start removes what we created
	 * there and nothing else, whatever happens to the path meanwhile (unlink_db).
	 */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) :
			    strdup(".");
	s->base = strdup(slash ? slash + 1 : path);
	s->path = strdup(path);
	if (!dir || !s->base || !s->path || !*s->base) {
		free(dir);
		r = !dir || !s->base || !s->path ? -ENOMEM : -EISDIR;
		goto error_free;
	}
	s->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (s->dir_fd < 0) {
		r = -errno;
		goto error_free;
	}
	/*
	 * O_EXCL: never overwrite a trace; SQLite itself would open an existing file. 0600
	 * like perf.data: a trace holds command lines and paths. SQLite gives -wal and -shm
	 * the same mode.
	 */
	fd = openat(s->dir_fd, s->base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	if (fd < 0) {
		r = -errno;
		goto error_free;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		unlinkat(s->dir_fd, s->base, 0);
		goto error_free;
	}
	/*
	 * The trace lock (store_try_lock): held on this fd until store_close, so that a
	 * client about to rotate PATH to PATH.old, or a second run writing the same PATH,
	 * sees a live trace there. flock, not fcntl: SQLite's own locks are fcntl locks of
	 * this process on the same file, and closing any fd of the file would drop ours.
	 * Taken at once: the file is new and ours (O_EXCL).
	 */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		close(fd);
		unlinkat(s->dir_fd, s->base, 0);
		goto error_free;
	}
	s->lock_fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	pthread_mutex_init(&s->lock, NULL);
	/* Deadlines on CLOCK_MONOTONIC: a clock step must not stall or rush commits. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->setup_cv, NULL);

	/*
	 * The writer thread takes no signals: the daemon reads SIGCHLD from a signalfd, which
	 * only works if no thread can have the signal delivered to it.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&s->thread, NULL, store_writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		/* No thread: remove the file here, as the writer would have. */
		unlink_db(s->dir_fd, s->base, s->dev, s->ino);
		store_free(s);
		return r;
	}
	pthread_setname_np(s->thread, "vmatrace-store");
	*ret = s;
	return 0;

error_free:
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->base);
	free(s->path);
	free(s);
	return r;
}

void store_discard(struct store *s)
{
	if (!s)
		return;
	store_discard_begin(s);
	store_close_end(s, NULL);
}

void store_discard_begin(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->discard = true;
	pthread_mutex_unlock(&s->lock);
	store_close_begin(s, "error: not traced");
}

int store_try_lock(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return r;
	}
	return fd;
}

int store_close(struct store *s, const char *end_status)
{
	return store_close_stats(s, end_status, NULL);
}

int store_close_stats(struct store *s, const char *end_status, uint64_t *ret_events)
{
	if (!s)
		return 0;
	store_close_begin(s, end_status);
	return store_close_end(s, ret_events);
}

void store_close_begin(struct store *s, const char *end_status)
{
	struct rec r = { .type = REC_TRACE_END };

	if (!s)
		return;
	r.end.mono_ns = store_mono_ns();
	enqueue(s, &r, dup_str(&r.end.status, end_status ? end_status : "done"));

	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

bool store_closed(struct store *s)
{
	return __atomic_load_n(&s->closed, __ATOMIC_ACQUIRE);
}

int store_close_end(struct store *s, uint64_t *ret_events)
{
	int err;

	if (!s)
		return 0;
	/* At once when store_closed() said so: the writer only has to return. */
	pthread_join(s->thread, NULL);
	err = store_error(s);
	if (ret_events)
		*ret_events = s->events_stored; /* the writer has ended: no race */
	store_free(s);
	return err;
}
