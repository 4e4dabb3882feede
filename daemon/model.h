/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the address-space model (lib/mm.h): one model per traced mm,
 * seeded from the kernel at exec, copied at fork, driven by every recorded syscall at its
 * exit stop, asked to the kernel (PROCMAP_QUERY) where the model cannot know, and written
 * to the store as VMA versions. Also --verify: the model against /proc/PID/maps after
 * every event.
 *
 * Ownership: a struct model belongs to the tracer's struct mmref; model_free() ends it.
 */
#ifndef VMATRACE_MODEL_H
#define VMATRACE_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

struct store;
struct model;

/* Counters of one trace, for the summary. */
struct model_counts {
	uint64_t verified;      /* events after which the model was compared */
	uint64_t diverged;      /* ... and differed, with no other syscall in flight */
	uint64_t reconciled;    /* uncertain outcomes asked to the kernel */
	char *first_divergence; /* malloc'ed report of the first one, NULL if none */
};

/*
 * model_new_exec - the model of a fresh image, seeded from /proc/@pid/smaps (maps as the
 * fallback) at the PTRACE_EVENT_EXEC stop; its VMAs are born at @seq. NULL if the kernel
 * could not be read (the mm is then not modelled, which is logged).
 */
struct model *model_new_exec(struct store *store, uint64_t mm_id, pid_t pid, uint64_t seq);

/*
 * model_new_attach - the same for a process we attach to: its VMAs are stored as of
 * unknown origin (no event made them), and no fork history is assumed.
 */
struct model *model_new_attach(struct store *store, uint64_t mm_id, pid_t pid);

/* model_new_fork - the child's copy at a fork at @seq (see mm_clone_for_fork). */
struct model *model_new_fork(struct model *parent, uint64_t mm_id, uint64_t seq);

/* model_free - the mm ended at @seq: every VMA dies then. NULL-safe. */
void model_free(struct model *m, uint64_t seq);

/* model_drop - we stop watching (detach): the VMAs stay alive in the store. NULL-safe. */
void model_drop(struct model *m);

/*
 * What the kernel knows at a syscall's exit stop and no longer later (the fd an mmap used
 * may be closed, the segment gone by the time a held event is applied).
 */
struct model_facts {
	unsigned int file_flags; /* MM_FILE_* of a MAP_SHARED file mmap's fd */
	uint64_t shm_size;       /* shmat: the segment's size as mapped */
};

/* model_facts_read - fill @ret for the completed syscall @ev of @pid, at its exit stop. */
void model_facts_read(const struct event *ev, pid_t pid, struct model_facts *ret);

/*
 * model_apply - apply the completed syscall @ev (ev->seq set, ret known) made by @pid,
 * with @facts read at its exit stop. ev->path/dev/ino describe the mapping an mmap/shmat
 * created, when the tracer asked the kernel. Reconciles with the kernel when the outcome
 * was uncertain. Returns 0 or -errno (logged by the caller).
 */
int model_apply(struct model *m, const struct event *ev, pid_t pid,
		const struct model_facts *facts, bool quiet, struct model_counts *c);

/*
 * model_settle - at a quiet point (no other syscall of the mm in flight or held), ask the
 * kernel for the ranges model_apply() could not ask about when @quiet was false. The
 * kernel's truth is installed at the model's current seq. 0 or -errno.
 */
int model_settle(struct model *m, pid_t pid, struct model_counts *c);

/*
 * model_names_recheck - the name of each file VMA of inode @ids[i] (dev, ino; every file
 * VMA with @all) asked to the kernel; a changed one (renamed, " (deleted)") becomes a new
 * version born at @seq, or, with @seq 0, is only counted. The first new name goes to
 * @ret_name (may be NULL). Returns the number of VMAs whose name changed, or -errno.
 */
int model_names_recheck(struct model *m, pid_t pid, uint64_t seq, const uint64_t (*ids)[2],
			unsigned n, bool all, char *ret_name, size_t name_size,
			struct model_counts *c);

/* model_range_mapped - whether any VMA of the model overlaps [lo, hi). */
bool model_range_mapped(const struct model *m, uint64_t lo, uint64_t hi);

/*
 * model_resync - replace the whole model by the kernel's view of @pid's address space
 * (PROCMAP_QUERY), keeping the hidden state the kernel does not show. For a fork child
 * that has not run yet, when other threads of the parent changed the map during the fork.
 * Returns 0 or -errno.
 */
int model_resync(struct model *m, pid_t pid, struct model_counts *c);

/*
 * model_verify - compare the model with /proc/@pid/maps after event @seq; @quiet_mm says
 * no other thread of this mm is inside a map-changing syscall, so a difference is real.
 * Returns true if the model matched (or the check was deferred).
 */
bool model_verify(struct model *m, pid_t pid, uint64_t seq, bool quiet_mm,
		  struct model_counts *c);

/* model_find - the VMA containing @addr now, NULL if none. Valid until the next event. */
struct vma;
const struct vma *model_find(const struct model *m, uint64_t addr);

/*
 * model_exec_changed - whether an executable VMA died (unmapped, replaced, reprotected)
 * since the last call: code the unwinder's caches describe may be gone. Clears the flag.
 */
bool model_exec_changed(struct model *m);

/* model_vma_count - VMAs in the model now. */
unsigned long model_vma_count(const struct model *m);

#endif
