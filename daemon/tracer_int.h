/* SPDX-License-Identifier: MIT */
/*
 * The tracer's private state (struct tracer, below), shared by tracer.c (traces, tasks,
 * address spaces, their lives), attach.c (starting a trace, attaching, detaching), stops.c
 * (what each ptrace stop means), order.c, names.c and notify.c. Nothing else includes it.
 */
#ifndef VMATRACE_TRACER_INT_H
#define VMATRACE_TRACER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include "event.h"
#include "livemodel.h"
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
	/* order.c: its tasks inside a map-changing syscall, in entry order, and the events
	 * that completed but wait for their place (in exit order) */
	struct task *flight_head, *flight_tail;
	struct held *held_head, **held_tail;
	struct livemodel *model;    /* the replayable model, NULL if it could not be seeded */
	struct unwinder *unw;   /* --stacks: libunwind's state for this mm, made on first use */
	unsigned names_gen;     /* names.c: visited by the current recheck */
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
	bool counted;           /* inside a map-changing syscall: on mm's flight list */
	bool skipping;          /* attach mode: inside a syscall we do not record */
	bool detaching;         /* detach at the next stop instead of resuming */
	bool parked;            /* its stop (park_status) waits for its held events */
	uint64_t clone_flags;   /* flags of the clone/clone3/fork/vfork in flight */
	uint64_t entry_stamp;   /* order.c: when the map-changing syscall in flight entered */
	unsigned n_held;        /* its completed events still held by order.c */
	int park_status;        /* the parked stop's wait status */
	/* What waitpid said of it while its stop was parked (killed out of that stop, by
	 * exit_group or SIGKILL): handled after the parked stop, in the order they came. */
	bool later;
	int later_status;
	/* names.c: the files an unlink/rename in flight removes or renames (dev, ino) */
	uint64_t names[2][2];
	unsigned n_names;
	bool names_all;         /* ... or a directory: every file mapping's name is asked */
	bool in_names;          /* inside one of those calls (names.c counts them) */
	uint64_t park_stamp;    /* order.c: the stamp counter when it was parked */
	struct task *fl_prev, *fl_next; /* mm's flight list */
	struct task *park_next; /* order.c's parked list */
	struct event ev;        /* the syscall in flight */
	uint64_t fault_seq;     /* its last +signal, whose outcome its next stop tells; 0 none */
	int fault_sig;          /* ... and that signal */
	struct task *hnext;
};

/*
 * A trace's life. STARTING: its store's writer thread sets the DB up (nothing seized yet);
 * LIVE: on `traces`, tasks traced; CLOSING: its last task is gone and the writer closes
 * the DB (or, for a start that failed, removes it). The loop hears of the writer's part
 * through the store eventfd (tracer_store_events), so it never waits for SQLite.
 */
enum trace_state {
	TRACE_STARTING,
	TRACE_LIVE,
	TRACE_CLOSING,
};

struct trace {
	uint32_t id;
	enum trace_state state;
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
	uint64_t next_stamp;    /* order.c: entry and exit stops of map-changing syscalls */
	uint64_t held, reordered; /* events order.c held back, and moved before another */
	unsigned tasks;         /* live tasks */
	uint64_t events, processes;
	uint64_t start_mono_ns;
	struct livemodel_counts counts;
	struct stack_table *stacks; /* --stacks: deduplicated stacks, NULL without */
	uint64_t stack_captures, stack_ns; /* ... how many were taken, and the time it took */
	struct proc *procs;
	/* (dev, ino) pairs already stored in the file table */
	uint64_t *files;
	size_t n_files, cap_files;
	trace_started_fn started; /* NULL once called (or the client left) */
	trace_done_fn done;
	void *ctx;
	/* STARTING: what the start needs once the DB is ready */
	char *cmd;              /* the command line as JSON, for the trace row */
	char *cwd;              /* the client's working directory, for the trace row */
	pid_t more[PROTO_MAX_STRV]; /* attach: the other processes, checked already */
	uint32_t n_more;
	/* CLOSING after a failed start: what the client is told once the DB is removed */
	int start_err;
	char *start_msg;
	uint64_t close_ns;      /* CLOSING: when the writer was told to close (tracer_now_ns) */
	uint64_t end_loop_ns;   /* ... and the loop's own time on the end so far */
	struct trace *next;
};

/* A completed map-changing syscall waiting for its place in its mm's order (order.c). */
struct held {
	struct event ev;          /* complete but for its seq */
	struct livemodel_facts facts; /* what the kernel said at its exit stop */
	struct task *task;        /* whose it is (alive until it is released) */
	uint64_t entry_stamp, exit_stamp;
	struct held *next;
};

/* A stop of a tid we do not know yet: a new child whose parent's event is still queued. */
struct orphan {
	pid_t tid;
	int status;
	struct orphan *next;
};

/* A clone/fork whose task died before its event stop: its child may be an orphan to come
 * (stops.c, clone_lost). */
struct lost_clone {
	struct trace *trace;
	pid_t pid;              /* the creator's process */
	uint64_t flags;         /* its clone flags, as read at entry */
	struct lost_clone *next;
};

struct notify_watch;

/*
 * The tracer's state: every trace, task and address space the daemon follows, and what
 * order.c, names.c and notify.c keep across traces. There is one, owned by tracer.c for
 * the daemon's whole life and reached with tracer_get(); nothing frees it.
 *
 * Threading: only the loop thread (the one that seizes, so the only one whose ptrace
 * calls the kernel accepts) reads or writes it. The store's writer threads never see it:
 * they hear of a trace only through its struct store, and answer through store_efd.
 */
struct tracer {
	struct task *tasks[TASK_HASH_SIZE]; /* every traced task, hashed by tid (task_find) */
	struct trace *traces;   /* LIVE traces */
	struct trace *waiting;  /* traces whose DB the writer sets up or closes (STARTING,
				 * CLOSING) */
	struct orphan *orphans; /* stops of tids we do not know yet */
	struct lost_clone *lost_clones; /* clones whose creator died before its event */
	uint32_t next_trace_id; /* from 1 */
	int store_efd;          /* tracer_store_fd(): the writers' completions, -1 until made */
	bool stopping;          /* tracer_detach_all(): no trace starts any more */
	/* order.c: tasks whose current stop waits for their held events (see order_park) */
	struct task *parked;
	bool unparking, unpark_owed; /* ... unpark_ready() running, and asked again meanwhile */
	/* names.c: tasks inside an unlink/rename call (see names_quiet), and the visit marks
	 * of its walks over every mm (mmref.names_gen: recheck_gen, or ~outside_gen) */
	unsigned names_in_flight;
	unsigned recheck_gen, outside_gen;
	/* notify.c: the inotify fd (-1 until made), its watches, and the files it named
	 * while a traced rename/unlink was in flight (handled by notify_pending) */
	int notify_fd;
	struct notify_watch *watches;
	size_t n_watches, cap_watches;
	uint64_t (*pending)[2];
	size_t n_pending, cap_pending;
};

struct tracer *tracer_get(void);

uint64_t tracer_now_ns(void);
struct task *task_find(pid_t tid);
void task_hash_add(struct task *t);
void task_hash_del(struct task *t);
uint64_t trace_take_seq(struct trace *tr);
struct mmref *mmref_new(struct trace *tr, uint64_t seq, struct mmref *parent, pid_t owner);
void mmref_get(struct trace *tr, struct mmref *m, uint64_t seq);
void mmref_put(struct trace *tr, struct mmref *m, uint64_t seq);
int proc_maps_fd(struct proc *p);
/* @v->name NUL-terminated; @build_id NULL or "" if not known (then asked to the kernel) */
void trace_note_file(struct trace *tr, struct proc *p, const struct vma_desc *v,
		     const char *build_id);
void trace_note_image_files(struct trace *tr, struct proc *p);
struct proc *proc_new(struct trace *tr, pid_t pid);
struct task *task_new(struct trace *tr, pid_t tid, struct proc *p, struct mmref *mm);
void trace_list_del(struct trace **head, struct trace *tr); /* off `traces` or `waiting` */

/* attach.c: the DB of STARTING @tr is set up (@setup: store_ready()'s 0 or -errno):
 * seize and make it LIVE, or fail the start. */
void trace_start(struct trace *tr, int setup);

/* order.c: see the comment at its top. */
void order_flight_begin(struct task *t); /* a map-changing syscall entered */
void order_flight_end(struct task *t);   /* ... left the kernel (or its task died) */
void order_complete(struct task *t, const struct livemodel_facts *facts); /* consumes t->ev */
void order_release(struct trace *tr, struct mmref *mm, bool force);
bool order_concurrent(const struct mmref *mm);     /* others in flight or held */
bool order_stop_waits(const struct task *t, int status);
void order_park(struct task *t, int status);       /* handled later by stop_redispatch */
void order_forget(struct task *t);
/* names.c: the tracee's unlink/rename calls and the names of mapped files. */
bool names_syscall(int nr);               /* one of those */
void names_begin(struct task *t);         /* entry stop: paths into t->ev, targets noted */
/* a rename/unlink done at @seq: every mm of @tr re-reads the names of those files */
void names_recheck(struct trace *tr, uint64_t seq, const uint64_t (*ids)[2], unsigned n,
		   bool all);

bool names_quiet(void);                   /* no such call in flight in any trace */
void names_leave(struct task *t);         /* its call ended (exit stop, or its death) */
/* a mapped file (@ids[0]) changed name outside the trace: a "+rename" event if it shows */
void names_changed_outside(struct trace *tr, const uint64_t (*ids)[2]);

/* notify.c: inotify on the files traces map (renames and unlinks by other processes). */
int notify_fd_get(void);                   /* the inotify fd, made on first use; -1 */
void notify_watch(pid_t pid, const char *path, uint64_t dev, uint64_t ino);
void notify_unwatch(uint64_t dev, uint64_t ino);
void notify_poll(void);                    /* handle what is queued */
void notify_pending(void);                 /* ... and what waited for names_quiet() */

/* stops.c: handle a stop (or a task's end) that order.c parked. */
void stop_redispatch(struct task *t, int status);
/* adopt.c: @t dies (if inside a clone/fork/vfork whose event stop never came, its child
 * is looked for among the orphans); ... @t's clone event names a child already adopted
 * for such a clone; ... @tr ends; ... a new orphan may be such a child. */
void clone_lost(struct task *t);
void clone_adopted_early(struct task *t);
void clone_lost_forget(struct trace *tr);
void adopt_orphans(void);
void mmref_free(struct mmref *m);
void task_emit(struct task *t);
void task_emit_unfinished(struct task *t);
void task_end(struct task *t, int status);
void task_resume(struct task *t, int request, int sig);
void task_resume_next(struct task *t, int sig);

#endif
