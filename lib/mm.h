/* SPDX-License-Identifier: MIT */
/*
 * The address-space model: one struct mm per traced address space, an ordered set of
 * struct vma that must equal, line for line, what the kernel shows in /proc/PID/maps.
 * Pure: syscall arguments and results in, VMA versions born and died out. No ptrace, no
 * sockets, no SQLite; the daemon drives it live and replays drive it from the store.
 *
 * How it works. Each transition (mm_mmap(), mm_mprotect(), ...) is told a syscall whose
 * outcome is known (also failed ones) and replays what the 6.18 kernel does with it:
 * splits, the merge rules of mm/vma.c (is_mergeable_vma, can_vma_merge_before/after,
 * vma_merge_new_range, vma_modify), the partial effects of mprotect/madvise/mlock over
 * holes. Merges also depend on state no syscall shows (whether an anonymous VMA has an
 * anon_vma yet, i.e. was written to; VM_ACCOUNT dropped by mprotect on unfaulted memory;
 * the page offset of a moved anonymous VMA; anon_vma chains inherited through fork). The
 * model tracks what it can prove about that state; where a decision depends on what it
 * cannot know, the transition returns MM_UNCERTAIN and mm_uncertain() gives the range to
 * re-read from the kernel, which mm_reconcile() then installs. Meanwhile the model applies
 * its best guess: it merges where only the anon_vma identity is unknown (most memory was
 * either never written or written before it was split), and does not where hidden flags
 * or the page offset of moved memory are unknown.
 *
 * Versions. Every transition reports the VMAs it ended (vma_died) and the ones it created
 * (vma_born) through the struct mm_ops of the mm, deaths first, each group in address
 * order. A VMA whose bounds, perms, offset, device, inode, name or hidden flags (VMA_LOCKED,
 * VMA_DONTCOPY, ...: they are history too) change is one death plus one birth; a VMA left
 * unchanged is not reported, even if the kernel split and re-merged it on the way. The
 * changes of an uncertain transition are held back until mm_reconcile(), mm_flush() or the
 * next transition, so the store never sees a guess that the kernel's truth replaced.
 *
 * Ownership. struct mm and its VMAs belong to the model: mm_free() frees everything. A
 * struct vma pointer stays valid until the vma_died callback for it returns, or until
 * mm_free(). Callbacks may read any VMA and set v->id, nothing else; they must not call
 * back into the model. Strings in a struct vma (path, anon_name) are owned by the model.
 * Input strings (struct mm_file.path, names, maps text) are copied; the model keeps no
 * pointer into caller memory.
 *
 * Errors: functions return 0, MM_UNCERTAIN, or -errno (-EINVAL for malformed input,
 * -ENOMEM when the model could not allocate: it then marks the whole address space
 * uncertain, and the caller should reseed).
 *
 * Known limits (the daemon reconciles or documents them): stack growth by page faults
 * (see MM_CMP_STACK_END), userfaultfd registration (ioctl), mbind/set_mempolicy (VMA
 * mempolicies are not modelled: mm_apply() reports their range uncertain), hugetlb
 * (reported uncertain), device mappings whose ->mmap sets VM_IO/VM_PFNMAP, io_setup's
 * "[aio]" ring, READ_IMPLIES_EXEC personalities, CPUs with protection keys (exec-only
 * pkey), vm.overcommit_memory=2 (MAP_NORESERVE is then ignored by the kernel), KSM's
 * PR_SET_MEMORY_MERGE, and files unlinked after mapping (their name gains " (deleted)").
 * Assumptions: with struct mm_file.file_id 0, equal dev/ino and fd number means the same
 * open file (see struct mm_file); VMAs seeded from /proc have the page offset they would
 * have had from mmap (addr >> 12 for anonymous memory).
 */
#ifndef VMATRACE_MM_H
#define VMATRACE_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mm;

#define MM_PAGE_SIZE 4096ULL
#define MM_PAGE_SHIFT 12

/* Returned by transitions whose outcome depends on what the model cannot see. */
#define MM_UNCERTAIN 1

/*
 * VMA flags: the kernel's vm_flags as far as they decide merging, fork and locking, with
 * the kernel's bit numbers on x86_64 (smaps "VmFlags" mnemonic in the comment). Only
 * READ/WRITE/EXEC/MAYSHARE show in /proc/PID/maps ("rw-p", 's' for MAYSHARE).
 */
#define VMA_READ (1ULL << 0)          /* rd */
#define VMA_WRITE (1ULL << 1)         /* wr */
#define VMA_EXEC (1ULL << 2)          /* ex */
#define VMA_SHARED (1ULL << 3)        /* sh: shared and writable file open */
#define VMA_MAYREAD (1ULL << 4)       /* mr */
#define VMA_MAYWRITE (1ULL << 5)      /* mw */
#define VMA_MAYEXEC (1ULL << 6)       /* me */
#define VMA_MAYSHARE (1ULL << 7)      /* ms: MAP_SHARED, shown as 's' */
#define VMA_GROWSDOWN (1ULL << 8)     /* gd */
#define VMA_UFFD_MISSING (1ULL << 9)  /* um */
#define VMA_PFNMAP (1ULL << 10)       /* pf */
#define VMA_MAYBE_GUARD (1ULL << 11)  /* gu: MADV_GUARD_INSTALL; ignored by merges, kept */
#define VMA_UFFD_WP (1ULL << 12)      /* uw */
#define VMA_LOCKED (1ULL << 13)       /* lo */
#define VMA_IO (1ULL << 14)           /* io */
#define VMA_SEQ_READ (1ULL << 15)     /* sr: MADV_SEQUENTIAL */
#define VMA_RAND_READ (1ULL << 16)    /* rr: MADV_RANDOM */
#define VMA_DONTCOPY (1ULL << 17)     /* dc: MADV_DONTFORK */
#define VMA_DONTEXPAND (1ULL << 18)   /* de */
#define VMA_LOCKONFAULT (1ULL << 19)  /* lf: MLOCK_ONFAULT, MCL_ONFAULT */
#define VMA_ACCOUNT (1ULL << 20)      /* ac: charged to the commit limit */
#define VMA_NORESERVE (1ULL << 21)    /* nr */
#define VMA_HUGETLB (1ULL << 22)      /* ht */
#define VMA_SYNC (1ULL << 23)         /* sf: MAP_SYNC */
#define VMA_ARCH_1 (1ULL << 24)       /* ar: x86 PAT */
#define VMA_WIPEONFORK (1ULL << 25)   /* wf */
#define VMA_DONTDUMP (1ULL << 26)     /* dd */
#define VMA_SOFTDIRTY (1ULL << 27)    /* sd: ignored by merges */
#define VMA_MIXEDMAP (1ULL << 28)     /* mm */
#define VMA_HUGEPAGE (1ULL << 29)     /* hg */
#define VMA_NOHUGEPAGE (1ULL << 30)   /* nh: MADV_NOHUGEPAGE, MAP_STACK */
#define VMA_MERGEABLE (1ULL << 31)    /* mg: KSM */
#define VMA_PKEY_SHIFT 32             /* bits 32..35: protection key (no mnemonic) */
#define VMA_PKEY_MASK (0xfULL << VMA_PKEY_SHIFT)
#define VMA_UFFD_MINOR (1ULL << 38)   /* ui */
#define VMA_SHADOW_STACK (1ULL << 37) /* ss */
#define VMA_DROPPABLE (1ULL << 40)    /* dp: MAP_DROPPABLE */
#define VMA_SEALED (1ULL << 42)       /* sl: mseal() */

/* Never merged, never mlocked: the kernel's VM_SPECIAL. */
#define VMA_SPECIAL_MASK (VMA_IO | VMA_DONTEXPAND | VMA_PFNMAP | VMA_MIXEDMAP)

/* What backs a VMA, which decides its name column and how it merges. */
enum vma_kind {
	VMA_ANON = 0, /* private anonymous: "", "[heap]", "[stack]" (derived), "[anon:NAME]" */
	VMA_FILE,     /* any vm_file: regular file, memfd, device: path (" (deleted)" kept) */
	VMA_SHMEM,    /* MAP_SHARED|MAP_ANONYMOUS: "/dev/zero (deleted)" or "[anon_shmem:NAME]" */
	VMA_SYSV,     /* SysV shmat(): "/SYSV%08x (deleted)"; never removed by a merge */
	VMA_SPECIAL,  /* "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", "[uprobes]" */
};

/*
 * One VMA, as /proc/PID/maps shows it plus what decides its merges:
 *
 *   7f3b2c000000-7f3b2c021000 r-xp 00026000 fe:00 332835    /usr/lib/x86_64-linux-gnu/libc.so.6
 *   start        end          flags pgoff<<12 dev  ino       path
 *
 * The fields above the line are the model's; the callback owner may set @id only.
 */
struct vma {
	uint64_t start;       /* first byte, page aligned */
	uint64_t end;         /* one past the last byte */
	uint64_t flags;       /* VMA_* */
	uint64_t pgoff;       /* file offset in pages; for VMA_ANON the kernel's internal
			       * vm_pgoff (addr >> 12 at creation, kept across mremap of
			       * faulted memory), which /proc shows as 0 */
	uint64_t dev;         /* makedev(major, minor), 0 for anonymous */
	uint64_t ino;         /* inode, 0 for anonymous */
	const char *path;     /* VMA_FILE/SHMEM/SYSV path, VMA_SPECIAL name, NULL for anon */
	const char *anon_name; /* PR_SET_VMA_ANON_NAME name (may be ""), NULL if none */
	uint64_t file_id;     /* open file description identity from struct mm_file, 0 unknown */
	uint64_t shm_size;    /* VMA_SYSV: segment size in bytes (for shmdt) */
	uint64_t id;          /* version id, set by the vma_born callback owner */
	enum vma_kind kind;

	/* Model-private from here: do not touch. */
	uint64_t unknown;     /* VMA_* bits whose value the model does not know */
	uint64_t av_id;       /* anon_vma identity: equal ids share one if both have one */
	uint64_t av_parent;   /* split off a maybe-faulted lineage: has its anon_vma if any */
	uint64_t file_lin;    /* with file_id 0: the mmap() that made it, or the fd number it
			       * came through (mm_apply); equal values are taken as one
			       * struct file (0: unknown) */
	uint8_t av;           /* has an anon_vma: 0 no, 1 maybe, 2 yes */
	uint8_t av_fork;      /* anon_vma chain inherited by fork: 0 no, 1 yes, 2 maybe */
	bool pgoff_known;     /* false after moving memory that may have been faulted */
	bool reported;        /* vma_born was called (or is owed by a flush) */
	bool in_tree;
	bool matched;
	uint32_t prio;        /* treap priority */
	struct vma *left, *right; /* treap keyed by start */
	struct vma *prev, *next;  /* address order */
};

/* Version callbacks. Either may be NULL. @mm is the reporting mm. */
struct mm_ops {
	void (*vma_born)(void *ctx, struct mm *mm, struct vma *v);
	void (*vma_died)(void *ctx, struct mm *mm, struct vma *v);
};

/*
 * Identity of a mapped object, supplied by the caller because the model opens nothing:
 * the daemon gets dev/ino/path with PROCMAP_QUERY (or fstat and the fd's path). Required
 * for file mmaps, MAP_SHARED|MAP_ANONYMOUS (its shmem inode) and shmat.
 */
struct mm_file {
	uint64_t dev;          /* st_dev (makedev), as /proc/PID/maps shows it */
	uint64_t ino;
	const char *path;      /* as /proc/PID/maps shows it; NULL: "/dev/zero (deleted)" for
				* shared anonymous, "/SYSV%08x (deleted)" with @key for shmat */
	uint64_t file_id;      /* identity of the open file description (struct file): two
				* mmaps merge only if they share it. 0 = unknown: mm_apply()
				* then takes mmaps of one dev/ino through the same fd number
				* as one open file (counted in assumed_same_file, wrong only if
				* the fd was closed and the file reopened under the same
				* number); other merges of such mappings are uncertain */
	unsigned int flags;    /* MM_FILE_* */
	uint64_t size;         /* shmat: the segment size in bytes */
	uint32_t key;          /* shmat: the segment key, for the default path */
};
#define MM_FILE_WRITABLE 0x1   /* opened for writing: MAP_SHARED keeps VMA_SHARED/MAYWRITE */
#define MM_FILE_MODE_KNOWN 0x2 /* MM_FILE_WRITABLE is meaningful */
#define MM_FILE_NOEXEC 0x4     /* on a noexec mount: no VMA_MAYEXEC */

/*
 * A VMA as the kernel describes it: one /proc/PID/maps or smaps entry, or a PROCMAP_QUERY
 * answer (daemon/procmap.h). The one description of a kernel VMA, on both sides. @name
 * points into the caller's buffer (@name_len bytes; not NUL-terminated unless the filler
 * says so, as procmap_query does).
 */
struct vma_desc {
	uint64_t start, end;
	char perms[5];         /* "rw-p" */
	uint64_t offset;       /* bytes */
	uint64_t dev, ino;
	const char *name;
	size_t name_len;
	uint64_t flags;        /* VMA_* from smaps VmFlags, valid if @flags_known */
	bool flags_known;
	bool anon_pages;       /* smaps "Anonymous:" was non-zero: it has an anon_vma */
};

struct mm_stats {
	uint64_t transitions;       /* syscalls applied */
	uint64_t uncertain;         /* transitions that returned MM_UNCERTAIN */
	uint64_t contradictions;    /* results the model did not predict (model was stale) */
	uint64_t reconciles;        /* mm_reconcile() calls */
	uint64_t reconcile_changed; /* ... where the kernel differed from the model's guess */
	uint64_t assumed_same_file; /* merges decided with file_id unknown */
	uint64_t born, died;        /* versions reported */
};

/* mm_new flags */
#define MM_NEW_EXEC 0x1 /* fresh from execve: no VMA has an anon_vma chain from fork */

/*
 * mm_new - an empty address space. Returns NULL with errno set on failure. The caller
 * owns it and frees it with mm_free().
 */
struct mm *mm_new(unsigned int flags);

/* mm_free - free @mm and all its VMAs, reporting nothing. NULL-safe; returns NULL. */
struct mm *mm_free(struct mm *mm);

/* mm_set_ops - set the version callbacks and their context (both may be NULL). */
void mm_set_ops(struct mm *mm, const struct mm_ops *ops, void *ctx);

/*
 * mm_seed_from_maps - replace the whole model with the VMAs of a /proc/PID/maps or
 * /proc/PID/smaps text (@len bytes). smaps gives the hidden flags (VmFlags) exactly and
 * is preferred; from plain maps they are guessed and the unknowable ones (VMA_ACCOUNT of
 * read-only private VMAs, VMA_SHARED of read-only shared ones) marked unknown. Sets
 * start_brk/brk from "[heap]" and start_stack from "[stack]" unless mm_set_layout() gave
 * them. Old VMAs die and the seeded ones are born (deaths and births matched as usual).
 * Returns 0, -EINVAL on a malformed line (the model is then unchanged), or -ENOMEM.
 */
int mm_seed_from_maps(struct mm *mm, const char *text, size_t len);

/*
 * mm_set_layout - what /proc/PID/stat knows and maps does not: start_brk (field 47), brk
 * and start_stack (field 28) decide which anonymous VMA is named "[heap]" or "[stack]"
 * (fs/proc/task_mmu.c get_vma_name()), and brk() needs start_brk. 0 leaves a value as it
 * is; values given here win over what mm_seed_from_maps() infers from the names. Without
 * them, the first brk() result after exec gives start_brk.
 */
void mm_set_layout(struct mm *mm, uint64_t start_brk, uint64_t brk, uint64_t start_stack);

/*
 * mm_format_maps - write the model as /proc/PID/maps would show it, byte for byte
 * (fs/proc/task_mmu.c show_map_vma: name column padded to 73). Returns 0 or -EIO.
 */
int mm_format_maps(const struct mm *mm, FILE *f);

/* mm_format_vma - one maps line for @v, with its '\n', into @buf; returns its length. */
size_t mm_format_vma(const struct mm *mm, const struct vma *v, char *buf, size_t size);

/* mm_vma_name - the name column of @v ("" if none), into @buf; returns @buf. */
const char *mm_vma_name(const struct mm *mm, const struct vma *v, char *buf, size_t size);

/* vma_perms - the perms column of @v ("rw-p") into @buf (5 bytes). */
void vma_perms(const struct vma *v, char buf[5]);

/* mm_compare flags */
#define MM_CMP_STACK_END 0x1   /* compare "[stack]" by its end: it grows on faults */
#define MM_CMP_IGNORE_DELETED 0x2 /* ignore a " (deleted)" suffix (files unlinked later) */

/*
 * mm_compare_maps - compare the model with a /proc/PID/maps text. Returns the number of
 * lines that differ (a line present on one side only counts once, two lines with the same
 * end and different text count once), and prints the first divergence to @report
 * (may be NULL):
 *   first divergence at 0x7f3b2c000000:
 *     kernel: 7f3b2c000000-7f3b2c021000 rw-p 00000000 00:00 0
 *     model:  7f3b2c000000-7f3b2c011000 rw-p 00000000 00:00 0
 * Nothing else is normalised. -EINVAL if @text has a malformed line, -ENOMEM.
 */
int mm_compare_maps(const struct mm *mm, const char *text, size_t len, unsigned int flags,
		    FILE *report);

/* mm_compare_range - the same, for the lines that overlap [lo, hi) only. */
int mm_compare_range(const struct mm *mm, const char *text, size_t len, uint64_t lo,
		     uint64_t hi, unsigned int flags, FILE *report);

/*
 * mm_parse_maps_line - parse one maps/smaps header line (without or with its '\n') into
 * @ret; ret->name points into @line. Returns 0 or -EINVAL.
 */
int mm_parse_maps_line(const char *line, size_t len, struct vma_desc *ret);

/*
 * mm_clone_for_fork - the child's address space after fork(): every VMA but VMA_DONTCOPY
 * ones, VMA_LOCKED/LOCKONFAULT cleared, VMA_WIPEONFORK ones kept (empty), no mlockall
 * future flag. The parent's held-back changes are flushed first. The child's VMAs are
 * born through @ops. Returns NULL with errno set on failure; the caller owns the result.
 */
struct mm *mm_clone_for_fork(struct mm *parent, const struct mm_ops *ops, void *ctx);

/* mm_unmap_all - exit or exec: every VMA dies (reported); the model is then empty. */
void mm_unmap_all(struct mm *mm);

/*
 * mm_uncertain - true when the last transition left a range whose truth only the kernel
 * knows; [*lo, *hi) is then that range (either pointer may be NULL).
 */
bool mm_uncertain(const struct mm *mm, uint64_t *lo, uint64_t *hi);

/*
 * mm_reconcile - install the kernel's truth for [lo, hi): @kv are the kernel's VMAs that
 * overlap [lo, hi), in address order (from PROCMAP_QUERY or maps; a VMA reaching out of
 * [lo, hi) is installed whole). Model VMAs overlapping the range are replaced; hidden
 * state is kept from the model where the kernel does not say (kv[i].flags_known). Then the
 * held-back changes are reported, as the difference from before the uncertain transition.
 * The [vsyscall] gate VMA, which PROCMAP_QUERY never returns, is kept unless @kv names it.
 * Returns 0, -EINVAL (@kv not sorted, overlapping or not page aligned: nothing changed),
 * -ENOMEM.
 */
int mm_reconcile(struct mm *mm, uint64_t lo, uint64_t hi, const struct vma_desc *kv,
		 size_t n);

/* mm_flush - accept the model's guess for a pending uncertain range and report it. */
void mm_flush(struct mm *mm);

/* Lookup and iteration. O(log n) lookups; iteration in address order. */
size_t mm_vma_count(const struct mm *mm);       /* as map_count: [vsyscall] excluded */
struct vma *mm_find(const struct mm *mm, uint64_t addr);      /* VMA containing addr */
struct vma *mm_find_next(const struct mm *mm, uint64_t addr); /* first VMA with end > addr */
struct vma *mm_first(const struct mm *mm);
static inline struct vma *vma_next(const struct vma *v)
{
	return v->next;
}
#define mm_for_each_vma(mm, v) for ((v) = mm_first(mm); (v); (v) = (v)->next)

void mm_get_stats(const struct mm *mm, struct mm_stats *ret);

/*
 * mm_check - walk the whole model and verify its invariants: the treap is ordered by start
 * and heap-ordered by priority, in order it is the address-ordered list, the VMAs are page
 * aligned, non-empty, sorted, disjoint and mm_vma_count() agrees, each VMA's kind, name
 * and flags are consistent (lib/mm_check.c lists them). O(n). Debug builds run it (or a
 * check of the range touched) after every transition and abort on a failure. Returns 0, or
 * -EUCLEAN with the first broken invariant written to @why (@size bytes; 0: not written).
 */
int mm_check(const struct mm *mm, char *why, size_t size);

/*
 * Transitions. Each takes the raw syscall arguments and the raw result (-errno on
 * failure) and returns 0 (the model knows the outcome), MM_UNCERTAIN, or -errno.
 */

/* mmap(addr, len, prot, flags, fd, off) = ret. @file: see struct mm_file (NULL for anon). */
int mm_mmap(struct mm *mm, uint64_t addr, uint64_t len, int prot, int flags, uint64_t off,
	    int64_t ret, const struct mm_file *file);
int mm_munmap(struct mm *mm, uint64_t addr, uint64_t len, int64_t ret);
int mm_mremap(struct mm *mm, uint64_t addr, uint64_t old_len, uint64_t new_len, int flags,
	      uint64_t new_addr, int64_t ret);
int mm_brk(struct mm *mm, uint64_t brk, int64_t ret);
/* mprotect (pkey -1) and pkey_mprotect. */
int mm_mprotect(struct mm *mm, uint64_t start, uint64_t len, int prot, int pkey, int64_t ret);
int mm_madvise(struct mm *mm, uint64_t start, uint64_t len, int advice, int64_t ret);
/* mlock (flags 0) and mlock2 (MLOCK_ONFAULT). */
int mm_mlock(struct mm *mm, uint64_t start, uint64_t len, int flags, int64_t ret);
int mm_munlock(struct mm *mm, uint64_t start, uint64_t len, int64_t ret);
int mm_mlockall(struct mm *mm, int flags, int64_t ret);
int mm_munlockall(struct mm *mm, int64_t ret);
int mm_mseal(struct mm *mm, uint64_t start, uint64_t len, unsigned long flags, int64_t ret);
/* shmat(shmid, addr, shmflg) = ret; @file: identity, size and key of the segment. */
int mm_shmat(struct mm *mm, int shmid, uint64_t addr, int shmflg, int64_t ret,
	     const struct mm_file *file);
int mm_shmdt(struct mm *mm, uint64_t addr, int64_t ret);
/* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, start, len, name) = ret; name NULL clears. */
int mm_set_anon_name(struct mm *mm, uint64_t start, uint64_t len, const char *name,
		     int64_t ret);

/*
 * mm_apply - dispatch a recorded x86_64 syscall (@nr, raw @args) to the transition above.
 * Syscalls that change no VMA return 0; ones the model cannot follow but whose range is
 * known (mbind, remap_file_pages, ...) return MM_UNCERTAIN for that range. @name is the
 * PR_SET_VMA_ANON_NAME string read from the tracee (NULL otherwise).
 */
int mm_apply(struct mm *mm, int nr, const uint64_t args[6], int64_t ret,
	     const struct mm_file *file, const char *name);

#endif
