// SPDX-License-Identifier: MIT
/*
 * memops: a tracee that makes one known call of each memory syscall family and prints, in
 * order, one line per call:
 *
 *   EV <syscall name> <raw kernel result as signed decimal: address, 0, or -errno>
 *
 * The calls sit between two markers, madvise(NULL, 0, MADV_NORMAL) (a recorded no-op that
 * returns 0), so that a test can cut the libc start-up and exit out of the trace and compare
 * what is left with this list, exactly. Every call goes through syscall(2), so that the
 * printed result is the kernel's, not a libc wrapper's, and nothing but the listed calls
 * happens in the window: the lines are formatted with snprintf into a static buffer (no
 * stdio buffer, no malloc, hence no brk or mmap of our own) and written once at the end.
 *
 * Usage: memops            (no arguments; exit 0, or 1 if a call that cannot fail failed)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracee.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static int failed;

/* The raw kernel result of a syscall() call: the value, or -errno. */
static long raw(long r)
{
	return r == -1 ? -errno : r;
}

/* Record one call: its line, and whether it met the expectation (@want_ok: must succeed). */
static long ev(const char *name, long r, int want_ok)
{
	r = raw(r);
	out("EV %s %ld\n", name, r);
	if (want_ok && r < 0 && r >= -4095)
		failed = 1;
	return r;
}

int main(void)
{
	const long pg = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		out("cannot open /proc/self/exe: %s\n", strerror(errno));
		out_flush();
		return 1;
	}

	marker();

	/* Anonymous, 4 pages, then a private read-only map of our own binary. */
	long a = ev("mmap", syscall(SYS_mmap, 0L, 4 * pg, (long)(PROT_READ | PROT_WRITE),
				    (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L), 1);
	long f = ev("mmap", syscall(SYS_mmap, 0L, pg, (long)PROT_READ, (long)MAP_PRIVATE,
				    (long)fd, 0L), 1);
	if (a < 0 || f < 0)
		goto out;
	((volatile char *)a)[0] = 1; /* touched: the kernel may not merge it after a move */

	/* Split: the middle page read-only; then back, which merges the three VMAs again. */
	ev("mprotect", syscall(SYS_mprotect, a + pg, pg, (long)PROT_READ), 1);
	ev("mprotect", syscall(SYS_mprotect, a + pg, pg, (long)(PROT_READ | PROT_WRITE)), 1);

	/* Grow (moving if it must: mremap needs one VMA, hence the merge), then shrink. */
	long m = ev("mremap", syscall(SYS_mremap, a, 4 * pg, 16 * pg, (long)MREMAP_MAYMOVE, 0L), 1);
	if (m < 0)
		goto out;
	ev("mremap", syscall(SYS_mremap, m, 16 * pg, 8 * pg, 0L, 0L), 1);

	/* Unmap the last 2 of the 8 pages. */
	ev("munmap", syscall(SYS_munmap, m + 6 * pg, 2 * pg), 1);

	/* DONTFORK on the first page: splits the VMA. */
	ev("madvise", syscall(SYS_madvise, m, pg, (long)MADV_DONTFORK), 1);

	/* mlock may fail (RLIMIT_MEMLOCK): the real result is printed either way. */
	ev("mlock", syscall(SYS_mlock, m, pg), 0);
	ev("munlock", syscall(SYS_munlock, m, pg), 0);

	/* brk: query, grow by 64 KiB, back. */
	long b0 = ev("brk", syscall(SYS_brk, 0L), 1);
	ev("brk", syscall(SYS_brk, b0 + 65536), 1);
	ev("brk", syscall(SYS_brk, b0), 1);

	/* Failures: an unaligned munmap (EINVAL), MAP_FIXED_NOREPLACE over a mapping (EEXIST). */
	ev("munmap", syscall(SYS_munmap, m + 1, pg), 0);
	ev("mmap", syscall(SYS_mmap, m, pg, (long)(PROT_READ | PROT_WRITE),
			   (long)(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE), -1L, 0L), 0);

	/* An anonymous VMA name (Linux 5.17 with CONFIG_ANON_VMA_NAME; else EINVAL). */
	ev("prctl", syscall(SYS_prctl, (long)PR_SET_VMA, (long)PR_SET_VMA_ANON_NAME, m + 2 * pg,
			    pg, (long)"vt-anon"), 0);

	ev("munmap", syscall(SYS_munmap, f, pg), 1);
	ev("munmap", syscall(SYS_munmap, m, 6 * pg), 1);
out:
	marker();
	close(fd);
	out_flush();
	return failed;
}
