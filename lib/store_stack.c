// SPDX-License-Identifier: MIT
/*
 * Stacks in the store (schema version 2): the writer's inserts of frames and stacks, queued
 * by store_add_frame()/store_add_stack() in store.c like every other record, and the
 * reader's queries. The daemon deduplicates (a frame or a stack is sent once per trace,
 * with its id), so the writer only inserts: no lookup but the frame's file row, once per
 * distinct frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_internal.h"

/* Writer. ------------------------------------------------------------------------------ */

static const char *const sql_file =
	"INSERT INTO file (dev, ino, path, build_id) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (dev, ino, path) DO UPDATE SET build_id = coalesce(build_id, excluded.build_id)";
static const char *const sql_file_id = "SELECT id FROM file WHERE dev = ?1 AND ino = ?2 AND path = ?3";
static const char *const sql_frame =
	"INSERT INTO frame (id, file, rel_pc, function, func_off) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char *const sql_stack = "INSERT INTO stack (id, depth) VALUES (?1, ?2)";
static const char *const sql_stack_frame =
	"INSERT INTO stack_frame (stack, depth, frame) VALUES (?1, ?2, ?3)";

int store_stack_prepare(sqlite3 *db, struct store_stack_writer *w)
{
	const char *const sql[] = { sql_file, sql_file_id, sql_frame, sql_stack, sql_stack_frame };
	sqlite3_stmt **st[] = { &w->file, &w->file_id, &w->frame, &w->stack, &w->stack_frame };
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, st[i], NULL);
	if (rc != SQLITE_OK)
		log_debug("store: prepare stacks: %s", sqlite3_errmsg(db));
	return rc;
}

void store_stack_finalize(struct store_stack_writer *w)
{
	sqlite3_finalize(w->file);
	sqlite3_finalize(w->file_id);
	sqlite3_finalize(w->frame);
	sqlite3_finalize(w->stack);
	sqlite3_finalize(w->stack_frame);
	memset(w, 0, sizeof(*w));
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int store_stack_insert_frame(struct store_stack_writer *w, const struct store_frame *f)
{
	sqlite3_stmt *st = w->file;
	sqlite3_int64 file;
	int rc;

	/* The module's file row: usually there already (mapped earlier), so an upsert. */
	store_bind_u64(st, 1, f->dev);
	store_bind_u64(st, 2, f->ino);
	bind_text_or_null(st, 3, f->path ? f->path : "");
	bind_text_or_null(st, 4, f->build_id && *f->build_id ? f->build_id : NULL);
	rc = store_step(st);
	if (rc != SQLITE_OK)
		return rc;
	st = w->file_id;
	store_bind_u64(st, 1, f->dev);
	store_bind_u64(st, 2, f->ino);
	bind_text_or_null(st, 3, f->path ? f->path : "");
	rc = sqlite3_step(st);
	file = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? SQLITE_ERROR : rc;

	st = w->frame;
	store_bind_u64(st, 1, f->id);
	sqlite3_bind_int64(st, 2, file);
	store_bind_u64(st, 3, f->rel_pc);
	bind_text_or_null(st, 4, f->function);
	if (f->function)
		store_bind_u64(st, 5, f->func_off);
	return store_step(st);
}

int store_stack_insert_stack(struct store_stack_writer *w, uint64_t id, const uint64_t *frames,
			     unsigned n)
{
	sqlite3_stmt *st = w->stack;
	int rc;

	store_bind_u64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)n);
	rc = store_step(st);
	st = w->stack_frame;
	for (unsigned i = 0; i < n && rc == SQLITE_OK; i++) {
		store_bind_u64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)i);
		store_bind_u64(st, 3, frames[i]);
		rc = store_step(st);
	}
	return rc;
}

/* Reader. ------------------------------------------------------------------------------ */

static const char *text_col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int store_query_stack(struct store_ro *r, int64_t id,
		      int (*fn)(const struct store_frame_info *f, void *data), void *data)
{
	int rc, ret = 0;

	if (r->version < 2 || id <= 0)
		return 0;
	if (!r->stack_st) {
		rc = sqlite3_prepare_v3(r->db,
					"SELECT sf.depth, fr.rel_pc, f.path, f.build_id, fr.function,"
					" fr.func_off FROM main.stack_frame sf"
					" JOIN main.frame fr ON fr.id = sf.frame"
					" JOIN main.file f ON f.id = fr.file"
					" WHERE sf.stack = ?1 ORDER BY sf.depth",
					-1, SQLITE_PREPARE_PERSISTENT, &r->stack_st, NULL);
		if (rc != SQLITE_OK)
			return store_sqlite_errno(r->db, rc);
	}
	sqlite3_stmt *st = r->stack_st;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_frame_info f = {
			.depth = (unsigned)sqlite3_column_int(st, 0),
			.rel_pc = (uint64_t)sqlite3_column_int64(st, 1),
			.module = text_col(st, 2) ? text_col(st, 2) : "",
			.build_id = text_col(st, 3),
			.function = text_col(st, 4),
			.func_off = (uint64_t)sqlite3_column_int64(st, 5),
		};
		ret = fn(&f, data);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sqlite_errno(r->db, rc);
	sqlite3_reset(st);
	return ret;
}

int store_query_stack_summary(struct store_ro *r, struct store_stack_summary *ret)
{
	struct store_stack_summary s = { 0 };
	uint64_t id_bytes = 0;
	int rc = SQLITE_OK;

	if (r->version < 2) {
		*ret = s;
		return 0;
	}
	/*
	 * An event's stack_id costs the bytes of its value (SQLite's record format: 1 to 8
	 * bytes by magnitude; NULL costs none beyond the header byte every row has anyway).
	 */
	{
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(r->db, "SELECT count(*), count(stack_id), coalesce(sum(CASE"
					" WHEN stack_id IS NULL THEN 0 WHEN stack_id < 128 THEN 1"
					" WHEN stack_id < 32768 THEN 2 WHEN stack_id < 8388608"
					" THEN 3 ELSE 4 END), 0) FROM main.event", -1, &st, NULL);
		if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
			s.events = (uint64_t)sqlite3_column_int64(st, 0);
			s.events_with_stack = (uint64_t)sqlite3_column_int64(st, 1);
			id_bytes = (uint64_t)sqlite3_column_int64(st, 2);
		}
		sqlite3_finalize(st);
	}
	int err = rc == SQLITE_OK ? 0 : store_sqlite_errno(r->db, rc);
	if (!err)
		err = store_ro_u64(r, "SELECT count(*) FROM main.stack", 0, NULL, &s.stacks);
	if (!err)
		err = store_ro_u64(r, "SELECT count(*) FROM main.frame", 0, NULL, &s.frames);
	if (err)
		return err;
	/* dbstat is compiled into Debian's SQLite; elsewhere, estimate from the rows. */
	if (store_ro_u64(r, "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN"
			 " ('frame', 'stack', 'stack_frame', 'sqlite_autoindex_stack_frame_1')",
			 0, NULL, &s.bytes) < 0) {
		uint64_t sf = 0;
		store_ro_u64(r, "SELECT count(*) FROM main.stack_frame", 0, NULL, &sf);
		s.bytes = s.frames * 40 + s.stacks * 8 + sf * 12;
	}
	s.bytes += id_bytes;
	*ret = s;
	return 0;
}

/*
 * Bytes each event added to its own mm: the sizes of the VMA versions born at the event
 * minus those that died at it, in the event's mm (a fork's copy and an exec's new image
 * belong to other mms and are not counted). mprotect or a merge nets zero, munmap is
 * negative and left out. One pass over vma and event, grouped by (stack, mm).
 */
static const char mapped_sql[] =
	"SELECT e.stack_id, e.mm, sum(g.n) FROM ("
	"  SELECT seq, mm, sum(n) AS n FROM ("
	"   SELECT born_seq AS seq, mm, \"end\" - start AS n FROM main.vma"
	"   UNION ALL SELECT died_seq, mm, start - \"end\" FROM main.vma"
	"   WHERE died_seq IS NOT NULL)"
	"  GROUP BY seq, mm) g"
	" JOIN main.event e ON e.seq = g.seq AND e.mm = g.mm"
	" WHERE g.n > 0 AND e.stack_id IS NOT NULL"
	"  AND (?1 = 0 OR (e.pid = ?1 AND e.seq >= ?2 AND e.seq <= ?3))"
	" GROUP BY e.stack_id, e.mm";

struct mapped_walk {
	int (*fn)(int64_t stack_id, uint64_t mm, uint64_t bytes, void *data);
	void *data;
};

static int mapped_row(sqlite3_stmt *st, void *ctx)
{
	struct mapped_walk *w = ctx;

	return w->fn(sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
		     (uint64_t)sqlite3_column_int64(st, 2), w->data);
}

int store_query_mapped_by_stack(struct store_ro *r, pid_t pid, uint64_t min_seq,
				uint64_t max_seq,
				int (*fn)(int64_t stack_id, uint64_t mm, uint64_t bytes,
					  void *data),
				void *data)
{
	struct mapped_walk w = { fn, data };
	const int64_t args[3] = { pid, (int64_t)min_seq, max_seq ? (int64_t)max_seq : INT64_MAX };

	if (r->version < 2)
		return 0;
	return store_ro_walk(r, mapped_sql, 3, args, mapped_row, &w);
}
