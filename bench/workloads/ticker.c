// SPDX-License-Identifier: MIT
/*
 * ticker SECONDS [STOPFILE] - a small traced program that measures how long its tracer holds it: for
 * SECONDS, call a recorded syscall (munmap of a page that is not mapped: an event for
 * vmatrace, no change to the map) as fast as it returns, and time each call. A call takes
 * a few tens of µs under vmatrace; one that takes milliseconds is a stop the daemon left
 * waiting while it did something else (bench/end-stall: another trace's end). It ends
 * after SECONDS, or sooner once STOPFILE exists (looked for every 256 calls). At the end
 * it prints, on stdout, one line "stall T_NS GAP_NS" for every call of 2 ms or more (T_NS:
 * CLOCK_MONOTONIC when it returned) and then "calls N max_ns M".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_STALLS 4096
#define STALL_NS 2000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static uint64_t at[MAX_STALLS], gap[MAX_STALLS];
	double secs = argc > 1 ? strtod(argv[1], NULL) : 10;
	long page = sysconf(_SC_PAGESIZE);
	/* A page we reserve and give back: its address is mapped by nobody afterwards. */
	void *hole = mmap(NULL, (size_t)page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t start = mono_ns(), end = start + (uint64_t)(secs * 1e9), prev = start, max = 0;
	unsigned long calls = 0;
	const char *stop = argc > 2 ? argv[2] : NULL;
	unsigned n = 0;

	if (hole == MAP_FAILED)
		return 1;
	munmap(hole, (size_t)page);
	for (;;) {
		munmap(hole, (size_t)page);
		uint64_t now = mono_ns();
		uint64_t d = now - prev;
		calls++;
		if (d > max)
			max = d;
		if (d >= STALL_NS && n < MAX_STALLS) {
			at[n] = now;
			gap[n++] = d;
		}
		prev = now;
		if (now >= end || (stop && calls % 256 == 0 && access(stop, F_OK) == 0))
			break;
	}
	for (unsigned i = 0; i < n; i++)
		printf("stall %llu %llu\n", (unsigned long long)at[i], (unsigned long long)gap[i]);
	printf("calls %lu max_ns %llu\n", calls, (unsigned long long)max);
	return 0;
}
