// SPDX-License-Identifier: MIT
/*
 * churn ITER - malloc churn across the mmap threshold, from 4 threads and a forked child.
 *
 * The process forks once; the child churns in its main thread (glibc's main arena: brk
 * grows and, past M_TRIM_THRESHOLD, shrinks), the parent churns in 4 threads (each on its
 * own arena: mmap'd heaps grown with mprotect, trimmed with madvise).  Each worker does ITER
 * (default 20,000) rounds of free-one-slot-and-malloc-another with sizes drawn so that
 * about one in ten lies above the fixed 128 KiB mmap threshold (one mmap + one munmap
 * each).  The threshold is fixed with mallopt so that glibc's dynamic threshold does not
 * move the large blocks onto the heap after the first few frees.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHURN_THREADS 4
#define CHURN_SLOTS 64
#define CHURN_THRESHOLD (128 * 1024)

static long iterations = 20000;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t pick_size(uint64_t *s)
{
	unsigned r = (unsigned)(xorshift(s) % 100);

	if (r < 70)
		return 16 + xorshift(s) % 4096;			/* small: bins, tcache */
	if (r < 90)
		return 4096 + xorshift(s) % (100 * 1024);	/* medium: heap top, brk */
	return CHURN_THRESHOLD + xorshift(s) % (1024 * 1024);	/* large: mmap */
}

static void *churn(void *arg)
{
	uint64_t seed = 0x9e3779b97f4a7c15u * ((uintptr_t)arg + 1);
	void *slot[CHURN_SLOTS] = { 0 };
	unsigned long sum = 0;

	for (long i = 0; i < iterations; i++) {
		unsigned k = (unsigned)(xorshift(&seed) % CHURN_SLOTS);
		size_t size = pick_size(&seed);

		free(slot[k]);
		slot[k] = malloc(size);
		if (!slot[k]) {
			perror("churn: malloc");
			exit(1);
		}
		/* Touch both ends, as a program filling its buffer would. */
		((volatile char *)slot[k])[0] = (char)i;
		((volatile char *)slot[k])[size - 1] = (char)i;
		sum += ((unsigned char *)slot[k])[0];
	}
	for (unsigned k = 0; k < CHURN_SLOTS; k++)
		free(slot[k]);
	return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
	pthread_t th[CHURN_THREADS];
	int status = 0;
	pid_t child;

	if (argc > 1)
		iterations = strtol(argv[1], NULL, 10);
	mallopt(M_MMAP_THRESHOLD, CHURN_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, CHURN_THRESHOLD);

	child = fork();
	if (child < 0) {
		perror("churn: fork");
		return 1;
	}
	if (child == 0) {
		churn((void *)(uintptr_t)CHURN_THREADS);
		_exit(0);
	}
	for (uintptr_t t = 0; t < CHURN_THREADS; t++) {
		int err = pthread_create(&th[t], NULL, churn, (void *)t);

		if (err) {
			fprintf(stderr, "churn: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (unsigned t = 0; t < CHURN_THREADS; t++)
		pthread_join(th[t], NULL);
	if (waitpid(child, &status, 0) < 0) {
		perror("churn: waitpid");
		return 1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
