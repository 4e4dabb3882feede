// SPDX-License-Identifier: MIT
/*
 * The tracer engine. Each traced thread is a struct task in a hash by tid; each thread
 * group a struct proc; each address space a struct mmref shared by the tasks that use it.
 *
 * A recorded syscall costs two ptrace stops: the seccomp stop at entry (the filter returned
 * SECCOMP_RET_TRACE; PTRACE_GET_SYSCALL_INFO gives the arguments) and the syscall-exit stop
 * (PTRACE_SYSCALL from the seccomp stop; the same call gives the result). Between them come
 * the PTRACE_EVENT stops of clone/fork/vfork/exec. Everything else runs with PTRACE_CONT and
 * never stops, except signals and group-stops, which pass through untouched.
 *
 * Sequence numbers order events by when their effect happened, so that replaying the
 * events in seq order gives the map the kernel had: a syscall takes its seq at the exit
 * stop, except clone/fork/vfork and execve, which take theirs at their PTRACE_EVENT stop
 * (the child or the new image exists from then on, before the exit stop), and exit and
 * exit_group, which never return and take theirs at entry.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "model.h"
#include "peek.h"
#include "procinfo.h"
#include "procmap.h"
#include "store.h"
#include "sysent.h"
#include "tracer.h"
#include "xalloc.h"

#define SEIZE_OPTIONS                                                                          \
	(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |                    \
	 PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD | \
	 PTRACE_O_EXITKILL)

/* An attached process runs on if the daemon dies: no EXITKILL (and it has no filter). */
#define ATTACH_OPTIONS (SEIZE_OPTIONS & ~PTRACE_O_EXITKILL)

#define TASK_HASH_SIZE 4096     /* power of two */

struct tracer_config tracer_config = { .poll_us = 20 };

struct mmref {
	uint64_t id;            /* trace-wide address-space id, from 1; 0: not recorded */
	int users;              /* tasks using it (the kernel's mm_users, as we can see it) */
	int in_flight;          /* its tasks inside a map-changing syscall (for --verify) */
	struct model *model;    /* the replayable model, NULL if it could not be seeded */
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
	const char *end_status; /* "done", or "detached" */
	uint64_t next_seq;
	uint64_t next_mm;
	unsigned tasks;         /* live tasks */
	uint64_t events, processes;
	uint64_t start_mono_ns;
	struct model_counts counts;
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

static struct task *tasks[TASK_HASH_SIZE];
static struct trace *traces;
static struct orphan *orphans;
static uint32_t next_trace_id = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned tid_hash(pid_t tid)
{
	return (unsigned)tid & (TASK_HASH_SIZE - 1);
}

static struct task *task_find(pid_t tid)
{
	for (struct task *t = tasks[tid_hash(tid)]; t; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

static void task_hash_add(struct task *t)
{
	unsigned h = tid_hash(t->tid);

	t->hnext = tasks[h];
	tasks[h] = t;
}

static void task_hash_del(struct task *t)
{
	for (struct task **p = &tasks[tid_hash(t->tid)]; *p; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			return;
		}
}

static uint64_t take_seq(struct trace *tr)
{
	return tr->next_seq++;
}

/* ---- address spaces ------------------------------------------------------------------ */

/*
 * A new address space at event @seq: a copy of @parent (fork), or a fresh image (exec,
 * @parent NULL) whose initial layout is read from the kernel.
 */
static struct mmref *mm_new_ref(struct trace *tr, uint64_t seq, struct mmref *parent, pid_t owner)
{
	struct mmref *m = xcalloc(1, sizeof(*m));

	m->id = tr->next_mm++;
	m->users = 1;
	store_add_mm(tr->store, &(struct store_mm){
		.id = m->id, .start_seq = seq, .parent = parent ? parent->id : 0, .owner = owner });
	store_mm_users(tr->store, m->id, seq, 1);
	if (parent && parent->model)
		m->model = model_new_fork(parent->model, m->id, seq);
	else if (!parent && tr->attach && seq == 0)
		m->model = model_new_attach(tr->store, m->id, owner);
	else if (!parent)
		m->model = model_new_exec(tr->store, m->id, owner, seq);
	return m;
}

/*
 * The image that runs before the first execve of a `run` is our own client's: it gets mm 0,
 * which is never stored, so that a trace counts the program's address spaces only.
 */
static struct mmref *mm_new_pre_exec(void)
{
	struct mmref *m = xcalloc(1, sizeof(*m));

	m->users = 1;
	return m;
}

static void mm_get(struct trace *tr, struct mmref *m, uint64_t seq)
{
	m->users++;
	if (!m->id)
		return;
	store_mm_users(tr->store, m->id, seq, m->users);
}

static void mm_put(struct trace *tr, struct mmref *m, uint64_t seq)
{
	m->users--;
	if (!m->id) {
		if (m->users == 0)
			free(m);
		return;
	}
	store_mm_users(tr->store, m->id, seq, m->users);
	if (m->users == 0) {
		model_free(m->model, seq);
		store_end_mm(tr->store, m->id, seq);
		free(m);
	}
}

/* ---- files and build-ids --------------------------------------------------------------- */

static bool trace_file_seen(struct trace *tr, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < tr->n_files; i++)
		if (tr->files[2 * i] == dev && tr->files[2 * i + 1] == ino)
			return true;
	if (tr->n_files == tr->cap_files) {
		tr->cap_files = tr->cap_files ? 2 * tr->cap_files : 64;
		tr->files = xrealloc(tr->files, tr->cap_files * 2 * sizeof(uint64_t));
	}
	tr->files[2 * tr->n_files] = dev;
	tr->files[2 * tr->n_files + 1] = ino;
	tr->n_files++;
	return false;
}

static int proc_maps_fd(struct proc *p)
{
	if (p->maps_fd < 0)
		p->maps_fd = procmap_open(p->pid);
	return p->maps_fd;
}

/* Record a mapped file once per trace, with its build-id. */
static void note_file(struct trace *tr, struct proc *p, const struct procmap_vma *v)
{
	if (!v->ino || trace_file_seen(tr, v->dev, v->ino))
		return;
	struct procmap_vma full;
	const char *build_id = v->build_id[0] ? v->build_id : NULL;
	if (!build_id && procmap_query(proc_maps_fd(p), p->pid, v->start, 1, &full) == 0 &&
	    full.build_id[0])
		build_id = full.build_id;
	store_add_file(tr->store, &(struct store_file){
		.dev = v->dev, .ino = v->ino, .path = v->name, .build_id = build_id });
}

/* Every file mapped by a new image (executable, interpreter), recorded at exec. */
static void note_image_files(struct trace *tr, struct proc *p)
{
	char *text, *line, *save = NULL;
	size_t len;

	if (procmap_read(p->pid, &text, &len) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct procmap_vma v;
		if (procmap_parse_line(line, &v) == 0) {
			v.build_id[0] = '\0';
			note_file(tr, p, &v);
		}
	}
	free(text);
}

/* ---- tasks, processes, traces ---------------------------------------------------------- */

static struct proc *proc_new(struct trace *tr, pid_t pid)
{
	struct proc *p = xcalloc(1, sizeof(*p));

	p->pid = pid;
	p->maps_fd = -1;
	p->next = tr->procs;
	tr->procs = p;
	tr->processes++;
	return p;
}

static void proc_free(struct trace *tr, struct proc *p)
{
	for (struct proc **pp = &tr->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->maps_fd >= 0)
		close(p->maps_fd);
	free(p);
}

static struct task *task_new(struct trace *tr, pid_t tid, struct proc *p, struct mmref *mm)
{
	struct task *t = xcalloc(1, sizeof(*t));

	t->tid = tid;
	t->trace = tr;
	t->proc = p;
	t->mm = mm;
	p->threads++;
	tr->tasks++;
	task_hash_add(t);
	return t;
}

static void trace_finish(struct trace *tr);

static void flight_end(struct task *t)
{
	if (t->counted) {
		t->mm->in_flight--;
		t->counted = false;
	}
}

static void emit(struct task *t)
{
	struct trace *tr = t->trace;

	flight_end(t);
	if (!t->seq_taken)
		t->ev.seq = take_seq(tr);
	tr->events++;
	store_add_event(tr->store, &t->ev);
	memset(&t->ev, 0, sizeof(t->ev));
	t->seq_taken = false;
	t->in_syscall = false;
}

/* A syscall whose exit stop never came (the task was killed inside it). */
static void emit_unfinished(struct task *t)
{
	if (!t->in_syscall)
		return;
	if (!t->seq_taken)
		t->ev.ret = EVENT_RET_UNFINISHED;
	emit(t);
}

/*
 * A thread ended (@status from waitpid), or vanished (a non-leader exec took the leader's
 * tid: @status 0). Drops its mm user, ends its process with the last thread.
 */
static void task_end(struct task *t, int status)
{
	struct trace *tr = t->trace;
	struct proc *p = t->proc;

	emit_unfinished(t);
	struct event ev = {
		.kind = EVENT_TASK_EXIT, .nr = -1, .time_ns = now_ns(), .pid = p->pid,
		.tid = t->tid, .mm = t->mm->id, .ret = status,
	};
	t->ev = ev;
	uint64_t seq = take_seq(tr);
	t->ev.seq = seq;
	t->seq_taken = true;
	emit(t);
	store_end_thread(tr->store, t->tid, seq, status);
	mm_put(tr, t->mm, seq);
	if (t->tid == p->pid)
		p->leader_status = status;
	if (--p->threads == 0) {
		store_end_process(tr->store, p->pid, seq, p->leader_status);
		if (p->pid == tr->root_pid)
			tr->root_status = p->leader_status;
		proc_free(tr, p);
	}
	task_hash_del(t);
	free(t);
	if (--tr->tasks == 0)
		trace_finish(tr);
}

/*
 * We let @t go (detach): its thread, process and mm live on, so nothing ends in the
 * store; a syscall it was inside completes untraced (recorded with an unknown result).
 */
static void task_detached(struct task *t)
{
	struct trace *tr = t->trace;
	struct proc *p = t->proc;
	struct mmref *mm = t->mm;

	emit_unfinished(t);
	if (--mm->users == 0) {
		model_drop(mm->model);
		free(mm);
	}
	if (--p->threads == 0)
		proc_free(tr, p);
	task_hash_del(t);
	free(t);
	if (--tr->tasks == 0)
		trace_finish(tr);
}

static void trace_finish(struct trace *tr)
{
	int err = store_close(tr->store, tr->end_status ? tr->end_status : "done");
	struct trace_result res = {
		.trace_id = tr->id, .status = tr->root_status, .events = tr->events,
		.processes = tr->processes, .mms = tr->next_mm - 1, .store_error = -err,
		.verified = tr->counts.verified, .diverged = tr->counts.diverged,
		.message = tr->counts.first_divergence ? tr->counts.first_divergence : "",
	};

	log_info("trace %u of pid %d ended: %" PRIu64 " events -> %s", tr->id, tr->root_pid,
		 tr->events, tr->db_path);
	if (tr->done)
		tr->done(&res, tr->ctx);
	for (struct trace **pp = &traces; *pp; pp = &(*pp)->next)
		if (*pp == tr) {
			*pp = tr->next;
			break;
		}
	free(tr->counts.first_divergence);
	free(tr->files);
	free(tr->db_path);
	free(tr->program);
	free(tr);
}

/* ---- resuming ------------------------------------------------------------------------- */

static void task_detached(struct task *t);

/*
 * Every stop handler ends here. ESRCH from ptrace means the tracee is gone (killed): its
 * exit will be reported. A task being detached is let go instead (with the signal it was
 * about to get), and @t is freed: callers touch it no more after this.
 */
static void resume(struct task *t, int request, int sig)
{
	if (t->detaching) {
		if (ptrace(PTRACE_DETACH, t->tid, 0, request == PTRACE_LISTEN ? 0 : sig) < 0 &&
		    errno != ESRCH)
			log_warn("ptrace(PTRACE_DETACH, %d): %m", t->tid);
		task_detached(t);
		return;
	}
	if (ptrace(request, t->tid, 0, sig) < 0 && errno != ESRCH)
		log_warn("ptrace(%d, %d): %m", request, t->tid);
}

/*
 * Resume @t to its next stop of interest: the exit of a recorded syscall in flight; with
 * a seccomp filter (run), nothing else (the filter and events stop it); without one
 * (attach), every syscall entry.
 */
static void resume_next(struct task *t, int sig)
{
	resume(t, t->in_syscall || t->skipping || t->trace->attach ? PTRACE_SYSCALL : PTRACE_CONT,
	       sig);
}

/* ---- stops ---------------------------------------------------------------------------- */

static uint64_t clone_flags_of(struct task *t, int nr, const uint64_t *args)
{
	switch (nr) {
	case SYS_clone:
		return args[0];
	case SYS_clone3: {
		uint64_t flags = 0;
		/* struct clone_args starts with the u64 flags */
		if (peek(t->tid, args[0], &flags, sizeof(flags)) != sizeof(flags))
			flags = 0;
		return flags;
	}
	case SYS_vfork:
		return CLONE_VM | CLONE_VFORK;
	default:
		return 0;
	}
}

/* A recorded syscall starts (@nr, raw @args): the seccomp stop, or an entry stop. */
static void begin_syscall(struct task *t, int nr, const uint64_t *args)
{
	struct proc *p = t->proc;

	emit_unfinished(t); /* should not happen: a new entry while one is in flight */
	memset(&t->ev, 0, sizeof(t->ev));
	t->ev.kind = EVENT_SYSCALL;
	t->ev.nr = nr;
	t->ev.time_ns = now_ns();
	t->ev.pid = p->pid;
	t->ev.tid = t->tid;
	t->ev.mm = t->mm->id;
	for (int i = 0; i < 6; i++)
		t->ev.args[i] = args[i];
	t->seq_taken = false;

	switch (t->ev.nr) {
	case SYS_exit:
	case SYS_exit_group:
		/* No exit stop follows: the event is complete now. */
		t->ev.ret = 0;
		t->in_syscall = true;
		emit(t);
		resume_next(t, 0);
		return;
	case SYS_execve:
		t->ev.path = peek_string(t->tid, t->ev.args[0], 4096);
		t->ev.argv = peek_argv(t->tid, t->ev.args[1]);
		break;
	case SYS_execveat:
		t->ev.path = peek_string(t->tid, t->ev.args[1], 4096);
		t->ev.argv = peek_argv(t->tid, t->ev.args[2]);
		break;
	case SYS_clone:
	case SYS_clone3:
	case SYS_fork:
	case SYS_vfork:
		t->clone_flags = clone_flags_of(t, nr, args);
		break;
	case SYS_prctl:
		/* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): keep the name
		 * (the kernel limits it to 80 bytes); NULL clears it. */
		if (t->ev.args[4])
			t->ev.path = peek_string(t->tid, t->ev.args[4], 256);
		break;
	}
	t->in_syscall = true;
	switch (t->ev.nr) {
	case SYS_clone:
	case SYS_clone3:
	case SYS_fork:
	case SYS_vfork:
	case SYS_execve:
	case SYS_execveat:
		break; /* they change no map of this mm (exec makes a new one) */
	default:
		t->counted = true;
		t->mm->in_flight++;
	}
	resume(t, PTRACE_SYSCALL, 0);
}

static void on_seccomp_stop(struct task *t)
{
	struct __ptrace_syscall_info si;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(si), &si) <= 0) {
		if (errno != ESRCH)
			log_warn("PTRACE_GET_SYSCALL_INFO %d: %m", t->tid);
		return;
	}
	if (si.op != PTRACE_SYSCALL_INFO_SECCOMP) {
		resume_next(t, 0);
		return;
	}
	begin_syscall(t, (int)si.seccomp.nr, si.seccomp.args);
}

/* Attach mode: would the filter of a run have stopped this syscall? */
static bool recorded(int nr, const uint64_t *args)
{
	if (nr == SYS_prctl)
		return args[0] == PR_SET_VMA;
	return sysent_is_recorded(nr);
}

/* The result of an mmap/shmat that created a mapping: the file it maps, if any. */
static void note_mapping(struct task *t)
{
	struct procmap_vma v;
	uint64_t addr = (uint64_t)t->ev.ret;
	bool file = false;

	switch (t->ev.nr) {
	case SYS_mmap:
		/* shared anonymous memory is a shmem file too ("/dev/zero (deleted)") */
		file = ((t->ev.args[3] & MAP_TYPE) != MAP_PRIVATE) ||
		       (!(t->ev.args[3] & MAP_ANONYMOUS) && (int)t->ev.args[4] >= 0);
		break;
	case SYS_shmat:
		file = true;
		break;
	}
	if (!file || event_is_error(&t->ev))
		return;
	if (procmap_query(proc_maps_fd(t->proc), t->proc->pid, addr, 1, &v) < 0)
		return;
	t->ev.path = xstrdup(v.name);
	t->ev.dev = v.dev;
	t->ev.ino = v.ino;
	if (!(t->ev.nr == SYS_mmap && (t->ev.args[3] & MAP_ANONYMOUS)))
		note_file(t->trace, t->proc, &v);
}

/* The model follows the completed event; --verify checks it against the kernel. */
static void model_follow(struct task *t)
{
	struct trace *tr = t->trace;
	struct mmref *mm = t->mm;

	if (!mm->model)
		return;
	int r = model_apply(mm->model, &t->ev, t->proc->pid, &tr->counts);
	if (r < 0)
		log_warn("trace %u: the model of mm %" PRIu64 " could not follow event %" PRIu64
			 ": %s", tr->id, mm->id, t->ev.seq, strerror(-r));
	if (tr->flags & PROTO_F_VERIFY)
		model_verify(mm->model, t->proc->pid, t->ev.seq, mm->in_flight == 0, &tr->counts);
}

/* A syscall stop: an exit (both modes) or, without a filter (attach), an entry. */
static void on_syscall_stop(struct task *t)
{
	struct __ptrace_syscall_info si;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(si), &si) <= 0) {
		if (errno != ESRCH)
			log_warn("PTRACE_GET_SYSCALL_INFO %d: %m", t->tid);
		return;
	}
	if (si.op == PTRACE_SYSCALL_INFO_ENTRY) {
		t->skipping = !recorded((int)si.entry.nr, si.entry.args);
		if (t->skipping)
			resume(t, PTRACE_SYSCALL, 0);
		else
			begin_syscall(t, (int)si.entry.nr, si.entry.args);
		return;
	}
	t->skipping = false;
	if (!t->in_syscall) {
		resume_next(t, 0);
		return;
	}
	if (si.op == PTRACE_SYSCALL_INFO_EXIT)
		t->ev.ret = si.exit.rval;
	t->ev.dur_ns = now_ns() - t->ev.time_ns;
	note_mapping(t);
	flight_end(t);
	if (!t->seq_taken) {
		t->ev.seq = take_seq(t->trace);
		t->seq_taken = true;
	}
	model_follow(t);
	emit(t);
	resume_next(t, 0);
}

/* PTRACE_EVENT_CLONE/FORK/VFORK: the child exists and is attached; it may not have run. */
static void on_clone_event(struct task *t, int event)
{
	struct trace *tr = t->trace;
	unsigned long msg = 0;

	ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg);
	pid_t child = (pid_t)msg;
	uint64_t flags = t->clone_flags;

	if (!t->in_syscall) {
		/* Cannot happen with our filter (clone is always stopped at entry); be safe. */
		memset(&t->ev, 0, sizeof(t->ev));
		t->ev.kind = EVENT_SYSCALL;
		t->ev.nr = event == PTRACE_EVENT_FORK ? SYS_fork : SYS_clone;
		t->ev.pid = t->proc->pid;
		t->ev.tid = t->tid;
		t->ev.mm = t->mm->id;
		t->ev.time_ns = now_ns();
		t->in_syscall = true;
		flags = event == PTRACE_EVENT_VFORK ? CLONE_VM | CLONE_VFORK : 0;
	}
	/*
	 * The event kind does not say whether the mm is shared: clone(CLONE_VM|SIGCHLD) is
	 * reported as PTRACE_EVENT_FORK. Ask the kernel; the flags are the fallback where
	 * kcmp is not built in.
	 */
	long same = syscall(SYS_kcmp, t->tid, child, KCMP_VM, 0, 0);
	if (same == 0)
		flags |= CLONE_VM;
	else if (same > 0)
		flags &= ~(uint64_t)CLONE_VM;
	uint64_t seq = take_seq(tr);
	t->ev.seq = seq;
	t->seq_taken = true;

	struct proc *p;
	struct mmref *mm;
	if (flags & CLONE_VM) {
		mm = t->mm;
		mm_get(tr, mm, seq);
	} else {
		mm = mm_new_ref(tr, seq, t->mm, t->proc->pid);
	}
	if (flags & CLONE_THREAD) {
		p = t->proc;
	} else {
		p = proc_new(tr, child);
		store_add_process(tr->store, &(struct store_process){
			.pid = child, .ppid = t->proc->pid, .start_seq = seq, .mm = mm->id });
	}
	struct task *c = task_new(tr, child, p, mm);
	c->startup = true;
	store_add_thread(tr->store, child, p->pid, seq);

	/* The child's first stop may have been reported before this event. */
	for (struct orphan **op = &orphans; *op; op = &(*op)->next) {
		if ((*op)->tid == child) {
			struct orphan *o = *op;
			*op = o->next;
			tracer_dispatch(o->tid, o->status);
			free(o);
			break;
		}
	}
	resume(t, PTRACE_SYSCALL, 0);
}

/*
 * A non-leader thread exec'ed: the kernel killed the other threads and gave the execing
 * thread the leader's tid; the leader's own death is never reported. Called with the tid
 * the exec event came from (the leader's) and the execing thread's old tid, before the
 * event is dispatched.
 */
static void exec_takes_leader_tid(pid_t tid, pid_t old_tid)
{
	struct task *execer = task_find(old_tid);
	struct task *leader = task_find(tid);

	if (!execer)
		return;
	if (leader)
		task_end(leader, 0); /* never the last task: the execer lives */
	struct trace *tr = execer->trace;
	uint64_t seq = tr->next_seq; /* the exec event's seq, taken next */
	task_hash_del(execer);
	store_end_thread(tr->store, old_tid, seq, 0);
	execer->tid = tid;
	task_hash_add(execer);
	store_add_thread(tr->store, tid, execer->proc->pid, seq);
}

/* PTRACE_EVENT_EXEC: the task runs a new image in a new mm. */
static void on_exec_event(struct task *t)
{
	struct trace *tr = t->trace;
	struct proc *p = t->proc;

	uint64_t seq = take_seq(tr);
	if (!t->in_syscall) {
		memset(&t->ev, 0, sizeof(t->ev));
		t->ev.kind = EVENT_SYSCALL;
		t->ev.nr = SYS_execve;
		t->ev.time_ns = now_ns();
		t->in_syscall = true;
	}
	t->ev.seq = seq;
	t->seq_taken = true;
	t->ev.pid = p->pid;
	t->ev.tid = t->tid;

	/* The old image is gone: so is its maps file. */
	if (p->maps_fd >= 0) {
		close(p->maps_fd);
		p->maps_fd = -1;
	}
	mm_put(tr, t->mm, seq);
	t->mm = mm_new_ref(tr, seq, NULL, p->pid);
	t->ev.mm = t->mm->id;
	store_add_process_exec(tr->store, p->pid, seq, t->ev.path, t->ev.argv, t->mm->id);
	note_image_files(tr, p);
	resume(t, PTRACE_SYSCALL, 0);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void on_stop(struct task *t, int status)
{
	int sig = WSTOPSIG(status);
	int event = (unsigned)status >> 16;

	if (sig == (SIGTRAP | 0x80)) {
		on_syscall_stop(t);
		return;
	}
	switch (event) {
	case 0:
		break;
	case PTRACE_EVENT_SECCOMP:
		on_seccomp_stop(t);
		return;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		on_clone_event(t, event);
		return;
	case PTRACE_EVENT_EXEC:
		on_exec_event(t);
		return;
	case PTRACE_EVENT_VFORK_DONE:
	case PTRACE_EVENT_EXIT:
		resume_next(t, 0);
		return;
	case PTRACE_EVENT_STOP:
		if (t->startup) {
			/* The initial stop of an auto-attached child, or of PTRACE_INTERRUPT
			 * right after an attach's seize. */
			t->startup = false;
			resume_next(t, 0);
		} else if (is_stop_signal(sig)) {
			/* A group-stop (Ctrl-Z, SIGSTOP): stay stopped, as untraced. */
			resume(t, PTRACE_LISTEN, 0);
		} else {
			resume_next(t, 0);
		}
		return;
	default:
		resume_next(t, 0);
		return;
	}
	/* A signal-delivery stop: deliver the signal, as untraced. */
	resume_next(t, sig);
}

void tracer_dispatch(pid_t tid, int status)
{
	if (WIFSTOPPED(status) && (unsigned)status >> 16 == PTRACE_EVENT_EXEC) {
		unsigned long old_tid = 0;
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &old_tid) == 0 && (pid_t)old_tid != tid)
			exec_takes_leader_tid(tid, (pid_t)old_tid);
	}

	struct task *t = task_find(tid);
	if (!t) {
		if (WIFSTOPPED(status)) {
			/* A new child stopped before its parent's clone event was seen. */
			struct orphan *o = xmalloc(sizeof(*o));
			o->tid = tid;
			o->status = status;
			o->next = orphans;
			orphans = o;
		}
		return;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		task_end(t, status);
		return;
	}
	if (WIFSTOPPED(status))
		on_stop(t, status);
}

unsigned tracer_drain(void)
{
	unsigned handled = 0;
	uint64_t deadline = 0;

	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid > 0) {
			tracer_dispatch(tid, status);
			handled++;
			deadline = 0;
			continue;
		}
		if (tid < 0 || !traces || !tracer_config.poll_us)
			break;
		/*
		 * Nothing now. A traced program usually stops again within microseconds;
		 * sleeping in epoll and being woken by SIGCHLD costs far more (a halted vCPU
		 * must wake), so poll a little while before going back to the loop. bench/
		 * found 5 us catches 96-99% of stops and 20 us nearly all.
		 */
		uint64_t now = now_ns();
		if (!deadline)
			deadline = now + (uint64_t)tracer_config.poll_us * 1000;
		else if (now >= deadline)
			break;
		/* Yield: when the tracee shares our CPU it runs now instead of waiting for the
		 * spin to end (measured in bench/: spinning alone hurts pinned runs). */
		sched_yield();
	}
	return handled;
}

/* ---- starting a trace ----------------------------------------------------------------- */

static char *cmdline_json(const struct proto_run *req)
{
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);

	if (!f)
		die("out of memory");
	fputc('[', f);
	for (uint32_t i = 0; i < req->argc; i++) {
		if (i)
			fputc(',', f);
		json_print_string(f, req->argv[i]);
	}
	fputc(']', f);
	fclose(f);
	return json;
}

/* A new trace into @store, its metadata written. @cmd: the command line as JSON. */
static struct trace *trace_new(struct store *store, pid_t pid, const struct proto_run *req,
			       const char *mode, const char *cmd, const char *program,
			       trace_done_fn done, void *ctx)
{
	struct trace *tr = xcalloc(1, sizeof(*tr));
	struct utsname uts;
	struct timespec rt;

	tr->id = next_trace_id++;
	tr->store = store;
	tr->db_path = xstrdup(req->db_path);
	tr->program = xstrdup(program);
	tr->root_pid = pid;
	tr->root_status = -1;
	tr->flags = req->flags;
	tr->next_seq = 1;
	tr->next_mm = 1;
	tr->start_mono_ns = now_ns();
	tr->done = done;
	tr->ctx = ctx;
	tr->next = traces;
	traces = tr;

	uname(&uts);
	clock_gettime(CLOCK_REALTIME, &rt);
	store_begin_trace(store, &(struct store_trace_meta){
		.cmdline = cmd, .cwd = req->cwd, .host = uts.nodename, .kernel = uts.release,
		.version = VMATRACE_VERSION, .mode = mode,
		.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec,
		.start_mono_ns = tr->start_mono_ns, .page_size = sysconf(_SC_PAGESIZE) });
	store_add_syscall_names(store, sysent_name, 511);
	return tr;
}

/* The trace's DB: in system mode, created with the client's filesystem ids. */
static int db_create(const char *path, uid_t uid, gid_t gid, struct store **ret)
{
	if (tracer_config.system)
		return store_create_as(path, uid, gid, ret);
	return store_create(path, ret);
}

int tracer_run(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid, trace_done_fn done,
	       void *ctx, uint32_t *ret_id, char **ret_msg)
{
	struct store *store;
	int r;

	*ret_msg = NULL;
	r = db_create(req->db_path, uid, gid, &store);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create '%s': %s", req->db_path, strerror(-r));
		return r;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, SEIZE_OPTIONS) < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot trace pid %d: %s", pid, strerror(-r));
		store_close(store, "error: not traced");
		unlink(req->db_path);
		return r;
	}
	char *cmd = cmdline_json(req);
	struct trace *tr = trace_new(store, pid, req, "run", cmd, req->argc ? req->argv[0] : "?",
				     done, ctx);
	free(cmd);
	tr->uid = uid;

	/* The child is still our client's image, waiting for its go, until it execs. */
	struct proc *p = proc_new(tr, pid);
	struct mmref *mm = mm_new_pre_exec();
	store_add_process(store, &(struct store_process){
		.pid = pid, .ppid = 0, .start_seq = 0, .mm = mm->id, .exe = tr->program });
	store_add_thread(store, pid, pid, 0);
	task_new(tr, pid, p, mm);
	*ret_id = tr->id;
	log_info("trace %u: pid %d (%s) -> %s", tr->id, pid, tr->program, tr->db_path);
	return 0;
}

/* ---- attach and detach ---------------------------------------------------------------- */

/* Seize one thread of an attached process and stop it, so it can be resumed syscall by
 * syscall. */
static int seize_thread(struct trace *tr, struct proc *p, struct mmref *mm, pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, ATTACH_OPTIONS) < 0)
		return -errno;
	/* Running since the seize: interrupt it, and resume it from that stop. */
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	struct task *t = task_new(tr, tid, p, mm);
	t->startup = true;
	store_add_thread(tr->store, tid, p->pid, 0);
	return 0;
}

int tracer_attach(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid,
		  trace_done_fn done, void *ctx, uint32_t *ret_id, char **ret_msg)
{
	struct store *store;
	char path[64], *program;
	int r;

	*ret_msg = NULL;
	r = procinfo_attach_check(pid, uid, ret_msg);
	if (r < 0)
		return r;
	r = db_create(req->db_path, uid, gid, &store);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create '%s': %s", req->db_path, strerror(-r));
		return r;
	}
	/* The leader first: if it cannot be seized, nothing is. */
	if (ptrace(PTRACE_SEIZE, pid, 0, ATTACH_OPTIONS) < 0) {
		r = -errno;
		*ret_msg = xasprintf("cannot attach to pid %d: %s", pid, strerror(-r));
		store_close(store, "error: not traced");
		unlink(req->db_path);
		return r;
	}
	ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	char *cmd = procinfo_cmdline_json(pid, &program);
	struct trace *tr = trace_new(store, pid, req, "attach", cmd, program, done, ctx);
	free(cmd);
	free(program);
	tr->attach = true;
	tr->uid = uid;
	tr->end_status = "done";

	struct proc *p = proc_new(tr, pid);
	struct mmref *mm = mm_new_ref(tr, 0, NULL, pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	char exe[4096];
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	store_add_process(store, &(struct store_process){
		.pid = pid, .ppid = 0, .start_seq = 0, .mm = mm->id, .exe = n > 0 ? exe : NULL });
	struct task *leader = task_new(tr, pid, p, mm);
	leader->startup = true;
	store_add_thread(store, pid, pid, 0);

	/*
	 * Every other thread, until a listing finds none new: a thread made by one we had not
	 * seized yet is not auto-attached. Threads made by seized ones are (TRACECLONE).
	 */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	for (int round = 0; round < 1000; round++) {
		unsigned added = 0;
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);
			if (tid <= 0 || task_find(tid))
				continue;
			if (seize_thread(tr, p, mm, tid) == 0) {
				mm_get(tr, mm, 0);
				added++;
			}
		}
		if (d)
			closedir(d);
		if (!added)
			break;
	}
	*ret_id = tr->id;
	log_info("trace %u: attached to pid %d (%s, %d threads) -> %s", tr->id, pid,
		 tr->program, p->threads, tr->db_path);
	return 0;
}

/* Let every task of @tr go at its next stop. */
static void trace_detach(struct trace *tr)
{
	tr->end_status = "detached";
	for (unsigned h = 0; h < TASK_HASH_SIZE; h++)
		for (struct task *t = tasks[h]; t; t = t->hnext)
			if (t->trace == tr && !t->detaching) {
				t->detaching = true;
				/* stops it wherever it is; the stop's handler then detaches */
				ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
			}
}

int tracer_detach(pid_t pid, uid_t uid, char **ret_msg)
{
	for (struct trace *tr = traces; tr; tr = tr->next) {
		if (tr->root_pid != pid || (uid != 0 && uid != tr->uid))
			continue;
		if (!tr->attach) {
			*ret_msg = xasprintf("pid %d was started by 'vmatrace run': its seccomp "
					     "filter needs a tracer to its end", pid);
			return -EINVAL;
		}
		trace_detach(tr);
		return 0;
	}
	*ret_msg = xasprintf("pid %d is not traced by this daemon", pid);
	return -ESRCH;
}

unsigned tracer_detach_all(void)
{
	unsigned n = 0;

	for (struct trace *tr = traces; tr; tr = tr->next)
		if (tr->attach) {
			trace_detach(tr);
			n++;
		}
	return n;
}

void tracer_forget_ctx(void *ctx)
{
	for (struct trace *tr = traces; tr; tr = tr->next)
		if (tr->ctx == ctx) {
			tr->ctx = NULL;
			tr->done = NULL;
		}
}

unsigned tracer_busy(void)
{
	unsigned n = 0;

	for (struct trace *tr = traces; tr; tr = tr->next)
		n++;
	return n;
}

unsigned tracer_status(uid_t uid, struct proto_trace_info *out, unsigned max)
{
	unsigned n = 0;

	for (struct trace *tr = traces; tr && n < max; tr = tr->next) {
		if (uid != 0 && uid != tr->uid)
			continue;
		out[n] = (struct proto_trace_info){
			.trace_id = tr->id, .pid = (uint32_t)tr->root_pid, .events = tr->events,
			.start_mono_ns = tr->start_mono_ns, .program = tr->program,
			.db_path = tr->db_path,
		};
		n++;
	}
	return n;
}
