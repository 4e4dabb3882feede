// SPDX-License-Identifier: MIT
/*
 * mintrace - the floor a ptrace tracer of memory syscalls cannot go below, for bench/run.
 *
 * It traces PROG and all its descendants the way vmatraced does (DESIGN.md, "Tracing
 * technique") and does nothing else: the child waits on a pipe until the tracer has seized
 * it (PTRACE_SEIZE with TRACESECCOMP, TRACESYSGOOD, EXITKILL and TRACECLONE/FORK/VFORK),
 * then installs a seccomp-bpf filter that returns SECCOMP_RET_TRACE for the syscalls
 * vmatrace records and execs PROG.  Each recorded syscall costs exactly two stops:
 *
 *   seccomp stop  -> PTRACE_GET_SYSCALL_INFO (arguments), PTRACE_SYSCALL
 *   exit stop     -> PTRACE_GET_SYSCALL_INFO (result),    PTRACE_CONT
 *
 * and the results are thrown away.  vmatrace's per-event cost is compared with this one:
 * whatever vmatrace spends above it is decoding, the model and the store.
 *
 * Descendants are always followed (there is no -f switch): the filter is inherited, and a
 * filtered syscall made by a task that no tracer is attached to fails with ENOSYS.
 *
 * How the tracer waits is the experiment.  By default it blocks in waitpid(-1, __WALL),
 * like strace.  With --poll USEC it first spins on waitpid(WNOHANG) for up to USEC
 * microseconds, so that a stop which arrives soon is picked up without the tracer's CPU
 * going idle and having to be woken (≈ 60-75 µs per wake-up on a 2-vCPU VM, DESIGN.md).
 * --yield makes the spin call sched_yield() between polls, so that a tracee that shares the
 * tracer's CPU can run during the spin.
 *
 * The exit status is PROG's (128+N if PROG was killed by signal N).  With -c a line of
 * counters is written to stderr at the end:
 *   mintrace: events=220051 exit_stops=220029 tasks=1 polled=219000 blocked=1080 ...
 *
 * Build: cc -O2 -o mintrace bench/mintrace.c    (bench/run does it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if !defined(__x86_64__)
#error "mintrace filters x86_64 syscall numbers only"
#endif

#ifndef SYS_map_shadow_stack
#define SYS_map_shadow_stack 453
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

/* The set vmatrace records: keep in step with the SF_RECORDED rows of lib/syscallent.h. */
static const int traced_nrs[] = {
	/* memory */
	SYS_mmap, SYS_munmap, SYS_mremap, SYS_brk, SYS_mprotect, SYS_pkey_mprotect, SYS_madvise,
	SYS_mlock, SYS_mlock2, SYS_munlock, SYS_mlockall, SYS_munlockall, SYS_shmat, SYS_shmdt,
	SYS_remap_file_pages, SYS_mbind, SYS_map_shadow_stack, SYS_mseal, SYS_io_setup,
	SYS_io_destroy, SYS_prctl,
	/* process */
	SYS_clone, SYS_clone3, SYS_fork, SYS_vfork, SYS_execve, SYS_execveat, SYS_exit,
	SYS_exit_group,
};
#define N_TRACED (sizeof(traced_nrs) / sizeof(traced_nrs[0]))

static long arg_poll_usec;	/* 0: block in waitpid at once */
static bool arg_yield;		/* sched_yield() between polls */
static bool arg_count;		/* print counters to stderr at the end */

static struct {
	unsigned long seccomp_stops;	/* one per recorded syscall */
	unsigned long exit_stops;	/* fewer: exit and exit_group do not return */
	unsigned long tasks;		/* tasks seen: PROG and every auto-attached one */
	unsigned long polled;		/* waits answered while spinning */
	unsigned long blocked;		/* waits that fell through to a blocking waitpid */
	unsigned long polls;		/* waitpid(WNOHANG) calls that found nothing */
} stats;

static void die(const char *what)
{
	fprintf(stderr, "mintrace: %s: %s\n", what, strerror(errno));
	exit(126);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * install_filter - SECCOMP_RET_TRACE for traced_nrs[], ALLOW for everything else.
 * Other ABIs (i386, x32) are allowed untraced: this is a benchmark, not a sandbox.
 * A linear list of compares, as a simple tracer would build it.
 */
static void install_filter(void)
{
	struct sock_filter prog[4 + N_TRACED + 2];
	unsigned n = 0;

	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						 offsetof(struct seccomp_data, arch));
	/* Not x86_64: jump to the final ALLOW, which is N_TRACED + 3 instructions ahead. */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
						 N_TRACED + 3);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						 offsetof(struct seccomp_data, nr));
	/* x32 syscalls carry bit 30: leave them alone. */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u,
						 N_TRACED + 1, 0);
	for (unsigned i = 0; i < N_TRACED; i++) {
		/* Match: jump to the RET_TRACE just after the last compare. */
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
							 (unsigned)traced_nrs[i],
							 N_TRACED - 1 - i, 0);
	}
	/* No match: the last compare skips the RET_TRACE and lands on the ALLOW. */
	prog[n - 1].jf = 1;
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

	struct sock_fprog fprog = { .len = (unsigned short)n, .filter = prog };

	/*
	 * Root may install a filter without no_new_privs; keep set-uid programs behaving as
	 * they would untraced when we can, and fall back to no_new_privs otherwise.
	 */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) == 0)
		return;
	if (errno != EACCES)
		die("seccomp");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		die("seccomp");
}

/* spawn - fork PROG, seize it, let it install the filter and exec. Returns its pid. */
static pid_t spawn(char **argv)
{
	int go[2];
	pid_t pid;
	char c = 0;

	if (pipe2(go, O_CLOEXEC) < 0)
		die("pipe2");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(go[1]);
		/* Wait until the tracer has seized us: a filtered syscall without it is ENOSYS. */
		if (read(go[0], &c, 1) != 1)
			_exit(126);
		close(go[0]);
		install_filter();
		execvp(argv[0], argv);
		fprintf(stderr, "mintrace: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(go[0]);
	if (ptrace(PTRACE_SEIZE, pid, 0L,
		   (long)(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)) < 0) {
		int err = errno;

		kill(pid, SIGKILL);
		errno = err;
		die("PTRACE_SEIZE");
	}
	if (write(go[1], &c, 1) != 1)
		die("write");
	close(go[1]);
	stats.tasks = 1;
	return pid;
}

/*
 * wait_stop - the next stop or exit of any tracee, as waitpid(-1, __WALL) would return it.
 * With --poll, spin on WNOHANG first.  The clock (vDSO, tens of ns) is read after every
 * poll (a syscall, ≈ 0.3-1 µs) so that short windows mean what they say.
 */
static pid_t wait_stop(int *status)
{
	pid_t pid;

	if (arg_poll_usec > 0) {
		uint64_t deadline = now_ns() + (uint64_t)arg_poll_usec * 1000u;

		for (;;) {
			pid = waitpid(-1, status, __WALL | WNOHANG);
			if (pid != 0) {
				if (pid > 0)
					stats.polled++;
				return pid;	/* a stop, or -1 with ECHILD */
			}
			stats.polls++;
			if (arg_yield)
				sched_yield();
			if (now_ns() >= deadline)
				break;
		}
	}
	do
		pid = waitpid(-1, status, __WALL);
	while (pid < 0 && errno == EINTR);
	if (pid > 0)
		stats.blocked++;
	return pid;
}

/* resume - restart @pid; ESRCH means it was killed meanwhile (its exit comes next). */
static void resume(int request, pid_t pid, long sig)
{
	if (ptrace(request, pid, 0L, sig) < 0 && errno != ESRCH)
		die("ptrace resume");
}

static void syscall_info(pid_t pid)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) < 0 &&
	    errno != ESRCH)
		die("PTRACE_GET_SYSCALL_INFO");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "poll", required_argument, NULL, 'p' },
		{ "yield", no_argument, NULL, 'y' },
		{ "count", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int opt, status, exit_code = 0;
	pid_t child, pid;
	uint64_t t0;

	while ((opt = getopt_long(argc, argv, "+p:ych", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			arg_poll_usec = strtol(optarg, NULL, 10);
			break;
		case 'y':
			arg_yield = true;
			break;
		case 'c':
			arg_count = true;
			break;
		case 'h':
			printf("usage: mintrace [--poll USEC] [--yield] [-c] [--] PROG [ARG...]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mintrace: no program given\n");
		return 2;
	}

	t0 = now_ns();
	child = spawn(argv + optind);
	for (;;) {
		pid = wait_stop(&status);
		if (pid < 0) {
			if (errno == ECHILD)
				break;	/* every tracee is gone */
			die("waitpid");
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (pid == child)
				exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;

		int sig = WSTOPSIG(status);
		int event = status >> 16;

		if (sig == (SIGTRAP | 0x80)) {
			/* Syscall-exit stop (an entry stop only if something went off script). */
			struct __ptrace_syscall_info info;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) < 0) {
				if (errno != ESRCH)
					die("PTRACE_GET_SYSCALL_INFO");
				continue;
			}
			if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
				resume(PTRACE_SYSCALL, pid, 0);
			} else {
				stats.exit_stops++;
				resume(PTRACE_CONT, pid, 0);
			}
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
			stats.seccomp_stops++;
			syscall_info(pid);
			resume(PTRACE_SYSCALL, pid, 0);
		} else if (sig == SIGTRAP && (event == PTRACE_EVENT_CLONE ||
					      event == PTRACE_EVENT_FORK ||
					      event == PTRACE_EVENT_VFORK)) {
			/* Inside clone/fork/vfork: keep PTRACE_SYSCALL so its exit stop comes. */
			stats.tasks++;
			resume(PTRACE_SYSCALL, pid, 0);
		} else if (event == PTRACE_EVENT_STOP) {
			/*
			 * SIGTRAP: the first stop of an auto-attached task.  A stop signal: a
			 * group-stop, which must stay stopped until SIGCONT (PTRACE_LISTEN).
			 */
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				resume(PTRACE_LISTEN, pid, 0);
			else
				resume(PTRACE_CONT, pid, 0);
		} else if (event != 0) {
			resume(PTRACE_CONT, pid, 0);	/* other events: none are asked for */
		} else {
			resume(PTRACE_CONT, pid, sig);	/* signal-delivery stop: pass it on */
		}
	}
	if (arg_count)
		fprintf(stderr,
			"mintrace: events=%lu exit_stops=%lu tasks=%lu polled=%lu blocked=%lu "
			"empty_polls=%lu wall_ms=%.1f\n",
			stats.seccomp_stops, stats.exit_stops, stats.tasks, stats.polled,
			stats.blocked, stats.polls, (double)(now_ns() - t0) / 1e6);
	return exit_code;
}
