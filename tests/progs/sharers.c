// SPDX-License-Identifier: MIT
/*
 * Two processes, one address space: the parent makes a child with clone(CLONE_VM) (no
 * CLONE_THREAD: its own pid), prints "PARENT pid CHILD pid", and both map and unmap a
 * page now and then until stdin closes. For attaching to both at once (test-attach).
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracee.h"

static volatile int stop;

static void churn(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		munmap(p, 4096);
	usleep(2000);
}

static int child(void *arg)
{
	(void)arg;
	while (!stop)
		churn();
	return 0;
}

static char stack[1 << 16];

int main(void)
{
	pid_t c = clone(child, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);

	if (c < 0)
		return 1;
	out("PARENT %d CHILD %d\n", (int)getpid(), (int)c);
	out_flush();
	char buf[16];
	while (read(0, buf, sizeof(buf)) > 0)
		churn();
	stop = 1; /* shared memory: the child sees it */
	waitpid(c, NULL, 0);
	return 0;
}
