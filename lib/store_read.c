// SPDX-License-Identifier: MIT
/*
 * The event store's reader side: opening a trace DB read-only (refusing foreign and newer
 * ones) and the queries the client runs. With store.c, the only code that calls sqlite3_*.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_internal.h"

/* Reader. ------------------------------------------------------------------------------- */

int store_ro_version(const struct store_ro *r)
{
	return (int)r->version;
}

const char *store_ro_errmsg(struct store_ro *r)
{
	if (!r)
		return "no store";
	if (r->damaged[0])
		return r->damaged;
	/*
	 * The error was ours, not SQLite's (a row the DB should hold is missing, a value is
	 * out of range): SQLite's last call went well, and its message is "not an error".
	 */
	int rc = sqlite3_errcode(r->db);
	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
		return "its contents are inconsistent (a row missing or out of range: altered, or "
		       "not written to the end)";
	return sqlite3_errmsg(r->db);
}

int store_ro_damaged(struct store_ro *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->damaged[0]) { /* the first reason found is the one to tell */
		va_start(ap, fmt);
		vsnprintf(r->damaged, sizeof(r->damaged), fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

void store_ro_close(struct store_ro *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->stack_st);
	sqlite3_close(r->db);
	free(r);
}

/* pragma_int - the integer value of @sql (a PRAGMA); SQLite result code. */
static int pragma_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * A DB still in WAL mode (a live trace, or one whose daemon was killed) can be read only
 * through its -shm index, which SQLite creates beside it even to read; in a directory we
 * cannot write (another user's, read-only media) that fails. If the WAL is absent or empty
 * the main file holds everything: read it as immutable (no -shm, no locks). If the WAL
 * holds commits, reading without it would show a truncated trace: -ENOTRECOVERABLE, which
 * the client explains (copy the DB and its -wal to a writable directory).
 */
static int open_wal_readonly(const char *path, struct store_ro *r)
{
	char *copy = strdup(path), *wal = sqlite3_mprintf("%s-wal", path);
	struct stat st;
	int rc = SQLITE_NOMEM;

	if (!copy || !wal)
		goto out;
	char *slash = strrchr(copy, '/');
	const char *dir = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
	if (access(dir, W_OK) == 0) {
		rc = SQLITE_READONLY; /* not the directory's fault: keep SQLite's answer */
		goto out;
	}
	if (stat(wal, &st) == 0 && st.st_size > 0) {
		rc = -1;
		goto out;
	}
	/* A URI: every byte but the unreserved ones percent-encoded. */
	size_t n = strlen(path);
	char *uri = malloc(3 * n + 32);
	if (!uri)
		goto out;
	char *o = uri + sprintf(uri, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		o += sprintf(o, (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
				(*c >= '0' && *c <= '9') || strchr("/-._~", *c) ? "%c" : "%%%02X",
			     *c);
	strcpy(o, "?immutable=1");
	sqlite3_close(r->db);
	r->db = NULL;
	rc = sqlite3_open_v2(uri, &r->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc == SQLITE_OK)
		sqlite3_extended_result_codes(r->db, 1);
out:
	free(copy);
	sqlite3_free(wal);
	return rc;
}

/*
 * The tables the readers read (the last three from schema version 2 on). Each must be
 * a plain table of the main schema: a view named "event" with an endless recursive CTE
 * made `vmatrace events` hang, and a virtual table or a generated column runs code (an
 * expression, a module) at every read. The readers also name them main.X, so that
 * nothing else with the name can stand in.
 */
static const char *const ro_tables[] = {
	"trace", "syscall", "file", "process", "exec", "thread", "mm", "mm_users", "event", "vma",
	"frame", "stack", "stack_frame",
};

static int check_tables(struct store_ro *r)
{
	size_t n = sizeof(ro_tables) / sizeof(ro_tables[0]) - (r->version < 2 ? 3 : 0);
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(r->db,
				"SELECT (SELECT count(*) FROM main.sqlite_master WHERE name = ?1"
				"  COLLATE NOCASE),"
				" (SELECT type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
				"  FROM main.sqlite_master WHERE name = ?1 COLLATE NOCASE),"
				" (SELECT count(*) FROM pragma_table_xinfo(?1, 'main')"
				"  WHERE hidden)",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	for (size_t i = 0; !err && i < n; i++) {
		sqlite3_bind_text(st, 1, ro_tables[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			sqlite3_finalize(st);
			return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
		}
		if (sqlite3_column_int64(st, 0) != 1)
			err = store_ro_damaged(r, "no table '%s'", ro_tables[i]);
		else if (!sqlite3_column_int(st, 1))
			err = store_ro_damaged(r, "'%s' is not a plain table", ro_tables[i]);
		else if (sqlite3_column_int64(st, 2))
			err = store_ro_damaged(r, "table '%s' has generated columns", ro_tables[i]);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return err ? SQLITE_CORRUPT : SQLITE_OK;
}

int store_open_ro(const char *path, struct store_ro **ret)
{
	return store_open_ro_why(path, ret, NULL, 0);
}

int store_open_ro_why(const char *path, struct store_ro **ret, char *why, size_t size)
{
	struct store_ro *r;
	struct stat stb;
	int64_t app = 0, version = 0;
	int rc, err;

	if (!path || !ret)
		return -EINVAL;
	/* SQLite reports a missing file as "unable to open"; say ENOENT (or EACCES) cleanly. */
	if (stat(path, &stb) < 0)
		return -errno;
	if (S_ISDIR(stb.st_mode))
		return -EISDIR;
	/* An empty file is a valid empty SQLite DB, but not a trace. */
	if (!S_ISREG(stb.st_mode) || stb.st_size == 0)
		return -EMEDIUMTYPE;
	if (access(path, R_OK) < 0)
		return -errno;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto error;
	sqlite3_extended_result_codes(r->db, 1);
	/* A live trace's writer may hold the WAL briefly (checkpoint): wait rather than fail. */
	sqlite3_busy_timeout(r->db, 2000);

	/* The first read of the file: a text file fails here with SQLITE_NOTADB. */
	rc = pragma_int(r->db, "PRAGMA application_id", &app);
	if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
		rc = open_wal_readonly(path, r);
		if (rc == -1) {
			err = -ENOTRECOVERABLE;
			goto error_close;
		}
		if (rc == SQLITE_OK)
			rc = pragma_int(r->db, "PRAGMA application_id", &app);
	}
	if (rc == SQLITE_OK)
		rc = pragma_int(r->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK)
		goto error;
	if (app != STORE_APPLICATION_ID || version < 1) {
		err = -EMEDIUMTYPE;
		goto error_close;
	}
	if (version > STORE_SCHEMA_VERSION) {
		err = -EPROTONOSUPPORT;
		goto error_close;
	}
	r->version = version;
	rc = check_tables(r);
	if (rc != SQLITE_OK)
		goto error;
	*ret = r;
	return 0;

error:
	err = store_sqlite_errno(r->db, rc);
	log_debug("store: cannot open '%s': %s", path, store_ro_errmsg(r));
	if (!err)
		err = -EIO;
	if (err == -EUCLEAN && why && size)
		snprintf(why, size, "%s", store_ro_errmsg(r));
error_close:
	store_ro_close(r);
	return err;
}

/* store_ro_u64: see store_internal.h. */
int store_ro_u64(struct store_ro *r, const char *sql, int n, const int64_t *args,
		     uint64_t *ret)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : store_sqlite_errno(r->db, rc);
}

int store_query_divergences(struct store_ro *r,
			    int (*fn)(uint64_t seq, uint64_t mm, const char *report, void *data),
			    void *data)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	if (r->version < 3)
		return 0; /* no --verify table before schema 3 */
	rc = sqlite3_prepare_v2(r->db, "SELECT seq, mm, report FROM main.divergence ORDER BY rowid",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 2);
		err = fn((uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
			 t ? (const char *)t : "", data);
	}
	sqlite3_finalize(st);
	if (err)
		return err;
	return rc == SQLITE_DONE ? 0 : store_sqlite_errno(r->db, rc);
}

int store_query_summary(struct store_ro *r, struct store_summary *ret)
{
	static const char *const sql[] = {
		"SELECT count(*) FROM main.event", "SELECT count(*) FROM main.process",
		"SELECT count(*) FROM main.thread", "SELECT count(*) FROM main.mm",
	};
	uint64_t v[4];
	int err;

	for (int i = 0; i < 4; i++) {
		err = store_ro_u64(r, sql[i], 0, NULL, &v[i]);
		if (err < 0)
			return err;
	}
	ret->events = v[0];
	ret->processes = v[1];
	ret->threads = v[2];
	ret->mms = v[3];
	return 0;
}

static int has(struct store_ro *r, const char *sql, int64_t arg)
{
	uint64_t v = 0;
	int err = store_ro_u64(r, sql, 1, &arg, &v);

	return err < 0 ? err : v != 0;
}

int store_has_tid(struct store_ro *r, pid_t tid)
{
	return has(r, "SELECT EXISTS (SELECT 1 FROM main.thread WHERE tid = ?1)", tid);
}

int store_has_mm(struct store_ro *r, uint64_t mm)
{
	return has(r, "SELECT EXISTS (SELECT 1 FROM main.mm WHERE id = ?1)", (int64_t)mm);
}

int store_query_last_seq(struct store_ro *r, uint64_t *ret_seq)
{
	return store_ro_u64(r, "SELECT coalesce(max(seq), 0) FROM main.event", 0, NULL, ret_seq);
}

/* col_strdup - a copy of text column @i, NULL for NULL or '' (false: out of memory). */
static bool col_strdup(sqlite3_stmt *st, int i, char **ret)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	*ret = t && *t ? strdup(t) : NULL;
	return !(t && *t) || *ret;
}

/* store_ro_event_row: see store_internal.h. */
int store_ro_event_row(struct store_ro *r, sqlite3_stmt *st,
		       int (*fn)(const struct event *ev, void *data), void *data)
{
	struct event ev = { 0 };
	int err;

	ev.seq = (uint64_t)sqlite3_column_int64(st, 0);
	ev.time_ns = (uint64_t)sqlite3_column_int64(st, 1);
	ev.pid = sqlite3_column_int(st, 2);
	ev.tid = sqlite3_column_int(st, 3);
	ev.mm = (uint64_t)sqlite3_column_int64(st, 4);
	ev.kind = sqlite3_column_int(st, 5);
	ev.nr = sqlite3_column_int(st, 6);
	for (int i = 0; i < 6; i++)
		ev.args[i] = (uint64_t)sqlite3_column_int64(st, 7 + i);
	ev.ret = sqlite3_column_int64(st, 13);
	ev.dur_ns = (uint64_t)sqlite3_column_int64(st, 14);
	ev.dev = (uint64_t)sqlite3_column_int64(st, 16);
	ev.ino = (uint64_t)sqlite3_column_int64(st, 17);
	ev.stack_id = sqlite3_column_int64(st, 19);
	/* seq is the rowid: any integer in a tampered DB. The readers count on 1.. */
	if (sqlite3_column_int64(st, 0) < 1 || ev.seq >= STORE_SEQ_MAX)
		return store_ro_damaged(r, "event seq %lld is out of range",
					(long long)sqlite3_column_int64(st, 0));
	if (ev.kind != EVENT_SYSCALL && ev.kind != EVENT_TASK_EXIT && ev.kind != EVENT_SIGNAL &&
	    ev.kind != EVENT_RENAME)
		return store_ro_damaged(r, "event %llu has an unknown kind %d",
					(unsigned long long)ev.seq, (int)ev.kind);
	/* Copies: SQLite's text is gone at the next step, and @fn may keep the event. */
	if (!col_strdup(st, 15, &ev.path) || !col_strdup(st, 18, &ev.argv)) {
		event_release(&ev);
		return -ENOMEM;
	}
	err = fn(&ev, data);
	event_release(&ev);
	return err;
}

int store_query_events_at(struct store_ro *r, const uint64_t *seqs, size_t n,
			  int (*fn)(const struct event *ev, void *data), void *data)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(r->db, "SELECT " EVENT_COLUMNS " FROM main.event e"
				" LEFT JOIN main.file f"
				" ON f.id = e.file WHERE e.seq = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	for (size_t i = 0; !err && i < n; i++) {
		store_bind_u64(st, 1, seqs[i]);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			err = store_ro_event_row(r, st, fn, data);
		else if (rc != SQLITE_DONE)
			err = store_sqlite_errno(r->db, rc);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return err;
}

int store_query_events(struct store_ro *r, const struct store_event_filter *f,
		       int (*fn)(const struct event *ev, void *data), void *data)
{
	static const struct store_event_filter none;
	sqlite3_stmt *st;
	char *sql;
	size_t len, n;
	int rc, err = 0, b = 1;

	if (!f)
		f = &none;
	if (f->n_nrs < 0 || (f->n_nrs && !f->nrs))
		return -EINVAL;
	len = 512 + (size_t)f->n_nrs * 8;
	sql = malloc(len);
	if (!sql)
		return -ENOMEM;
	n = (size_t)snprintf(sql, len, "SELECT " EVENT_COLUMNS
			     " FROM main.event e LEFT JOIN main.file f ON f.id = e.file WHERE 1");
	/* Bound parameters in this order; each filter is an indexed or rowid term. */
	if (f->pid)
		n += (size_t)snprintf(sql + n, len - n, " AND e.pid = ?%d", b++);
	if (f->tid)
		n += (size_t)snprintf(sql + n, len - n, " AND e.tid = ?%d", b++);
	if (f->mm)
		n += (size_t)snprintf(sql + n, len - n, " AND e.mm = ?%d", b++);
	if (f->syscalls_only)
		n += (size_t)snprintf(sql + n, len - n, " AND e.kind = %d", EVENT_SYSCALL);
	if (f->signals_only)
		n += (size_t)snprintf(sql + n, len - n, " AND e.kind = %d", EVENT_SIGNAL);
	if (f->min_seq)
		n += (size_t)snprintf(sql + n, len - n, " AND e.seq >= ?%d", b++);
	if (f->max_seq)
		n += (size_t)snprintf(sql + n, len - n, " AND e.seq <= ?%d", b++);
	if (f->n_nrs) {
		n += (size_t)snprintf(sql + n, len - n, " AND e.nr IN (");
		for (int i = 0; i < f->n_nrs; i++)
			n += (size_t)snprintf(sql + n, len - n, "%s%d", i ? "," : "", f->nrs[i]);
		n += (size_t)snprintf(sql + n, len - n, ")");
	}
	snprintf(sql + n, len - n, " ORDER BY e.seq");
	assert(n < len);

	rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	b = 1;
	if (f->pid)
		sqlite3_bind_int(st, b++, f->pid);
	if (f->tid)
		sqlite3_bind_int(st, b++, f->tid);
	if (f->mm)
		store_bind_u64(st, b++, f->mm);
	if (f->min_seq)
		store_bind_u64(st, b++, f->min_seq);
	if (f->max_seq)
		store_bind_u64(st, b++, f->max_seq);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = store_ro_event_row(r, st, fn, data);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_sqlite_errno(r->db, rc);
	sqlite3_finalize(st);
	return err;
}

/* store_ro_row_vma: see store_internal.h. */
uint64_t store_ro_row_vma(sqlite3_stmt *st, struct store_vma *v, uint64_t *ret_died)
{
	const char *perms = (const char *)sqlite3_column_text(st, 4);

	memset(v, 0, sizeof(*v));
	v->mm = (uint64_t)sqlite3_column_int64(st, 1);
	v->start = (uint64_t)sqlite3_column_int64(st, 2);
	v->end = (uint64_t)sqlite3_column_int64(st, 3);
	snprintf(v->perms, sizeof(v->perms), "%s", perms ? perms : "");
	v->offset = (uint64_t)sqlite3_column_int64(st, 5);
	v->dev = (uint64_t)sqlite3_column_int64(st, 6);
	v->ino = (uint64_t)sqlite3_column_int64(st, 7);
	v->name = (const char *)sqlite3_column_text(st, 8);
	if (!v->name)
		v->name = "";
	v->born_seq = (uint64_t)sqlite3_column_int64(st, 9);
	*ret_died = (uint64_t)sqlite3_column_int64(st, 10); /* NULL reads as 0 */
	v->origin_unknown = sqlite3_column_int(st, 11) != 0;
	return (uint64_t)sqlite3_column_int64(st, 0);
}

int store_ro_check_vma(struct store_ro *r, const struct store_vma *v, uint64_t id,
		       uint64_t died_seq)
{
	const char *p = v->perms;

	if (v->start >= v->end)
		return store_ro_damaged(r, "VMA version %llu ends (0x%llx) before it starts"
					" (0x%llx)",
					(unsigned long long)id, (unsigned long long)v->end,
					(unsigned long long)v->start);
	if (strlen(p) != 4 || (p[0] != 'r' && p[0] != '-') || (p[1] != 'w' && p[1] != '-') ||
	    (p[2] != 'x' && p[2] != '-') || (p[3] != 'p' && p[3] != 's'))
		return store_ro_damaged(r, "VMA version %llu has perms that are not like 'rw-p'",
					(unsigned long long)id);
	if (v->born_seq >= STORE_SEQ_MAX || died_seq >= STORE_SEQ_MAX ||
	    (died_seq && died_seq < v->born_seq))
		return store_ro_damaged(r, "VMA version %llu has a life out of range (%lld..%lld)",
					(unsigned long long)id, (long long)v->born_seq,
					(long long)died_seq);
	return 0;
}

/*
 * The map of mm ?1 after event ?2, from index vma_life: for each life class c, the
 * versions born in (?2 - 2^(c+1), ?2] that outlive ?2, plus the ones still alive (class
 * -1). Addresses >= 2^63 (the [vsyscall] page) are negative in SQLite: they sort last.
 * The same text is in sql/queries.sql.
 */
static const char vmas_at_sql[] =
	"WITH RECURSIVE class(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM class WHERE c < 47)"
	" SELECT * FROM ("
	"  SELECT " VMA_COLUMNS " FROM class, main.vma v"
	"   WHERE v.mm = ?1 AND v.life_class = class.c"
	"   AND v.born_seq > ?2 - (2 << class.c) AND v.born_seq <= ?2 AND v.died_seq > ?2"
	"  UNION ALL"
	"  SELECT " VMA_COLUMNS " FROM main.vma v"
	"   WHERE v.mm = ?1 AND v.life_class = -1 AND v.born_seq <= ?2"
	" ) AS v ORDER BY v.start < 0, v.start";

/*
 * Versions covering address ?1 (in mm ?2, or any if 0), from index vma_addr: for each
 * size class c, the versions starting in (?1 - 2^(c+1), ?1] that reach past ?1.
 */
static const char vma_history_sql[] =
	"WITH RECURSIVE class(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM class WHERE c < 61)"
	" SELECT " VMA_COLUMNS " FROM class, main.vma v"
	"  WHERE v.size_class = class.c AND v.start > ?1 - (2 << class.c) AND v.start <= ?1"
	"  AND v.end > ?1 AND (?2 = 0 OR v.mm = ?2)"
	" ORDER BY v.born_seq, v.id";

struct versions_walk {
	store_version_fn *fn;
	void *data;
	struct store_ro *r;
};

static int version_row(sqlite3_stmt *st, void *ctx)
{
	struct versions_walk *w = ctx;
	struct store_vma v;
	uint64_t died, id = store_ro_row_vma(st, &v, &died);
	int err = store_ro_check_vma(w->r, &v, id, died);

	return err ? err : w->fn(&v, id, died, w->data);
}

int store_ro_walk_versions(struct store_ro *r, const char *sql, int n, const int64_t *args,
			   store_version_fn *fn, void *data)
{
	struct versions_walk w = { fn, data, r };

	return store_ro_walk(r, sql, n, args, version_row, &w);
}

/* store_query_vmas_at()'s callback, called through store_ro_walk_versions(). */
struct vmas_at_ctx {
	int (*fn)(const struct store_vma *v, uint64_t id, void *data);
	void *data;
};

static int vmas_at_row(const struct store_vma *v, uint64_t id, uint64_t died_seq, void *data)
{
	struct vmas_at_ctx *c = data;

	(void)died_seq;
	return c->fn(v, id, c->data);
}

int store_query_vmas_at(struct store_ro *r, uint64_t mm, uint64_t seq,
			int (*fn)(const struct store_vma *v, uint64_t id, void *data), void *data)
{
	struct vmas_at_ctx c = { fn, data };
	const int64_t args[2] = { (int64_t)mm, (int64_t)seq };

	/* Keeps ?2 - (2 << 47) far from int64 overflow (seqs are far below 2^62). */
	if (seq > INT64_MAX / 2)
		return -EINVAL;
	return store_ro_walk_versions(r, vmas_at_sql, 2, args, vmas_at_row, &c);
}

int store_query_vma_history(struct store_ro *r, uint64_t mm, uint64_t addr,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data)
{
	const int64_t args[2] = { (int64_t)addr, (int64_t)mm };

	return store_ro_walk_versions(r, vma_history_sql, 2, args, fn, data);
}

void store_trace_info_release(struct store_trace_info *t)
{
	if (!t)
		return;
	free(t->cmdline);
	free(t->cwd);
	free(t->host);
	free(t->kernel);
	free(t->version);
	free(t->mode);
	free(t->end_status);
	memset(t, 0, sizeof(*t));
}

int store_query_trace(struct store_ro *r, struct store_trace_info *ret)
{
	struct store_trace_info t = { 0 };
	sqlite3_stmt *st;
	bool ok;
	int rc;

	rc = sqlite3_prepare_v2(r->db,
				"SELECT cmdline, cwd, host, kernel, version, mode,"
				" start_realtime_ns, start_mono_ns, page_size, end_mono_ns,"
				" end_status FROM main.trace",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? -ENOENT : store_sqlite_errno(r->db, rc);
	}
	ok = col_strdup(st, 0, &t.cmdline) & col_strdup(st, 1, &t.cwd) &
	     col_strdup(st, 2, &t.host) & col_strdup(st, 3, &t.kernel) &
	     col_strdup(st, 4, &t.version) & col_strdup(st, 5, &t.mode) &
	     col_strdup(st, 10, &t.end_status);
	t.start_realtime_ns = (uint64_t)sqlite3_column_int64(st, 6);
	t.start_mono_ns = (uint64_t)sqlite3_column_int64(st, 7);
	t.page_size = (long)sqlite3_column_int64(st, 8);
	t.end_mono_ns = (uint64_t)sqlite3_column_int64(st, 9);
	sqlite3_finalize(st);
	if (!ok) {
		store_trace_info_release(&t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

/* store_ro_walk: see store_internal.h. */
int store_ro_walk(struct store_ro *r, const char *sql, int n, const int64_t *args,
		int (*row)(sqlite3_stmt *st, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_errno(r->db, rc);
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = row(st, ctx);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_sqlite_errno(r->db, rc);
	sqlite3_finalize(st);
	return err;
}

struct proc_walk {
	int (*fn)(const struct store_proc_info *p, void *data);
	void *data;
	struct store_proc_info *out; /* store_query_process: copy here instead */
};

static int proc_row(sqlite3_stmt *st, void *ctx)
{
	struct proc_walk *w = ctx;
	struct store_proc_info p = {
		.id = (uint64_t)sqlite3_column_int64(st, 0),
		.pid = (pid_t)sqlite3_column_int64(st, 1),
		.ppid = (pid_t)sqlite3_column_int64(st, 2),
		.start_seq = (uint64_t)sqlite3_column_int64(st, 3),
		.end_seq = (uint64_t)sqlite3_column_int64(st, 4),
		.exit_status = sqlite3_column_type(st, 5) == SQLITE_NULL ?
				       -1 : (int)sqlite3_column_int64(st, 5),
		.exe = (const char *)sqlite3_column_text(st, 6),
		.argv = (const char *)sqlite3_column_text(st, 7),
		.mm = (uint64_t)sqlite3_column_int64(st, 8),
	};

	if (w->out) {
		p.exe = p.argv = NULL;
		*w->out = p;
		return 1;
	}
	return w->fn(&p, w->data);
}

#define PROC_COLUMNS "id, pid, ppid, start_seq, end_seq, exit_status, exe, argv, mm"

int store_query_processes(struct store_ro *r,
			  int (*fn)(const struct store_proc_info *p, void *data), void *data)
{
	struct proc_walk w = { .fn = fn, .data = data };

	return store_ro_walk(r, "SELECT " PROC_COLUMNS " FROM main.process ORDER BY id", 0, NULL,
			     proc_row,
		    &w);
}

int store_query_process(struct store_ro *r, pid_t pid, struct store_proc_info *ret)
{
	return store_query_process_nth(r, pid, 0, ret);
}

int store_query_process_nth(struct store_ro *r, pid_t pid, unsigned int nth,
			    struct store_proc_info *ret)
{
	struct store_proc_info p;
	struct proc_walk w = { .out = &p };
	const int64_t args[2] = { pid, nth ? nth - 1 : 0 };
	/* nth 0: the most recent; else the nth in order of appearance (index process_pid). */
	int err = store_ro_walk(r, nth ? "SELECT " PROC_COLUMNS " FROM main.process WHERE pid = ?1"
				" ORDER BY id LIMIT 1 OFFSET ?2"
			      : "SELECT " PROC_COLUMNS " FROM main.process WHERE pid = ?1"
				" ORDER BY id DESC LIMIT 1",
		       nth ? 2 : 1, args, proc_row, &w);

	if (err < 0)
		return err;
	if (err == 0)
		return -ENOENT;
	*ret = p;
	return 0;
}

int store_count_pid(struct store_ro *r, pid_t pid, uint64_t *ret_count)
{
	const int64_t args[1] = { pid };

	return store_ro_u64(r, "SELECT count(*) FROM main.process WHERE pid = ?1", 1, args,
			    ret_count);
}

int store_query_mm_of_process(struct store_ro *r, uint64_t id, uint64_t seq, uint64_t *ret_mm)
{
	const int64_t args[2] = { (int64_t)id, (int64_t)seq };

	/* Its last exec at or before @seq, else its mm at birth. */
	return store_ro_u64(r,
			 "SELECT coalesce((SELECT x.mm FROM main.exec x WHERE x.process = p.id"
			 " AND x.seq <= ?2 ORDER BY x.seq DESC LIMIT 1), p.mm)"
			 " FROM main.process p WHERE p.id = ?1",
			 2, args, ret_mm);
}

struct pair_walk {
	int (*fn_mm)(uint64_t seq, uint64_t mm, const char *exe, void *data);
	int (*fn_users)(uint64_t seq, int users, void *data);
	void *data;
};

static int pair_row(sqlite3_stmt *st, void *ctx)
{
	struct pair_walk *w = ctx;
	uint64_t a = (uint64_t)sqlite3_column_int64(st, 0);
	int64_t b = sqlite3_column_int64(st, 1);

	if (w->fn_mm)
		return w->fn_mm(a, (uint64_t)b, (const char *)sqlite3_column_text(st, 2), w->data);
	return w->fn_users(a, (int)b, w->data);
}

int store_query_process_mms(struct store_ro *r, uint64_t id,
			    int (*fn)(uint64_t seq, uint64_t mm, const char *exe, void *data),
			    void *data)
{
	struct pair_walk w = { .fn_mm = fn, .data = data };
	const int64_t args[1] = { (int64_t)id };

	return store_ro_walk(r, "SELECT start_seq, mm, NULL FROM main.process WHERE id = ?1"
		    " UNION ALL SELECT seq, mm, exe FROM (SELECT seq, mm, exe FROM main.exec"
		    " WHERE process = ?1"
		    " ORDER BY seq)", 1, args, pair_row, &w);
}

int store_query_mm_users(struct store_ro *r, uint64_t mm,
			 int (*fn)(uint64_t seq, int users, void *data), void *data)
{
	struct pair_walk w = { .fn_users = fn, .data = data };
	const int64_t args[1] = { (int64_t)mm };

	return store_ro_walk(r, "SELECT seq, users FROM main.mm_users WHERE mm = ?1"
			     " ORDER BY seq, rowid", 1,
		    args, pair_row, &w);
}
