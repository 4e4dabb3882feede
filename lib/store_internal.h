/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the store's writer (store.c) and reader (store_read*.c). Private to
 * the store: nobody else includes sqlite3.h.
 */
#ifndef VMATRACE_STORE_INTERNAL_H
#define VMATRACE_STORE_INTERNAL_H

#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* store_mono_ns - CLOCK_MONOTONIC in ns. */
uint64_t store_mono_ns(void);

/* store_sqlite_errno - the -errno for an SQLite (extended) result code; 0 for OK/ROW/DONE. */
int store_sqlite_errno(sqlite3 *db, int rc);

/* store_bind_u64 - bind an unsigned 64-bit value (stored as its two's-complement int64). */
void store_bind_u64(sqlite3_stmt *st, int i, uint64_t v);

/* The writer's statements for stacks (store_stack.c), owned by the writer thread. */
struct store_stack_writer {
	sqlite3_stmt *file, *file_id, *frame, *stack, *stack_frame;
};

/* store_stack_prepare - prepare @w on @db (writer). SQLite result code. */
int store_stack_prepare(sqlite3 *db, struct store_stack_writer *w);

/* store_stack_finalize - finalize @w's statements; idempotent. */
void store_stack_finalize(struct store_stack_writer *w);

/* store_stack_insert_frame, _stack - write one record (writer, in a transaction). */
int store_stack_insert_frame(struct store_stack_writer *w, const struct store_frame *f);
int store_stack_insert_stack(struct store_stack_writer *w, uint64_t id, const uint64_t *frames,
			     unsigned n);

/* store_step - run a statement to completion and reset it; DONE and ROW give SQLITE_OK. */
int store_step(sqlite3_stmt *st);

/* Reader side (store_read.c), for the reader's query files (store_read*.c). -------------- */

struct event;
struct store_vma;

/* The reader's handle, shared by the reader's query files. */
struct store_ro {
	sqlite3 *db;
	int64_t version;        /* PRAGMA user_version: 1 has no stack tables */
	sqlite3_stmt *stack_st; /* store_query_stack(), prepared on first use */
	char damaged[160];      /* why the DB breaks the schema's rules, "" if it does not */
};

/*
 * store_ro_damaged - record why @r's DB is damaged (a row that breaks the schema's rules:
 * a negative seq, a VMA that ends before it starts) for store_ro_errmsg(); -EUCLEAN.
 * A tampered DB must give one clear line, never a crash, an assert or a huge allocation.
 */
int store_ro_damaged(struct store_ro *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* store_ro_u64 - run @sql with @n int64 parameters; the first column of row 1 in @ret.
 * 0, -ENOENT for no row, or -errno. */
int store_ro_u64(struct store_ro *r, const char *sql, int n, const int64_t *args,
		 uint64_t *ret);

/* store_ro_walk - call @row for each row of @sql (bound to @n int64 @args); a non-zero
 * return from @row stops the walk and is returned. 0 or -errno. */
int store_ro_walk(struct store_ro *r, const char *sql, int n, const int64_t *args,
		  int (*row)(sqlite3_stmt *st, void *ctx), void *ctx);

/* Events: select EVENT_COLUMNS FROM event e LEFT JOIN file f ON f.id = e.file; then
 * store_ro_event_row() builds the row's event and passes it to @fn. */
#define EVENT_COLUMNS                                                                     \
	"e.seq, e.time_ns, e.pid, e.tid, e.mm, e.kind, e.nr, e.a0, e.a1, e.a2, e.a3, e.a4,"   \
	" e.a5, e.ret, e.dur_ns, f.path, f.dev, f.ino, e.argv, e.stack_id"
int store_ro_event_row(struct store_ro *r, sqlite3_stmt *st,
		       int (*fn)(const struct event *ev, void *data), void *data);

/* VMA versions: select VMA_COLUMNS FROM vma v; store_ro_row_vma() reads the row into @v
 * (name points into SQLite's row), its died_seq (0 for NULL) and returns its id.
 * store_ro_check_vma - 0 if the version keeps the schema's rules (start < end, perms like
 * "rw-p", 0 <= born_seq <= died_seq, seqs below 2^62), else store_ro_damaged(). */
#define VMA_COLUMNS                                                                       \
	"v.id, v.mm, v.start, v.end, v.perms, v.offset, v.dev, v.ino, v.name, v.born_seq,"   \
	" v.died_seq, v.origin_unknown"
uint64_t store_ro_row_vma(sqlite3_stmt *st, struct store_vma *v, uint64_t *ret_died);
int store_ro_check_vma(struct store_ro *r, const struct store_vma *v, uint64_t id,
		       uint64_t died_seq);

/* The largest seq a reader accepts: seqs count events, and the queries' arithmetic
 * (?2 - (2 << 47)) must stay far from int64 overflow. */
#define STORE_SEQ_MAX ((uint64_t)1 << 62)

/* store_ro_walk_versions - call @fn for the VMA version of each row of @sql (VMA_COLUMNS,
 * bound to @n int64 @args), with its died_seq (0: alive at the end). As store_ro_walk. */
typedef int store_version_fn(const struct store_vma *v, uint64_t id, uint64_t died_seq,
			     void *data);
int store_ro_walk_versions(struct store_ro *r, const char *sql, int n, const int64_t *args,
			   store_version_fn *fn, void *data);

#endif
