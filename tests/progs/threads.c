// SPDX-License-Identifier: MIT
/*
 * threads: 4 threads that each map and unmap NITER anonymous regions of THREAD_MAP_PAGES
 * pages (a size nothing else here uses, so a test can pick these calls out of glibc's own).
 * The threads start together (a barrier), so their calls interleave. After the joins the
 * program prints one line per thread and exits 0:
 *
 *   THREAD <index> tid=<tid> mmap=<successful mmaps> munmap=<successful munmaps>
 *   PID <pid>
 *
 * The created threads run between two madvise(NULL, 0, MADV_NORMAL) markers made by the
 * main thread. Output is formatted into a static buffer and written once at the end.
 *
 * Usage: threads [NITER]     (default 20)
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tracee.h"

#define NTHREADS 4
#define THREAD_MAP_PAGES 3

struct result {
	pid_t tid;
	int mmaps, munmaps;
};

static int niter = 20;
static long pg;
static pthread_barrier_t barrier;
static struct result results[NTHREADS];

static void *worker(void *arg)
{
	struct result *r = arg;

	r->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < niter; i++) {
		char *p = mmap(NULL, (size_t)(THREAD_MAP_PAGES * pg), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			continue;
		r->mmaps++;
		p[0] = (char)i;
		if (munmap(p, (size_t)(THREAD_MAP_PAGES * pg)) == 0)
			r->munmaps++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	int bad = 0;

	pg = sysconf(_SC_PAGESIZE);
	if (argc > 1)
		niter = atoi(argv[1]);
	pthread_barrier_init(&barrier, NULL, NTHREADS);

	marker();
	for (int i = 0; i < NTHREADS; i++) {
		if (pthread_create(&th[i], NULL, worker, &results[i]) != 0) {
			out("cannot create thread %d\n", i);
			out_flush();
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	marker();

	for (int i = 0; i < NTHREADS; i++) {
		out("THREAD %d tid=%d mmap=%d munmap=%d\n", i, (int)results[i].tid,
		    results[i].mmaps, results[i].munmaps);
		bad |= results[i].mmaps != niter || results[i].munmaps != niter;
	}
	out("PID %d\n", (int)getpid());
	out_flush();
	return bad;
}
