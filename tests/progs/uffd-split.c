// SPDX-License-Identifier: MIT
/*
 * uffd-split: a change to the map that no recorded syscall makes. UFFDIO_REGISTER (an
 * ioctl) on one page of an anonymous region splits its VMA in three; the model cannot
 * know, so `run --verify` must report it (tests/cli/test-verify.py: --verify-all prints
 * each divergence, the DB's divergence table holds them). Three registrations, each
 * followed by an mprotect pair elsewhere in the region (events to check after).
 * Exits 0 after printing "registered 3", or 77 when userfaultfd is not available.
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 8 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API };

	if (p == MAP_FAILED)
		return 1;
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0)
		return 77;
	for (int i = 0; i < 3; i++) {
		struct uffdio_register reg = {
			.range = { .start = (unsigned long)(p + (1 + 2 * i) * pg), .len = (unsigned long)pg },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};
		if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
			return 77;
		mprotect(p + 7 * pg, (size_t)pg, PROT_READ);
		mprotect(p + 7 * pg, (size_t)pg, PROT_READ | PROT_WRITE);
	}
	printf("registered 3\n");
	return 0;
}
