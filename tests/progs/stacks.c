// SPDX-License-Identifier: MIT
/*
 * Tracee of test-stacks: mmap (then munmap) from known call chains, each with its own
 * length so the test can find its events: in the main executable
 * (vt_outer_alpha -> vt_middle_beta -> vt_leaf_gamma -> mmap) and in a library of its own
 * (vtlib_deep_one -> vtlib_deep_two -> mmap), from the main thread, from a second thread
 * and from a forked child. Prints "MAP <where> <len> <pid> <tid>" per chain.
 *
 * The lengths: LEN_BASE + 0x1000 * k, k = 1 (main, exe), 2 (main, lib), 3 (thread, exe),
 * 4 (thread, lib), 5 (child, exe), 6 (child, lib).
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "libstackdemo.h"
#include "tracee.h"

#define LEN_BASE 0x710000

__attribute__((noinline)) void *vt_leaf_gamma(size_t len);
__attribute__((noinline)) void *vt_middle_beta(size_t len);
__attribute__((noinline)) void *vt_outer_alpha(size_t len);

__attribute__((noinline)) void *vt_leaf_gamma(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	__asm__ volatile("" ::: "memory");
	if (p != MAP_FAILED)
		munmap(p, len);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *vt_middle_beta(size_t len)
{
	void *p = vt_leaf_gamma(len);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *vt_outer_alpha(size_t len)
{
	void *p = vt_middle_beta(len);
	__asm__ volatile("" ::: "memory");
	return p;
}

static void chains(const char *where, int k)
{
	size_t exe_len = LEN_BASE + 0x1000 * (size_t)k;
	size_t lib_len = exe_len + 0x1000;

	vt_outer_alpha(exe_len);
	vtlib_deep_one(lib_len);
	out("MAP %s %zu %d %ld\n", where, exe_len, (int)getpid(), syscall(SYS_gettid));
	out("MAP %s-lib %zu %d %ld\n", where, lib_len, (int)getpid(), syscall(SYS_gettid));
}

static void *thread_body(void *arg)
{
	(void)arg;
	chains("thread", 3);
	return NULL;
}

int main(void)
{
	pthread_t th;

	chains("main", 1);
	if (pthread_create(&th, NULL, thread_body, NULL) != 0)
		return 1;
	pthread_join(th, NULL);
	out_flush();
	pid_t pid = fork();
	if (pid == 0) {
		chains("child", 5);
		out_flush();
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
