// SPDX-License-Identifier: MIT
/*
 * forks: the ways a process makes another, one after the other, each waited for:
 * - fork(): the child maps FORK_CHILD_PAGES anonymous pages and _exit(3)s;
 * - vfork(): the child execs /bin/true (exit 0);
 * - vfork() again: the child maps VFORK_CHILD_PAGES pages in the address space it shares
 *   with the parent (the parent sees the address and unmaps it) and _exit(4)s;
 * - posix_spawn() of /bin/true (glibc: clone3 or clone with CLONE_VM|CLONE_VFORK);
 * - fork() + exec of our own binary with the argument "second": the second image maps
 *   SECOND_PAGES anonymous pages, prints one line and exits 5.
 * The parent prints one line per child with the raw wait status, then exits 0:
 *
 *   SECOND pid=<pid> mmap=<address as signed decimal>    (from the second image)
 *   FORK pid=<pid> status=<wait status>
 *   VFORK pid=<pid> status=<wait status>
 *   VFORK2 pid=<pid> status=<wait status> mmap=<address the child mapped, signed decimal>
 *   SPAWN pid=<pid> status=<wait status>
 *   REEXEC pid=<pid> status=<wait status>
 *   PARENT pid=<pid>
 *
 * The parent's work sits between two madvise(NULL, 0, MADV_NORMAL) markers. Output goes to
 * a static buffer, written once at the end, so no stdio state is copied into the children.
 *
 * Usage: forks [second]
 */
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracee.h"

#define FORK_CHILD_PAGES 5
#define SECOND_PAGES 7
#define VFORK_CHILD_PAGES 2

extern char **environ;


static long map_anon(long pages)
{
	long r = syscall(SYS_mmap, 0L, pages * sysconf(_SC_PAGESIZE),
			 (long)(PROT_READ | PROT_WRITE), (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L,
			 0L);
	return r == -1 ? -errno : r;
}

static int wait_for(pid_t pid)
{
	int status = -1;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

int main(int argc, char **argv)
{
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "second")) {
		long r = map_anon(SECOND_PAGES);
		out("SECOND pid=%d mmap=%ld\n", (int)getpid(), r);
		out_flush();
		_exit(r < 0 ? 1 : 5);
	}

	marker();

	pid = fork();
	if (pid == 0)
		_exit(map_anon(FORK_CHILD_PAGES) < 0 ? 1 : 3);
	out("FORK pid=%d status=%d\n", (int)pid, pid > 0 ? wait_for(pid) : -1);

	pid = vfork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	out("VFORK pid=%d status=%d\n", (int)pid, pid > 0 ? wait_for(pid) : -1);

	/* The vfork child runs in our address space: its mapping is ours when it is gone. */
	static volatile long vfork_map;
	pid = vfork();
	if (pid == 0) {
		vfork_map = map_anon(VFORK_CHILD_PAGES);
		_exit(4);
	}
	int st = pid > 0 ? wait_for(pid) : -1;
	out("VFORK2 pid=%d status=%d mmap=%ld\n", (int)pid, st, vfork_map);
	if (vfork_map > 0)
		syscall(SYS_munmap, vfork_map, VFORK_CHILD_PAGES * sysconf(_SC_PAGESIZE));

	char *true_argv[] = { (char *)"true", NULL };
	int err = posix_spawn(&pid, "/bin/true", NULL, NULL, true_argv, environ);
	out("SPAWN pid=%d status=%d\n", err ? -err : (int)pid, err ? -1 : wait_for(pid));

	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "second", (char *)NULL);
		_exit(127);
	}
	out("REEXEC pid=%d status=%d\n", (int)pid, pid > 0 ? wait_for(pid) : -1);

	marker();
	out("PARENT pid=%d\n", (int)getpid());
	out_flush();
	return 0;
}
