// SPDX-License-Identifier: MIT
/*
 * Invariants of the address-space model, checked: mm_check() walks the whole set, and
 * debug builds (no NDEBUG: b_ndebug=if-release) run mm_debug_check() at the end of every
 * transition, seed, reconcile and fork copy, aborting with the broken invariant named.
 *
 * What must hold between transitions:
 * - the treap: in-order it is the address-ordered list (so it is a search tree by start),
 *   and a parent's priority is at least its children's (so it is a heap: O(log n) depth);
 * - the list: head and tail, prev and next agree, VMAs sorted and disjoint, their number
 *   is mm->count;
 * - each VMA: page aligned, non-empty, its kind and backing agree (anonymous memory has no path, device or inode and is
 *   private; shmem and SysV memory is shared and named; names only on anonymous and shmem
 *   memory), permissions within their MAY bits (special mappings excepted), LOCKONFAULT only with LOCKED (bits the
 *   model marks unknown are not judged), anon_vma states in range;
 * - with nothing held back, every VMA in the set was reported and no change is pending.
 *
 * Cost. A full walk is O(n): after each transition of a 65,530-VMA model it would make the
 * model quadratic. So mm_debug_check() checks the window the transition touched (the VMAs
 * it removed or added, their neighbours, and for each the treap path that finds it: about
 * the transition's own cost) and runs the full walk only when MM_CHECK_VISITS visits per
 * transition have paid for it: every transition below 16 VMAs, every 4,096th at 65,530.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mm_internal.h"

/* full-walk budget: VMA visits per transition, amortised */
#define MM_CHECK_VISITS 16
/* a treap of random priorities is about 2 ln n deep (25 at 65,530 VMAs): far deeper is a
 * broken heap (or priorities that stopped being random), and protects the recursion */
#define MM_CHECK_MAX_DEPTH 1000

struct check {
	const struct mm *mm;
	char *why;
	size_t size;
	const struct vma *cursor; /* next list VMA the in-order walk must meet */
	size_t nodes;
};

static __attribute__((format(printf, 2, 3))) int fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->size) {
		va_start(ap, fmt);
		vsnprintf(c->why, c->size, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

#define RANGE(v) (unsigned long long)(v)->start, (unsigned long long)(v)->end

/* @a set (and known) without @b (known): a flag combination the kernel never makes */
static bool breaks(const struct vma *v, uint64_t a, uint64_t b)
{
	return (v->flags & a) && !(v->flags & b) && !(v->unknown & (a | b));
}

static int check_vma(struct check *c, const struct vma *v)
{
	const struct mm *mm = c->mm;

	if (v->start >= v->end)
		return fail(c, "%llx-%llx: empty or inverted", RANGE(v));
	if ((v->start | v->end) & (MM_PAGE_SIZE - 1))
		return fail(c, "%llx-%llx: not page aligned", RANGE(v));
	if (!v->in_tree)
		return fail(c, "%llx-%llx: listed but not marked in the set", RANGE(v));
	switch (v->kind) {
	case VMA_ANON:
		if (v->path || v->dev || v->ino)
			return fail(c, "%llx-%llx: anonymous with a path, device or inode",
				    RANGE(v));
		if (v->flags & (VMA_MAYSHARE | VMA_SHARED))
			return fail(c, "%llx-%llx: anonymous and shared", RANGE(v));
		break;
	case VMA_SHMEM:
	case VMA_SYSV:
		if (!(v->flags & VMA_MAYSHARE) && !(v->unknown & VMA_MAYSHARE))
			return fail(c, "%llx-%llx: shmem or SysV memory not shared", RANGE(v));
		if (!v->path)
			return fail(c, "%llx-%llx: shmem or SysV memory without a name", RANGE(v));
		if (v->kind == VMA_SYSV && v->anon_name)
			return fail(c, "%llx-%llx: SysV memory with an anon name", RANGE(v));
		break;
	case VMA_FILE:
		if (v->anon_name)
			return fail(c, "%llx-%llx: file mapping with an anon name", RANGE(v));
		break;
	case VMA_SPECIAL:
		if (!v->path || v->anon_name)
			return fail(c, "%llx-%llx: special mapping without its name", RANGE(v));
		break;
	default:
		return fail(c, "%llx-%llx: kind %d", RANGE(v), (int)v->kind);
	}
	/* special mappings set what they like: the gate VMA is VM_EXEC alone */
	if (v->kind != VMA_SPECIAL && (breaks(v, VMA_READ, VMA_MAYREAD) || breaks(v, VMA_WRITE, VMA_MAYWRITE) ||
	    breaks(v, VMA_EXEC, VMA_MAYEXEC) || breaks(v, VMA_SHARED, VMA_MAYSHARE) ||
	    breaks(v, VMA_LOCKONFAULT, VMA_LOCKED)))
		return fail(c, "%llx-%llx: flags %llx (unknown %llx) the kernel never sets", RANGE(v),
			    (unsigned long long)v->flags, (unsigned long long)v->unknown);
	if (v->av > AV_SOME || v->av_fork > T_MAYBE)
		return fail(c, "%llx-%llx: anon_vma state %d/%d", RANGE(v), v->av, v->av_fork);
	if (!mm->pending && !v->reported)
		return fail(c, "%llx-%llx: in the set, not reported, nothing held back", RANGE(v));
	return 0;
}

/* @v against its list neighbours and its treap children */
static int check_links(struct check *c, const struct vma *v)
{
	const struct mm *mm = c->mm;

	if (v->prev ? v->prev->next != v : mm->head != v)
		return fail(c, "%llx-%llx: prev link broken", RANGE(v));
	if (v->next ? v->next->prev != v : mm->tail != v)
		return fail(c, "%llx-%llx: next link broken", RANGE(v));
	if (v->next && v->end > v->next->start)
		return fail(c, "%llx-%llx overlaps or precedes %llx-%llx", RANGE(v), RANGE(v->next));
	if ((v->left && v->left->prio > v->prio) || (v->right && v->right->prio > v->prio))
		return fail(c, "%llx-%llx: treap child with a higher priority", RANGE(v));
	if ((v->left && v->left->start >= v->start) || (v->right && v->right->start <= v->start))
		return fail(c, "%llx-%llx: treap child on the wrong side", RANGE(v));
	return 0;
}

/* in-order walk of the treap, which must meet the list's VMAs one by one */
static int walk_tree(struct check *c, const struct vma *t, int depth)
{
	int r;

	if (!t)
		return 0;
	if (depth > MM_CHECK_MAX_DEPTH)
		return fail(c, "treap deeper than %d at %llx-%llx", MM_CHECK_MAX_DEPTH, RANGE(t));
	r = walk_tree(c, t->left, depth + 1);
	if (r)
		return r;
	if (t != c->cursor)
		return fail(c, "treap in order has %llx-%llx where the list has %s", RANGE(t),
			    c->cursor ? "another VMA" : "none");
	c->cursor = t->next;
	c->nodes++;
	return walk_tree(c, t->right, depth + 1);
}

int mm_check(const struct mm *mm, char *why, size_t size)
{
	struct check c = { mm, why, size, NULL, 0 };
	const struct vma *v;
	size_t n = 0;
	int r;

	if (size)
		why[0] = '\0';
	if ((mm->head == NULL) != (mm->tail == NULL) || (mm->head == NULL) != (mm->root == NULL))
		return fail(&c, "head, tail and root disagree on emptiness");
	for (v = mm->head; v; v = v->next) {
		if (++n > mm->count)
			return fail(&c, "more VMAs listed than the count, %zu", mm->count);
		r = check_vma(&c, v);
		if (!r)
			r = check_links(&c, v);
		if (r)
			return r;
	}
	if (n != mm->count)
		return fail(&c, "%zu VMAs listed, count %zu", n, mm->count);
	c.cursor = mm->head;
	r = walk_tree(&c, mm->root, 0);
	if (r)
		return r;
	if (c.cursor || c.nodes != n)
		return fail(&c, "treap has %zu VMAs, list %zu", c.nodes, n);
	if (!mm->pending && (mm->n_born || mm->n_dead))
		return fail(&c, "%zu births and %zu deaths unreported, nothing held back",
			    mm->n_born, mm->n_dead);
	return 0;
}

/* The VMAs overlapping [lo, hi) and one on each side: each found by the treap, checked. */
static int check_window(const struct mm *mm, uint64_t lo, uint64_t hi, char *why, size_t size)
{
	struct check c = { mm, why, size, NULL, 0 };
	const struct vma *v = mm_find_le(mm, lo);
	int r;

	v = v ? (v->prev ? v->prev : v) : mm->head;
	for (; v; v = v->next) {
		if (mm_find_le(mm, v->start) != v)
			return fail(&c, "%llx-%llx: the treap does not find it", RANGE(v));
		r = check_vma(&c, v);
		if (!r)
			r = check_links(&c, v);
		if (r)
			return r;
		if (v->start >= hi)
			break;
	}
	return 0;
}

void mm_touched(const struct mm *mm, uint64_t *lo, uint64_t *hi)
{
	size_t i;

	*lo = UINT64_MAX;
	*hi = 0;
	for (i = 0; i < mm->n_born; i++) {
		if (mm->born[i]->start < *lo)
			*lo = mm->born[i]->start;
		if (mm->born[i]->end > *hi)
			*hi = mm->born[i]->end;
	}
	for (i = 0; i < mm->n_dead; i++) {
		if (mm->dead[i]->start < *lo)
			*lo = mm->dead[i]->start;
		if (mm->dead[i]->end > *hi)
			*hi = mm->dead[i]->end;
	}
}

void mm_check_transition(struct mm *mm, uint64_t lo, uint64_t hi)
{
	char why[256];
	int r;

	/* an allocation failed: the model is known broken and waits for a reseed */
	if (mm->nomem)
		return;
	mm->check_credit += MM_CHECK_VISITS;
	if (mm->check_credit >= mm->count) {
		mm->check_credit = 0;
		r = mm_check(mm, why, sizeof(why));
	} else if (lo < hi) {
		r = check_window(mm, lo, hi, why, sizeof(why));
	} else {
		return;
	}
	if (r) {
		fprintf(stderr, "mm_check: model invariant broken after transition %llu: %s\n",
			(unsigned long long)mm->stats.transitions, why);
		abort();
	}
}
