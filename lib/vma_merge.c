// SPDX-License-Identifier: MIT
/*
 * The merge rules of the address-space model, after mm/vma.c of Linux 6.18:
 * is_mergeable_vma(), is_mergeable_anon_vma(), can_vma_merge_before/after(),
 * vma_merge_new_range() (a new range meets its neighbours: mmap, brk, mremap) and
 * vma_modify() (part of a VMA changes flags or name: mprotect, mlock, madvise, ...).
 *
 * anon_vma knowledge. Whether two private VMAs may merge depends on their anon_vmas, which
 * exist once memory was written and which userspace cannot see. struct vma keeps what is
 * provable: av (has none / maybe / has one), av_id (equal ids have the same anon_vma if
 * both have one) and av_parent (a writable piece split off a "maybe" lineage may since
 * have faulted an anon_vma of its own; if the lineage had one at the split, the piece has
 * that one, which a read-only piece still holding the lineage id shares). Decisions that
 * depend on the rest are uncertain: the transition reports its range, to be re-read from
 * the kernel, and meanwhile guesses (see enum tri).
 */
#include <stdlib.h>

#include "mm_internal.h"

/* Tri-state logic -------------------------------------------------------------------- */

static enum tri tri_and(enum tri a, enum tri b)
{
	if (a == T_NO || b == T_NO)
		return T_NO;
	if (a == T_MAYBE || b == T_MAYBE)
		return T_MAYBE;
	return a == T_LIKELY || b == T_LIKELY ? T_LIKELY : T_YES;
}

static enum tri tri_not(enum tri a)
{
	return a == T_YES ? T_NO : a == T_NO ? T_YES : T_MAYBE;
}

/* the model's guess for an answer */
static bool tri_guess(enum tri a)
{
	return a == T_YES || a == T_LIKELY;
}

static enum tri has_av(const struct vma *v)
{
	return v->av == AV_NONE ? T_NO : v->av == AV_SOME ? T_YES : T_MAYBE;
}

/* vma_is_fork_child(): has an anon_vma whose chain fork made non-singular */
static enum tri fork_child(const struct vma *v)
{
	if (!v)
		return T_NO;
	return tri_and(has_av(v), (enum tri)v->av_fork);
}

static bool possible(enum tri t, bool value)
{
	return t == T_MAYBE || (t == T_YES) == value;
}

/* Do @a and @b share their anon_vma, given both have one? */
static enum tri same_anon_vma(const struct vma *a, const struct vma *b)
{
	if (a->av_id == b->av_id)
		return T_YES;
	/* a frozen lineage holder and a piece split off that lineage (see the file comment) */
	if ((b->av_parent && a->av_id == b->av_parent) || (a->av_parent && b->av_id == a->av_parent))
		return T_YES;
	return T_LIKELY;
}

/*
 * is_mergeable_anon_vma(): @src brings its anon_vma into the merge (the VMA being
 * modified or copied, or a new range), @tgt is the neighbour it merges with.
 */
static enum tri anon_mergeable(const struct vma *src, const struct vma *tgt,
			       const struct vma *copied_from)
{
	enum tri hs = has_av(src), ht = has_av(tgt);
	bool yes = false, no = false, likely = false;
	int s, t;

	for (s = 0; s <= 1; s++) {
		for (t = 0; t <= 1; t++) {
			enum tri r;

			if (!possible(hs, s) || !possible(ht, t))
				continue;
			if (s && !t)
				r = tri_and(tri_not((enum tri)src->av_fork),
					    tri_not(fork_child(copied_from)));
			else if (!s && t)
				r = tri_not((enum tri)tgt->av_fork);
			else if (!s && !t)
				r = T_YES;
			else
				r = same_anon_vma(src, tgt);
			yes |= r == T_YES;
			no |= r == T_NO;
			likely |= r == T_LIKELY;
			if (r == T_MAYBE)
				yes = no = true;
		}
	}
	if (no)
		return yes || likely ? T_MAYBE : T_NO;
	return likely ? T_LIKELY : T_YES;
}

/* are_anon_vmas_compatible(prev, next) when a merge would join both */
static enum tri anon_pair(const struct vma *a, const struct vma *b)
{
	if (has_av(a) == T_NO || has_av(b) == T_NO)
		return T_YES;
	return same_anon_vma(a, b);
}

/*
 * is_mergeable_vma() compares vm_file, the open file description: two open()s of one file
 * never merge, a dup()ed fd does. Known file_ids decide; without them equal lineages (pieces
 * of one mmap(), or mmaps of the file through one fd number: see mm_apply()) are taken as
 * one open file, and anything else is a guess the kernel must confirm.
 */
static enum tri same_file(const struct vma *a, const struct vma *b)
{
	if (a->file_id && b->file_id)
		return a->file_id == b->file_id ? T_YES : T_NO;
	if (!a->file_id && !b->file_id && a->file_lin && a->file_lin == b->file_lin)
		return T_YES;
	return T_LIKELY;
}

/* is_mergeable_vma() without the anon_vma part: flags, file, name. */
static enum tri attrs_mergeable(const struct vma *a, const struct vma *b)
{
	uint64_t unk = (a->unknown | b->unknown) & ~VMA_STICKY;
	uint64_t diff = (a->flags ^ b->flags) & ~VMA_STICKY;
	enum tri file = T_YES;

	if (a->kind != b->kind || a->kind == VMA_SPECIAL)
		return T_NO;
	if ((a->flags | b->flags) & VMA_SPECIAL_MASK)
		return T_NO;
	if (diff & ~unk)
		return T_NO;
	if (a->kind != VMA_ANON) {
		if (a->dev != b->dev || a->ino != b->ino)
			return T_NO;
		file = same_file(a, b);
		if (file == T_NO)
			return T_NO;
	}
	if (!mm_str_eq(a->anon_name, b->anon_name))
		return T_NO;
	return tri_and(file, unk ? T_MAYBE : T_YES);
}

/* can_vma_merge_before/after: @l directly below @r, @src/@tgt as for anon_mergeable */
static enum tri can_merge(const struct vma *l, const struct vma *r, const struct vma *src,
			  const struct vma *tgt, const struct vma *copied_from)
{
	enum tri t = attrs_mergeable(l, r);

	if (t == T_NO)
		return T_NO;
	if (!l->pgoff_known || !r->pgoff_known)
		t = tri_and(t, T_MAYBE);
	else if (l->pgoff + PAGES(l) != r->pgoff)
		return T_NO;
	return tri_and(t, anon_mergeable(src, tgt, copied_from));
}

/*
 * @l and @r, adjacent, are kept apart by the kernel although nothing the model knows tells
 * them apart: then something it does not see does (most often two anon_vmas: memory written
 * before the model learnt of a merge), so they must not share an anon_vma identity, or a
 * later change over both would merge them with certainty. A fresh identity makes such a
 * merge a guess the kernel confirms.
 */
void vma_kept_apart(struct mm *mm, const struct vma *l, struct vma *r)
{
	enum tri t;

	if (l->end != r->start || l->av_id != r->av_id)
		return;
	t = attrs_mergeable(l, r);
	if (t == T_NO || (l->pgoff_known && r->pgoff_known && l->pgoff + PAGES(l) != r->pgoff))
		return;
	r->av_id = mm_new_av_id(mm);
	r->av_parent = 0;
}

/* can_merge_remove_vma(): VMAs with a ->close (SysV shm) are never deleted by a merge */
static bool can_remove(const struct vma *v)
{
	return v->kind != VMA_SYSV;
}

bool vma_private_writable(const struct vma *v)
{
	return (v->flags & (VMA_WRITE | VMA_SHARED | VMA_MAYSHARE)) == VMA_WRITE &&
	       v->kind != VMA_SPECIAL;
}

/*
 * The merged VMA keeps the target's anon_vma, or gets the other's (dup_anon_vma()). When
 * both may have one (they were found compatible, so they share it if both do), the result
 * is no longer a plain member of either lineage: it gets an identity of its own.
 */
static void av_merge(struct mm *mm, struct vma *dst, const struct vma *other)
{
	dst->flags |= other->flags & VMA_STICKY;
	if (dst->av == AV_NONE && other->av != AV_NONE) {
		dst->av_id = other->av_id;
		dst->av_parent = other->av_parent;
		dst->av_fork = other->av_fork;
	} else if (other->av != AV_NONE && other->av_id != dst->av_id) {
		dst->av_id = mm_new_av_id(mm);
		dst->av_parent = 0;
	}
	if (other->av > dst->av)
		dst->av = other->av;
}

/*
 * A piece cut from @orig (split, partial unmap, partial move) that may be written from
 * now on may fault an anon_vma of its own unless @orig surely has one already.
 */
static void av_piece(struct mm *mm, struct vma *piece, const struct vma *orig)
{
	if (!vma_private_writable(piece))
		return;
	if (orig->av == AV_NONE) {
		piece->av = AV_MAYBE;
		piece->av_parent = 0;
		piece->av_id = mm_new_av_id(mm);
	} else if (orig->av == AV_MAYBE) {
		piece->av_parent = orig->av_id;
		piece->av_id = mm_new_av_id(mm);
	}
}

/*
 * Whether @cand can merge with @prev on its left and @next on its right (either may be
 * NULL); merging with both also needs prev's and next's anon_vmas to agree.
 */
static void decide_merges(const struct vma *prev, const struct vma *cand,
			  const struct vma *next, const struct vma *copied_from,
			  enum tri *left, enum tri *right)
{
	if (prev)
		*left = can_merge(prev, cand, cand, prev, copied_from);
	if (next)
		*right = can_merge(cand, next, cand, next, copied_from);
	if (*left != T_NO && *right != T_NO) {
		enum tri pair = anon_pair(prev, next);

		if (tri_guess(*left))
			*right = tri_and(*right, pair);
		else if (pair != T_YES)
			*right = T_MAYBE;
	}
}

static void note_maybe(struct mm *mm, enum tri a, enum tri b, uint64_t lo, uint64_t hi)
{
	if (a >= T_MAYBE || b >= T_MAYBE)
		mm_mark_uncertain(mm, lo, hi);
}

/* VMA set edits ---------------------------------------------------------------------- */

/* vma_merge_new_range(): place @cand in the hole it covers. Takes @cand. */
struct vma *vma_merge_new(struct mm *mm, struct vma *cand, bool just_expand,
			     const struct vma *copied_from)
{
	struct vma *prev = cand->start ? mm_find_le(mm, cand->start - 1) : NULL;
	struct vma *next = prev ? prev->next : mm->head;
	enum tri left = T_NO, right = T_NO;
	struct vma *m;

	if (prev && prev->end != cand->start)
		prev = NULL;
	if (next && next->start != cand->end)
		next = NULL;
	if (!(cand->flags & VMA_SPECIAL_MASK) && cand->kind != VMA_SPECIAL)
		decide_merges(prev, cand, just_expand ? NULL : next, copied_from, &left, &right);
	note_maybe(mm, left, right, prev ? prev->start : cand->start,
		   next ? next->end : cand->end);
	if (!tri_guess(left))
		prev = NULL;
	if (!tri_guess(right) || (prev && !can_remove(next)))
		next = NULL;
	if (!prev && !next) {
		mm_add(mm, cand);
		return cand;
	}
	if (cand->kind != VMA_ANON && !cand->file_id)
		mm->stats.assumed_same_file++;
	if (prev) {
		m = vma_copy(mm, prev, prev->start, next ? next->end : cand->end);
		if (!m)
			goto nomem;
		av_merge(mm, m, cand);
		if (next)
			av_merge(mm, m, next);
		mm_remove(mm, prev);
	} else {
		m = vma_copy(mm, next, cand->start, next->end);
		if (!m)
			goto nomem;
		m->pgoff = cand->pgoff;
		m->pgoff_known = cand->pgoff_known;
		av_merge(mm, m, cand);
	}
	if (next)
		mm_remove(mm, next);
	vma_free(cand);
	mm_add(mm, m);
	return m;
nomem:
	vma_free(cand);
	return NULL;
}

/* Replace @v by up to three pieces; @mid (may be NULL) covers [start, end). */
void vma_split3(struct mm *mm, struct vma *v, uint64_t start, uint64_t end, struct vma *mid)
{
	struct vma *l = NULL, *r = NULL;

	if (start > v->start) {
		l = vma_copy(mm, v, v->start, start);
		if (l)
			av_piece(mm, l, v);
	}
	if (end < v->end) {
		r = vma_copy(mm, v, end, v->end);
		if (r)
			av_piece(mm, r, v);
	}
	mm_remove(mm, v);
	if (l)
		mm_add(mm, l);
	if (mid)
		mm_add(mm, mid);
	if (r)
		mm_add(mm, r);
}

/* __split_vma(): @v becomes [v->start, addr) and [addr, v->end) */
void vma_split_at(struct mm *mm, struct vma *v, uint64_t addr)
{
	struct vma *hi;

	if (addr <= v->start || addr >= v->end)
		return;
	hi = vma_copy(mm, v, addr, v->end);
	if (!hi)
		return;
	av_piece(mm, hi, v);
	vma_split3(mm, v, addr, v->end, hi);
}

/*
 * vma_modify(): give [start, end) of @vma new @flags/@unknown/@name, merging with @prev
 * (the VMA before @start, or @vma itself when start > vma->start) and the next VMA.
 * Returns the VMA now covering [start, end), NULL on ENOMEM.
 */
struct vma *vma_modify(struct mm *mm, struct vma *prev, struct vma *vma, uint64_t start,
			  uint64_t end, uint64_t flags, uint64_t unknown, const char *name)
{
	bool left_side = start == vma->start, right_side = end == vma->end;
	struct vma *next = right_side ? vma->next : NULL;
	enum tri left = T_NO, right = T_NO;
	struct vma *cand, *m;

	cand = vma_copy(mm, vma, start, end);
	if (!cand)
		return NULL;
	cand->flags = flags;
	cand->unknown = unknown;
	if (!mm_str_eq(name, cand->anon_name)) {
		mm_str_unref(cand->anon_name);
		cand->anon_name = mm_str_ref(name);
	}
	if (prev && (prev == vma || prev->end != start || !left_side))
		prev = NULL;
	if (next && next->start != end)
		next = NULL;
	if (!(flags & VMA_SPECIAL_MASK) && vma->kind != VMA_SPECIAL)
		decide_merges(prev, cand, next, NULL, &left, &right);
	note_maybe(mm, left, right, prev ? prev->start : start, next ? next->end : end);
	if (!tri_guess(left))
		prev = NULL;
	if (!tri_guess(right))
		next = NULL;
	/* merging would delete @vma: impossible if it has a ->close */
	if (left_side && right_side && !can_remove(vma))
		prev = next = NULL;
	if (prev && next && !can_remove(next))
		next = NULL;
	if (!prev && !next) {
		av_piece(mm, cand, vma);
		vma_split3(mm, vma, start, end, cand);
		return cand;
	}
	if (prev) {
		m = vma_copy(mm, prev, prev->start, next ? next->end : end);
		if (!m)
			goto nomem;
		av_merge(mm, m, cand);
		if (next)
			av_merge(mm, m, next);
		mm_remove(mm, prev);
	} else {
		m = vma_copy(mm, next, start, next->end);
		if (!m)
			goto nomem;
		m->pgoff = cand->pgoff;
		m->pgoff_known = cand->pgoff_known;
		av_merge(mm, m, cand);
	}
	if (next)
		mm_remove(mm, next);
	vma_split3(mm, vma, start, end, NULL);
	vma_free(cand);
	mm_add(mm, m);
	return m;
nomem:
	vma_free(cand);
	return NULL;
}

/* do_vmi_munmap(): remove [start, end), splitting the VMAs at its edges. */
void mm_unmap_range(struct mm *mm, uint64_t start, uint64_t end)
{
	struct vma *v = mm_find_next(mm, start);

	while (v && v->start < end) {
		struct vma *next = v->next;

		vma_split3(mm, v, start > v->start ? start : v->start, end < v->end ? end : v->end,
		       NULL);
		v = next;
	}
}

bool mm_range_has_vma(const struct mm *mm, uint64_t start, uint64_t end)
{
	struct vma *v = mm_find_next(mm, start);

	return v && v->start < end;
}
