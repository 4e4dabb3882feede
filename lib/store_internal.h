/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the store's writer (store.c) and reader (store_read.c). Private to
 * those two files: nobody else includes sqlite3.h.
 */
#ifndef VMATRACE_STORE_INTERNAL_H
#define VMATRACE_STORE_INTERNAL_H

#include <stdint.h>

#include <sqlite3.h>

/* store_mono_ns - CLOCK_MONOTONIC in ns. */
uint64_t store_mono_ns(void);

/* store_sqlite_errno - the -errno for an SQLite (extended) result code; 0 for OK/ROW/DONE. */
int store_sqlite_errno(sqlite3 *db, int rc);

/* store_bind_u64 - bind an unsigned 64-bit value (stored as its two's-complement int64). */
void store_bind_u64(sqlite3_stmt *st, int i, uint64_t v);

/* store_step - run a statement to completion and reset it; DONE and ROW give SQLITE_OK. */
int store_step(sqlite3_stmt *st);

#endif
