/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the store's writer (store.c) and reader (store_read.c). Private to
 * those two files: nobody else includes sqlite3.h.
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

/* The reader's handle (store_read.c), shared with store_stack.c's queries. */
struct store_ro {
	sqlite3 *db;
	int64_t version;        /* PRAGMA user_version: 1 has no stack tables */
	sqlite3_stmt *stack_st; /* store_query_stack(), prepared on first use */
};

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

#endif
