// SPDX-License-Identifier: MIT
/*
 * snap-procs: snapshots of /proc/self/maps across threads, fork, vfork+exec and an execve
 * from a thread that is not the leader, so that a test can compare each with the replayed
 * map (`vmatrace maps --at`) byte for byte. The snapshot format and the marker are those of
 * snap-mem.c (see there):
 *
 *   SNAP <pid> <tid> <index> <length> <label> <results>\n<length bytes of /proc/self/maps>
 *
 * <index> counts the markers of the process (pid) from 0, over all its threads and, for the
 * thread that execs, over both images. Each image writes its snapshots to
 * DIR/snap-<pid>-<tag>.out just before it execs or exits.
 *
 * The steps, in one process:
 *  - threads: two threads; each snapshot is taken by one thread while the others are parked
 *    on a barrier (in futex, not in a call that changes the map);
 *  - fork: a MAP_SHARED|MAP_ANONYMOUS region (written), a private one with a DONTFORK and a
 *    WIPEONFORK page, a written one locked in the middle (the child's copies are unlocked,
 *    each with its own anon_vma: they stay apart); the child snapshots at once, changes its
 *    map (the shared region too) and snapshots again; the parent snapshots while the child
 *    runs, after it ended, and after unlocking (its pieces merge again);
 *  - clone(CLONE_VM) and vfork children that map in our address space and snapshot it
 *    (they write into our buffers under their own pid), and we snapshot after they ended;
 *  - vfork: the child execs this program ("vforked DIR"), which snapshots its new image,
 *    maps and unmaps, snapshots again and exits;
 *  - a non-leader thread execs this program ("execed DIR INDEX FAILED") while the leader
 *    sleeps: the new image (same pid) snapshots, maps, snapshots and exits with 0, or 1 if
 *    anything failed in either image.
 *
 * Usage: snap-procs DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif

#include "snap.h"
/* ---- helpers ------------------------------------------------------------------------- */

static long pg;
static char *self_argv0;

#define RW (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static long mmap_(long addr, long len, long prot, long flags, long fd, long off)
{
	return syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void touch(long addr, long n)
{
	for (long i = 0; i < n; i++)
		((volatile char *)addr)[i * pg] = 1;
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- threads ------------------------------------------------------------------------- */

static pthread_barrier_t barrier;
static long thread_map;

static void *thread1(void *arg)
{
	pthread_barrier_wait(&barrier); /* 1: all started */
	pthread_barrier_wait(&barrier); /* 2: the leader has snapshot */
	thread_map = call("mmap", mmap_(0, 5 * pg, RW, ANON, -1, 0), 1);
	if (thread_map > 0)
		touch(thread_map, 2);
	snapshot("thread1-mmap");
	pthread_barrier_wait(&barrier); /* 3 */
	pthread_barrier_wait(&barrier); /* 4: thread 2 has snapshot */
	return arg;
}

static void *thread2(void *arg)
{
	pthread_barrier_wait(&barrier); /* 1 */
	pthread_barrier_wait(&barrier); /* 2 */
	pthread_barrier_wait(&barrier); /* 3: thread 1 has snapshot */
	if (thread_map > 0) {
		call("munmap", syscall(SYS_munmap, thread_map + 3 * pg, pg), 1);
		call("mprotect", syscall(SYS_mprotect, thread_map, pg, (long)PROT_READ), 1);
	}
	snapshot("thread2-munmap-mprotect");
	pthread_barrier_wait(&barrier); /* 4 */
	return arg;
}

static void thread_steps(void)
{
	pthread_t t1, t2;

	pthread_barrier_init(&barrier, NULL, 3);
	if (pthread_create(&t1, NULL, thread1, NULL) != 0 ||
	    pthread_create(&t2, NULL, thread2, NULL) != 0) {
		failed = 1;
		snapshot("threads-not-created");
		return;
	}
	pthread_barrier_wait(&barrier); /* 1 */
	snapshot("threads-started");
	pthread_barrier_wait(&barrier); /* 2 */
	pthread_barrier_wait(&barrier); /* 3 */
	pthread_barrier_wait(&barrier); /* 4 */
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	snapshot("threads-joined");
}

/* ---- fork ---------------------------------------------------------------------------- */

static void fork_steps(void)
{
	long sh = call("mmap", mmap_(0, 4 * pg, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0), 1);
	long pv = call("mmap", mmap_(0, 6 * pg, RW, ANON, -1, 0), 1);

	if (sh <= 0 || pv <= 0)
		return;
	touch(sh, 4);
	touch(pv, 6);
	call("madvise", syscall(SYS_madvise, pv + pg, pg, (long)MADV_DONTFORK), 1);
	call("madvise", syscall(SYS_madvise, pv + 3 * pg, pg, (long)MADV_WIPEONFORK), 1);
	/* An unwritten private region: the child's copy has no pages either. */
	long un = call("mmap", mmap_(0, 3 * pg, RW, ANON, -1, 0), 1);
	/* A written region locked in the middle: three VMAs. The child's copies lose
	 * VM_LOCKED and each gets its own anon_vma: they stay apart in the child. */
	long lk = call("mmap", mmap_(0, 6 * pg, RW, ANON, -1, 0), 1);
	if (lk > 0) {
		touch(lk, 6);
		call("mlock", syscall(SYS_mlock, lk + 2 * pg, 2 * pg), 0);
	}
	snapshot("before-fork");

	pid_t child = fork();
	if (child == 0) {
		snaps_len = 0;
		snap_idx = 0;
		note_len = 0;
		note[0] = '\0';
		snapshot("fork-child-start");
		call("mprotect", syscall(SYS_mprotect, sh + pg, pg, (long)PROT_READ), 1);
		call("madvise", syscall(SYS_madvise, pv + 3 * pg, pg, (long)MADV_KEEPONFORK), 1);
		call("munmap", syscall(SYS_munmap, pv + 5 * pg, pg), 1);
		call("mmap", mmap_(0, 2 * pg, RW, ANON, -1, 0), 1);
		if (un > 0)
			call("mremap", syscall(SYS_mremap, un, 3 * pg, 5 * pg, (long)MREMAP_MAYMOVE,
					       0L), 1);
		snapshot("fork-child-changed");
		if (lk > 0) {
			call("mprotect", syscall(SYS_mprotect, lk, 6 * pg, (long)PROT_READ), 1);
			snapshot("fork-child-locked-pieces-ro");
			call("mprotect", syscall(SYS_mprotect, lk, 6 * pg, (long)RW), 1);
			snapshot("fork-child-locked-pieces-rw");
		}
		write_snaps("fork-child");
		_exit(failed);
	}
	if (child < 0) {
		failed = 1;
		return;
	}
	note_add("fork=%d,", (int)child);
	snapshot("fork-parent");
	int st;
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		failed = 1;
	call("mprotect", syscall(SYS_mprotect, sh + 2 * pg, pg, (long)PROT_READ), 1);
	snapshot("fork-parent-after-child");
	if (lk > 0) {
		call("munlock", syscall(SYS_munlock, lk, 6 * pg), 0);
		snapshot("fork-parent-munlock");
	}
}

/* ---- children that share the mm: clone(CLONE_VM) and vfork without exec ------------- */

/*
 * The child writes its snapshot into our buffers (the memory is shared) under its own pid,
 * with its own marker index (from 0); we wait for it and take our index back.
 */
static char clone_stack[256 * 1024] __attribute__((aligned(16)));
static long shared_child_map;
static volatile long vmap; /* set by the vfork child: memory, not a register */

static int clone_vm_child(void *arg)
{
	snap_idx = 0;
	shared_child_map = call("mmap", mmap_(0, 3 * pg, RW, ANON, -1, 0), 1);
	if (shared_child_map > 0)
		touch(shared_child_map, 1);
	snapshot("clone-vm-child-mmap");
	return arg != NULL;
}

static void shared_mm_steps(void)
{
	int saved = snap_idx, st;

	pid_t child = clone(clone_vm_child, clone_stack + sizeof(clone_stack),
			    CLONE_VM | SIGCHLD, NULL);
	if (child < 0) {
		failed = 1;
		return;
	}
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		failed = 1;
	snap_idx = saved;
	note_add("clone=%d,", (int)child);
	if (shared_child_map > 0)
		call("mprotect", syscall(SYS_mprotect, shared_child_map + pg, pg, (long)PROT_READ),
		     1);
	snapshot("after-clone-vm-child");
	/* Gone again, so that what follows does not depend on this step. */
	if (shared_child_map > 0)
		call("munmap", syscall(SYS_munmap, shared_child_map, 3 * pg), 1);

	/* vfork: the child runs in our mm (we are suspended), maps, snapshots and _exits. */
	child = vfork();
	if (child == 0) {
		snap_idx = 0;
		vmap = call("mmap", mmap_(0, 2 * pg, RW, ANON, -1, 0), 1);
		if (vmap > 0)
			call("mprotect", syscall(SYS_mprotect, vmap, pg, (long)PROT_READ), 1);
		snapshot("vfork-child-mmap");
		_exit(0);
	}
	if (child < 0) {
		failed = 1;
		return;
	}
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		failed = 1;
	snap_idx = saved + 1;
	note_add("vfork=%d,", (int)child);
	if (vmap > 0)
		call("munmap", syscall(SYS_munmap, vmap, pg), 1);
	snapshot("after-vfork-child-mmap");
}

/* ---- vfork + exec -------------------------------------------------------------------- */

static void vfork_steps(void)
{
	char *argv[] = { self_argv0, (char *)"vforked", (char *)out_dir, NULL };

	pid_t child = vfork();
	if (child == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (child < 0) {
		failed = 1;
		return;
	}
	note_add("vfork=%d,", (int)child);
	int st;
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		failed = 1;
	snapshot("after-vfork-child");
}

static int vforked_main(void)
{
	snapshot("vforked-start");
	long a = call("mmap", mmap_(0, 3 * pg, RW, ANON, -1, 0), 1);
	if (a > 0)
		call("munmap", syscall(SYS_munmap, a + pg, pg), 1);
	snapshot("vforked-changed");
	write_snaps("vforked");
	return failed;
}

/* ---- exec from a thread -------------------------------------------------------------- */

static char idx_arg[16], failed_arg[16];

static void *execer(void *arg)
{
	char *argv[] = { self_argv0, (char *)"execed", (char *)out_dir, idx_arg, failed_arg,
			 NULL };

	execv("/proc/self/exe", argv);
	_exit(126);
	return arg;
}

static int execed_main(char **argv)
{
	snap_idx = atoi(argv[3]);
	failed = atoi(argv[4]);
	snapshot("execed-start");
	long a = call("mmap", mmap_(0, 4 * pg, RW, ANON, -1, 0), 1);
	if (a > 0) {
		touch(a, 1);
		call("mprotect", syscall(SYS_mprotect, a + pg, pg, (long)PROT_READ), 1);
	}
	snapshot("execed-changed");
	write_snaps("execed");
	char msg[128];
	int n = snprintf(msg, sizeof(msg), "snap-procs pid=%d snapshots=%d failed=%d\n",
			 (int)getpid(), snap_idx, failed);
	(void)!write(1, msg, (size_t)n);
	return failed;
}

int main(int argc, char **argv)
{
	pg = sysconf(_SC_PAGESIZE);
	self_argv0 = argv[0];
	if (argc == 3 && !strcmp(argv[1], "vforked")) {
		out_dir = argv[2];
		return vforked_main();
	}
	if (argc == 5 && !strcmp(argv[1], "execed")) {
		out_dir = argv[2];
		return execed_main(argv);
	}
	if (argc != 2) {
		static const char usage[] = "usage: snap-procs DIR\n";
		(void)!write(2, usage, sizeof(usage) - 1);
		return 2;
	}
	out_dir = argv[1];

	snapshot("start");
	thread_steps();
	fork_steps();
	shared_mm_steps();
	vfork_steps();

	/* Last: the exec. This image's snapshots go out first; the thread's creation (stack
	 * mmap, clone) comes after the last of them. */
	snapshot("before-exec");
	snprintf(idx_arg, sizeof(idx_arg), "%d", snap_idx);
	snprintf(failed_arg, sizeof(failed_arg), "%d", failed);
	write_snaps("main");
	pthread_t t;
	if (pthread_create(&t, NULL, execer, NULL) != 0)
		return 1;
	for (int i = 0; i < 300; i++)
		nap_ms(100);
	return 125;
}
