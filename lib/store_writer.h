/* SPDX-License-Identifier: MIT */
/*
 * The store's writer side, private to store.c (the producer's queue, create and close)
 * and store_writer.c (the writer thread that turns queued records into rows). See store.c
 * for the design.
 */
#ifndef VMATRACE_STORE_WRITER_H
#define VMATRACE_STORE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "event.h"
#include "store.h"
#include "store_internal.h"

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
	REC_EVENT_RET,
	REC_DIVERGENCE,
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
		struct {
			uint64_t seq;
			int64_t ret;
		} event_ret;            /* REC_EVENT_RET */
		struct {
			uint64_t seq, mm;
			char *report;
		} divergence;           /* REC_DIVERGENCE */
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
	ST_EVENT_RET,
	ST_DIVERGENCE,
	N_ST
};

struct store {
	char *path;                 /* the DB's path, for the writer's sqlite3_open_v2 */
	uid_t fsuid;                /* files are opened as this user (system daemon), -1: ours */
	int lock_fd;                /* holds the trace lock (flock) on the DB until close */
	gid_t fsgid;
	int dir_fd;                 /* O_PATH fd of the directory the DB was created in */
	char *base;                 /* the DB's name in it ("trace.db") */
	dev_t dev;                  /* the main file we created (O_EXCL): what we may remove */
	ino_t ino;
	/* Shared, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;          /* the writer waits here */
	struct chunk *head, *tail;    /* queued records, oldest first */
	unsigned queued;              /* records in head..tail */
	struct chunk *spare;          /* drained chunks for reuse */
	unsigned n_spare;
	bool writer_waiting;
	bool stop;
	bool discard;                 /* store_discard*(): the writer removes the files at close */
	pthread_cond_t setup_cv;      /* store_create_as() waits here for the writer's setup */
	uint64_t enqueued;            /* records ever queued (atomic stores, under lock) */

	/* Shared, atomic (__atomic_*: the writer sets them, any thread reads). */
	int err;                      /* sticky -errno, 0 if none */
	uint64_t done;                /* records committed or dropped (writer) */
	int setup;                    /* -EINPROGRESS, then 0 or the setup's -errno (writer) */
	bool closed;                  /* the writer has closed the DB and is about to return */

	/* Set before the writer starts, read-only after. */
	int notify_fd;                /* eventfd the writer adds 1 to (setup done, closed); -1 */

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

/* store_set_error - make @err the store's sticky error unless it has one (thread-safe). */
void store_set_error(struct store *s, int err);

/* store_rec_free - free what a queued record owns. */
void store_rec_free(struct rec *r);

/*
 * store_writer_open - on the writer thread, before any record: open s->path, create the
 * schema, turn WAL on, prepare the statements. 0, or -errno with s->db closed (NULL).
 */
int store_writer_open(struct store *s);

/* store_writer_remove - on the writer thread, after the DB is closed: remove the files of a
 * discarded store (see unlink_db in store.c), with the writer's filesystem ids. */
void store_writer_remove(struct store *s);

/* store_writer_prepare - the writer's statements and SQL functions on s->db. SQLite code. */
int store_writer_prepare(struct store *s);

/* store_writer_main - the writer thread (pthread_create's start routine; @arg: the store). */
void *store_writer_main(void *arg);

#endif
