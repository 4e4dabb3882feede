/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the address-space model (lib/mm.h): one model per traced mm,
 * seeded from the kernel at exec, copied at fork, driven by every recorded syscall at its
 * exit stop, asked to the kernel (PROCMAP_QUERY) where the model cannot know, and written
 * to the store as VMA versions. Also --verify: the model against /proc/PID/maps after
 * every event.
 *
 * Ownership: a struct livemodel belongs to the tracer's struct mmref; livemodel_free()
 * ends it.
 */
#ifndef VMATRACE_LIVEMODEL_H
#define VMATRACE_LIVEMODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

struct store;
struct livemodel;

/* Counters of one trace, for the summary. */
struct livemodel_counts {
	uint64_t verified;      /* events after which the model was compared */
	uint64_t diverged;      /* ... and differed, with no other syscall in flight */
	uint64_t reconciled;    /* uncertain outcomes asked to the kernel */
	char *first_divergence; /* malloc'ed report of the first one, NULL if none */
};

/*
 * livemodel_new_exec - the model of a fresh image, seeded from /proc/@pid/smaps (maps as the
 * fallback) at the PTRACE_EVENT_EXEC stop; its VMAs are born at @seq. NULL if the kernel
 * could not be read (the mm is then not modelled, which is logged).
 */
struct livemodel *livemodel_new_exec(struct store *store, uint64_t mm_id, pid_t pid, uint64_t seq);

/*
 * livemodel_new_attach - the same for a process we attach to: its VMAs are stored as of
 * unknown origin (no event made them), and no fork history is assumed.
 */
struct livemodel *livemodel_new_attach(struct store *store, uint64_t mm_id, pid_t pid);

/* livemodel_new_fork - the child's copy at a fork at @seq (see mm_clone_for_fork). */
struct livemodel *livemodel_new_fork(struct livemodel *parent, uint64_t mm_id, uint64_t seq);

/* livemodel_free - the mm ended at @seq: every VMA dies then. NULL-safe. */
void livemodel_free(struct livemodel *m, uint64_t seq);

/* livemodel_drop - we stop watching (detach): the VMAs stay alive in the store. NULL-safe. */
void livemodel_drop(struct livemodel *m);

/*
 * What the kernel knows at a syscall's exit stop and no longer later (the fd an mmap used
 * may be closed, the segment gone by the time a held event is applied).
 */
struct livemodel_facts {
	unsigned int file_flags; /* MM_FILE_* of a MAP_SHARED file mmap's fd */
	uint64_t shm_size;       /* shmat: the segment's size as mapped */
};

/* livemodel_facts_read - fill @ret for the completed syscall @ev of @pid, at its exit stop. */
void livemodel_facts_read(const struct event *ev, pid_t pid, struct livemodel_facts *ret);

/*
 * livemodel_apply - apply the completed syscall @ev (ev->seq set, ret known) made by @pid,
 * with @facts read at its exit stop. ev->path/dev/ino describe the mapping an mmap/shmat
 * created, when the tracer asked the kernel. Reconciles with the kernel when the outcome
 * was uncertain. Returns 0 or -errno (logged by the caller).
 */
int livemodel_apply(struct livemodel *m, const struct event *ev, pid_t pid,
		    const struct livemodel_facts *facts, bool quiet, struct livemodel_counts *c);

/*
 * livemodel_unfinished - a map-changing syscall's task died inside it (killed, exit_group):
 * whether it took effect is unknown, so what it could have touched (its range, or the whole
 * map) is asked to the kernel at the next quiet point, like a concurrent event's.
 */
void livemodel_unfinished(struct livemodel *m, const struct event *ev);

/*
 * livemodel_settle - at a quiet point (no other syscall of the mm in flight or held), ask the
 * kernel for the ranges livemodel_apply() could not ask about when @quiet was false. The
 * kernel's truth is installed at the model's current seq. 0 or -errno.
 */
int livemodel_settle(struct livemodel *m, pid_t pid, struct livemodel_counts *c);

/*
 * livemodel_names_recheck - the name of each file VMA of inode @ids[i] (dev, ino; every file
 * VMA with @all) asked to the kernel; a changed one (renamed, " (deleted)") becomes a new
 * version born at @seq, or, with @seq 0, is only counted. The first new name goes to
 * @ret_name (may be NULL). Returns the number of VMAs whose name changed, or -errno.
 */
int livemodel_names_recheck(struct livemodel *m, pid_t pid, uint64_t seq,
			    const uint64_t (*ids)[2], unsigned n, bool all, char *ret_name,
			    size_t name_size, struct livemodel_counts *c);

/* livemodel_range_mapped - whether any VMA of the model overlaps [lo, hi). */
bool livemodel_range_mapped(const struct livemodel *m, uint64_t lo, uint64_t hi);

/*
 * livemodel_resync - replace the whole model by the kernel's view of @pid's address space
 * (PROCMAP_QUERY), keeping the hidden state the kernel does not show. For a fork child
 * that has not run yet, when other threads of the parent changed the map during the fork.
 * Returns 0 or -errno.
 */
int livemodel_resync(struct livemodel *m, pid_t pid, struct livemodel_counts *c);

/*
 * livemodel_verify - compare the model with /proc/@pid/maps after event @seq; @quiet_mm says
 * no other thread of this mm is inside a map-changing syscall, so a difference is real.
 * Returns true if the model matched (or the check was deferred).
 */
bool livemodel_verify(struct livemodel *m, pid_t pid, uint64_t seq, bool quiet_mm,
		      struct livemodel_counts *c);

/* livemodel_find - the VMA containing @addr now, NULL if none. Valid until the next event. */
struct vma;
const struct vma *livemodel_find(const struct livemodel *m, uint64_t addr);

/*
 * livemodel_exec_changed - whether an executable VMA died (unmapped, replaced, reprotected)
 * since the last call: code the unwinder's caches describe may be gone. Clears the flag.
 */
bool livemodel_exec_changed(struct livemodel *m);

/* livemodel_vma_count - VMAs in the model now. */
unsigned long livemodel_vma_count(const struct livemodel *m);

#endif
