/* SPDX-License-Identifier: MIT */
/*
 * The event record: one recorded syscall (or task end) of one traced thread, as the daemon
 * decodes it and the store keeps it. Shared by the daemon (producer), the store (sink) and
 * the client (reader, printer).
 *
 * Ownership: strings inside a struct event (path, argv) belong to the event; event_release()
 * frees them. A struct event read back from the store owns copies of its strings.
 */
#ifndef VMATRACE_EVENT_H
#define VMATRACE_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ret of a syscall whose exit stop never came: the task died inside it, result unknown. */
#define EVENT_RET_UNFINISHED INT64_MIN

enum event_kind {
	EVENT_SYSCALL = 0,   /* a recorded syscall, entry args + exit result */
	EVENT_TASK_EXIT = 1, /* a thread ended; ret = wait(2) status (WIFEXITED/WIFSIGNALED) */
	EVENT_SIGNAL = 2,    /* a fault signal about to be delivered ("+signal"): below */
	EVENT_RENAME = 3     /* a mapped file was renamed or unlinked by a process outside the
			      * trace ("+rename"): path is its new name as /proc/PID/maps shows
			      * it, dev/ino the file; pid/tid/mm the first process that maps it */
};

/*
 * EVENT_SIGNAL: the signal-delivery stop of SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or
 * SIGSYS. nr is -1; the siginfo and registers go into args, and ret says what came of it,
 * known only at the thread's next stop or end (the store updates the row then):
 *
 *   args = {11 (SIGSEGV), 1 (SEGV_MAPERR), si_addr 0x7f3b2c000010, pc 0x55d0c4a1e1e9,
 *           sp 0x7ffd1c2e4f60, 0x11e9 (pc's offset in its module)}   ret = 2 (fatal)
 *   path/dev/ino: the module (file) the pc lies in, if any; stack_id: with --stacks.
 */
#define EVENT_SIG_SIGNO 0     /* args[]: signal number */
#define EVENT_SIG_CODE 1      /* si_code, as a signed int (SI_USER is 0, SI_TKILL -6) */
#define EVENT_SIG_ADDR 2      /* si_addr: the faulting address (SIGSEGV, SIGBUS...) */
#define EVENT_SIG_PC 3        /* the instruction pointer at the stop */
#define EVENT_SIG_SP 4        /* the stack pointer at the stop */
#define EVENT_SIG_MODOFF 5    /* pc's offset in the file it maps (pc - start + offset) */

enum event_signal_outcome {
	EVENT_SIG_UNKNOWN = 0,  /* the trace ended (detach) before the thread stopped again */
	EVENT_SIG_HANDLED = 1,  /* the thread went on: a handler ran, or it was ignored */
	EVENT_SIG_FATAL = 2     /* the thread was killed by this signal */
};

/*
 * One event. For a syscall, args are the raw register values at entry (as
 * PTRACE_GET_SYSCALL_INFO gives them), ret is the raw return value, negative errno on
 * failure (-4095..-1). Syscalls that do not return (exit, exit_group, a successful execve
 * from the old image's view) still get ret: exit*: 0, execve: its real result.
 *
 *   seq=3 time_ns=8123456789 pid=1234 tid=1234 mm=1 nr=9 (mmap)
 *   args={0, 8192, 3, 34, -1, 0} ret=0x7f3b2c000000
 *   path="/usr/lib/x86_64-linux-gnu/libc.so.6" dev=0x0801 ino=131090   (file mappings)
 */
struct event {
	uint64_t seq;         /* recording order in the trace, from 1 */
	uint64_t time_ns;     /* CLOCK_MONOTONIC at the entry stop */
	pid_t pid;            /* thread group id at entry (for execve: the pid after it) */
	pid_t tid;            /* thread id */
	uint64_t mm;          /* address-space id within the trace, 0 if unknown */
	int kind;             /* enum event_kind */
	int nr;               /* x86_64 syscall number (-1 for EVENT_TASK_EXIT, EVENT_SIGNAL) */
	uint64_t args[6];     /* raw arguments */
	int64_t ret;          /* result, -errno on failure; wait status for TASK_EXIT;
			       * enum event_signal_outcome for EVENT_SIGNAL */
	uint64_t dur_ns;      /* entry stop to exit stop, 0 if none */
	/* file identity of the mapping an mmap/shmat created, as /proc/PID/maps shows it */
	char *path;           /* mapped file path, or execve's filename; NULL if none */
	uint64_t dev;         /* makedev(major, minor) of the mapped file, 0 if none */
	uint64_t ino;         /* inode of the mapped file, 0 if none */
	char *argv;           /* execve argv as a JSON array of strings, NULL if none */
	int64_t stack_id;     /* deduplicated stack, 0 if none (stacks issue) */
};

/* event_release - free the strings an event owns and clear them. NULL-safe. */
void event_release(struct event *ev);

/* event_move - move @src into @dst (dst takes ownership of the strings; src is cleared). */
void event_move(struct event *dst, struct event *src);

/* event_is_error - true when @ev is a syscall that failed (ret in -4095..-1). */
static inline bool event_is_error(const struct event *ev)
{
	return ev->kind == EVENT_SYSCALL && ev->ret < 0 && ev->ret >= -4095;
}

#endif
