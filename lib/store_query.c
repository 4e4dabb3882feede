// SPDX-License-Identifier: MIT
/*
 * The reader's ad-hoc queries: `vmatrace sql` runs a user's SELECT through
 * store_sql_exec(). With store.c and store_read.c, the only code that calls sqlite3_*.
 *
 * The trace is the evidence of a run: a query must not change it. Three locks, any one of
 * which would do for the file itself, because each covers a hole in the others:
 * - the connection is read-only (store_open_ro: SQLITE_OPEN_READONLY);
 * - sqlite3_stmt_readonly() refuses what would write even so: VACUUM INTO (which writes a
 *   new file from a read-only connection), CREATE TEMP TABLE, PRAGMA user_version = N;
 * - an authorizer refuses what sqlite3_stmt_readonly() lets through because it changes
 *   the connection rather than the file: ATTACH (it could open, and in a later statement
 *   write, another file), DETACH, and PRAGMAs given a value (query_only = 0,
 *   writable_schema = 1, temp_store_directory = ...), except the introspection ones that
 *   take a table or index name as their argument.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "store.h"
#include "store_internal.h"

_Static_assert(STORE_SQL_INTEGER == SQLITE_INTEGER && STORE_SQL_FLOAT == SQLITE_FLOAT &&
		       STORE_SQL_TEXT == SQLITE_TEXT && STORE_SQL_BLOB == SQLITE_BLOB &&
		       STORE_SQL_NULL == SQLITE_NULL,
	       "store.h's STORE_SQL_* are SQLite's fundamental types");

/* PRAGMAs whose argument names a schema object to read about, not a value to set. */
static const char *const pragma_readers[] = {
	"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
	"foreign_key_list", "foreign_key_check", "integrity_check", "quick_check",
};

static int sql_authorizer(void *data, int action, const char *a1, const char *a2,
			  const char *db, const char *trigger)
{
	(void)data;
	(void)db;
	(void)trigger;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return SQLITE_DENY;
	case SQLITE_PRAGMA:
		if (!a2)
			return SQLITE_OK; /* "PRAGMA x": reads the value */
		for (size_t i = 0; i < sizeof(pragma_readers) / sizeof(pragma_readers[0]); i++)
			if (a1 && !strcasecmp(a1, pragma_readers[i]))
				return SQLITE_OK;
		return SQLITE_DENY;
	default:
		return SQLITE_OK;
	}
}

/* only_blanks - true if @tail holds no further statement (blanks, ';' and comments). */
static bool only_blanks(sqlite3 *db, const char *tail)
{
	sqlite3_stmt *st = NULL;
	const char *next;

	while (tail && *tail) {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK)
			return false; /* a second statement, and a bad one: still a second one */
		if (st) {
			sqlite3_finalize(st);
			return false;
		}
		if (next == tail)
			break;
		tail = next;
	}
	return true;
}

/* The row passed to the callback: arrays of n_cols, filled for each step. */
struct sql_row_buf {
	struct store_sql_row row;
	const char **names, **texts;
	int *types, *lens;
};

static int row_buf_init(struct sql_row_buf *b, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);

	memset(b, 0, sizeof(*b));
	b->names = calloc((size_t)n + 1, sizeof(*b->names));
	b->texts = calloc((size_t)n + 1, sizeof(*b->texts));
	b->types = calloc((size_t)n + 1, sizeof(*b->types));
	b->lens = calloc((size_t)n + 1, sizeof(*b->lens));
	if (!b->names || !b->texts || !b->types || !b->lens)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		b->names[i] = sqlite3_column_name(st, i);
		if (!b->names[i])
			return -ENOMEM;
	}
	b->row = (struct store_sql_row){ .n_cols = n, .names = b->names, .texts = b->texts,
					 .types = b->types, .lens = b->lens };
	return 0;
}

static void row_buf_release(struct sql_row_buf *b)
{
	free(b->names);
	free(b->texts);
	free(b->types);
	free(b->lens);
}

/* row_fill - the current row of @st into @b. -ENOMEM if SQLite could not make a text. */
static int row_fill(struct sql_row_buf *b, sqlite3_stmt *st)
{
	for (int i = 0; i < b->row.n_cols; i++) {
		int t = sqlite3_column_type(st, i);

		b->types[i] = t;
		if (t == SQLITE_NULL) {
			b->texts[i] = NULL;
			b->lens[i] = 0;
			continue;
		}
		/* Text first, then its length: the documented safe order. */
		b->texts[i] = t == SQLITE_BLOB ? (const char *)sqlite3_column_blob(st, i)
					       : (const char *)sqlite3_column_text(st, i);
		b->lens[i] = sqlite3_column_bytes(st, i);
		if (!b->texts[i] && b->lens[i])
			return -ENOMEM;
		if (!b->texts[i])
			b->texts[i] = "";
	}
	return 0;
}

/* run - step @st to its end, calling @fn for each row. */
static int run(struct store_ro *r, sqlite3_stmt *st,
	       int (*fn)(const struct store_sql_row *row, void *data), void *data)
{
	struct sql_row_buf b;
	int rc = SQLITE_DONE, err;

	err = row_buf_init(&b, st);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = row_fill(&b, st);
		if (!err)
			err = fn(&b.row, data);
	}
	if (!err && rc != SQLITE_DONE) {
		err = store_sqlite_errno(r->db, rc);
		if (!err || err == -EIO)
			err = -EINVAL; /* SQLITE_ERROR at run time: still the query's fault */
	}
	row_buf_release(&b);
	return err;
}

int store_sql_exec(struct store_ro *r, const char *sql,
		   int (*fn)(const struct store_sql_row *row, void *data), void *data)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int rc, err;

	if (!r || !sql || !fn)
		return -EINVAL;
	sqlite3_set_authorizer(r->db, sql_authorizer, NULL);
	rc = sqlite3_prepare_v2(r->db, sql, -1, &st, &tail);
	if (rc != SQLITE_OK) {
		err = (rc & 0xff) == SQLITE_AUTH ? -EROFS : (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM
											 : -EINVAL;
		goto out;
	}
	if (!st) {
		err = -ENODATA;
		goto out;
	}
	if (!sqlite3_stmt_readonly(st)) {
		err = -EROFS;
		goto out;
	}
	if (!only_blanks(r->db, tail)) {
		err = -ENOTSUP;
		goto out;
	}
	err = run(r, st, fn, data);
out:
	sqlite3_finalize(st);
	sqlite3_set_authorizer(r->db, NULL, NULL);
	return err;
}
