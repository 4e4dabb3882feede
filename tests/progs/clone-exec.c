// SPDX-License-Identifier: MIT
/*
 * clone-exec: a thread whose new sibling execs at once, so that the kernel may kill the
 * creating thread (de_thread) before its clone returns: its clone's exit stop then never
 * comes, and the result a tracer stores must still be the new thread's tid (issue: it was
 * stored as 0). Each of N rounds forks a child process; in the child, a pthread calls
 * clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|CLONE_FS|CLONE_FILES) with a function that
 * execs /bin/true; the child process then exits 0 (from true). The parent waits for each
 * and prints "rounds=N ok=M" (M: children that exited 0), and exits 0 if all did.
 *
 * Usage: clone-exec [N]     (default 20)
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static char stack[65536] __attribute__((aligned(16)));

static int exec_true(void *arg)
{
	char *argv[] = { "true", NULL };

	(void)arg;
	execv("/bin/true", argv);
	_exit(126);
}

static void *creator(void *arg)
{
	(void)arg;
	clone(exec_true, stack + sizeof(stack),
	      CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FS | CLONE_FILES, NULL);
	for (;;)
		pause(); /* killed by the exec */
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20, good = 0;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			pthread_t t;
			pthread_create(&t, NULL, creator, NULL);
			for (;;)
				pause();
		}
		int st;
		if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st))
			good++;
	}
	printf("rounds=%d ok=%d\n", n, good);
	return good == n ? 0 : 1;
}
