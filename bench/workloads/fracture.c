// SPDX-License-Identifier: MIT
/*
 * fracture: one big anonymous region cut into N VMAs (every other page made read-only,
 * one mprotect each), then ROUNDS mprotect toggles of pages spread over it. The
 * address space has N + a few dozen VMAs; run --verify must not cost a whole
 * /proc/PID/maps read per event there (bench/run --verify).
 *
 * Usage: fracture [N [ROUNDS]]     (defaults 32000, 10000: 64,000 VMAs, under the default vm.max_map_count of 65530)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 32000, rounds = argc > 2 ? atol(argv[2]) : 10000;
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)(2 * n) * (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED || n < 1)
		return 1;
	for (long i = 0; i < n; i++)
		if (mprotect(p + 2 * i * pg, (size_t)pg, PROT_READ))
			return 1;
	for (long r = 0; r < rounds; r++) {
		char *q = p + 2 * ((r * 7919) % n) * pg;
		if (mprotect(q, (size_t)pg, r & 1 ? PROT_READ : PROT_NONE))
			return 1;
	}
	printf("fracture: %ld VMAs, %ld toggles\n", 2 * n, rounds);
	return 0;
}
