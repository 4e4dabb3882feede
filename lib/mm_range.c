// SPDX-License-Identifier: MIT
/*
 * Transitions that change the attributes of a range of VMAs: mprotect/pkey_mprotect,
 * mlock/mlock2/munlock/mlockall/munlockall, madvise, mseal and PR_SET_VMA_ANON_NAME,
 * with the kernel's own loops (mm/mprotect.c do_mprotect_pkey, mm/mlock.c
 * apply_vma_lock_flags, mm/madvise.c madvise_walk_vmas, mm/mseal.c): where each stops on
 * a hole or a per-VMA error after changing the part before it. And the model functions
 * the rows of lib/syscallent.h name (mm_sys_*), which mm_apply() calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "mm_internal.h"
#include "sysent_int.h"

/* Range walks ------------------------------------------------------------------------ */

#define MM_ANON_NAME_MAX 80 /* ANON_VMA_NAME_MAX_LEN */

struct step {
	uint64_t flags, unknown;
	const char *name;
	bool populate; /* the range gets faulted in writable: it will have an anon_vma */
};

/* A visitor fills @st for @v and returns 0, 1 to leave @v alone, or -errno to stop. */
typedef int (*visit_fn)(const struct vma *v, const void *arg, struct step *st);

struct walk {
	struct mm *mm;
	visit_fn fn;
	const void *arg;
	bool dry; /* predict the result only, change nothing */
	int err;
};

static struct vma *visit_one(struct walk *w, struct vma *prev, struct vma *vma, uint64_t start,
			     uint64_t end)
{
	struct step st = { vma->flags, vma->unknown, vma->anon_name, false };
	struct vma *res = vma;
	int r = w->fn(vma, w->arg, &st);

	if (r < 0) {
		w->err = r;
		return NULL;
	}
	if (w->dry)
		return vma;
	if (r == 0 && (st.flags != vma->flags || st.unknown != vma->unknown ||
		       !mm_str_eq(st.name, vma->anon_name)))
		res = vma_modify(w->mm, prev, vma, start, end, st.flags, st.unknown, st.name);
	if (!res) {
		w->err = -ENOMEM;
		return NULL;
	}
	if (st.populate && vma_private_writable(res))
		res->av = AV_SOME;
	return res;
}

/* do_mprotect_pkey()/apply_vma_lock_flags(): the range must start mapped; a hole ends the
 * walk with ENOMEM, after the part before it was changed. */
static int walk_strict(struct walk *w, uint64_t start, uint64_t end)
{
	struct vma *vma = mm_find_next(w->mm, start), *prev;
	uint64_t nstart = start, tmp;

	if (!vma || vma->start > start)
		return -ENOMEM;
	prev = start > vma->start ? vma : vma->prev;
	tmp = vma->start;
	while (vma && vma->start < end) {
		if (vma->start != tmp)
			return -ENOMEM;
		prev = visit_one(w, prev, vma, nstart, vma->end < end ? vma->end : end);
		if (!prev)
			return w->err;
		tmp = nstart = prev->end;
		vma = prev->next;
	}
	return tmp < end ? -ENOMEM : 0;
}

/* madvise_walk_vmas(): holes are skipped and reported as ENOMEM at the end. */
static int walk_skip(struct walk *w, uint64_t start, uint64_t end)
{
	struct vma *vma = mm_find_next(w->mm, start), *prev;
	int unmapped = 0;

	prev = vma ? (start > vma->start ? vma : vma->prev) : w->mm->tail;
	for (;;) {
		uint64_t tmp;

		if (!vma)
			return -ENOMEM;
		if (start < vma->start) {
			unmapped = -ENOMEM;
			start = vma->start;
			if (start >= end)
				break;
		}
		tmp = vma->end < end ? vma->end : end;
		prev = visit_one(w, prev, vma, start, tmp);
		if (!prev)
			return w->err;
		start = tmp;
		if (start < prev->end)
			start = prev->end;
		if (start >= end)
			break;
		vma = mm_find_next(w->mm, prev->end);
	}
	return unmapped;
}

/*
 * Predict the result with a dry walk; when the kernel agrees, apply it. A disagreement
 * means the model was stale (a hole it did not know of, a stack grown by faults, a limit
 * it does not model): the range becomes uncertain, with the changes applied only if the
 * kernel reported success.
 */
static void range_op(struct mm *mm, uint64_t start, uint64_t end, bool skip_holes,
		     visit_fn fn, const void *arg, int64_t ret)
{
	struct walk w = { mm, fn, arg, true, 0 };
	int predicted = skip_holes ? walk_skip(&w, start, end) : walk_strict(&w, start, end);

	if ((int64_t)predicted != ret) {
		mm->stats.contradictions++;
		mm_mark_uncertain(mm, start, end);
		if (ret != 0)
			return;
	}
	w.dry = false;
	w.err = 0;
	if (skip_holes)
		walk_skip(&w, start, end);
	else
		walk_strict(&w, start, end);
}

/* mprotect ---------------------------------------------------------------------------- */

struct mprot {
	int prot;
	int pkey;
};

static int mprotect_visit(const struct vma *v, const void *arg, struct step *st)
{
	const struct mprot *p = arg;
	uint64_t nf = mm_prot_flags(p->prot) | (v->flags & ~(VMA_ACCESS_MASK | VMA_PKEY_MASK));
	uint64_t un = v->unknown & ~VMA_ACCESS_MASK;

	if (p->pkey >= 0)
		nf |= (uint64_t)p->pkey << VMA_PKEY_SHIFT;
	else
		nf |= v->flags & VMA_PKEY_MASK;
	/* newflags >> 4 puts VM_MAY% in place of VM_% */
	if ((nf & ~(nf >> 4)) & VMA_ACCESS_MASK)
		return -EACCES;
	if (v->flags & VMA_SEALED)
		return -EPERM;
	if (nf & VMA_WRITE) {
		if (!(v->flags & (VMA_WRITE | VMA_HUGETLB | VMA_SHARED | VMA_NORESERVE))) {
			nf |= VMA_ACCOUNT;
			un &= ~VMA_ACCOUNT;
		}
	} else if ((v->flags & VMA_ACCOUNT) && v->kind == VMA_ANON &&
		   !(v->unknown & VMA_ACCOUNT)) {
		/* unfaulted anonymous memory is uncharged when it stops being writable */
		if (v->av == AV_NONE)
			nf &= ~VMA_ACCOUNT;
		else if (v->av == AV_MAYBE)
			un |= VMA_ACCOUNT;
	}
	st->flags = nf;
	st->unknown = un;
	/* a private mlocked VMA turning writable is COWed at once */
	st->populate = (v->flags & (VMA_WRITE | VMA_SHARED | VMA_LOCKED)) == VMA_LOCKED &&
		       (nf & VMA_WRITE);
	return 0;
}

int mm_mprotect(struct mm *mm, uint64_t start, uint64_t len, int prot, int pkey, int64_t ret)
{
	struct mprot p = { prot & ~(PROT_GROWSDOWN | PROT_GROWSUP), pkey };
	uint64_t end;

	mm_begin(mm);
	if ((start & (MM_PAGE_SIZE - 1)) || !len || ret == -EINTR)
		return mm_end(mm);
	end = start + mm_page_align(len);
	if (end <= start)
		return mm_end(mm);
	if (prot & (PROT_GROWSDOWN | PROT_GROWSUP)) {
		/* from the start of a growsdown VMA; x86 has no growsup ones */
		struct vma *v = mm_find_next(mm, start);
		int predicted = 0;

		if (!v || v->start >= end)
			predicted = -ENOMEM;
		else if ((prot & PROT_GROWSUP) || !(v->flags & VMA_GROWSDOWN))
			predicted = -EINVAL;
		if (predicted) {
			if (predicted != ret) {
				mm->stats.contradictions++;
				mm_mark_uncertain(mm, start, end);
			}
			return mm_end(mm);
		}
		start = v->start;
	}
	range_op(mm, start, end, false, mprotect_visit, &p, ret);
	return mm_end(mm);
}

/* mlock ---------------------------------------------------------------------------------- */

static int mlock_visit(const struct vma *v, const void *arg, struct step *st)
{
	uint64_t add = *(const uint64_t *)arg;

	/* mlock_fixup(): special, hugetlb, droppable and the gate VMA are left alone */
	if ((v->flags & (VMA_SPECIAL_MASK | VMA_HUGETLB | VMA_DROPPABLE)) ||
	    v->kind == VMA_SPECIAL || v->start >= MM_TASK_SIZE)
		return 1;
	st->flags = (v->flags & ~VMA_LOCKED_MASK) | add;
	st->unknown = v->unknown & ~VMA_LOCKED_MASK;
	st->populate = (add & VMA_LOCKED) && !(add & VMA_LOCKONFAULT);
	return 0;
}

/* the lock flags are set, or not: see lock_range() */
static int mlock_unknown_visit(const struct vma *v, const void *arg, struct step *st)
{
	int r = mlock_visit(v, arg, st);

	if (r == 0) {
		st->unknown |= VMA_LOCKED_MASK;
		st->populate = false;
	}
	return r;
}

static int lock_range(struct mm *mm, uint64_t start, uint64_t len, uint64_t add, int64_t ret)
{
	uint64_t end;

	mm_begin(mm);
	len = mm_page_align(len + (start & (MM_PAGE_SIZE - 1)));
	start &= ~(MM_PAGE_SIZE - 1);
	end = start + len;
	if (ret == -EINVAL || ret == -EPERM || ret == -EINTR || end <= start)
		return mm_end(mm);
	/* EAGAIN: the flags are set but some pages could not be locked. ENOMEM is a hole
	 * (the model predicts it), RLIMIT_MEMLOCK (nothing done) or a failed populate (all
	 * done): range_op() reports the last two uncertain. */
	if (ret == -EAGAIN)
		ret = 0;
	if (ret == -ENOMEM && add) {
		struct walk w = { mm, mlock_visit, &add, true, 0 };

		/* Not a hole: RLIMIT_MEMLOCK refused before anything changed, or the
		 * populate failed (PROT_NONE memory: EFAULT, reported as ENOMEM) after every
		 * VMA was locked, which a later munlock must be able to merge back. Guess the
		 * split, with the lock bits unknown, and let the kernel tell. */
		if (walk_strict(&w, start, end) == 0) {
			range_op(mm, start, end, false, mlock_unknown_visit, &add, 0);
			mm_mark_uncertain(mm, start, end);
			return mm_end(mm);
		}
	}
	range_op(mm, start, end, false, mlock_visit, &add, ret);
	return mm_end(mm);
}

int mm_mlock(struct mm *mm, uint64_t start, uint64_t len, int flags, int64_t ret)
{
	uint64_t add = VMA_LOCKED | (flags & MLOCK_ONFAULT ? VMA_LOCKONFAULT : 0);

	return lock_range(mm, start, len, add, ret);
}

int mm_munlock(struct mm *mm, uint64_t start, uint64_t len, int64_t ret)
{
	return lock_range(mm, start, len, 0, ret);
}

/* apply_mlockall_flags(): every VMA, errors ignored */
static void lock_all(struct mm *mm, uint64_t add)
{
	struct walk w = { mm, mlock_visit, &add, false, 0 };
	struct vma *v = mm->head, *prev = NULL;

	while (v && v->start < MM_TASK_SIZE) {
		struct vma *res = visit_one(&w, prev, v, v->start, v->end);

		if (!res)
			return;
		prev = res;
		v = res->next;
	}
}

int mm_mlockall(struct mm *mm, int flags, int64_t ret)
{
	mm_begin(mm);
	if (ret != 0)
		return mm_end(mm);
	mm->def_flags &= ~VMA_LOCKED_MASK;
	if (flags & MCL_FUTURE)
		mm->def_flags |= VMA_LOCKED | (flags & MCL_ONFAULT ? VMA_LOCKONFAULT : 0);
	if (flags & MCL_CURRENT)
		lock_all(mm, VMA_LOCKED | (flags & MCL_ONFAULT ? VMA_LOCKONFAULT : 0));
	return mm_end(mm);
}

int mm_munlockall(struct mm *mm, int64_t ret)
{
	mm_begin(mm);
	if (ret == 0) {
		mm->def_flags &= ~VMA_LOCKED_MASK;
		lock_all(mm, 0);
	}
	return mm_end(mm);
}

/* madvise ------------------------------------------------------------------------------- */

static bool madvise_sets_flags(int advice)
{
	switch (advice) {
	case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL:
	case MADV_DONTFORK: case MADV_DOFORK: case MADV_WIPEONFORK: case MADV_KEEPONFORK:
	case MADV_DONTDUMP: case MADV_DODUMP: case MADV_MERGEABLE: case MADV_UNMERGEABLE:
	case MADV_HUGEPAGE: case MADV_NOHUGEPAGE:
		return true;
	}
	return false;
}

static int madvise_visit(const struct vma *v, const void *arg, struct step *st)
{
	int advice = *(const int *)arg;
	uint64_t f = v->flags;

	/* can_madvise_modify(): sealed read-only anonymous memory refuses discards */
	if ((f & VMA_SEALED) && (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK) &&
	    v->kind == VMA_ANON && !(f & VMA_WRITE))
		return -EPERM;
	switch (advice) {
	case MADV_NORMAL:
		f &= ~(VMA_SEQ_READ | VMA_RAND_READ);
		break;
	case MADV_RANDOM:
		f = (f & ~VMA_SEQ_READ) | VMA_RAND_READ;
		break;
	case MADV_SEQUENTIAL:
		f = (f & ~VMA_RAND_READ) | VMA_SEQ_READ;
		break;
	case MADV_DONTFORK:
		f |= VMA_DONTCOPY;
		break;
	case MADV_DOFORK:
		if (f & VMA_IO)
			return -EINVAL;
		f &= ~VMA_DONTCOPY;
		break;
	case MADV_WIPEONFORK:
		if (v->kind != VMA_ANON || (f & VMA_SHARED))
			return -EINVAL;
		f |= VMA_WIPEONFORK;
		break;
	case MADV_KEEPONFORK:
		if (f & VMA_DROPPABLE)
			return -EINVAL;
		f &= ~VMA_WIPEONFORK;
		break;
	case MADV_DONTDUMP:
		f |= VMA_DONTDUMP;
		break;
	case MADV_DODUMP:
		if ((!(f & VMA_HUGETLB) && (f & VMA_SPECIAL_MASK)) || (f & VMA_DROPPABLE))
			return -EINVAL;
		f &= ~VMA_DONTDUMP;
		break;
	case MADV_MERGEABLE:
		/* ksm_madvise(): only where KSM can work */
		if (!(f & (VMA_SHARED | VMA_MAYSHARE | VMA_PFNMAP | VMA_IO | VMA_DONTEXPAND |
			   VMA_HUGETLB | VMA_MIXEDMAP | VMA_DROPPABLE)))
			f |= VMA_MERGEABLE;
		break;
	case MADV_UNMERGEABLE:
		f &= ~VMA_MERGEABLE;
		break;
	case MADV_HUGEPAGE:
		f = (f & ~VMA_NOHUGEPAGE) | VMA_HUGEPAGE;
		break;
	case MADV_NOHUGEPAGE:
		f = (f & ~VMA_HUGEPAGE) | VMA_NOHUGEPAGE;
		break;
	}
	st->flags = f;
	return 0;
}

int mm_madvise(struct mm *mm, uint64_t start, uint64_t len, int advice, int64_t ret)
{
	uint64_t end = start + mm_page_align(len);

	mm_begin(mm);
	if ((start & (MM_PAGE_SIZE - 1)) || end <= start || ret == -EINTR)
		return mm_end(mm);
	if (madvise_sets_flags(advice)) {
		range_op(mm, start, end, true, madvise_visit, &advice, ret);
	} else if (advice == MADV_POPULATE_WRITE && ret == 0) {
		struct vma *v;

		for (v = mm_find_next(mm, start); v && v->start < end; v = v->next)
			if (vma_private_writable(v))
				v->av = AV_SOME;
	} else if (advice == MADV_GUARD_INSTALL && ret == 0) {
		/* the whole VMAs are marked, none split */
		struct vma *v, *next;

		for (v = mm_find_next(mm, start); v && v->start < end; v = next) {
			struct vma *nv;

			next = v->next;
			if (v->flags & VMA_MAYBE_GUARD)
				continue;
			nv = vma_copy(mm, v, v->start, v->end);
			if (!nv)
				break;
			nv->flags |= VMA_MAYBE_GUARD;
			mm_remove(mm, v);
			mm_add(mm, nv);
		}
	}
	/* the others (DONTNEED, FREE, ...) change no VMA */
	return mm_end(mm);
}

/* mseal --------------------------------------------------------------------------------- */

static int mseal_visit(const struct vma *v, const void *arg, struct step *st)
{
	(void)arg;
	st->flags = v->flags | VMA_SEALED;
	return 0;
}

int mm_mseal(struct mm *mm, uint64_t start, uint64_t len, unsigned long flags, int64_t ret)
{
	uint64_t end = start + mm_page_align(len);
	struct vma *v;
	uint64_t at = start;

	mm_begin(mm);
	if (flags || (start & (MM_PAGE_SIZE - 1)) || end <= start || ret == -EINVAL ||
	    ret == -EINTR)
		return mm_end(mm);
	/* do_mseal(): all or nothing, the range must be fully mapped */
	for (v = mm_find_next(mm, start); v && v->start <= at && at < end; v = v->next)
		at = v->end;
	if (at < end) {
		if (ret != -ENOMEM) {
			mm->stats.contradictions++;
			mm_mark_uncertain(mm, start, end);
		}
		return mm_end(mm);
	}
	range_op(mm, start, end, false, mseal_visit, NULL, ret);
	return mm_end(mm);
}

/* PR_SET_VMA_ANON_NAME --------------------------------------------------------------- */

static int anon_name_visit(const struct vma *v, const void *arg, struct step *st)
{
	/* only anonymous memory (private or shared) can be named */
	if (v->kind == VMA_FILE || v->kind == VMA_SYSV)
		return -EBADF;
	st->name = arg;
	return 0;
}

int mm_set_anon_name(struct mm *mm, uint64_t start, uint64_t len, const char *name,
		     int64_t ret)
{
	uint64_t end = start + mm_page_align(len);
	const char *s = NULL;

	mm_begin(mm);
	if ((start & (MM_PAGE_SIZE - 1)) || end <= start || ret == -EINVAL || ret == -EINTR)
		return mm_end(mm);
	if (name) {
		s = mm_str_new(mm, name, strnlen(name, MM_ANON_NAME_MAX));
		if (!s)
			return mm_end(mm);
	}
	range_op(mm, start, end, true, anon_name_visit, s, ret);
	mm_str_unref(s);
	return mm_end(mm);
}

/* Dispatch ------------------------------------------------------------------------------ */

static int uncertain_range(struct mm *mm, uint64_t start, uint64_t len, int64_t ret)
{
	mm_begin(mm);
	if (ret == 0 && len)
		mm_mark_uncertain(mm, start & ~(MM_PAGE_SIZE - 1), start + mm_page_align(len));
	return mm_end(mm);
}

/*
 * The model column of lib/syscallent.h: one function per recorded syscall that changes
 * VMAs, taking the raw arguments as mm_apply() does.
 */
int mm_sys_mmap(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		const char *name)
{
	int r;

	mm->mmap_fd = (int)a[4] >= 0 ? (int)a[4] : -1;
	r = mm_mmap(mm, a[0], a[1], (int)a[2], (int)a[3], a[5], ret, file);
	mm->mmap_fd = -1;
	return r;
}

int mm_sys_munmap(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		  const char *name)
{
	return mm_munmap(mm, a[0], a[1], ret);
}

int mm_sys_mremap(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		  const char *name)
{
	return mm_mremap(mm, a[0], a[1], a[2], (int)a[3], a[4], ret);
}

int mm_sys_brk(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
	       const char *name)
{
	return mm_brk(mm, a[0], ret);
}

int mm_sys_mprotect(struct mm *mm, const uint64_t a[6], int64_t ret,
		    const struct mm_file *file, const char *name)
{
	return mm_mprotect(mm, a[0], a[1], (int)a[2], -1, ret);
}

int mm_sys_pkey_mprotect(struct mm *mm, const uint64_t a[6], int64_t ret,
			 const struct mm_file *file, const char *name)
{
	return mm_mprotect(mm, a[0], a[1], (int)a[2], (int)a[3], ret);
}

int mm_sys_madvise(struct mm *mm, const uint64_t a[6], int64_t ret,
		   const struct mm_file *file, const char *name)
{
	return mm_madvise(mm, a[0], a[1], (int)a[2], ret);
}

int mm_sys_mlock(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		 const char *name)
{
	return mm_mlock(mm, a[0], a[1], 0, ret);
}

int mm_sys_mlock2(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		  const char *name)
{
	return mm_mlock(mm, a[0], a[1], (int)a[2], ret);
}

int mm_sys_munlock(struct mm *mm, const uint64_t a[6], int64_t ret,
		   const struct mm_file *file, const char *name)
{
	return mm_munlock(mm, a[0], a[1], ret);
}

int mm_sys_mlockall(struct mm *mm, const uint64_t a[6], int64_t ret,
		    const struct mm_file *file, const char *name)
{
	return mm_mlockall(mm, (int)a[0], ret);
}

int mm_sys_munlockall(struct mm *mm, const uint64_t a[6], int64_t ret,
		      const struct mm_file *file, const char *name)
{
	return mm_munlockall(mm, ret);
}

int mm_sys_mseal(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		 const char *name)
{
	return mm_mseal(mm, a[0], a[1], a[2], ret);
}

int mm_sys_shmat(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		 const char *name)
{
	return mm_shmat(mm, (int)a[0], a[1], (int)a[2], ret, file);
}

int mm_sys_shmdt(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		 const char *name)
{
	return mm_shmdt(mm, a[0], ret);
}

/* prctl: only PR_SET_VMA_ANON_NAME changes VMAs. */
int mm_sys_prctl(struct mm *mm, const uint64_t a[6], int64_t ret, const struct mm_file *file,
		 const char *name)
{
	if (a[0] == PR_SET_VMA && a[1] == PR_SET_VMA_ANON_NAME)
		return mm_set_anon_name(mm, a[2], a[3], a[4] ? name : NULL, ret);
	return 0;
}

/*
 * mbind (VMA mempolicies are not modelled) and remap_file_pages (emulated by the kernel
 * with a private mmap): the range at a[0], a[1] is re-read from the kernel.
 */
int mm_sys_uncertain(struct mm *mm, const uint64_t a[6], int64_t ret,
		     const struct mm_file *file, const char *name)
{
	return uncertain_range(mm, a[0], a[1], ret);
}

/* The table says which function models syscall @nr: its row's model column. */
int mm_apply(struct mm *mm, int nr, const uint64_t a[6], int64_t ret,
	     const struct mm_file *file, const char *name)
{
	const struct sysent *s = sysent_get(nr);

	if (!s || !s->model)
		return 0;
	return s->model(mm, a, ret, file, name);
}
