// SPDX-License-Identifier: MIT
/*
 * Transitions that create, move and remove mappings: mmap, munmap, mremap, brk, shmat and
 * shmdt, as Linux 6.18 does them (mm/mmap.c __mmap_region, mm/mremap.c, mm/vma.c
 * do_brk_flags and do_vmi_munmap, ipc/shm.c), on top of the merge rules of vma_merge.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "mm_internal.h"


static bool unmap_refused(struct mm *mm, uint64_t start, uint64_t end);

/* mmap --------------------------------------------------------------------------------- */

int mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags, uint64_t off,
	    int64_t ret, const struct mm_file *file)
{
	int type = flags & MM_MAP_TYPE;
	bool anon = flags & MAP_ANONYMOUS;
	bool shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	bool populate = false;
	uint64_t start, end, vf;
	struct vma *v, *res;

	mm_begin(mm);
	if (mm_is_err(ret)) {
		uint64_t fend = addr + mm_page_align(len);

		/* A failed MAP_FIXED file mapping may have unmapped the old range already. */
		if (fixed && !(flags & MAP_FIXED_NOREPLACE) && !anon)
			mm_mark_uncertain(mm, addr, fend);
		else if (fixed && !(flags & MAP_FIXED_NOREPLACE) && ret == -EPERM &&
			 !(addr & (MM_PAGE_SIZE - 1)) && fend > addr)
			unmap_refused(mm, addr, fend); /* over sealed memory */
		return mm_end(mm);
	}
	start = (uint64_t)ret;
	end = start + mm_page_align(len);
	if (mm_range_has_vma(mm, start, end)) {
		if (!fixed || (flags & MAP_FIXED_NOREPLACE)) {
			mm->stats.contradictions++;
			mm_mark_uncertain(mm, start, end);
		}
		mm_unmap_range(mm, start, end);
	}
	v = vma_alloc(mm);
	if (!v)
		return mm_end(mm);
	v->start = start;
	v->end = end;
	vf = mm_prot_flags(prot) | VMA_MAYREAD | VMA_MAYWRITE | VMA_MAYEXEC | mm->def_flags;
	if (flags & MAP_GROWSDOWN)
		vf |= VMA_GROWSDOWN;
	if (flags & MAP_LOCKED)
		vf |= VMA_LOCKED;
	if (flags & MAP_STACK)
		vf |= VMA_NOHUGEPAGE;
	if ((flags & MAP_SYNC) && type == MAP_SHARED_VALIDATE)
		vf |= VMA_SYNC;
	if (flags & MAP_NORESERVE)
		vf |= VMA_NORESERVE;
	if (type == MAP_DROPPABLE)
		vf |= VMA_DROPPABLE | VMA_NORESERVE | VMA_WIPEONFORK | VMA_DONTDUMP;
	if (shared)
		vf |= VMA_SHARED | VMA_MAYSHARE;
	if (anon && !shared) {
		v->kind = VMA_ANON;
		v->pgoff = start >> MM_PAGE_SHIFT;
	} else {
		v->kind = anon ? VMA_SHMEM : VMA_FILE;
		v->pgoff = anon ? 0 : off >> MM_PAGE_SHIFT;
		if (!file) {
			/* shmem inode or file identity unknown: only the kernel can name it */
			mm_mark_uncertain(mm, start, end);
		} else {
			const char *p = file->path ? file->path : anon ? "/dev/zero (deleted)" : "";

			v->dev = file->dev;
			v->ino = file->ino;
			v->file_id = file->file_id;
			/* without file_id: one lineage per mmap(), or per fd number when
			 * mm_apply() knows it (ld.so maps each library through one fd) */
			if (!file->file_id)
				v->file_lin = mm->mmap_fd >= 0 ?
					      (1ULL << 62) | (uint64_t)mm->mmap_fd :
					      mm_new_av_id(mm);
			v->path = mm_str_new(mm, p, strlen(p));
			if (!v->path) {
				vma_free(v);
				return mm_end(mm);
			}
			if (file->flags & MM_FILE_NOEXEC)
				vf &= ~VMA_MAYEXEC;
		}
		if (!anon && shared && file && (file->flags & MM_FILE_MODE_KNOWN) &&
		    !(file->flags & MM_FILE_WRITABLE))
			vf &= ~(VMA_SHARED | VMA_MAYWRITE);
		else if (!anon && shared && !(prot & PROT_WRITE) &&
			 !(file && (file->flags & MM_FILE_MODE_KNOWN)))
			v->unknown |= VMA_SHARED | VMA_MAYWRITE;
	}
	/* accountable_mapping(): private writable memory is charged unless MAP_NORESERVE */
	if ((vf & (VMA_NORESERVE | VMA_SHARED | VMA_WRITE)) == VMA_WRITE)
		vf |= VMA_ACCOUNT;
	if (flags & MAP_HUGETLB) {
		/* the huge page size rounds the length: let the kernel say */
		vf |= VMA_HUGETLB;
		vf &= ~VMA_ACCOUNT;
		mm_mark_uncertain(mm, start, start + ((end - start + (1ULL << 30) - 1) &
						      ~((1ULL << 30) - 1)));
	}
	v->flags = vf;
	v->av = AV_NONE;
	v->av_id = mm_new_av_id(mm);
	if ((vf & VMA_LOCKED) && !(vf & VMA_LOCKONFAULT))
		populate = true;
	if ((flags & (MAP_POPULATE | MAP_NONBLOCK)) == MAP_POPULATE)
		populate = true;
	/* new memory has no anon_vma yet: that is what its merges see */
	res = vma_merge_new(mm, v, false, NULL);
	if (res && populate && vma_private_writable(res))
		res->av = AV_SOME;
	return mm_end(mm);
}

/*
 * vms_gather_munmap_vmas() refusing a sealed VMA with EPERM (munmap, MAP_FIXED mmap): the
 * first VMA is split at @start before the VMAs are checked one by one, unless it is the
 * sealed one, and the split is not undone. Returns false if no VMA in [start, end) is
 * sealed: then the model cannot explain the EPERM.
 */
static bool unmap_refused(struct mm *mm, uint64_t start, uint64_t end)
{
	struct vma *first = mm_find_next(mm, start), *v;
	bool sealed = false;

	for (v = first; v && v->start < end && !sealed; v = v->next)
		sealed = v->flags & VMA_SEALED;
	if (!sealed)
		return false;
	if (first->start < start && !(first->flags & VMA_SEALED))
		vma_split_at(mm, first, start);
	return true;
}

int mm_munmap(struct mm *mm, uint64_t addr, uint64_t len, int64_t ret)
{
	uint64_t end = addr + mm_page_align(len);

	mm_begin(mm);
	if ((addr & (MM_PAGE_SIZE - 1)) || end <= addr)
		return mm_end(mm);
	if (ret == 0) {
		mm_unmap_range(mm, addr, end);
	} else if (ret == -EPERM && !unmap_refused(mm, addr, end)) {
		mm->stats.contradictions++;
		mm_mark_uncertain(mm, addr, end);
	}
	return mm_end(mm);
}

/* mremap --------------------------------------------------------------------------------- */

/*
 * move_vma(): move [addr, addr + old_len) (inside one VMA) to @new_addr, @new_len long.
 * copy_vma() gives an unfaulted anonymous VMA the page offset of its new place, a faulted
 * one keeps its old offset: with av unknown the new offset is unknown.
 */
static void move_range(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len,
		       uint64_t new_addr, bool dontunmap)
{
	struct vma *vma = mm_find(mm, addr), *cand, *res;

	if (!vma)
		return;
	cand = vma_copy(mm, vma, addr, addr + old_len);
	if (!cand)
		return;
	cand->start = new_addr;
	cand->end = new_addr + new_len;
	if (vma->kind == VMA_ANON) {
		if (vma->av == AV_NONE) {
			cand->pgoff = new_addr >> MM_PAGE_SHIFT;
		} else if (vma->av == AV_MAYBE) {
			cand->pgoff_known = false;
			cand->av_parent = vma->av_id;
			cand->av_id = mm_new_av_id(mm);
		}
	}
	res = vma_merge_new(mm, cand, false, vma);
	if (!res)
		return;
	if (dontunmap) {
		/* the old VMA stays, unlocked, its pages (and anon_vma if all moved) gone */
		struct vma *old = mm_find(mm, addr);

		if (old && (old->flags & VMA_LOCKED_MASK)) {
			struct vma *nv = vma_copy(mm, old, old->start, old->end);

			if (nv) {
				nv->flags &= ~VMA_LOCKED_MASK;
				if (old->start == addr && old->end == addr + old_len)
					nv->av = AV_NONE;
				mm_remove(mm, old);
				mm_add(mm, nv);
			}
		} else if (old && old->start == addr && old->end == addr + old_len) {
			old->av = AV_NONE;
		}
		return;
	}
	mm_unmap_range(mm, addr, addr + old_len);
}

/*
 * The kernel put new pages at [lo, hi) without MAP_FIXED or MREMAP_FIXED: they were free.
 * What the model still has there is a contradiction (another thread's munmap of them went
 * first in the kernel and is not applied yet): it goes, and the range is asked to the
 * kernel.
 */
static void claim_free(struct mm *mm, uint64_t lo, uint64_t hi)
{
	if (!mm_range_has_vma(mm, lo, hi))
		return;
	mm->stats.contradictions++;
	mm_mark_uncertain(mm, lo, hi);
	mm_unmap_range(mm, lo, hi);
}

int mm_mremap(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, int flags,
	      uint64_t new_addr, int64_t ret)
{
	bool fixed = flags & MREMAP_FIXED, dontunmap = flags & MREMAP_DONTUNMAP;
	struct vma *vma;

	mm_begin(mm);
	old_len = mm_page_align(old_len);
	new_len = mm_page_align(new_len);
	if (mm_is_err(ret)) {
		/* a FIXED move may fail after unmapping the target, or midway through a
		 * multi-VMA move */
		if (fixed) {
			mm_mark_uncertain(mm, new_addr, new_addr + new_len);
			mm_mark_uncertain(mm, addr, addr + old_len);
		}
		return mm_end(mm);
	}
	if (fixed && old_len == new_len) {
		/* remap_move(): every VMA in the range moves, gaps kept */
		struct vma *v = mm_find_next(mm, addr);
		uint64_t end = addr + old_len, first = 0, cur;

		for (cur = addr; v && v->start < end;) {
			uint64_t s = v->start > cur ? v->start : cur;
			uint64_t e = v->end < end ? v->end : end;
			uint64_t to = (uint64_t)ret + (s - addr);

			if (!first)
				first = s;
			/* each piece replaces its own target; the gaps' targets stay mapped */
			mm_unmap_range(mm, to, to + (e - s));
			move_range(mm, s, e - s, e - s, to, dontunmap);
			cur = e;
			v = mm_find_next(mm, cur);
		}
		if (first != addr)
			mm_mark_uncertain(mm, addr, end);
		return mm_end(mm);
	}
	vma = mm_find(mm, addr);
	if (!vma || (new_len > old_len && addr + old_len > vma->end)) {
		mm->stats.contradictions++;
		mm_mark_uncertain(mm, addr, addr + (old_len > new_len ? old_len : new_len));
		if ((uint64_t)ret != addr)
			mm_mark_uncertain(mm, (uint64_t)ret, (uint64_t)ret + new_len);
		return mm_end(mm);
	}
	if (fixed || dontunmap) {
		if (fixed)
			mm_unmap_range(mm, new_addr, new_addr + new_len);
		else
			claim_free(mm, (uint64_t)ret, (uint64_t)ret + new_len);
		if (new_len < old_len) {
			mm_unmap_range(mm, addr + new_len, addr + old_len);
			old_len = new_len;
		}
		move_range(mm, addr, old_len, new_len, (uint64_t)ret, dontunmap);
		return mm_end(mm);
	}
	if (new_len < old_len) {
		mm_unmap_range(mm, addr + new_len, addr + old_len);
	} else if (new_len > old_len && (uint64_t)ret == addr) {
		/* vma_merge_extend(): the tail grows in place, maybe into the next VMA */
		claim_free(mm, vma->end, vma->end + (new_len - old_len));
		struct vma *cand = vma_copy(mm, vma, vma->end, vma->end + (new_len - old_len));

		if (cand && !vma->pgoff_known) {
			/* it surely extends itself; whether it meets the next VMA's offset is
			 * unknown */
			struct vma *nv = vma_copy(mm, vma, vma->start, cand->end);

			vma_free(cand);
			cand = nv;
			if (nv) {
				mm_remove(mm, vma);
				mm_add(mm, nv);
				if (nv->next && nv->next->start == nv->end)
					mm_mark_uncertain(mm, nv->start, nv->next->end);
			}
		} else if (cand) {
			vma_merge_new(mm, cand, false, NULL);
		}
		if (cand && (vma->flags & VMA_LOCKED) && !(vma->flags & VMA_LOCKONFAULT)) {
			struct vma *r = mm_find(mm, addr);

			if (r && vma_private_writable(r))
				r->av = AV_SOME;
		}
	} else if (new_len > old_len) {
		claim_free(mm, (uint64_t)ret, (uint64_t)ret + new_len);
		move_range(mm, addr, old_len, new_len, (uint64_t)ret, false);
	}
	return mm_end(mm);
}

/* brk ---------------------------------------------------------------------------------- */

int mm_brk(struct mm *mm, uint64_t brk, int64_t ret)
{
	uint64_t oldbrk, newbrk;

	mm_begin(mm);
	if (!mm->start_brk) {
		/* The first brk() after exec tells where the empty heap starts. */
		if ((uint64_t)ret != brk || !brk) {
			mm->start_brk = mm->brk = (uint64_t)ret;
		} else {
			mm->stats.contradictions++;
			mm_mark_uncertain(mm, 0, MM_TASK_SIZE);
		}
		return mm_end(mm);
	}
	if ((uint64_t)ret != brk || brk < mm->start_brk) {
		/* refused (or brk(0)): the result is the current break */
		mm->brk = (uint64_t)ret;
		return mm_end(mm);
	}
	newbrk = mm_page_align(brk);
	oldbrk = mm_page_align(mm->brk);
	if (newbrk == oldbrk) {
		mm->brk = brk;
	} else if (brk <= mm->brk) {
		mm->brk = brk;
		mm_unmap_range(mm, newbrk, oldbrk);
	} else {
		/* do_brk_flags(): expand the VMA ending at the old break, or a new one */
		struct vma *v = vma_alloc(mm), *prev, *res;

		if (!v)
			return mm_end(mm);
		if (mm_range_has_vma(mm, oldbrk, newbrk)) {
			mm->stats.contradictions++;
			mm_mark_uncertain(mm, oldbrk, newbrk);
			mm_unmap_range(mm, oldbrk, newbrk);
		}
		v->start = oldbrk;
		v->end = newbrk;
		v->kind = VMA_ANON;
		v->pgoff = oldbrk >> MM_PAGE_SHIFT;
		v->flags = VMA_READ | VMA_WRITE | VMA_MAYREAD | VMA_MAYWRITE | VMA_MAYEXEC |
			   VMA_ACCOUNT | mm->def_flags;
		v->av_id = mm_new_av_id(mm);
		prev = mm_find_le(mm, oldbrk - 1);
		/* vma_prev_limit(start_brk): only a VMA reaching into the heap area expands */
		if (prev && prev->end <= mm->start_brk)
			prev = NULL;
		if (prev && prev->end == oldbrk) {
			res = vma_merge_new(mm, v, true, NULL);
		} else {
			mm_add(mm, v);
			res = v;
		}
		if (res == v)
			v->av = AV_MAYBE;
		if (res && (mm->def_flags & VMA_LOCKED) && !(mm->def_flags & VMA_LOCKONFAULT))
			res->av = AV_SOME;
		mm->brk = brk;
	}
	return mm_end(mm);
}

/* SysV shm ------------------------------------------------------------------------------- */

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

int mm_shmat(struct mm *mm, int shmid, uint64_t addr, int shmflg, int64_t ret,
	     const struct mm_file *file)
{
	uint64_t start, end, size;
	char path[64];
	const char *p;
	struct vma *v;

	(void)shmid;
	(void)addr;
	mm_begin(mm);
	if (mm_is_err(ret))
		return mm_end(mm);
	start = (uint64_t)ret;
	size = file ? mm_page_align(file->size) : 0;
	if (!size) {
		/* without the segment's size and identity only the kernel knows */
		mm_mark_uncertain(mm, start, start + MM_PAGE_SIZE);
		return mm_end(mm);
	}
	end = start + size;
	if (mm_range_has_vma(mm, start, end)) {
		if (!(shmflg & SHM_REMAP)) {
			mm->stats.contradictions++;
			mm_mark_uncertain(mm, start, end);
		}
		mm_unmap_range(mm, start, end);
	}
	v = vma_alloc(mm);
	if (!v)
		return mm_end(mm);
	/* do_shmat(): a MAP_SHARED mmap of a new struct file, read-only with SHM_RDONLY */
	v->start = start;
	v->end = end;
	v->kind = VMA_SYSV;
	v->flags = VMA_READ | VMA_MAYREAD | VMA_MAYEXEC | VMA_MAYSHARE | mm->def_flags;
	if (!(shmflg & SHM_RDONLY))
		v->flags |= VMA_WRITE | VMA_MAYWRITE | VMA_SHARED;
	if (shmflg & SHM_EXEC)
		v->flags |= VMA_EXEC;
	v->dev = file->dev;
	v->ino = file->ino;
	v->shm_size = file->size;
	/* every attach has its own struct file: never merged with another attach */
	v->file_id = file->file_id ? file->file_id : (1ULL << 63) | mm_new_av_id(mm);
	if (file->path) {
		p = file->path;
	} else {
		snprintf(path, sizeof(path), "/SYSV%08x (deleted)", file->key);
		p = path;
	}
	v->path = mm_str_new(mm, p, strlen(p));
	if (!v->path) {
		vma_free(v);
		return mm_end(mm);
	}
	v->av_id = mm_new_av_id(mm);
	vma_merge_new(mm, v, false, NULL);
	return mm_end(mm);
}

int mm_shmdt(struct mm *mm, uint64_t addr, int64_t ret)
{
	struct vma *v, *next;
	uint64_t size = 0, file_id = 0;
	bool found = false;

	mm_begin(mm);
	if (ret != 0)
		return mm_end(mm);
	/* ksys_shmdt(): the first shm VMA at or after addr (a VMA iterator from addr: the
	 * one containing it or the next, so a segment whose first pages were unmapped is
	 * still found by its attach address) whose offset fits addr gives the segment; then
	 * every fragment of it within its size goes (unsigned arithmetic as in the kernel) */
	for (v = mm_find_next(mm, addr); v; v = next) {
		next = v->next;
		if (v->kind == VMA_SYSV && (v->start - addr) / MM_PAGE_SIZE == v->pgoff) {
			size = mm_page_align(v->shm_size);
			file_id = v->file_id;
			mm_unmap_range(mm, v->start, v->end);
			found = true;
			v = next;
			break;
		}
	}
	for (; found && v && v->end - addr <= size; v = next) {
		next = v->next;
		if (v->kind == VMA_SYSV && (v->start - addr) / MM_PAGE_SIZE == v->pgoff &&
		    v->file_id == file_id)
			mm_unmap_range(mm, v->start, v->end);
	}
	if (!found) {
		mm->stats.contradictions++;
		mm_mark_uncertain(mm, addr, addr + MM_PAGE_SIZE);
	}
	return mm_end(mm);
}
