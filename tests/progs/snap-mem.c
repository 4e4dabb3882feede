// SPDX-License-Identifier: MIT
/*
 * snap-mem: a tracee that changes its address space in every way the model must follow and,
 * after each change, takes a snapshot of its own /proc/self/maps, so that a test can compare
 * the replayed map (`vmatrace maps --at`) with what the kernel showed, byte for byte.
 *
 * A snapshot is: read /proc/self/maps with raw open/read into a static buffer (no malloc and
 * no stdio stream anywhere in the program, only snprintf into static buffers: either could
 * brk or mmap), then the marker
 * madvise(NULL, 0, MADV_NORMAL), a recorded no-op that returns 0. The map after the marker
 * event is the map the program read. Every memory call goes through syscall(2), so that
 * nothing but the listed calls happens between two snapshots.
 *
 * Pages are written in some regions and not in others on purpose: the kernel merges an
 * anonymous VMA that was never written (no anon_vma) where it would not merge a written one.
 * The steps come in groups (anon, file, MAP_FIXED, growsdown and shared anon, mremap, brk,
 * mprotect, madvise, a pair of VMAs that cannot merge, mlock, SysV, anon names, mseal); each
 * group unmaps what it mapped at its end and snapshots, so that a divergence in one group
 * does not run on into the next. mseal comes last: sealed VMAs stay to the end.
 *
 * At the end the snapshots are written to DIR/snap-<pid>-mem.out, each as
 *
 *   SNAP <pid> <tid> <index> <length> <label> <results>\n<length bytes of /proc/self/maps>
 *
 * where <index> counts this process's markers from 0, <label> names the step and <results>
 * lists the raw kernel results (address, 0 or -errno) of the calls since the last snapshot,
 * comma-separated. Calls may fail where the kernel or the limits say so (pkey_mprotect
 * without protection keys, mseal before 6.10, mlock over RLIMIT_MEMLOCK): the map the kernel
 * shows is what counts, whatever it is.
 *
 * Usage: snap-mem DIR      (DIR: an existing directory for the temp file and the output)
 * Exit 0; 1 if a call that cannot fail failed or a snapshot could not be taken; 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif

#include "snap.h"
/* ---- helpers ------------------------------------------------------------------------- */

static long pg;

static long mmap_(long addr, long len, long prot, long flags, long fd, long off)
{
	return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

/* Write one byte in each of @n pages from @addr (the pages get an anon_vma). */
static void touch(long addr, long n)
{
	for (long i = 0; i < n; i++)
		((volatile char *)addr)[i * pg] = 1;
}

/* Read one byte of each page (the zero page: no anon_vma). */
static void peek(long addr, long n)
{
	for (long i = 0; i < n; i++)
		(void)((volatile char *)addr)[i * pg];
}

/*
 * Each group of steps ends by unmapping every range it mapped (keep() lists them) and a
 * snapshot, so that a divergence in one group does not carry over into the next.
 */
static struct {
	long addr, len;
} kept[64];
static int n_kept;

static long keep(long addr, long len)
{
	if (addr > 0 && n_kept < (int)(sizeof(kept) / sizeof(kept[0]))) {
		kept[n_kept].addr = addr;
		kept[n_kept].len = len;
		n_kept++;
	}
	return addr;
}

static void cleanup(const char *label)
{
	for (int i = 0; i < n_kept; i++)
		call("munmap", syscall(SYS_munmap, kept[i].addr, kept[i].len), 1);
	n_kept = 0;
	snapshot(label);
}

static long map(long addr, long len, long prot, long flags, long fd, long off)
{
	long r = call("mmap", mmap_(addr, len, prot, flags, fd, off), 1);
	return keep(r, len);
}

static long reserve(long npages)
{
	return keep(call("reserve", mmap_(0, npages * pg, PROT_NONE, ANON, -1, 0), 1), npages * pg);
}

/* ---- the steps ----------------------------------------------------------------------- */

static int file_fd_rw = -1, file_fd_ro = -1;

static void anon_steps(void)
{
	long a1 = map(0, 4 * pg, RW, ANON, -1, 0);
	snapshot("anon-mmap-untouched");

	/* Placed just below a1 (top-down): merges with it; then a1 gets written. */
	map(0, 4 * pg, RW, ANON, -1, 0);
	if (a1 > 0)
		touch(a1, 1);
	snapshot("anon-mmap-adjacent");

	long a3 = map(0, 2 * pg, PROT_READ, ANON, -1, 0);
	if (a3 > 0)
		peek(a3, 2);
	snapshot("anon-mmap-readonly-read");

	map(0, 4 * pg, RW, ANON | MAP_POPULATE, -1, 0);
	snapshot("anon-mmap-populate");

	/* Two written VMAs with their own anon_vma, then an unwritten page between them: the
	 * new page merges with one neighbour, not both. */
	long r = reserve(24);
	if (r > 0) {
		map(r + 2 * pg, 3 * pg, RW, ANON | MAP_FIXED, -1, 0);
		map(r + 6 * pg, 3 * pg, RW, ANON | MAP_FIXED, -1, 0);
		touch(r + 2 * pg, 3);
		touch(r + 6 * pg, 3);
		snapshot("anon-two-written");
		map(r + 5 * pg, pg, RW, ANON | MAP_FIXED, -1, 0);
		snapshot("anon-fill-between-written");
		/* The same, between two unwritten VMAs: all three merge. */
		map(r + 10 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		map(r + 13 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		snapshot("anon-two-unwritten");
		map(r + 12 * pg, pg, RW, ANON | MAP_FIXED, -1, 0);
		snapshot("anon-fill-between-unwritten");
		/* A hole punched in one written VMA and filled again: both sides are one anon_vma,
		 * so all three merge. */
		map(r + 16 * pg, 6 * pg, RW, ANON | MAP_FIXED, -1, 0);
		touch(r + 16 * pg, 6);
		call("munmap", syscall(SYS_munmap, r + 18 * pg, 2 * pg), 1);
		snapshot("anon-hole-in-written");
		map(r + 18 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		snapshot("anon-hole-refilled");
	}
	cleanup("anon-cleanup");
}

static void make_file(void)
{
	char path[4096], page[4096];

	snprintf(path, sizeof(path), "%s/snap-mem.data", out_dir);
	file_fd_rw = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	file_fd_ro = open(path, O_RDONLY | O_CLOEXEC);
	if (file_fd_rw < 0 || file_fd_ro < 0) {
		failed = 1;
		return;
	}
	for (int i = 0; i < 16; i++) {
		memset(page, 'a' + i, sizeof(page));
		for (long off = 0; off < pg; off += (long)sizeof(page))
			if (write(file_fd_rw, page, sizeof(page)) != (ssize_t)sizeof(page))
				failed = 1;
	}
}

static void file_steps(void)
{
	long fd = file_fd_rw;

	map(0, 4 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	snapshot("file-private-ro");

	long fs = map(0, 4 * pg, RW, MAP_SHARED, fd, 4 * pg);
	if (fs > 0)
		touch(fs, 1);
	snapshot("file-shared-rw");

	long fp = map(0, 4 * pg, RW, MAP_PRIVATE, fd, 8 * pg);
	if (fp > 0)
		touch(fp + pg, 1); /* copy on write: an anonymous page in a file VMA */
	snapshot("file-private-rw-cow");

	/* MAP_SHARED of a read-only fd: r--s, and mprotect(PROT_WRITE) is refused. */
	long fro = map(0, 2 * pg, PROT_READ, MAP_SHARED, file_fd_ro, 0);
	if (fro > 0)
		call("mprotect", syscall(SYS_mprotect, fro, 2 * pg, (long)RW), 0);
	snapshot("file-shared-rdonly-fd");

	/* File pieces that continue each other's offsets merge; a jump in offset does not. */
	long x = reserve(10);
	if (x > 0) {
		map(x, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
		map(x + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * pg);
		map(x + 4 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 8 * pg);
		map(x + 6 * pg, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 10 * pg);
		map(x + 8 * pg, 2 * pg, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 12 * pg);
		snapshot("file-fixed-pieces");
	}

	/* Same file, contiguous offsets, but another open file (another fd from open()): the
	 * kernel merges only mappings of the same struct file. A dup()ed fd is the same one. */
	long y = reserve(8);
	if (y > 0) {
		map(y, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
		map(y + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, (long)file_fd_ro,
		    2 * pg);
		snapshot("file-two-open-files");
		int dfd = dup(file_fd_ro);
		map(y + 4 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, (long)dfd, 4 * pg);
		close(dfd);
		snapshot("file-dup-fd");
	}

	/* A hole punched in a file mapping and filled again: with the matching offset the three
	 * pieces merge back into one; with another offset they do not. */
	long h = map(0, 6 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
	if (h > 0) {
		call("munmap", syscall(SYS_munmap, h + 2 * pg, 2 * pg), 1);
		snapshot("file-hole");
		map(h + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 2 * pg);
		snapshot("file-hole-refilled");
		map(h + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 8 * pg);
		snapshot("file-hole-other-offset");
	}
	cleanup("file-cleanup");
}

/* MAP_FIXED over parts of several VMAs, MAP_FIXED_NOREPLACE, munmap across several. */
static void fixed_steps(void)
{
	long fd = file_fd_rw;
	long r = reserve(48);

	if (r <= 0)
		return;
	map(r + 2 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(r + 2 * pg, 4);
	map(r + 6 * pg, 4 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	map(r + 10 * pg, 4 * pg, PROT_READ, ANON | MAP_FIXED, -1, 0);
	map(r + 14 * pg, 4 * pg, RW, MAP_SHARED | MAP_FIXED, fd, 4 * pg);
	map(r + 20 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
	map(r + 26 * pg, 6 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(r + 26 * pg, 6);
	snapshot("fixed-setup");

	/* Over the end of the written anon, all of the file, the start of the read-only anon. */
	map(r + 4 * pg, 8 * pg, RW, ANON | MAP_FIXED, -1, 0);
	snapshot("fixed-over-three");

	/* A private file mapping over the end of the read-only anon and the shared file start. */
	map(r + 13 * pg, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, pg);
	snapshot("fixed-file-over-two");

	/* Unwritten anon inside unwritten anon, and inside written anon: one VMA each time. */
	map(r + 21 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
	snapshot("fixed-anon-inside-unwritten-anon");
	map(r + 28 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
	snapshot("fixed-anon-inside-written-anon");

	call("mmap", mmap_(r + 2 * pg, pg, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), 0);
	call("mmap", mmap_(r + 19 * pg, 2 * pg, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0), 0);
	snapshot("fixed-noreplace-eexist");

	/* Partial ends: from inside the merged anon to inside the shared file piece. */
	call("munmap", syscall(SYS_munmap, r + 3 * pg, 14 * pg), 1);
	snapshot("munmap-across-several");
	call("munmap", syscall(SYS_munmap, r + 4 * pg, 2 * pg), 1); /* nothing there */
	call("munmap", syscall(SYS_munmap, r + 20 * pg + 1, pg), 0); /* EINVAL */
	snapshot("munmap-hole-and-einval");
	/* A length that is not a multiple of the page size covers the last page too. */
	call("munmap", syscall(SYS_munmap, r + 30 * pg, pg + 1), 1);
	call("mprotect", syscall(SYS_mprotect, r + 26 * pg, pg + 1, (long)PROT_READ), 1);
	snapshot("munmap-mprotect-unaligned-length");
	/* The middle of one VMA: two remain. */
	call("munmap", syscall(SYS_munmap, r + 21 * pg, pg), 1);
	snapshot("munmap-middle");
	cleanup("fixed-cleanup");
}

static void growsdown_shared_steps(void)
{
	long g = map(0, 4 * pg, RW, ANON | MAP_GROWSDOWN, -1, 0);
	if (g > 0)
		touch(g + 3 * pg, 1);
	snapshot("growsdown");

	long sa = map(0, 4 * pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sa > 0)
		touch(sa, 2);
	map(0, 2 * pg, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	snapshot("shared-anon");
	if (sa > 0) {
		call("mprotect", syscall(SYS_mprotect, sa + pg, pg, (long)PROT_READ), 1);
		snapshot("shared-anon-split");
		call("mprotect", syscall(SYS_mprotect, sa + pg, pg, (long)RW), 1);
		snapshot("shared-anon-merge");
		/* old_len 0: a second mapping of the same shared object. */
		keep(call("mremap", syscall(SYS_mremap, sa, 0L, 2 * pg, (long)MREMAP_MAYMOVE, 0L), 0),
		     2 * pg);
		snapshot("mremap-oldlen0-duplicate");
	}
	cleanup("growsdown-shared-cleanup");
}

static void mremap_steps(void)
{
	long q = reserve(24);

	if (q <= 0)
		return;
	long m = map(q, 8 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(m, 1);
	call("mremap", syscall(SYS_mremap, m, 8 * pg, 4 * pg, 0L, 0L), 1);
	snapshot("mremap-shrink");
	call("mremap", syscall(SYS_mremap, m, 4 * pg, 6 * pg, 0L, 0L), 1);
	snapshot("mremap-grow-in-place");
	call("mremap", syscall(SYS_mremap, m, 6 * pg, 12 * pg, 0L, 0L), 0); /* ENOMEM */
	snapshot("mremap-grow-blocked");
	keep(call("mremap", syscall(SYS_mremap, m, 6 * pg, 12 * pg, (long)MREMAP_MAYMOVE, 0L), 1),
	     12 * pg);
	snapshot("mremap-maymove");

	/* Growing in place up to a compatible neighbour only expands: no merge with it; a
	 * later mprotect over both merges them (both unwritten). */
	long t = reserve(10);
	if (t > 0) {
		map(t + pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		map(t + 5 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		call("munmap", syscall(SYS_munmap, t + 3 * pg, 2 * pg), 1);
		call("mremap", syscall(SYS_mremap, t + pg, 2 * pg, 4 * pg, 0L, 0L), 1);
		snapshot("mremap-grow-up-to-neighbour");
		call("mprotect", syscall(SYS_mprotect, t + pg, 6 * pg, (long)PROT_READ), 1);
		snapshot("mprotect-after-grow-up-to-neighbour");
	}

	/* MREMAP_FIXED next to a written VMA: an unwritten source merges, a written one not. */
	long p = reserve(40);
	if (p <= 0)
		return;
	long x = map(p + 2 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(x, 4);
	long y = map(p + 10 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
	snapshot("mremap-fixed-setup");
	call("mremap", syscall(SYS_mremap, y, 4 * pg, 4 * pg, (long)(MREMAP_MAYMOVE | MREMAP_FIXED),
			       x + 4 * pg), 1);
	snapshot("mremap-fixed-unwritten-next-to-written");
	long z = map(p + 16 * pg, 4 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(z, 1);
	call("mremap", syscall(SYS_mremap, z, 4 * pg, 4 * pg, (long)(MREMAP_MAYMOVE | MREMAP_FIXED),
			       x + 8 * pg), 1);
	snapshot("mremap-fixed-written-next-to-written");
	/* Both to read-only and back: a moved written VMA keeps its own page offset and still
	 * does not merge. */
	call("mprotect", syscall(SYS_mprotect, x, 12 * pg, (long)PROT_READ), 1);
	snapshot("mprotect-moved-ro");
	call("mprotect", syscall(SYS_mprotect, x, 12 * pg, (long)RW), 1);
	snapshot("mprotect-moved-rw");

	/* Part of a VMA moved out of its middle. */
	call("mremap", syscall(SYS_mremap, x + pg, pg, pg, (long)(MREMAP_MAYMOVE | MREMAP_FIXED),
			       p + 30 * pg), 1);
	snapshot("mremap-partial-move");

	/* DONTUNMAP: the old range stays mapped, empty. */
	long d = map(p + 20 * pg, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(d, 2);
	long d2 = keep(call("mremap", syscall(SYS_mremap, d, 2 * pg, 2 * pg,
					      (long)(MREMAP_MAYMOVE | MREMAP_DONTUNMAP), 0L), 0),
		       2 * pg);
	snapshot("mremap-dontunmap");
	if (d2 > 0)
		call("mremap", syscall(SYS_mremap, d2, 2 * pg, 2 * pg,
				       (long)(MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED),
				       p + 24 * pg), 0);
	snapshot("mremap-dontunmap-fixed");

	/* A file mapping grows by moving; another shrinks. */
	long f = map(0, 2 * pg, PROT_READ, MAP_PRIVATE, (long)file_fd_rw, 0);
	if (f > 0)
		keep(call("mremap", syscall(SYS_mremap, f, 2 * pg, 6 * pg, (long)MREMAP_MAYMOVE, 0L),
			  1), 6 * pg);
	snapshot("mremap-file-move");
	long f2 = map(0, 4 * pg, RW, MAP_SHARED, (long)file_fd_rw, 4 * pg);
	if (f2 > 0)
		call("mremap", syscall(SYS_mremap, f2, 4 * pg, pg, 0L, 0L), 1);
	snapshot("mremap-file-shrink");
	cleanup("mremap-cleanup");
}

static void brk_steps(void)
{
	long b0 = call("brk", syscall(SYS_brk, 0L), 1);
	call("brk", syscall(SYS_brk, b0 + 65536), 1);
	touch(b0, 2);
	snapshot("brk-grow");
	long b = call("brk", syscall(SYS_brk, b0 + 262144 + 100), 1);
	snapshot("brk-grow-unaligned");
	b = call("brk", syscall(SYS_brk, b0 + 32768), 1);
	snapshot("brk-shrink");
	call("brk", syscall(SYS_brk, 4096L), 1); /* below the start: refused */
	snapshot("brk-refused-low");
	long top = (b + pg - 1) & ~(pg - 1);
	long blk = keep(call("mmap", mmap_(top + 16 * pg, pg, PROT_READ,
					   ANON | MAP_FIXED_NOREPLACE, -1, 0), 0), pg);
	call("brk", syscall(SYS_brk, top + 64 * pg), 1); /* over the blocker: refused */
	snapshot("brk-refused-collision");
	/* A mapping that starts right at the break. */
	keep(call("mmap", mmap_(top, pg, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0), 0), pg);
	snapshot("mapping-at-break");
	cleanup("brk-blockers-unmapped");
	call("brk", syscall(SYS_brk, b0), 1);
	snapshot("brk-back-to-start");
	call("brk", syscall(SYS_brk, b0 + 3 * pg), 1);
	snapshot("brk-grow-again");
	(void)blk;
}

static void mprotect_steps(void)
{
	long s = map(0, 6 * pg, RW, ANON, -1, 0);

	if (s <= 0)
		return;
	touch(s, 1);
	call("mprotect", syscall(SYS_mprotect, s + 2 * pg, 2 * pg, (long)PROT_READ), 1);
	snapshot("mprotect-split-three");
	call("mprotect", syscall(SYS_mprotect, s + 2 * pg, 2 * pg, (long)RW), 1);
	snapshot("mprotect-merge-back");
	call("mprotect", syscall(SYS_mprotect, s, pg, (long)PROT_NONE), 1);
	call("mprotect", syscall(SYS_mprotect, s + 5 * pg, pg, (long)(PROT_READ | PROT_EXEC)), 1);
	snapshot("mprotect-ends");
	call("mprotect", syscall(SYS_mprotect, s, 6 * pg, (long)RW), 1);
	snapshot("mprotect-whole");

	/* A file mapping: offsets of the pieces. */
	long f = map(0, 6 * pg, PROT_READ, MAP_PRIVATE, (long)file_fd_rw, 2 * pg);
	if (f > 0) {
		call("mprotect", syscall(SYS_mprotect, f + pg, 3 * pg, (long)RW), 1);
		touch(f + 2 * pg, 1);
		snapshot("mprotect-file-split");
		call("mprotect", syscall(SYS_mprotect, f + pg, 3 * pg, (long)PROT_READ), 1);
		snapshot("mprotect-file-merge");
	}

	/* Read-only after writable: an unwritten private VMA loses VM_ACCOUNT (and then merges
	 * with a read-only neighbour), a written one keeps it (and does not). */
	for (int written = 0; written <= 1; written++) {
		long r = reserve(8);
		if (r <= 0)
			break;
		map(r + pg, 3 * pg, RW, ANON | MAP_FIXED, -1, 0);
		map(r + 4 * pg, 3 * pg, PROT_READ, ANON | MAP_FIXED, -1, 0);
		if (written)
			touch(r + pg, 1);
		call("mprotect", syscall(SYS_mprotect, r + pg, 3 * pg, (long)PROT_READ), 1);
		snapshot(written ? "mprotect-ro-written-next-to-ro" :
				   "mprotect-ro-unwritten-next-to-ro");
	}

	/* pkey_mprotect: pkey 0 (EINVAL without protection keys), then -1 (plain mprotect). */
	call("pkey_mprotect", syscall(SYS_pkey_mprotect, s + pg, pg, (long)PROT_READ, 0L), 0);
	snapshot("pkey-mprotect-0");
	call("pkey_mprotect", syscall(SYS_pkey_mprotect, s + pg, pg, (long)PROT_READ, -1L), 1);
	snapshot("pkey-mprotect-minus1");
	call("pkey_mprotect", syscall(SYS_pkey_mprotect, s + pg, pg, (long)RW, -1L), 1);
	snapshot("pkey-mprotect-back");

	/* Across a hole: the part before it changes, then ENOMEM. */
	long h = map(0, 3 * pg, RW, ANON, -1, 0);
	if (h > 0) {
		call("munmap", syscall(SYS_munmap, h + pg, pg), 1);
		call("mprotect", syscall(SYS_mprotect, h, 3 * pg, (long)PROT_READ), 0);
		snapshot("mprotect-across-hole");
		call("mprotect", syscall(SYS_mprotect, h + pg, 2 * pg, (long)PROT_NONE), 0);
		snapshot("mprotect-from-hole");
	}
	cleanup("mprotect-cleanup");
}

static void madvise_steps(void)
{
	long w = map(0, 6 * pg, RW, ANON, -1, 0);

	if (w > 0) {
		touch(w, 6);
		call("madvise", syscall(SYS_madvise, w + pg, pg, (long)MADV_DONTFORK), 1);
		call("madvise", syscall(SYS_madvise, w + 4 * pg, pg, (long)MADV_WIPEONFORK), 1);
		snapshot("madvise-dontfork-wipeonfork");
		call("madvise", syscall(SYS_madvise, w + pg, pg, (long)MADV_DOFORK), 1);
		call("madvise", syscall(SYS_madvise, w + 4 * pg, pg, (long)MADV_KEEPONFORK), 1);
		snapshot("madvise-dofork-keeponfork");
	}

	/* The other advice that sets or clears a VMA flag, each on the middle page of a
	 * written VMA and back: RANDOM/SEQUENTIAL/NORMAL, DONTDUMP/DODUMP, HUGEPAGE/NOHUGEPAGE
	 * (EINVAL without THP), MERGEABLE/UNMERGEABLE (EINVAL without KSM). */
	static const struct {
		int set, reset;
		const char *label_set, *label_reset;
	} adv[] = {
		{ MADV_RANDOM, MADV_NORMAL, "madvise-random", "madvise-random-normal" },
		{ MADV_SEQUENTIAL, MADV_NORMAL, "madvise-sequential", "madvise-sequential-normal" },
		{ MADV_DONTDUMP, MADV_DODUMP, "madvise-dontdump", "madvise-dodump" },
		{ MADV_HUGEPAGE, MADV_NOHUGEPAGE, "madvise-hugepage", "madvise-nohugepage" },
		{ MADV_MERGEABLE, MADV_UNMERGEABLE, "madvise-mergeable", "madvise-unmergeable" },
	};
	long a = map(0, 3 * pg, RW, ANON, -1, 0);
	if (a > 0) {
		touch(a, 3);
		for (size_t i = 0; i < sizeof(adv) / sizeof(adv[0]); i++) {
			call("madvise", syscall(SYS_madvise, a + pg, pg, (long)adv[i].set), 0);
			snapshot(adv[i].label_set);
			call("madvise", syscall(SYS_madvise, a + pg, pg, (long)adv[i].reset), 0);
			snapshot(adv[i].label_reset);
		}
	}

	/* Across a hole: both mapped parts change, then ENOMEM. */
	long k = map(0, 6 * pg, RW, ANON, -1, 0);
	if (k > 0) {
		call("munmap", syscall(SYS_munmap, k + 2 * pg, pg), 1);
		call("madvise", syscall(SYS_madvise, k + pg, 3 * pg, (long)MADV_DONTFORK), 0);
		snapshot("madvise-across-hole");
	}

	/* WIPEONFORK over [anon | file]: the anon part changes, the file part is refused. */
	long v = reserve(8);
	if (v > 0) {
		map(v, 2 * pg, RW, ANON | MAP_FIXED, -1, 0);
		map(v + 2 * pg, 2 * pg, RW, MAP_PRIVATE | MAP_FIXED, (long)file_fd_rw, 0);
		call("madvise", syscall(SYS_madvise, v + pg, 2 * pg, (long)MADV_WIPEONFORK), 0);
		snapshot("wipeonfork-anon-then-file");
	}
	cleanup("madvise-cleanup");
}

/*
 * Two adjacent written anonymous VMAs with their own anon_vma never merge, whatever flag
 * changes go over both: the model must remember that they cannot, after it learned it.
 */
static void written_pair_steps(void)
{
	long r = reserve(10);

	if (r <= 0)
		return;
	map(r + pg, 3 * pg, RW, ANON | MAP_FIXED, -1, 0);
	map(r + 5 * pg, 3 * pg, RW, ANON | MAP_FIXED, -1, 0);
	touch(r + pg, 3);
	touch(r + 5 * pg, 3);
	map(r + 4 * pg, pg, RW, ANON | MAP_FIXED, -1, 0);
	snapshot("pair-setup");
	long a = r + pg, n = 7 * pg;
	call("mprotect", syscall(SYS_mprotect, a, n, (long)PROT_READ), 1);
	snapshot("pair-mprotect-ro");
	call("mprotect", syscall(SYS_mprotect, a, n, (long)RW), 1);
	snapshot("pair-mprotect-rw");
	call("madvise", syscall(SYS_madvise, a, n, (long)MADV_DONTFORK), 1);
	snapshot("pair-dontfork");
	call("madvise", syscall(SYS_madvise, a, n, (long)MADV_DOFORK), 1);
	snapshot("pair-dofork");
	call("madvise", syscall(SYS_madvise, a, n, (long)MADV_WIPEONFORK), 1);
	call("madvise", syscall(SYS_madvise, a, n, (long)MADV_KEEPONFORK), 1);
	snapshot("pair-wipeonfork-keeponfork");
	call("mlock", syscall(SYS_mlock, a, n), 0);
	snapshot("pair-mlock");
	call("munlock", syscall(SYS_munlock, a, n), 0);
	snapshot("pair-munlock");
	call("mlockall", syscall(SYS_mlockall, (long)(MCL_CURRENT | MCL_ONFAULT)), 0);
	snapshot("pair-mlockall");
	call("munlockall", syscall(SYS_munlockall), 0);
	snapshot("pair-munlockall");
	call("pkey_mprotect", syscall(SYS_pkey_mprotect, a, n, (long)PROT_READ, -1L), 1);
	call("pkey_mprotect", syscall(SYS_pkey_mprotect, a, n, (long)RW, -1L), 1);
	snapshot("pair-pkey-mprotect");
	cleanup("pair-cleanup");
}

static void mlock_steps(void)
{
	long l = map(0, 6 * pg, RW, ANON, -1, 0);

	if (l <= 0)
		return;
	call("mlock", syscall(SYS_mlock, l + pg, 2 * pg), 0);
	snapshot("mlock-split");
	call("munlock", syscall(SYS_munlock, l + pg, 2 * pg), 0);
	snapshot("munlock-merge");
	call("mlock2", syscall(SYS_mlock2, l + 2 * pg, 2 * pg, (long)MLOCK_ONFAULT), 0);
	snapshot("mlock2-onfault");
	call("munlock", syscall(SYS_munlock, l, 6 * pg), 0);
	snapshot("munlock-all-of-it");
	call("mlockall", syscall(SYS_mlockall, (long)(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)), 0);
	snapshot("mlockall-onfault");
	map(0, 2 * pg, RW, ANON, -1, 0);
	snapshot("mmap-under-mcl-future");
	call("munlockall", syscall(SYS_munlockall), 0);
	snapshot("munlockall");
	/* mlock of inaccessible memory: no pages, but the flag splits the VMA. */
	long r = reserve(4);
	if (r > 0) {
		call("mlock", syscall(SYS_mlock, r + pg, pg), 0);
		snapshot("mlock-prot-none");
		call("munlock", syscall(SYS_munlock, r + pg, pg), 0);
		snapshot("munlock-prot-none");
	}
	cleanup("mlock-cleanup");
}

static void sysv_steps(void)
{
	int id = (int)shmget(IPC_PRIVATE, 3 * (size_t)pg, IPC_CREAT | 0600);

	if (id < 0) {
		note_add("shmget=%d,", -errno);
		snapshot("shmget-failed");
		return;
	}
	long s1 = call("shmat", syscall(SYS_shmat, (long)id, 0L, 0L), 1);
	/* Removed once attached, so that it cannot outlive us: Linux still lets us attach it
	 * again (the key is IPC_PRIVATE either way: "/SYSV00000000 (deleted)"). */
	shmctl(id, IPC_RMID, NULL);
	if (s1 > 0)
		touch(s1, 3);
	snapshot("shmat");
	long s2 = call("shmat", syscall(SYS_shmat, (long)id, 0L, (long)SHM_RDONLY), 1);
	snapshot("shmat-rdonly");
	long w = reserve(8);
	long s3 = -1;
	if (w > 0) {
		call("shmat", syscall(SYS_shmat, (long)id, w + 2 * pg, 0L), 0); /* EINVAL */
		s3 = call("shmat", syscall(SYS_shmat, (long)id, w + 2 * pg, (long)SHM_REMAP), 1);
	}
	snapshot("shmat-remap");
	/* The attach address itself unmapped (while the removed segment is still attached
	 * elsewhere): shmdt finds the segment from the first VMA at or after it (ksys_shmdt)
	 * and removes the remaining fragment. */
	long s4 = call("shmat", syscall(SYS_shmat, (long)id, 0L, 0L), 1);
	if (s4 > 0) {
		call("munmap", syscall(SYS_munmap, s4, pg), 1);
		snapshot("shm-munmap-first");
		call("shmdt", syscall(SYS_shmdt, s4), 1);
		snapshot("shmdt-fragment");
	}
	if (s1 > 0) {
		call("munmap", syscall(SYS_munmap, s1 + pg, pg), 1);
		snapshot("shm-munmap-middle");
		call("shmdt", syscall(SYS_shmdt, s1), 1); /* takes both remaining pieces */
		snapshot("shmdt-split-attach");
	}
	if (s2 > 0)
		call("shmdt", syscall(SYS_shmdt, s2), 1);
	if (s3 > 0)
		call("shmdt", syscall(SYS_shmdt, s3), 1);
	call("shmdt", syscall(SYS_shmdt, s2), 0); /* EINVAL: nothing attached there */
	snapshot("shmdt");
	cleanup("sysv-cleanup");
}

static void name_steps(void)
{
	long n = map(0, 4 * pg, RW, ANON, -1, 0);

	if (n <= 0)
		return;
	call("prctl", syscall(SYS_prctl, (long)PR_SET_VMA, (long)PR_SET_VMA_ANON_NAME, n + pg,
			      2 * pg, (long)"snap-a"), 0);
	snapshot("anon-name-split");
	call("prctl", syscall(SYS_prctl, (long)PR_SET_VMA, (long)PR_SET_VMA_ANON_NAME, n, pg,
			      (long)"snap-a"), 0);
	snapshot("anon-name-merge");
	call("prctl", syscall(SYS_prctl, (long)PR_SET_VMA, (long)PR_SET_VMA_ANON_NAME, n,
			      4 * pg, 0L), 0);
	snapshot("anon-name-cleared");
	cleanup("name-cleanup");
}

/* Last: sealed VMAs stay to the end of the process. */
static void mseal_steps(void)
{
	long e = call("mmap", mmap_(0, 6 * pg, RW, ANON, -1, 0), 1);

	if (e <= 0)
		return;
	touch(e, 6);
	call("mseal", syscall(SYS_mseal, e + 2 * pg, pg, 0L), 0);
	snapshot("mseal");
	/* The unsealed page before the sealed one may change before EPERM. */
	call("mprotect", syscall(SYS_mprotect, e + pg, 2 * pg, (long)PROT_READ), 0);
	snapshot("mprotect-into-sealed");
	call("mprotect", syscall(SYS_mprotect, e, 2 * pg, (long)RW), 0);
	snapshot("mprotect-before-sealed");
	/* munmap from the middle of an unsealed VMA into the sealed one. */
	call("munmap", syscall(SYS_munmap, e + pg, 2 * pg), 0);
	snapshot("munmap-into-sealed");
	call("mremap", syscall(SYS_mremap, e + 2 * pg, pg, 2 * pg, (long)MREMAP_MAYMOVE, 0L), 0);
	snapshot("mremap-sealed");
	/* Unmapping the unsealed parts works. */
	call("munmap", syscall(SYS_munmap, e, 2 * pg), 0);
	call("munmap", syscall(SYS_munmap, e + 3 * pg, 3 * pg), 0);
	snapshot("munmap-around-sealed");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		static const char usage[] = "usage: snap-mem DIR\n";
		(void)!write(2, usage, sizeof(usage) - 1);
		return 2;
	}
	out_dir = argv[1];
	pg = sysconf(_SC_PAGESIZE);
	make_file();

	snapshot("start");
	anon_steps();
	file_steps();
	fixed_steps();
	growsdown_shared_steps();
	mremap_steps();
	brk_steps();
	mprotect_steps();
	madvise_steps();
	written_pair_steps();
	mlock_steps();
	sysv_steps();
	name_steps();
	mseal_steps();
	snapshot("end");

	write_snaps("mem");
	char path[4096];
	snprintf(path, sizeof(path), "%s/snap-mem.data", out_dir);
	unlink(path);
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "snap-mem pid=%d snapshots=%d failed=%d\n",
			 (int)getpid(), snap_idx, failed);
	(void)!write(1, msg, (size_t)n);
	return failed;
}
