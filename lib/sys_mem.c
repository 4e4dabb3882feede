// SPDX-License-Identifier: MIT
/*
 * Decoders of the memory syscalls (%memory): mmap, mprotect and pkey_mprotect, munmap, brk,
 * mremap, madvise, the mlock family, mseal, shmat and shmdt, prctl(PR_SET_VMA). Each is
 * a row of lib/syscallent.h that names its printer and its effects function here; the
 * formats are sysent.h's, and so is struct sysent_effects.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <linux/mman.h>

#include "mm.h"
#include "stresc.h"
#include "sysent_int.h"

/* Constants newer than the installed UAPI headers (Debian 12: 6.1); ABI, never changing. */
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08 /* Linux 6.11 */
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#define MADV_GUARD_REMOVE 103
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* The kernel's map type field and huge page size field of mmap flags. */
#define MMAP_TYPE_MASK 0x0fULL
#define MMAP_HUGE_SHIFT 26
#define MMAP_HUGE_MASK 0x3fULL

#define ENAME(e) [e] = #e

/* clang-format off */
static const struct flag_name prot_flags[] = {
	FLAG(PROT_READ), FLAG(PROT_WRITE), FLAG(PROT_EXEC), FLAG(PROT_SEM),
	FLAG(PROT_GROWSDOWN), FLAG(PROT_GROWSUP),
};

/* Values of mmap's type field (MMAP_TYPE_MASK). */
static const struct flag_name map_types[] = {
	FLAG(MAP_SHARED), FLAG(MAP_PRIVATE), FLAG(MAP_SHARED_VALIDATE), FLAG(MAP_DROPPABLE),
};

/* mmap flags outside the type field, in bit order. */
static const struct flag_name map_flags[] = {
	FLAG(MAP_FIXED), FLAG(MAP_ANONYMOUS), FLAG(MAP_32BIT), FLAG(MAP_GROWSDOWN),
	FLAG(MAP_DENYWRITE), FLAG(MAP_EXECUTABLE), FLAG(MAP_LOCKED), FLAG(MAP_NORESERVE),
	FLAG(MAP_POPULATE), FLAG(MAP_NONBLOCK), FLAG(MAP_STACK), FLAG(MAP_HUGETLB),
	FLAG(MAP_SYNC), FLAG(MAP_FIXED_NOREPLACE), FLAG(MAP_UNINITIALIZED),
};

/* The MAP_HUGE_* sizes <linux/mman.h> names, as log2 of the page size. */
static const struct flag_name map_huge_sizes[] = {
	{ 14, "MAP_HUGE_16KB" }, { 16, "MAP_HUGE_64KB" }, { 19, "MAP_HUGE_512KB" },
	{ 20, "MAP_HUGE_1MB" },  { 21, "MAP_HUGE_2MB" },  { 23, "MAP_HUGE_8MB" },
	{ 24, "MAP_HUGE_16MB" }, { 25, "MAP_HUGE_32MB" }, { 28, "MAP_HUGE_256MB" },
	{ 29, "MAP_HUGE_512MB" }, { 30, "MAP_HUGE_1GB" }, { 31, "MAP_HUGE_2GB" },
	{ 34, "MAP_HUGE_16GB" },
};

static const struct flag_name mremap_flags[] = {
	FLAG(MREMAP_MAYMOVE), FLAG(MREMAP_FIXED), FLAG(MREMAP_DONTUNMAP),
};

static const char *const madv_names[] = {
	ENAME(MADV_NORMAL), ENAME(MADV_RANDOM), ENAME(MADV_SEQUENTIAL), ENAME(MADV_WILLNEED),
	ENAME(MADV_DONTNEED), ENAME(MADV_FREE), ENAME(MADV_REMOVE), ENAME(MADV_DONTFORK),
	ENAME(MADV_DOFORK), ENAME(MADV_MERGEABLE), ENAME(MADV_UNMERGEABLE),
	ENAME(MADV_HUGEPAGE), ENAME(MADV_NOHUGEPAGE), ENAME(MADV_DONTDUMP), ENAME(MADV_DODUMP),
	ENAME(MADV_WIPEONFORK), ENAME(MADV_KEEPONFORK), ENAME(MADV_COLD), ENAME(MADV_PAGEOUT),
	ENAME(MADV_POPULATE_READ), ENAME(MADV_POPULATE_WRITE), ENAME(MADV_DONTNEED_LOCKED),
	ENAME(MADV_COLLAPSE), ENAME(MADV_HWPOISON), ENAME(MADV_SOFT_OFFLINE),
	ENAME(MADV_GUARD_INSTALL), ENAME(MADV_GUARD_REMOVE),
};

static const struct flag_name mlock2_flags[] = { FLAG(MLOCK_ONFAULT) };

static const struct flag_name mlockall_flags[] = {
	FLAG(MCL_CURRENT), FLAG(MCL_FUTURE), FLAG(MCL_ONFAULT),
};

static const struct flag_name shm_flags[] = {
	FLAG(SHM_RDONLY), FLAG(SHM_RND), FLAG(SHM_REMAP), FLAG(SHM_EXEC),
};

/* clang-format on */

/* An object path shown after the argument that names it, as strace -y shows fd paths. */
static void print_path_tag(FILE *out, const char *path)
{
	fputc('<', out);
	stresc_print_c(out, path, strlen(path));
	fputc('>', out);
}

static void print_map_flags(FILE *out, uint64_t v)
{
	uint64_t type = v & MMAP_TYPE_MASK, rest = v & ~MMAP_TYPE_MASK, huge = 0;
	bool first = true;

	/* The type is a value, not bits: MAP_SHARED_VALIDATE is MAP_SHARED|MAP_PRIVATE. */
	if (type) {
		const char *name = NULL;

		for (size_t i = 0; i < ARRAY_SIZE(map_types); i++)
			if (map_types[i].val == type)
				name = map_types[i].name;
		sys_sep(out, &first);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%#" PRIx64, type);
	}
	/*
	 * The page size field shares bit 26 with MAP_UNINITIALIZED; the kernel reads the
	 * field only with MAP_HUGETLB, and so do we.
	 */
	if (v & MAP_HUGETLB) {
		huge = (v >> MMAP_HUGE_SHIFT) & MMAP_HUGE_MASK;
		rest &= ~(MMAP_HUGE_MASK << MMAP_HUGE_SHIFT);
	}
	sys_flags_names(out, &rest, map_flags, ARRAY_SIZE(map_flags), &first);
	if (huge) {
		const char *name = NULL;

		for (size_t i = 0; i < ARRAY_SIZE(map_huge_sizes); i++)
			if (map_huge_sizes[i].val == huge)
				name = map_huge_sizes[i].name;
		sys_sep(out, &first);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%" PRIu64 "<<MAP_HUGE_SHIFT", huge);
	}
	if (rest) {
		sys_sep(out, &first);
		fprintf(out, "%#" PRIx64, rest);
	}
	if (first)
		fputc('0', out);
}

void sys_print_mmap(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	sys_print_range(out, a);
	fputs(", ", out);
	PRINT_FLAGS(out, a[2], prot_flags, "PROT_NONE");
	fputs(", ", out);
	print_map_flags(out, a[3]);
	fprintf(out, ", %d", (int)a[4]);
	if (ev->path)
		print_path_tag(out, ev->path);
	fprintf(out, ", %#" PRIx64, a[5]);
}

void sys_print_addr_len(const struct event *ev, FILE *out)
{
	sys_print_range(out, ev->args);
}

void sys_print_addr0(const struct event *ev, FILE *out)
{
	sys_print_addr(out, ev->args[0]);
}

void sys_print_mremap(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	sys_print_range(out, a);
	fprintf(out, ", %" PRIu64 ", ", a[2]);
	PRINT_FLAGS(out, a[3], mremap_flags, "0");
	/* new_address is read only with MREMAP_FIXED; otherwise it is leftover garbage. */
	if (a[3] & MREMAP_FIXED) {
		fputs(", ", out);
		sys_print_addr(out, a[4]);
	}
}

/* mprotect(addr, len, prot) and pkey_mprotect(addr, len, prot, pkey) */
void sys_print_mprotect(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	sys_print_range(out, a);
	fputs(", ", out);
	PRINT_FLAGS(out, a[2], prot_flags, "PROT_NONE");
	if (ev->nr == __NR_pkey_mprotect)
		fprintf(out, ", %d", (int)a[3]);
}

void sys_print_madvise(const struct event *ev, FILE *out)
{
	unsigned advice = (unsigned)ev->args[2];

	sys_print_range(out, ev->args);
	if (advice < ARRAY_SIZE(madv_names) && madv_names[advice])
		fprintf(out, ", %s", madv_names[advice]);
	else
		fprintf(out, ", %#x", advice);
}

void sys_print_mlock2(const struct event *ev, FILE *out)
{
	sys_print_range(out, ev->args);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)ev->args[2], mlock2_flags, "0");
}

void sys_print_mlockall(const struct event *ev, FILE *out)
{
	PRINT_FLAGS(out, (unsigned)ev->args[0], mlockall_flags, "0");
}

void sys_print_mseal(const struct event *ev, FILE *out)
{
	sys_print_range(out, ev->args);
	fprintf(out, ", %#" PRIx64, ev->args[2]);
}

void sys_print_shmat(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	fprintf(out, "%d", (int)a[0]);
	if (ev->path)
		print_path_tag(out, ev->path);
	fputs(", ", out);
	sys_print_addr(out, a[1]);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)a[2], shm_flags, "0");
}

void sys_print_prctl(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	if ((int)a[0] != PR_SET_VMA) {
		sys_print_raw_args(ev, 5, ARG(0), out);
		return;
	}
	fputs("PR_SET_VMA, ", out);
	if (a[1] != PR_SET_VMA_ANON_NAME) {
		fprintf(out, "%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ", %#" PRIx64, a[1], a[2],
			a[3], a[4]);
		return;
	}
	fputs("PR_SET_VMA_ANON_NAME, ", out);
	sys_print_range(out, a + 2);
	fputs(", ", out);
	/* The name is in tracee memory; the daemon may have copied it into ev->path. */
	if (ev->path && a[4])
		stresc_print_quoted(out, ev->path);
	else
		sys_print_addr(out, a[4]);
}

/* ---- effects ------------------------------------------------------------------------- */

static uint64_t page_align(uint64_t x)
{
	return (x + MM_PAGE_SIZE - 1) & ~(MM_PAGE_SIZE - 1);
}

/* The call's result is there: neither an error nor unknown (its task died inside it). */
static bool succeeded(const struct event *ev)
{
	return !event_is_error(ev) && ev->ret != EVENT_RET_UNFINISHED;
}

/* An unfinished call could have changed (addr, len)'s pages only. */
static void unfinished_range(struct sysent_effects *e, const uint64_t *a)
{
	e->unfinished = (struct sys_range){ a[0] & ~(MM_PAGE_SIZE - 1), page_align(a[0] + a[1]) };
	e->unfinished_all = false;
}

/*
 * mprotect, pkey_mprotect, madvise, mlock, mlock2, munlock, mseal: (addr, len, ...) names
 * the pages they change, done or not, finished or not.
 */
void sys_effects_range(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;

	e->touched[0] = (struct sys_range){ a[0], a[0] + page_align(a[1]) };
	unfinished_range(e, a);
}

void sys_effects_munmap(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	sys_effects_range(ev, shm_size, e);
	e->has_frees = ev->ret == 0;
	e->frees = e->touched[0];
}

/*
 * brk, mlockall, munlockall, mbind, io_setup, io_destroy, map_shadow_stack,
 * remap_file_pages: the VMAs they change are the model's to find (or the kernel's to say);
 * their arguments name none, and an unfinished one may have changed anything.
 */
void sys_effects_whole(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	e->unfinished_all = true;
}

void sys_effects_mmap(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;
	uint64_t ret = (uint64_t)ev->ret, flags = a[3], type = flags & MAP_TYPE;
	bool anon = flags & MAP_ANONYMOUS;

	/* MAP_FIXED: there, replacing whatever was; else where it would have gone, nobody knows */
	if (flags & MAP_FIXED)
		unfinished_range(e, a);
	else
		e->unfinished_all = true;
	if (!succeeded(ev))
		return;
	e->touched[0] = (struct sys_range){ ret, ret + page_align(a[1]) };
	e->has_needs_free = !(flags & MAP_FIXED);
	e->needs_free = e->touched[0];
	/* shared anonymous memory is a shmem file too ("/dev/zero (deleted)") */
	e->result_file = type != MAP_PRIVATE || (!anon && (int)a[4] >= 0);
	e->result_anon = anon;
	if (!anon && type != MAP_PRIVATE && (int)a[4] >= 0)
		e->shared_fd = (int)a[4];
}

/*
 * mremap(old, old_len, new_len, flags, new): the old range, and the new one where it
 * went. Grown in place, the pages past the old end were free; moved, the old range is
 * unmapped; shrunk in place, its tail is.
 */
void sys_effects_mremap(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;
	uint64_t ret = (uint64_t)ev->ret, old_end = a[0] + page_align(a[1]);

	e->touched[1] = (struct sys_range){ a[0], old_end };
	e->unfinished_all = true;
	if (!succeeded(ev))
		return;
	e->touched[0] = (struct sys_range){ ret, ret + a[2] };
	if (ret == a[0]) {
		e->needs_free = (struct sys_range){ ret + page_align(a[1]), ret + page_align(a[2]) };
		e->has_needs_free = !(a[3] & MREMAP_FIXED) && e->needs_free.hi > e->needs_free.lo;
		e->frees = (struct sys_range){ a[0] + page_align(a[2]), old_end };
		e->has_frees = a[2] < a[1];
	} else {
		e->needs_free = (struct sys_range){ ret, ret + page_align(a[2]) };
		e->has_needs_free = !(a[3] & MREMAP_FIXED);
		e->frees = e->touched[1];
		e->has_frees = true;
	}
}

/*
 * shmat(id, addr, flags) maps the whole segment at its result: @shm_size, once the daemon
 * has read it (result_size). SHM_REMAP at a given address replaces what was there.
 */
void sys_effects_shmat(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;
	uint64_t ret = (uint64_t)ev->ret;

	e->unfinished_all = true;
	if (!succeeded(ev))
		return;
	e->has_needs_free = shm_size && !(a[1] && (a[2] & SHM_REMAP));
	e->needs_free = (struct sys_range){ ret, ret + shm_size };
	e->result_file = true;
	e->result_size = true;
}

/* shmdt(addr) unmaps the segment attached at addr: every fragment of it from addr on. */
void sys_effects_shmdt(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;

	e->touched[0] = (struct sys_range){ a[0], a[0] + MM_PAGE_SIZE };
	e->unfinished_all = true;
	e->has_frees = ev->ret == 0;
	e->frees = (struct sys_range){ a[0], UINT64_MAX };
}

/* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): the named pages. */
void sys_effects_prctl(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	const uint64_t *a = ev->args;

	e->touched[0] = (struct sys_range){ a[2], a[2] + page_align(a[3]) };
	e->unfinished_all = true;
}
