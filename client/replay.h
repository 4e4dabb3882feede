/* SPDX-License-Identifier: MIT */
/*
 * vmatrace replay: the history of one process's map, step by step. replay_load.c reads it
 * (a few queries, then one walk of the process's events), cmd_replay.c prints it and
 * replay_tui.c shows it on a terminal. Private to those three files.
 *
 * What a step is. Every event of the process with seq in [from, to], plus every event of
 * another task that changed the process's map in that range (a CLONE_VM sibling's mmap, a
 * vfork child's, the parent's fork that created the process's mm). Each step lists the VMA
 * versions of the process's mm that ended at that event (removed) and those that began
 * (added); an event that changed nothing has none. At an execve the process moves to a new
 * mm: the step removes the whole old map and adds the whole new one (old_mm != mm).
 */
#ifndef VMATRACE_REPLAY_H
#define VMATRACE_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "store.h"

/* One VMA version that the replay shows at some point. */
struct rp_version {
	struct store_vma v;     /* v.name points to name */
	char *name;
	uint64_t id;            /* vma.id */
	uint64_t died_seq;      /* 0 while alive at the end of the trace */
};

struct rp_step {
	uint64_t seq;
	char *line;             /* the event as `vmatrace events` prints it (kept steps only) */
	uint64_t mm, old_mm;    /* the process's mm after the step; before it, if execve moved it */
	size_t del, n_del;      /* removed versions: changes[del .. del + n_del) */
	size_t add, n_add;      /* added versions: changes[add .. add + n_add) */
};

struct replay {
	/* Set by the caller before replay_load(). */
	struct store_ro *r;
	struct store_proc_info proc;
	uint64_t from, to;      /* steps with seq in [from, to] */
	bool keep;              /* keep every step (the terminal view); else only the current */
	/* Called once the starting map is known, before the first step (may be NULL). */
	int (*begin)(struct replay *rp);
	/* The step sink, called once per step in seq order; @ev is the step's event. */
	int (*sink)(struct replay *rp, const struct event *ev, const struct rp_step *st);
	const char *who;        /* the process as the user named it: "1234", "1234@2" */

	/* Filled by replay_load(). */
	struct rp_version *vs;  /* every version seen, each once */
	size_t n_vs;
	size_t *initial;        /* versions alive after event from - 1 */
	size_t n_initial;
	uint64_t initial_mm;
	size_t *changes;        /* version indexes, by step */
	size_t n_changes, cap_changes;
	struct rp_step *steps;  /* keep: every step; else the last one */
	size_t n_steps, cap_steps;

	/* Loader state (replay_load.c). */
	struct rp_entry *entries; /* (seq, add/remove, version), sorted by seq */
	size_t n_entries, cap_entries, next_entry;
	bool *alive;
	uint64_t *segs, *seg_mms; /* the process's mms: seg_mms[k] from event segs[k] on */
	size_t n_segs;
	uint64_t *pending;      /* change seqs of other tasks, fetched in batches */
	size_t cap_pending;
};

/*
 * replay_load - read the steps of @rp->proc in [@rp->from, @rp->to] and hand each to
 * @rp->sink in order. 0, -errno from the store, or the sink's non-zero return.
 */
int replay_load(struct replay *rp);

/* replay_release - free what replay_load() allocated. */
void replay_release(struct replay *rp);

/* replay_tui - the interactive view of a loaded (keep) replay on the terminal on fd 0/1.
 * Returns the exit status. */
int replay_tui(struct replay *rp, const char *who);

#endif
