// SPDX-License-Identifier: MIT
/*
 * The VMA set of the address-space model: VMA objects and their refcounted strings, the
 * ordered set (a treap keyed by start for O(log n) lookup, insert and remove, threaded by a
 * list in address order), and the bookkeeping that turns a transition's removals and
 * insertions into version deaths and births: a VMA is never changed once reported; a
 * transition removes it and adds a new one, and the flush at its end pairs identical
 * removed/added VMAs back up, so an unchanged VMA keeps its struct and id and is not
 * reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mm_internal.h"

/* Strings -------------------------------------------------------------------------------- */

struct mm_str {
	unsigned int refs;
	char s[];
};

#define STR_HDR(p) ((struct mm_str *)((char *)(p) - offsetof(struct mm_str, s)))

const char *mm_str_new(struct mm *mm, const char *s, size_t len)
{
	struct mm_str *str = malloc(sizeof(*str) + len + 1);

	if (!str) {
		mm->nomem = true;
		return NULL;
	}
	str->refs = 1;
	memcpy(str->s, s, len);
	str->s[len] = '\0';
	return str->s;
}

const char *mm_str_ref(const char *s)
{
	if (s)
		STR_HDR(s)->refs++;
	return s;
}

void mm_str_unref(const char *s)
{
	struct mm_str *str;

	if (!s)
		return;
	str = STR_HDR(s);
	if (--str->refs == 0)
		free(str);
}

bool mm_str_eq(const char *a, const char *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	return strcmp(a, b) == 0;
}

/* VMA objects ---------------------------------------------------------------------------- */

static uint32_t mm_rand(struct mm *mm)
{
	/* xorshift32: treap priorities need no quality, only independence from addresses */
	uint32_t x = mm->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	mm->rng = x;
	return x;
}

struct vma *vma_alloc(struct mm *mm)
{
	struct vma *v = calloc(1, sizeof(*v));

	if (!v) {
		mm->nomem = true;
		return NULL;
	}
	v->prio = mm_rand(mm);
	v->pgoff_known = true;
	return v;
}

/* vma_copy - a new unlinked VMA with @src's attributes over [start, end) (pgoff adjusted). */
struct vma *vma_copy(struct mm *mm, const struct vma *src, uint64_t start, uint64_t end)
{
	struct vma *v = vma_alloc(mm);
	uint32_t prio;

	if (!v)
		return NULL;
	prio = v->prio;
	*v = *src;
	v->prio = prio;
	v->start = start;
	v->end = end;
	v->pgoff = src->pgoff + ((int64_t)(start - src->start) >> MM_PAGE_SHIFT);
	v->id = 0;
	v->reported = v->in_tree = v->matched = false;
	v->left = v->right = v->prev = v->next = NULL;
	mm_str_ref(v->path);
	mm_str_ref(v->anon_name);
	return v;
}

void vma_free(struct vma *v)
{
	if (!v)
		return;
	mm_str_unref(v->path);
	mm_str_unref(v->anon_name);
	free(v);
}

/*
 * vma_same_version - would /proc (and the hidden flags we version) show @a and @b alike?
 * The anonymous page offset and the anon_vma knowledge are not part of a version.
 */
bool vma_same_version(const struct vma *a, const struct vma *b)
{
	uint64_t known = ~(a->unknown | b->unknown | VMA_SOFTDIRTY);

	if (a->start != b->start || a->end != b->end || a->kind != b->kind)
		return false;
	if ((a->flags ^ b->flags) & known)
		return false;
	if (a->kind != VMA_ANON && a->pgoff != b->pgoff)
		return false;
	return a->dev == b->dev && a->ino == b->ino && a->file_id == b->file_id &&
	       mm_str_eq(a->path, b->path) && mm_str_eq(a->anon_name, b->anon_name);
}

/* The ordered set ------------------------------------------------------------------------ */

static void treap_split(struct vma *t, uint64_t key, struct vma **l, struct vma **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (t->start < key) {
		treap_split(t->right, key, &t->right, r);
		*l = t;
	} else {
		treap_split(t->left, key, l, &t->left);
		*r = t;
	}
}

static struct vma *treap_join(struct vma *a, struct vma *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->right = treap_join(a->right, b);
		return a;
	}
	b->left = treap_join(a, b->left);
	return b;
}

static void treap_insert(struct mm *mm, struct vma *v)
{
	struct vma **pp = &mm->root;

	while (*pp && (*pp)->prio > v->prio)
		pp = v->start < (*pp)->start ? &(*pp)->left : &(*pp)->right;
	treap_split(*pp, v->start, &v->left, &v->right);
	*pp = v;
}

static void treap_remove(struct mm *mm, struct vma *v)
{
	struct vma **pp = &mm->root;

	while (*pp != v) {
		if (!*pp)
			abort(); /* invariant broken: v is not in the set */
		pp = v->start < (*pp)->start ? &(*pp)->left : &(*pp)->right;
	}
	*pp = treap_join(v->left, v->right);
	v->left = v->right = NULL;
}

struct vma *mm_find_le(const struct mm *mm, uint64_t addr)
{
	struct vma *t = mm->root, *best = NULL;

	while (t) {
		if (t->start <= addr) {
			best = t;
			t = t->right;
		} else {
			t = t->left;
		}
	}
	return best;
}

static void set_link(struct mm *mm, struct vma *v)
{
	struct vma *pred = v->start ? mm_find_le(mm, v->start - 1) : NULL;
	struct vma *succ = pred ? pred->next : mm->head;

	v->prev = pred;
	v->next = succ;
	if (pred)
		pred->next = v;
	else
		mm->head = v;
	if (succ)
		succ->prev = v;
	else
		mm->tail = v;
	treap_insert(mm, v);
	v->in_tree = true;
	mm->count++;
}

static void set_unlink(struct mm *mm, struct vma *v)
{
	treap_remove(mm, v);
	if (v->prev)
		v->prev->next = v->next;
	else
		mm->head = v->next;
	if (v->next)
		v->next->prev = v->prev;
	else
		mm->tail = v->prev;
	v->prev = v->next = NULL;
	v->in_tree = false;
	mm->count--;
}

static bool vec_push(struct mm *mm, struct vma ***vec, size_t *n, size_t *cap, struct vma *v)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct vma **nv = realloc(*vec, ncap * sizeof(*nv));

		if (!nv) {
			mm->nomem = true;
			return false;
		}
		*vec = nv;
		*cap = ncap;
	}
	(*vec)[(*n)++] = v;
	return true;
}

void mm_add(struct mm *mm, struct vma *v)
{
	/* private writable memory may be written, and get an anon_vma, at any time */
	if ((v->flags & (VMA_WRITE | VMA_SHARED | VMA_MAYSHARE)) == VMA_WRITE &&
	    v->kind != VMA_SPECIAL && v->av == AV_NONE)
		v->av = AV_MAYBE;
	v->reported = false;
	set_link(mm, v);
	if (!vec_push(mm, &mm->born, &mm->n_born, &mm->cap_born, v)) {
		/* Keep it in the set; it is reported at the next reseed. */
		v->reported = true;
	}
}

void mm_remove(struct mm *mm, struct vma *v)
{
	set_unlink(mm, v);
	if (!v->reported)
		return; /* still in the born list: freed by the flush */
	if (!vec_push(mm, &mm->dead, &mm->n_dead, &mm->cap_dead, v))
		vma_free(v); /* its death goes unreported; the model is marked broken */
}

uint64_t mm_new_av_id(struct mm *mm)
{
	return ++mm->next_av_id;
}

/* Flush: pair removed and added VMAs, report the rest ---------------------------------- */

static int cmp_start(const void *a, const void *b)
{
	const struct vma *x = *(struct vma *const *)a, *y = *(struct vma *const *)b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static struct vma *find_dead(struct mm *mm, uint64_t start)
{
	size_t lo = 0, hi = mm->n_dead;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mm->dead[mid]->start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mm->n_dead && mm->dead[lo]->start == start ? mm->dead[lo] : NULL;
}

void mm_do_flush(struct mm *mm)
{
	size_t i, n = 0;
#ifndef NDEBUG
	uint64_t lo, hi;

	mm_touched(mm, &lo, &hi);
#endif

	/* Reported VMAs were disjoint, so starts are unique among the dead. */
	if (mm->n_dead > 1)
		qsort(mm->dead, mm->n_dead, sizeof(*mm->dead), cmp_start);
	for (i = 0; i < mm->n_born; i++) {
		struct vma *b = mm->born[i], *d;

		if (!b->in_tree)
			continue;
		d = find_dead(mm, b->start);
		if (!d || d->matched || !vma_same_version(d, b))
			continue;
		/* Unchanged: the old struct (and its id) goes back in, with the new knowledge. */
		d->matched = true;
		d->unknown = b->unknown;
		d->flags = b->flags;
		d->pgoff = b->pgoff;
		d->pgoff_known = b->pgoff_known;
		d->av = b->av;
		d->av_id = b->av_id;
		d->av_parent = b->av_parent;
		d->av_fork = b->av_fork;
		d->shm_size = b->shm_size;
		set_unlink(mm, b);
		set_link(mm, d);
	}
	for (i = 0; i < mm->n_dead; i++) {
		struct vma *d = mm->dead[i];

		if (d->matched) {
			d->matched = false;
			continue;
		}
		mm->stats.died++;
		if (mm->ops && mm->ops->vma_died)
			mm->ops->vma_died(mm->ctx, mm, d);
		vma_free(d);
	}
	mm->n_dead = 0;
	for (i = 0; i < mm->n_born; i++) {
		struct vma *b = mm->born[i];

		if (b->in_tree)
			mm->born[n++] = b;
		else
			vma_free(b);
	}
	if (n > 1)
		qsort(mm->born, n, sizeof(*mm->born), cmp_start);
	for (i = 0; i < n; i++) {
		struct vma *b = mm->born[i];

		b->reported = true;
		mm->stats.born++;
		if (mm->ops && mm->ops->vma_born)
			mm->ops->vma_born(mm->ctx, mm, b);
	}
	mm->n_born = 0;
	mm->pending = false;
#ifndef NDEBUG
	mm_check_transition(mm, lo, hi); /* every transition, seed, reconcile and fork ends here */
#endif
}

void mm_begin(struct mm *mm)
{
	if (mm->pending)
		mm_do_flush(mm);
	mm->unc = false;
	mm->nomem = false;
	mm->stats.transitions++;
}

void mm_mark_uncertain(struct mm *mm, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	if (!mm->unc) {
		mm->unc = true;
		mm->unc_lo = lo;
		mm->unc_hi = hi;
		return;
	}
	if (lo < mm->unc_lo)
		mm->unc_lo = lo;
	if (hi > mm->unc_hi)
		mm->unc_hi = hi;
}

int mm_end(struct mm *mm)
{
	if (mm->nomem) {
		/* Part of the transition may be missing: only the kernel knows the map now. */
		mm->unc = true;
		mm->unc_lo = 0;
		mm->unc_hi = UINT64_MAX;
		mm->pending = true;
		mm->stats.uncertain++;
		return -ENOMEM;
	}
	if (mm->unc) {
#ifndef NDEBUG
		uint64_t lo, hi;

		mm_touched(mm, &lo, &hi);
#endif
		mm->pending = true;
		mm->stats.uncertain++;
#ifndef NDEBUG
		mm_check_transition(mm, lo, hi); /* the guess must be a valid model too */
#endif
		return MM_UNCERTAIN;
	}
	mm_do_flush(mm);
	return 0;
}

void mm_clear(struct mm *mm)
{
	while (mm->head)
		mm_remove(mm, mm->head);
}

/* Public: lifetime, queries ------------------------------------------------------------ */

struct mm *mm_new(unsigned int flags)
{
	struct mm *mm = calloc(1, sizeof(*mm));

	if (!mm)
		return NULL;
	mm->new_flags = flags;
	mm->rng = 0x9e3779b9u;
	mm->mmap_fd = -1;
	return mm;
}

struct mm *mm_free(struct mm *mm)
{
	struct vma *v, *next;
	size_t i;

	if (!mm)
		return NULL;
	/*
	 * Held-back changes first: a born VMA in the set belongs to the set, one that left it
	 * only to the born list; dead ones are out of the set. Look before anything is freed.
	 */
	for (i = 0; i < mm->n_born; i++)
		if (!mm->born[i]->in_tree)
			vma_free(mm->born[i]);
	for (i = 0; i < mm->n_dead; i++)
		vma_free(mm->dead[i]);
	for (v = mm->head; v; v = next) {
		next = v->next;
		vma_free(v);
	}
	free(mm->dead);
	free(mm->born);
	free(mm);
	return NULL;
}

void mm_set_ops(struct mm *mm, const struct mm_ops *ops, void *ctx)
{
	mm->ops = ops;
	mm->ctx = ctx;
}

void mm_set_layout(struct mm *mm, uint64_t start_brk, uint64_t brk, uint64_t start_stack)
{
	if (start_brk) {
		mm->start_brk = start_brk;
		mm->layout_set = true;
	}
	if (brk)
		mm->brk = brk;
	if (start_stack) {
		mm->start_stack = start_stack;
		mm->stack_set = true;
	}
}

void mm_copy_layout(struct mm *dst, const struct mm *src)
{
	dst->start_brk = src->start_brk;
	dst->brk = src->brk;
	dst->start_stack = src->start_stack;
	dst->layout_set = src->layout_set;
	dst->stack_set = src->stack_set;
	dst->rng = src->rng ^ 0x5bd1e995u;
	if (!dst->rng) /* xorshift stays at 0: every priority 0, the treap a list */
		dst->rng = 0x9e3779b9u;
}

size_t mm_vma_count(const struct mm *mm)
{
	/* map_count does not include the gate VMA, which lives above TASK_SIZE */
	return mm->count - (mm->tail && mm->tail->start >= MM_TASK_SIZE);
}

struct vma *mm_find(const struct mm *mm, uint64_t addr)
{
	struct vma *v = mm_find_le(mm, addr);

	return v && addr < v->end ? v : NULL;
}

struct vma *mm_find_next(const struct mm *mm, uint64_t addr)
{
	struct vma *v = mm_find_le(mm, addr);

	if (v && addr < v->end)
		return v;
	return v ? v->next : mm->head;
}

struct vma *mm_first(const struct mm *mm)
{
	return mm->head;
}

void mm_get_stats(const struct mm *mm, struct mm_stats *ret)
{
	*ret = mm->stats;
}

bool mm_uncertain(const struct mm *mm, uint64_t *lo, uint64_t *hi)
{
	if (!mm->pending)
		return false;
	if (lo)
		*lo = mm->unc_lo;
	if (hi)
		*hi = mm->unc_hi;
	return true;
}

void mm_flush(struct mm *mm)
{
	mm_do_flush(mm);
}

void mm_unmap_all(struct mm *mm)
{
	mm_begin(mm);
	mm_clear(mm);
	mm->def_flags = 0;
	mm_do_flush(mm);
}
