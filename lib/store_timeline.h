/* SPDX-License-Identifier: MIT */
/*
 * Reader queries for the whole-trace pictures (`vmatrace timeline`, `vmatrace export`):
 * every address space with the program that ran in it, every VMA version of an mm with its
 * life, the threads, and a seq -> time table. They read everything once, in one pass each,
 * rather than asking the indexed point questions of store.h many times.
 *
 * Same rules as store.h's readers: 0 or -errno; a non-zero return from a callback stops
 * the walk and is returned; what a callback gets is valid during the call only.
 */
#ifndef VMATRACE_STORE_TIMELINE_H
#define VMATRACE_STORE_TIMELINE_H

#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* An address space, as the pictures name it. */
struct store_mm_info {
	uint64_t id;           /* mm.id: 1 */
	uint64_t start_seq;    /* event that created it (fork, exec), 0 for an initial one */
	uint64_t end_seq;      /* event that dropped its last user, 0 if alive at the end */
	uint64_t parent;       /* mm it was copied from by fork, 0 if none */
	pid_t owner;           /* mm.owner: the process that created it (the forking parent) */
	pid_t pid;             /* the process that used it: the one that exec'ed into it, else
				  the first one born with it, else its creator: 1234 */
	const char *exe;       /* the program exec'ed into it ("/usr/bin/python3"); NULL for
				  a fork's copy (it runs its parent mm's program) */
};

/* store_query_mms - every mm in id order (a fork copy comes after its parent). */
int store_query_mms(struct store_ro *r, int (*fn)(const struct store_mm_info *m, void *data),
		    void *data);

/*
 * store_query_mm_versions - every VMA version of @mm (0: of every mm, by mm), in order of
 * creation (id). @died_seq is 0 for a version alive at the end of the trace. The name
 * points into SQLite's row.
 */
int store_query_mm_versions(struct store_ro *r, uint64_t mm,
			    int (*fn)(const struct store_vma *v, uint64_t id, uint64_t died_seq,
				      void *data),
			    void *data);

/* A thread (one row per tid life; tids may repeat). */
struct store_thread_info {
	pid_t tid, pid;
	uint64_t start_seq;    /* creating clone, 0 if there at the start */
	uint64_t end_seq;      /* its exit event, 0 if alive at the end */
};
int store_query_threads(struct store_ro *r,
			int (*fn)(const struct store_thread_info *t, void *data), void *data);

/*
 * The time of every event, in ns since the trace's start (CLOCK_MONOTONIC minus
 * trace.start_mono_ns), made monotone in seq: an event's time is its entry time or its
 * predecessor's, whichever is later, because seq is the order in which effects happened
 * and a thread's call may enter before another's that ends first. One entry per event
 * row, not per seq value: memory follows the rows, whatever seqs a DB holds.
 */
struct store_event_times {
	uint64_t *seq;          /* the events' seqs, ascending */
	uint64_t *t;            /* their times */
	size_t n;
};

/* store_query_event_times - read them into @ret (release with store_event_times_release).
 * 0 or -errno (-EUCLEAN for a seq out of range). */
int store_query_event_times(struct store_ro *r, struct store_event_times *ret);
void store_event_times_release(struct store_event_times *t);

/* store_event_time_at - the time of event @seq: that of the last event at or before it
 * (a missing seq takes its predecessor's), 0 before the first. */
uint64_t store_event_time_at(const struct store_event_times *t, uint64_t seq);

/* store_event_times_last - the last event's seq and time (0 and 0 without events). */
uint64_t store_event_times_last(const struct store_event_times *t, uint64_t *ret_time);

#endif
