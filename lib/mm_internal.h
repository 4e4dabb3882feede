/* SPDX-License-Identifier: MIT */
/*
 * Internals of the address-space model shared by lib/vma.c (VMA objects, the ordered set,
 * held-back version changes), lib/mm.c (transitions and merge rules) and lib/mm_maps.c
 * (/proc text in and out, reconcile, fork). Not part of the API: include mm.h instead.
 */
#ifndef VMATRACE_MM_INTERNAL_H
#define VMATRACE_MM_INTERNAL_H

#include <sys/mman.h>

#include "mm.h"

/* uapi values older headers lack */
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#define MM_MAP_TYPE 0x0f

/*
 * Answers for merge decisions that may depend on hidden state. Both uncertain answers make
 * the transition report its range; they differ in the guess the model applies meanwhile:
 * T_LIKELY merges (anon_vma identity: most memory is either untouched or was written
 * before it was split), T_MAYBE does not (unknown flags or page offsets).
 */
enum tri { T_NO = 0, T_YES = 1, T_MAYBE = 2, T_LIKELY = 3 };

/* struct vma.av: does the VMA have an anon_vma (was it ever written, privately)? */
enum { AV_NONE = 0, AV_MAYBE = 1, AV_SOME = 2 };

#define PAGES(v) (((v)->end - (v)->start) >> MM_PAGE_SHIFT)
#define VMA_ACCESS_MASK (VMA_READ | VMA_WRITE | VMA_EXEC)
#define VMA_LOCKED_MASK (VMA_LOCKED | VMA_LOCKONFAULT)
/* Flags merges ignore, and the merged VMA keeps if either side had them. */
#define VMA_STICKY (VMA_SOFTDIRTY | VMA_MAYBE_GUARD)
#define MM_TASK_SIZE 0x7ffffffff000ULL /* x86_64, 4-level paging */

struct mm {
	struct vma *root;          /* treap by start */
	struct vma *head, *tail;   /* address order */
	size_t count;              /* VMAs in the set, the gate VMA included */
	unsigned int new_flags;    /* MM_NEW_* */
	uint64_t start_brk, brk;   /* 0: unknown */
	uint64_t start_stack;      /* 0: unknown */
	bool layout_set;           /* mm_set_layout() gave start_brk/brk */
	bool stack_set;            /* ... and start_stack */
	uint64_t def_flags;        /* mlockall(MCL_FUTURE): VMA_LOCKED[|LOCKONFAULT] */
	uint64_t next_av_id;
	int mmap_fd;               /* mm_apply(): the fd of the mmap being applied, or -1 */
	uint32_t rng;
	const struct mm_ops *ops;
	void *ctx;

	/* Version changes not reported yet: reported VMAs removed, VMAs added. */
	struct vma **dead;
	size_t n_dead, cap_dead;
	struct vma **born;
	size_t n_born, cap_born;
	bool pending;              /* held back by an uncertain transition */
	bool unc;                  /* [unc_lo, unc_hi) is uncertain */
	uint64_t unc_lo, unc_hi;
	bool nomem;                /* an allocation failed in this transition */
	size_t check_credit;       /* debug builds: VMA visits saved up for a full mm_check */
	struct mm_stats stats;
};

/* Refcounted strings (VMA paths and names). */
const char *mm_str_new(struct mm *mm, const char *s, size_t len);
const char *mm_str_ref(const char *s);
void mm_str_unref(const char *s);
bool mm_str_eq(const char *a, const char *b);

/* VMA objects. vma_alloc/vma_copy return NULL and set mm->nomem on failure. */
struct vma *vma_alloc(struct mm *mm);
struct vma *vma_copy(struct mm *mm, const struct vma *src, uint64_t start, uint64_t end);
void vma_free(struct vma *v);
bool vma_same_version(const struct vma *a, const struct vma *b);

/* The ordered set. mm_add() inserts a new (unreported) VMA; mm_remove() takes one out:
 * a reported VMA waits in the dead list for the next flush, an unreported one is freed. */
void mm_add(struct mm *mm, struct vma *v);
void mm_remove(struct mm *mm, struct vma *v);
struct vma *mm_find_le(const struct mm *mm, uint64_t addr); /* last VMA with start <= addr */
uint64_t mm_new_av_id(struct mm *mm);

/* Transaction frame around every transition. */
void mm_begin(struct mm *mm);
int mm_end(struct mm *mm);
void mm_mark_uncertain(struct mm *mm, uint64_t lo, uint64_t hi);
void mm_do_flush(struct mm *mm);
void mm_clear(struct mm *mm); /* remove every VMA (reported as deaths at the next flush) */

static inline uint64_t mm_page_align(uint64_t x)
{
	return (x + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
}

static inline bool mm_is_err(int64_t ret)
{
	return ret < 0 && ret >= -4095;
}

static inline uint64_t mm_prot_flags(int prot)
{
	return (prot & PROT_READ ? VMA_READ : 0) | (prot & PROT_WRITE ? VMA_WRITE : 0) |
	       (prot & PROT_EXEC ? VMA_EXEC : 0);
}

/* Merge rules (vma_merge.c). All return NULL on ENOMEM (mm->nomem set). */
bool vma_private_writable(const struct vma *v);
/* vma_merge_new_range(): insert @cand (its range a hole) merging with its neighbours;
 * @just_expand: brk, prev only; @copied_from: the source of an mremap move. Takes @cand. */
struct vma *vma_merge_new(struct mm *mm, struct vma *cand, bool just_expand,
			  const struct vma *copied_from);
/* vma_modify(): [start, end) of @vma gets @flags/@unknown/@name, merging with @prev (the
 * VMA before start, or @vma itself) and the next VMA; returns the VMA covering the range */
struct vma *vma_modify(struct mm *mm, struct vma *prev, struct vma *vma, uint64_t start,
		       uint64_t end, uint64_t flags, uint64_t unknown, const char *name);
/* Replace @v by its parts outside [start, end) plus @mid (may be NULL) */
void vma_split3(struct mm *mm, struct vma *v, uint64_t start, uint64_t end, struct vma *mid);
/* reconcile: the kernel shows @l and @r apart; forget that they share an anon_vma */
void vma_kept_apart(struct mm *mm, const struct vma *l, struct vma *r);
/* __split_vma(): split @v at @addr (inside it) */
void vma_split_at(struct mm *mm, struct vma *v, uint64_t addr);
/* do_vmi_munmap(): remove [start, end), splitting the VMAs at its edges */
void mm_unmap_range(struct mm *mm, uint64_t start, uint64_t end);
bool mm_range_has_vma(const struct mm *mm, uint64_t start, uint64_t end);

/*
 * Debug builds check the model's invariants at the end of every transition (mm_check.c):
 * mm_touched() gives the range the pending births and deaths cover (lo >= hi: none);
 * mm_check_transition() checks that window, or the whole set when its budget allows, and
 * aborts naming the broken invariant. Release builds (NDEBUG) check nothing.
 */
void mm_touched(const struct mm *mm, uint64_t *lo, uint64_t *hi);
void mm_check_transition(struct mm *mm, uint64_t lo, uint64_t hi);

/* Building VMAs from kernel descriptions (mm_maps.c), used by seed and reconcile. */
struct vma *vma_from_desc(struct mm *mm, const struct vma_desc *d, const struct vma *hint);

/* Used by mm_maps.c for fork. */
void mm_copy_layout(struct mm *dst, const struct mm *src);

#endif
