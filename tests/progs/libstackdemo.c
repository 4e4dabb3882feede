// SPDX-License-Identifier: MIT
/*
 * The shared library of tests/progs/stacks.c: a call chain with distinctive names that
 * maps memory, so that the recorded stack must cross into a library and name its
 * functions from that library's own symbols. noinline plus an empty asm after each call
 * keeps every frame (no inlining, no tail call) at any optimisation level.
 */
#include <sys/mman.h>

#include "libstackdemo.h"

__attribute__((noinline)) static void *vtlib_deep_two(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__asm__ volatile("" ::: "memory");
	if (p != MAP_FAILED)
		munmap(p, len);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *vtlib_deep_one(size_t len)
{
	void *p = vtlib_deep_two(len);
	__asm__ volatile("" ::: "memory");
	return p;
}
