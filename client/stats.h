/* SPDX-License-Identifier: MIT */
/*
 * vmatrace stats: what cmd_stats.c computes and stats_print.c prints (text and JSON).
 * Private to those two files.
 */
#ifndef VMATRACE_STATS_H
#define VMATRACE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "store_changes.h"

#define ST_TOP 5                /* largest mappings and busiest threads shown */

/* A counter: key is a syscall number (-1: thread exit), (errno << 32 | nr), or a tid. */
struct st_count {
	int64_t key;
	uint64_t count;
};

struct st_proc {
	struct store_proc_info info; /* strings NULL: see exe */
	char *exe;
	char name[32];               /* "1234", or "1234@2" when the pid repeats */
	uint64_t events, first_seq, last_seq;
	struct st_count *by_nr, *by_err, *by_tid; /* sorted by count, most first */
	size_t n_nr, n_err, n_tid;
	uint64_t *mms;               /* the mms it used, in order */
	size_t n_mms;
};

/* One of the largest mappings: a range, with the first version's perms and name. */
struct st_top {
	struct store_vma v;          /* v.name points to name; v.born_seq the first birth */
	char *name;
	uint64_t size;
	uint64_t died_seq;           /* end of the range's last version, 0 if alive */
};

struct st_mm {
	uint64_t id;
	struct store_mm_info info;
	uint64_t events;             /* events of the reported processes in this mm */
	uint64_t peak_bytes, peak_bytes_seq, final_bytes;
	uint64_t peak_vmas, peak_vmas_seq, final_vmas;
	int peak_users;
	uint64_t peak_users_seq;
	struct st_top top[ST_TOP];   /* largest first */
	size_t n_top;
};

struct stats {
	uint64_t only_id;            /* --pid: the process row, else 0 */
	unsigned only_nth;
	struct store_trace_info trace;
	struct store_summary summary;
	uint64_t last_seq, first_ns, last_ns;
	struct st_proc *procs;
	size_t n_procs;
	struct st_mm *mms;           /* in order of first use */
	size_t n_mms;
};

void stats_print_text(const struct stats *s, FILE *out);
void stats_print_json(const struct stats *s, FILE *out);

#endif
