// SPDX-License-Identifier: MIT
/*
 * Decoders of the process syscalls (%process): clone, clone3, fork and vfork, execve and
 * execveat, exit and exit_group. Each is a row of lib/syscallent.h that names its printer
 * and its effects function here; the formats are sysent.h's.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>

#include "stresc.h"
#include "sysent_int.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

/* clang-format off */
/* clone flags above the exit signal byte (CSIGNAL), in bit order. */
static const struct flag_name clone_flags[] = {
	FLAG(CLONE_VM), FLAG(CLONE_FS), FLAG(CLONE_FILES), FLAG(CLONE_SIGHAND),
	FLAG(CLONE_PIDFD), FLAG(CLONE_PTRACE), FLAG(CLONE_VFORK), FLAG(CLONE_PARENT),
	FLAG(CLONE_THREAD), FLAG(CLONE_NEWNS), FLAG(CLONE_SYSVSEM), FLAG(CLONE_SETTLS),
	FLAG(CLONE_PARENT_SETTID), FLAG(CLONE_CHILD_CLEARTID), FLAG(CLONE_DETACHED),
	FLAG(CLONE_UNTRACED), FLAG(CLONE_CHILD_SETTID), FLAG(CLONE_NEWCGROUP),
	FLAG(CLONE_NEWUTS), FLAG(CLONE_NEWIPC), FLAG(CLONE_NEWUSER), FLAG(CLONE_NEWPID),
	FLAG(CLONE_NEWNET), FLAG(CLONE_IO),
};

static const struct flag_name at_flags[] = {
	FLAG(AT_SYMLINK_NOFOLLOW), FLAG(AT_EMPTY_PATH),
};
/* clang-format on */

/* exit and exit_group: the status, an int */
void sys_print_int0(const struct event *ev, FILE *out)
{
	fprintf(out, "%d", (int)ev->args[0]);
}

/* x86_64 clone(flags, stack, parent_tid, child_tid, tls): note tls last, unlike i386. */
void sys_print_clone(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;
	uint64_t flags = a[0], rest = flags & ~(uint64_t)CSIGNAL;
	int sig = (int)(flags & CSIGNAL);
	bool first = true;

	fputs("child_stack=", out);
	sys_print_addr(out, a[1]);
	fputs(", flags=", out);
	sys_flags_names(out, &rest, clone_flags, ARRAY_SIZE(clone_flags), &first);
	if (rest) {
		sys_sep(out, &first);
		fprintf(out, "%#" PRIx64, rest);
	}
	if (sig) {
		sys_sep(out, &first);
		if (signal_name(sig))
			fputs(signal_name(sig), out);
		else
			fprintf(out, "%d", sig);
	}
	if (first)
		fputc('0', out);
	/* The pointers print only when a flag makes the kernel use them, as strace does. */
	if (flags & CLONE_PIDFD)
		fprintf(out, ", pidfd=%#" PRIx64, a[2]);
	else if (flags & CLONE_PARENT_SETTID)
		fprintf(out, ", parent_tid=%#" PRIx64, a[2]);
	if (flags & CLONE_SETTLS)
		fprintf(out, ", tls=%#" PRIx64, a[4]);
	if (flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID))
		fprintf(out, ", child_tidptr=%#" PRIx64, a[3]);
}

void sys_print_clone3(const struct event *ev, FILE *out)
{
	/* struct clone_args lives in the tracee; only its address and size were recorded. */
	sys_print_addr(out, ev->args[0]);
	fprintf(out, ", %" PRIu64, ev->args[1]);
}

/* execve's filename and argv: what the daemon read, else the tracee pointers. */
static void print_exec_args(const struct event *ev, uint64_t path, uint64_t argv, FILE *out)
{
	if (ev->path)
		stresc_print_quoted(out, ev->path);
	else
		sys_print_addr(out, path);
	fputs(", ", out);
	if (!ev->argv || stresc_print_argv(ev->argv, NULL) < 0 || stresc_print_argv(ev->argv, out) < 0)
		sys_print_addr(out, argv);
	/* The environment is not recorded. */
	fputs(", ...", out);
}

void sys_print_execve(const struct event *ev, FILE *out)
{
	print_exec_args(ev, ev->args[0], ev->args[1], out);
}

void sys_print_execveat(const struct event *ev, FILE *out)
{
	const uint64_t *a = ev->args;

	if ((int)a[0] == AT_FDCWD)
		fputs("AT_FDCWD, ", out);
	else
		fprintf(out, "%d, ", (int)a[0]);
	print_exec_args(ev, a[1], a[2], out);
	fputs(", ", out);
	PRINT_FLAGS(out, (unsigned)a[4], at_flags, "0");
}

/* ---- effects: the flags the new task is created with ------------------------------- */

void sys_effects_clone(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	e->clone_flags = ev->args[0];
}

void sys_effects_clone3(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	/* struct clone_args, in the tracee, starts with the u64 flags */
	e->clone_args = ev->args[0];
}

void sys_effects_fork(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	e->clone_flags = 0;
}

void sys_effects_vfork(const struct event *ev, uint64_t shm_size, struct sysent_effects *e)
{
	e->clone_flags = CLONE_VM | CLONE_VFORK;
}
