// SPDX-License-Identifier: MIT
/*
 * stackloop PAIRS - PAIRS times: mmap an anonymous page and munmap it, from a call chain
 * 10 frames deep (stack_level 10 -> 9 -> ... -> 1 -> mmap), so that a stack-recording
 * tracer unwinds 10 frames of ours plus libc's at every event. 2 recorded events per pair.
 * The benchmark for `vmatrace run --stacks` against `strace -k`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define DEPTH 10

/* noinline and an empty asm after the call: a real frame at every level (no tail call). */
__attribute__((noinline)) static int stack_level(int depth)
{
	int r;

	if (depth > 1) {
		r = stack_level(depth - 1);
	} else {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		r = p == MAP_FAILED || munmap(p, 4096) != 0;
	}
	__asm__ volatile("" ::: "memory");
	return r;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;

	for (long i = 0; i < pairs; i++) {
		if (stack_level(DEPTH)) {
			perror("stackloop");
			return 1;
		}
	}
	printf("stackloop: %ld pairs, %ld events\n", pairs, 2 * pairs);
	return 0;
}
