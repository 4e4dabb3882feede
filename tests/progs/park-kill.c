// SPDX-License-Identifier: MIT
/*
 * park-kill: threads killed by exit_group while their stops wait in the tracer's order.
 *
 * A stop that is ordered by its own seq (a signal, a clone, a fork) waits in the tracer
 * while other threads of the address space have map changes held (daemon/order.c: it is
 * "parked", its thread left stopped). If the process ends meanwhile, the kernel kills the
 * parked thread out of that stop, and the tracer hears of its death while the stop is
 * still parked (a daemon crashed on that: headless Chromium, once in many runs).
 *
 * Each of N rounds forks a child; in it, M threads map and unmap in a loop, signal
 * themselves (SIGUSR1, handled), and now and then start a thread or a process; after a
 * few milliseconds the child's main thread calls _exit(0) (exit_group) while they are at
 * it. The parent waits for each child and prints "rounds=N ok=K" (K: children that
 * exited 0); it exits 0 if all did.
 *
 * Usage: park-kill [N [M]]     (default 20 rounds of 4 threads)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int sig)
{
	(void)sig;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	return NULL;
}

static void *busy(void *arg)
{
	pthread_t self = pthread_self();

	for (unsigned long i = (unsigned long)arg;; i++) {
		void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 65536);
		pthread_kill(self, SIGUSR1);
		if (i % 16 == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, idle_thread, NULL) == 0)
				pthread_detach(t);
		}
		if (i % 64 == 0) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
		}
	}
	return NULL;
}

static void child(int threads)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct timespec ts = { 0, 3 * 1000 * 1000 };

	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGCHLD, SIG_IGN); /* the grandchildren reap themselves */
	for (int i = 0; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, busy, (void *)(unsigned long)i);
	}
	nanosleep(&ts, NULL);
	_exit(0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, threads = argc > 2 ? atoi(argv[2]) : 4;
	int good = 0;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			child(threads);
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st))
			good++;
	}
	printf("rounds=%d ok=%d\n", n, good);
	return good == n ? 0 : 1;
}
