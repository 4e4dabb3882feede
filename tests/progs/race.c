// SPDX-License-Identifier: MIT
/*
 * race: threads of one address space racing their map changes, the case where the order
 * in which a tracer sees exit stops differs from the order the kernel applied the calls
 * (tests/cli/test-race.py; the ordering rules are in daemon/order.c).
 *
 * NTHREADS threads start together (a barrier) and each does NITER rounds of:
 *   - mmap(NULL, 16 pages) of private anonymous memory, written, munmap'ed: every thread
 *     asks for the same size, so the kernel hands one thread the range another has just
 *     freed, usually while the freeing thread's exit stop is still unreported;
 *   - every 8th round, MAP_SHARED anonymous memory instead (a shmem file), mremap'ed to
 *     twice its size (it may move) and then unmapped;
 *   - every 16th round, a buffer handed to the next thread through a slot, which unmaps
 *     it: a munmap of memory another thread mapped.
 * Meanwhile, with FORKS > 0, the main thread forks FORKS children at intervals; each child
 * copies its own /proc/self/maps line count into a pipe and exits 0, so a fork's copy of a
 * map in flux is traced too. Prints one line and exits 0 when every call succeeded:
 *
 *   RACE threads=4 rounds=12500 forks=10 failures=0
 *
 * With a fifth argument "wait", it prints READY and waits for a byte on stdin before it
 * starts the threads (a test attaches meanwhile).
 *
 * Usage: race [NITER [NTHREADS [FORKS [wait]]]]     (defaults 12500, 4, 0)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 64
#define PAGES 16

static int niter = 12500, nthreads = 4, nforks;
static long pg;
static pthread_barrier_t barrier;
static atomic_int failures;
static _Atomic(char *) slots[MAX_THREADS];
static atomic_int running;

static void fail(void)
{
	atomic_fetch_add(&failures, 1);
}

static void one_round(int self, int round)
{
	size_t len = (size_t)PAGES * (size_t)pg;
	int shared = round % 8 == 7;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fail();
		return;
	}
	p[0] = 1;
	if (shared) {
		char *q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			fail();
			munmap(p, len);
			return;
		}
		if (munmap(q, 2 * len))
			fail();
		return;
	}
	if (round % 16 == 5) {
		/* hand it to the next thread; unmap what the previous one handed us */
		char *old = atomic_exchange(&slots[(self + 1) % nthreads], p);
		if (old && munmap(old, len))
			fail();
		char *mine = atomic_exchange(&slots[self], NULL);
		if (mine && munmap(mine, len))
			fail();
		return;
	}
	if (munmap(p, len))
		fail();
}

static void *worker(void *arg)
{
	int self = (int)(long)arg;

	pthread_barrier_wait(&barrier);
	for (int i = 0; i < niter; i++)
		one_round(self, i);
	atomic_fetch_sub(&running, 1);
	return NULL;
}

/* A child: count our own maps lines (reading it is all a copy of a map in flux must do). */
static void child_count(int fd)
{
	char buf[65536];
	ssize_t n, total = 0;
	int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	while (maps >= 0 && (n = read(maps, buf, sizeof(buf))) > 0)
		total += n;
	dprintf(fd, "%zd\n", total);
	_exit(maps >= 0 && total > 0 ? 0 : 1);
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];

	if (argc > 1)
		niter = atoi(argv[1]);
	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (argc > 3)
		nforks = atoi(argv[3]);
	if (niter < 1 || nthreads < 2 || nthreads > MAX_THREADS || nforks < 0) {
		fprintf(stderr, "usage: race [NITER [NTHREADS(2..%d) [FORKS]]]\n", MAX_THREADS);
		return 2;
	}
	pg = sysconf(_SC_PAGESIZE);
	if (argc > 4 && !strcmp(argv[4], "wait")) {
		char c;
		printf("READY\n");
		fflush(stdout);
		if (read(0, &c, 1) != 1)
			return 1;
	}
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
	atomic_store(&running, nthreads);
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(long)i))
			return 1;
	pthread_barrier_wait(&barrier);
	for (int f = 0; f < nforks && atomic_load(&running); f++) {
		int fds[2], status;
		if (pipe(fds))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			child_count(fds[1]);
		}
		close(fds[1]);
		char buf[32];
		if (pid < 0 || read(fds[0], buf, sizeof(buf)) <= 0 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			fail();
		close(fds[0]);
		usleep(2000);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < nthreads; i++) {
		char *p = atomic_exchange(&slots[i], NULL);
		if (p && munmap(p, (size_t)PAGES * (size_t)pg))
			fail();
	}
	printf("RACE threads=%d rounds=%d forks=%d failures=%d\n", nthreads, niter, nforks,
	       atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
