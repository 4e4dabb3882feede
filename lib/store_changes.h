/* SPDX-License-Identifier: MIT */
/*
 * Reader queries for `replay` and `stats` (lib/store_changes.c, lib/store_stats.c): the
 * VMA versions that changed in a range of events, every version of an mm in one pass, and
 * the event counts of a process grouped by thread, mm, syscall and errno. Same rules as
 * the store_query_*() calls of store.h: 0 or -errno, callbacks see rows valid during the
 * call only, a non-zero return from a callback stops the walk and is returned.
 */
#ifndef VMATRACE_STORE_CHANGES_H
#define VMATRACE_STORE_CHANGES_H

#include <stdint.h>
#include <sys/types.h>

#include "store.h"
#include "store_timeline.h"

/*
 * store_query_vma_changes - every version of @mm born or ended in (@after, @upto], in no
 * particular order. One statement over index vma_life: per life class c, the versions born
 * in (@after - 2^(c+1), @upto] (a version that died in the range was born no earlier),
 * kept if born or dead inside the range. It reads the versions that changed in the range
 * plus those alive across @after with a life shorter than 2^(c+1): no scan of the mm.
 * @died_seq is 0 for a version alive at the end of the trace.
 */
int store_query_vma_changes(struct store_ro *r, uint64_t mm, uint64_t after, uint64_t upto,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data);

/* store_query_mm - mm @id into @ret (struct store_mm_info: store_timeline.h; its pid and
 * exe are left 0 and NULL). 0, or -ENOENT. */
int store_query_mm(struct store_ro *r, uint64_t id, struct store_mm_info *ret);

/* One group of a process's events: how many it made of one kind, in one thread and mm. */
struct store_event_count {
	pid_t tid;
	uint64_t mm;
	int kind;               /* enum event_kind */
	int nr;                 /* syscall number, -1 for a thread exit */
	int err;                /* errno (positive) of a failed syscall, 0 otherwise */
	uint64_t count;
	uint64_t first_seq, last_seq;
};

/*
 * store_query_event_counts - the events of thread group @pid with seq in [@from, @to]
 * grouped by (tid, mm, kind, nr, errno): index event_pid (rowid = seq is its last column,
 * so the seq range is part of the index range), one pass over the process's events.
 */
int store_query_event_counts(struct store_ro *r, pid_t pid, uint64_t from, uint64_t to,
			     int (*fn)(const struct store_event_count *c, void *data),
			     void *data);

/* store_query_event_time - time_ns of event @seq. 0, or -ENOENT. */
int store_query_event_time(struct store_ro *r, uint64_t seq, uint64_t *ret_ns);

#endif
