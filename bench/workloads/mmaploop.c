// SPDX-License-Identifier: MIT
/*
 * mmaploop PAIRS [PAGES] - PAIRS times: mmap an anonymous private read-write area of PAGES
 * pages (default 4), mprotect it read-only every tenth time, munmap.
 *
 * Every syscall here is one vmatrace records: 2.1 recorded events per pair (plus process
 * start-up), so the traced-minus-native time divided by the events is the tracer's
 * per-event cost.  The pages are never touched: a page fault costs ≈ 13 µs on the 2-vCPU
 * VM this was written on, more than the two syscalls, and would only dilute the ratios.
 * At the end it prints "mmaploop: pid P addr A events E" on stdout:
 * A is the address the kernel handed out most recently (nearly always the same one), for
 * `vmatrace history A` on the resulting trace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	long pages = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
	size_t len = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
	long events = 0;
	void *p = NULL;

	for (long i = 0; i < pairs; i++) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmaploop: mmap");
			return 1;
		}
		events++;
		if (i % 10 == 0) {
			if (mprotect(p, len, PROT_READ) < 0) {
				perror("mmaploop: mprotect");
				return 1;
			}
			events++;
		}
		if (munmap(p, len) < 0) {
			perror("mmaploop: munmap");
			return 1;
		}
		events++;
	}
	printf("mmaploop: pid %d addr %p events %ld\n", (int)getpid(), p, events);
	return 0;
}
