/* SPDX-License-Identifier: MIT */
/*
 * The tracer's private state, shared by tracer.c (traces, tasks, address spaces, their
 * lives) and stops.c (what each ptrace stop means). Nothing outside daemon/tracer.c and
 * daemon/stops.c includes it.
 */
#ifndef VMATRACE_TRACER_INT_H
#define VMATRACE_TRACER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include "event.h"
#include "model.h"
#include "procmap.h"
#include "tracer.h"

#define SEIZE_OPTIONS                                                                          \
	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |                    \
	 PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD | \
	 PTRACE_O_EXITKILL)

/* An attached process runs on if the daemon dies: no EXITKILL (and it has no filter). */
#define ATTACH_OPTIONS (SEIZE_OPTIONS & ~PTRACE_O_EXITKILL)

#define TASK_HASH_SIZE 4096     /* power of two */

struct mmref {
	uint64_t id;            /* trace-wide address-space id, from 1; 0: not recorded */
	int users;              /* tasks using it (the kernel's mm_users, as we can see it) */
	int in_flight;          /* its tasks inside a map-changing syscall (for --verify) */
	struct model *model;    /* the replayable model, NULL if it could not be seeded */
	struct unwinder *unw;   /* --stacks: libunwind's state for this mm, made on first use */
};

struct proc {
	pid_t pid;
	int threads;            /* live traced threads of this group */
	int maps_fd;            /* /proc/PID/maps of the current image, -1 until needed */
	int leader_status;      /* wait status of the leader when it ended */
	struct proc *next;      /* trace->procs */
};

struct task {
	pid_t tid;
	struct trace *trace;
	struct proc *proc;
	struct mmref *mm;
	bool startup;           /* auto-attached: expecting the initial PTRACE_EVENT_STOP */
	bool in_syscall;        /* between seccomp stop and syscall-exit stop */
	bool seq_taken;         /* ev.seq already assigned (clone/exec event stop) */
	bool counted;           /* counted in mm->in_flight */
	bool skipping;          /* attach mode: inside a syscall we do not record */
	bool detaching;         /* detach at the next stop instead of resuming */
	uint64_t clone_flags;   /* flags of the clone/clone3/fork/vfork in flight */
	struct event ev;        /* the syscall in flight */
	struct task *hnext;
};

struct trace {
	uint32_t id;
	struct store *store;
	char *db_path;
	char *program;
	pid_t root_pid;
	int root_status;
	unsigned flags;         /* enum proto_trace_flags */
	bool attach;            /* attached to a running process: no seccomp filter */
	uid_t uid;              /* the client's: its DB, its detach, its status line */
	gid_t gid;              /* the client's: threads attached later are seized as it */
	const char *end_status; /* "done", or "detached" */
	uint64_t next_seq;
	uint64_t next_mm;
	unsigned tasks;         /* live tasks */
	uint64_t events, processes;
	uint64_t start_mono_ns;
	struct model_counts counts;
	struct stack_table *stacks; /* --stacks: deduplicated stacks, NULL without */
	uint64_t stack_captures, stack_ns; /* ... how many were taken, and the time it took */
	struct proc *procs;
	/* (dev, ino) pairs already stored in the file table */
	uint64_t *files;
	size_t n_files, cap_files;
	trace_done_fn done;
	void *ctx;
	struct trace *next;
};

/* A stop of a tid we do not know yet: a new child whose parent's event is still queued. */
struct orphan {
	pid_t tid;
	int status;
	struct orphan *next;
};

extern struct task *tasks[TASK_HASH_SIZE];
extern struct trace *traces;
extern struct orphan *orphans;

uint64_t now_ns(void);
struct task *task_find(pid_t tid);
void task_hash_add(struct task *t);
void task_hash_del(struct task *t);
uint64_t take_seq(struct trace *tr);
struct mmref *mm_new_ref(struct trace *tr, uint64_t seq, struct mmref *parent, pid_t owner);
void mm_get(struct trace *tr, struct mmref *m, uint64_t seq);
void mm_put(struct trace *tr, struct mmref *m, uint64_t seq);
int proc_maps_fd(struct proc *p);
void note_file(struct trace *tr, struct proc *p, const struct procmap_vma *v);
void note_image_files(struct trace *tr, struct proc *p);
struct proc *proc_new(struct trace *tr, pid_t pid);
struct task *task_new(struct trace *tr, pid_t tid, struct proc *p, struct mmref *mm);
void flight_end(struct task *t);
void mmref_free(struct mmref *m);
void emit(struct task *t);
void emit_unfinished(struct task *t);
void task_end(struct task *t, int status);
void resume(struct task *t, int request, int sig);
void resume_next(struct task *t, int sig);

#endif
