// SPDX-License-Identifier: MIT
/*
 * exec-thread: execve from a thread that is not the leader. Three threads: the leader, a
 * sleeper and an execer. Once all three exist, the execer prints
 *
 *   before pid=<pid> leader=<leader tid> sleeper=<sleeper tid> execer=<execer tid>
 *
 * and execs /proc/self/exe with the argument "after", while the leader and the sleeper
 * sleep. The kernel kills the leader and the sleeper, and the execing thread takes the
 * leader's pid; the new image prints
 *
 *   after pid=<getpid()> tid=<gettid()>
 *
 * and exits 7. If the exec fails the execer prints why and the process exits 126; the
 * sleeping threads give up after about 30 s (exit 125), so the program always ends.
 *
 * Usage: exec-thread [after]
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tracee.h"

static pthread_barrier_t barrier;
static pid_t sleeper_tid;
static char *self_argv0;

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Sleep about @seconds, in 100 ms steps (the exec ends us long before). */
static void nap(int seconds)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < seconds * 10; i++)
		nanosleep(&ts, NULL);
}

static void *sleeper(void *arg)
{
	sleeper_tid = gettid_();
	pthread_barrier_wait(&barrier);
	nap(30);
	return arg;
}

static void *execer(void *arg)
{
	pid_t leader = *(pid_t *)arg;

	pthread_barrier_wait(&barrier);
	out("before pid=%d leader=%d sleeper=%d execer=%d\n", (int)getpid(), (int)leader,
	    (int)sleeper_tid, (int)gettid_());
	out_flush();
	char *argv[] = { self_argv0, (char *)"after", NULL };
	execv("/proc/self/exe", argv);
	out("execv: %s\n", strerror(errno));
	out_flush();
	_exit(126);
}

int main(int argc, char **argv)
{
	pthread_t t1, t2;
	pid_t leader = gettid_();

	if (argc > 1 && !strcmp(argv[1], "after")) {
		out("after pid=%d tid=%d\n", (int)getpid(), (int)gettid_());
		out_flush();
		return 7;
	}
	self_argv0 = argv[0];
	pthread_barrier_init(&barrier, NULL, 3);
	if (pthread_create(&t1, NULL, sleeper, NULL) != 0 ||
	    pthread_create(&t2, NULL, execer, &leader) != 0) {
		out("cannot create the threads\n");
		out_flush();
		return 1;
	}
	pthread_barrier_wait(&barrier);
	nap(30);
	_exit(125);
}
