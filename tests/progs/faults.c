// SPDX-License-Identifier: MIT
/*
 * Tracee of test-why: one way to fault per argument, each the way real programs do it,
 * from functions with names of their own so that `vmatrace why` can name who made the
 * memory go. Before faulting it prints (and flushes) "FAULT <case> <addr>" with the
 * address it is about to touch, so the test can compare si_addr with it.
 *
 *   munmap    write to a buffer after release() unmapped it
 *   mprotect  write to a page that protect() made read-only
 *   stack     unbounded recursion into the gap below the stack
 *   mremap    write through the old address of a buffer that grow() moved
 *   sigbus    read a shared file mapping past the end of its file, truncated by shrink()
 *   handled   touch a PROT_NONE page, recover in a SIGSEGV handler (siglongjmp), exit 0
 *   thread    a second thread writes to a buffer the main thread released
 *   threadstack  unbounded recursion in a second thread, into its stack's guard page
 *   reraise   use after munmap, taken by a crash handler that reports and re-raises the
 *             signal with its default action (as Python's faulthandler does)
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracee.h"

#define PAGE 4096
#define BUF_LEN (16 * PAGE)

static void say(const char *what, const volatile void *addr)
{
	out("FAULT %s %p\n", what, (const void *)addr);
	out_flush();
}

__attribute__((noinline)) static char *acquire(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(10);
	memset(p, 1, len);
	return p;
}

__attribute__((noinline)) static void release(char *p, size_t len)
{
	munmap(p, len);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void protect(char *p)
{
	mprotect(p, PAGE, PROT_READ);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static char *grow(char *p, size_t old, size_t len)
{
	char *q = mremap(p, old, len, MREMAP_MAYMOVE);

	__asm__ volatile("" ::: "memory");
	return q;
}

static void case_munmap(void)
{
	char *p = acquire(BUF_LEN);

	release(p, BUF_LEN);
	say("munmap", p + 0x10);
	*(volatile char *)(p + 0x10) = 2;
}

static void case_mprotect(void)
{
	char *p = acquire(2 * PAGE);

	protect(p);
	say("mprotect", p + 0x20);
	*(volatile char *)(p + 0x20) = 2;
}

/* Each call keeps a page of its own alive, so the recursion cannot become a loop. */
__attribute__((noinline)) static int recurse(int depth)
{
	volatile char frame[PAGE];

	frame[0] = (char)depth;
	frame[PAGE - 1] = (char)depth;
	if (depth == INT32_MAX)
		return 0; /* never: the stack ends long before (and gcc sees an end) */
	return recurse(depth + 1) + frame[depth % PAGE];
}

static void case_stack(void)
{
	say("stack", (void *)0);
	exit(recurse(0));
}

static void *recurse_thread(void *arg)
{
	(void)arg;
	say("threadstack", (void *)0);
	exit(recurse(0));
}

static void case_threadstack(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, recurse_thread, NULL) != 0)
		exit(21);
	pthread_join(t, NULL);
}

static void case_mremap(void)
{
	/* A page followed by a PROT_NONE page: growing it must move it. */
	char *p = acquire(2 * PAGE);

	mprotect(p + PAGE, PAGE, PROT_NONE);
	char *q = grow(p, PAGE, 16 * PAGE);
	if (q == MAP_FAILED || q == p)
		exit(11);
	say("mremap", p + 0x30);
	*(volatile char *)(p + 0x30) = 2; /* the stale pointer */
}

__attribute__((noinline)) static void shrink(int fd)
{
	if (ftruncate(fd, PAGE) < 0)
		exit(12);
}

static void case_sigbus(void)
{
	char path[] = "/tmp/vmatrace-sigbus-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, 4 * PAGE) < 0)
		exit(13);
	char *p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		exit(14);
	unlink(path);
	shrink(fd);
	say("sigbus", p + 2 * PAGE + 0x40);
	(void)*(volatile char *)(p + 2 * PAGE + 0x40);
}

static sigjmp_buf recover;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(recover, 1);
}

static void case_handled(void)
{
	char *p = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa = { .sa_handler = on_segv };

	if (p == MAP_FAILED)
		exit(15);
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(recover, 1) == 0) {
		say("handled", p + 0x50);
		*(volatile char *)(p + 0x50) = 2;
		exit(16); /* not reached */
	}
	out("RECOVERED\n");
	out_flush();
	exit(0);
}

static void on_segv_report(int sig)
{
	static const char msg[] = "REPORTED\n";

	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(20);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void case_reraise(void)
{
	struct sigaction sa = { .sa_handler = on_segv_report };
	char *p = acquire(BUF_LEN);

	sigaction(SIGSEGV, &sa, NULL);
	release(p, BUF_LEN);
	say("reraise", p + 0x70);
	*(volatile char *)(p + 0x70) = 2;
}

static int go[2];

/* Waits for the main thread's buffer, released by then, and writes to it. */
static void *worker(void *arg)
{
	char *p;

	(void)arg;
	if (read(go[0], &p, sizeof(p)) != sizeof(p))
		exit(18);
	say("thread", p + 0x60);
	*(volatile char *)(p + 0x60) = 2;
	return NULL;
}

static void case_thread(void)
{
	pthread_t t;

	/* The thread (and its stack) first, so that the released range stays a hole. */
	if (pipe(go) < 0 || pthread_create(&t, NULL, worker, NULL) != 0)
		exit(17);
	char *p = acquire(BUF_LEN);
	release(p, BUF_LEN);
	if (write(go[1], &p, sizeof(p)) != sizeof(p))
		exit(19);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "munmap", case_munmap }, { "mprotect", case_mprotect }, { "stack", case_stack },
		{ "mremap", case_mremap }, { "sigbus", case_sigbus }, { "handled", case_handled },
		{ "thread", case_thread }, { "reraise", case_reraise },
		{ "threadstack", case_threadstack },
	};

	for (size_t i = 0; argc > 1 && i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			return 3; /* the fault did not happen */
		}
	}
	return 2;
}
