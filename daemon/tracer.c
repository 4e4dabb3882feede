// SPDX-License-Identifier: MIT
/*
 * The tracer engine's bookkeeping: each traced thread is a struct task in a hash by tid;
 * each thread group a struct proc; each address space a struct mmref shared by the tasks
 * that use it; each trace (run or attach) its store. Here: their lives, a trace's end (its
 * store handed to the writer, the result reported once the DB is closed), resuming tasks,
 * and draining waitpid and the writers' eventfd. Starting a trace, attaching and detaching
 * are in attach.c; what each stop means is in stops.c.
 *
 * A recorded syscall costs two ptrace stops: the seccomp stop at entry (the filter returned
 * SECCOMP_RET_TRACE; PTRACE_GET_SYSCALL_INFO gives the arguments) and the syscall-exit stop
 * (PTRACE_SYSCALL from the seccomp stop; the same call gives the result). Between them come
 * the PTRACE_EVENT stops of clone/fork/vfork/exec. Everything else runs with PTRACE_CONT and
 * never stops, except signals and group-stops, which pass through untouched. An attached
 * process has no filter: every syscall stops at entry, and unrecorded ones go on at once.
 *
 * Sequence numbers order events by when their effect happened, so that replaying the
 * events in seq order gives the map the kernel had: a syscall takes its seq at the exit
 * stop, except clone/fork/vfork and execve, which take theirs at their PTRACE_EVENT stop
 * (the child or the new image exists from then on, before the exit stop), and exit and
 * exit_group, which never return and take theirs at entry.
 *
 * Threading: the event-loop thread only, like the rest of the tracer (tracer_int.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "livemodel.h"
#include "procmap.h"
#include "elfcache.h"
#include "stacks.h"
#include "store.h"
#include "tracer.h"
#include "tracer_int.h"
#include "unwind.h"
#include "xalloc.h"

struct tracer_config tracer_config = { .poll_us = 20, .stack_depth = 64 };

/* The one tracer (tracer_int.h says who may touch it). */
static struct tracer the_tracer = { .next_trace_id = 1, .store_efd = -1, .notify_fd = -1 };

struct tracer *tracer_get(void)
{
	return &the_tracer;
}

uint64_t tracer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned tid_hash(pid_t tid)
{
	return (unsigned)tid & (TASK_HASH_SIZE - 1);
}

struct task *task_find(pid_t tid)
{
	struct tracer *tracer = tracer_get();

	for (struct task *t = tracer->tasks[tid_hash(tid)]; t; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

void task_hash_add(struct task *t)
{
	struct tracer *tracer = tracer_get();
	unsigned h = tid_hash(t->tid);

	t->hnext = tracer->tasks[h];
	tracer->tasks[h] = t;
}

void task_hash_del(struct task *t)
{
	struct tracer *tracer = tracer_get();

	for (struct task **p = &tracer->tasks[tid_hash(t->tid)]; *p; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			return;
		}
}

uint64_t trace_take_seq(struct trace *tr)
{
	return tr->next_seq++;
}

/* ---- address spaces ------------------------------------------------------------------ */

/*
 * A new address space at event @seq: a copy of @parent (fork), or a fresh image (exec,
 * @parent NULL) whose initial layout is read from the kernel.
 */
struct mmref *mmref_new(struct trace *tr, uint64_t seq, struct mmref *parent, pid_t owner)
{
	struct mmref *m = xcalloc(1, sizeof(*m));

	m->id = tr->next_mm++;
	m->users = 1;
	m->held_tail = &m->held_head;
	store_add_mm(tr->store, &(struct store_mm){
		.id = m->id, .start_seq = seq, .parent = parent ? parent->id : 0, .owner = owner });
	store_mm_users(tr->store, m->id, seq, 1);
	if (parent && parent->model)
		m->model = livemodel_new_fork(parent->model, m->id, seq);
	else if (!parent && tr->attach && seq == 0)
		m->model = livemodel_new_attach(tr->store, m->id, owner);
	else if (!parent)
		m->model = livemodel_new_exec(tr->store, m->id, owner, seq);
	return m;
}

/* An mmref with id 0 is a run's pre-exec image (mm_new_pre_exec, attach.c): not stored. */
void mmref_get(struct trace *tr, struct mmref *m, uint64_t seq)
{
	m->users++;
	if (!m->id)
		return;
	store_mm_users(tr->store, m->id, seq, m->users);
}

void mmref_put(struct trace *tr, struct mmref *m, uint64_t seq)
{
	m->users--;
	if (!m->id) {
		if (m->users == 0) {
			order_release(tr, m, true);
			free(m);
		}
		return;
	}
	store_mm_users(tr->store, m->id, seq, m->users);
	if (m->users == 0) {
		order_release(tr, m, true); /* nothing is in flight in it any more */
		livemodel_free(m->model, seq);
		store_end_mm(tr->store, m->id, seq);
		mmref_free(m);
	}
}

/* Free what the mmref itself owns (its model is the caller's business). */
void mmref_free(struct mmref *m)
{
	unwinder_free(m->unw);
	free(m);
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

int proc_maps_fd(struct proc *p)
{
	if (p->maps_fd < 0)
		p->maps_fd = procmap_open(p->pid);
	return p->maps_fd;
}

/* Record a mapped file once per trace, with its build-id. */
void trace_note_file(struct trace *tr, struct proc *p, const struct vma_desc *v,
		     const char *build_id)
{
	if (!v->ino || trace_file_seen(tr, v->dev, v->ino))
		return;
	struct vma_desc full;
	char full_name[PROCMAP_NAME_SIZE], full_build_id[PROCMAP_BUILD_ID_SIZE];
	if (build_id && !build_id[0])
		build_id = NULL;
	if (!build_id &&
	    procmap_query(proc_maps_fd(p), p->pid, v->start, &full, full_name, sizeof(full_name),
			  full_build_id) == 0 &&
	    full_build_id[0])
		build_id = full_build_id;
	store_add_file(tr->store, &(struct store_file){
		.dev = v->dev, .ino = v->ino, .path = v->name, .build_id = build_id });
	notify_watch(p->pid, v->name, v->dev, v->ino);
}

/* Every file mapped by a new image (executable, interpreter), recorded at exec. */
void trace_note_image_files(struct trace *tr, struct proc *p)
{
	char *text, *line, *save = NULL;
	size_t len;

	if (procmap_read(p->pid, &text, &len) < 0)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vma_desc v;
		/* v.name is the rest of @line, NUL-terminated by strtok_r */
		if (mm_parse_maps_line(line, strlen(line), &v) == 0)
			trace_note_file(tr, p, &v, NULL);
	}
	free(text);
}

/* ---- tasks, processes, traces ---------------------------------------------------------- */

struct proc *proc_new(struct trace *tr, pid_t pid)
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

struct task *task_new(struct trace *tr, pid_t tid, struct proc *p, struct mmref *mm)
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

void task_emit(struct task *t)
{
	struct trace *tr = t->trace;

	if (!t->seq_taken)
		t->ev.seq = trace_take_seq(tr);
	names_leave(t);
	tr->events++;
	store_add_event(tr->store, &t->ev);
	memset(&t->ev, 0, sizeof(t->ev));
	t->seq_taken = false;
	t->in_syscall = false;
}

/* A syscall whose exit stop never came (the task was killed inside it). */
void task_emit_unfinished(struct task *t)
{
	if (!t->in_syscall)
		return;
	if (!t->seq_taken)
		t->ev.ret = EVENT_RET_UNFINISHED;
	bool was_counted = t->counted;
	order_flight_end(t);
	if (was_counted && t->ev.ret == EVENT_RET_UNFINISHED && t->mm->model)
		livemodel_unfinished(t->mm->model, &t->ev);
	task_emit(t);
	if (was_counted)
		order_release(t->trace, t->mm, false); /* it held nobody back any more */
}

/*
 * A thread ended (@status from waitpid), or vanished (a non-leader exec took the leader's
 * tid: @status 0). Drops its mm user, ends its process with the last thread.
 */
void task_end(struct task *t, int status)
{
	struct trace *tr = t->trace;
	struct proc *p = t->proc;

	if (t->parked)
		order_forget(t); /* vanished in a parked stop (a non-leader's exec took its tid) */
	clone_lost(t); /* if it dies inside a clone whose event never came */
	task_emit_unfinished(t);
	struct event ev = {
		.kind = EVENT_TASK_EXIT, .nr = -1, .time_ns = tracer_now_ns(), .pid = p->pid,
		.tid = t->tid, .mm = t->mm->id, .ret = status,
	};
	t->ev = ev;
	uint64_t seq = trace_take_seq(tr);
	t->ev.seq = seq;
	t->seq_taken = true;
	task_emit(t);
	store_end_thread(tr->store, t->tid, seq, status);
	mmref_put(tr, t->mm, seq);
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

	if (t->parked)
		order_forget(t);
	task_emit_unfinished(t);
	order_release(tr, mm, true); /* no more results come: the rest in the order known */
	if (--mm->users == 0) {
		livemodel_drop(mm->model);
		mmref_free(mm);
	}
	if (--p->threads == 0)
		proc_free(tr, p);
	task_hash_del(t);
	free(t);
	if (--tr->tasks == 0)
		trace_finish(tr);
}

void trace_list_del(struct trace **head, struct trace *tr)
{
	for (struct trace **pp = head; *pp; pp = &(*pp)->next)
		if (*pp == tr) {
			*pp = tr->next;
			return;
		}
}

static void trace_free(struct trace *tr)
{
	free(tr->counts.first_divergence);
	stacks_free(tr->stacks);
	free(tr->files);
	free(tr->db_path);
	free(tr->program);
	free(tr->cmd);
	free(tr->cwd);
	free(tr->start_msg);
	free(tr);
}

/*
 * The last task of @tr is gone: hand the store to its writer to close (commit, WAL
 * checkpoint, fsyncs: 15-85 ms for a 420,000-event trace here, during which no tracee of
 * any trace could be resumed when the loop did it; bench/end-stall) and wait off-list, in
 * `waiting`, for trace_closed(). Nothing records into the store from here.
 */
static void trace_finish(struct trace *tr)
{
	struct tracer *tracer = tracer_get();
	uint64_t t0 = tracer_now_ns();

	store_close_begin(tr->store, tr->end_status ? tr->end_status : "done");
	clone_lost_forget(tr);
	trace_list_del(&tracer->traces, tr);
	tr->state = TRACE_CLOSING;
	tr->next = tracer->waiting;
	tracer->waiting = tr;
	if (!tracer->traces)
		elfcache_clear(); /* idle: let the files go (they may be replaced, unmounted) */
	for (size_t i = 0; i < tr->n_files; i++)
		notify_unwatch(tr->files[2 * i], tr->files[2 * i + 1]);
	tr->n_files = 0;
	tr->close_ns = tracer_now_ns();
	tr->end_loop_ns = tr->close_ns - t0;
}

/* The writer closed @tr's DB (trace_finish): report the trace's end. @tr is freed. */
static void trace_closed(struct trace *tr)
{
	uint64_t stored = 0, t0 = tracer_now_ns();
	int err = store_close_end(tr->store, &stored);
	char *lost = NULL;

	tr->store = NULL;
	/* What the end cost the loop, which every other trace's tracees wait for (bench/
	 * end-stall quotes this line), and what it cost the writer, which they do not. */
	log_info("trace %u: the loop spent %.2f ms on the trace's end; its writer closed the DB "
		 "in %.1f ms", tr->id, (double)(tr->end_loop_ns + tracer_now_ns() - t0) / 1e6,
		 (double)(t0 - tr->close_ns) / 1e6);
	if (err < 0) {
		/* The DB holds what was committed before the error, not all the tracer saw. */
		lost = xasprintf("recording stopped at the error: %" PRIu64 " of the %" PRIu64
				 " events seen are in the DB", stored, tr->events);
		log_warn("trace %u (%s): %s; %s", tr->id, tr->db_path, strerror(-err), lost);
	}
	struct trace_result res = {
		.trace_id = tr->id, .status = tr->root_status, .events = err < 0 ? stored : tr->events,
		.processes = tr->processes, .mms = tr->next_mm - 1, .store_error = -err,
		.verified = tr->counts.verified, .diverged = tr->counts.diverged,
		.message = lost ? lost : tr->counts.first_divergence ? tr->counts.first_divergence : "",
	};

	/* How often the model could not know and asked the kernel (PROCMAP_QUERY). */
	log_info("trace %u of pid %d ended: %" PRIu64 " events, %" PRIu64 " outcomes asked to "
		 "the kernel -> %s", tr->id, tr->root_pid, tr->events, tr->counts.reconciled,
		 tr->db_path);
	/* How often threads of one mm raced (order.c). */
	if (tr->held)
		log_info("trace %u: %" PRIu64 " events waited for concurrent ones, %" PRIu64
			 " were placed before an earlier-reported one", tr->id, tr->held,
			 tr->reordered);
	/* What --stacks cost the tracer, as bench/ and the README quote it. */
	if (tr->stack_captures)
		log_info("trace %u: %" PRIu64 " stacks captured, %.1f us each (unwind, "
			 "deduplication, symbols of new frames)", tr->id, tr->stack_captures,
			 (double)tr->stack_ns / 1e3 / (double)tr->stack_captures);
	if (tr->done)
		tr->done(&res, tr->ctx);
	free(lost);
	trace_free(tr);
}

/* ---- resuming ------------------------------------------------------------------------- */

static void task_detached(struct task *t);

/*
 * Every stop handler ends here. ESRCH from ptrace means the tracee is gone (killed): its
 * exit will be reported. A task being detached is let go instead (with the signal it was
 * about to get), and @t is freed: callers touch it no more after this.
 */
void task_resume(struct task *t, int request, int sig)
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
void task_resume_next(struct task *t, int sig)
{
	bool sys = t->in_syscall || t->skipping || t->trace->attach;

	task_resume(t, sys ? PTRACE_SYSCALL : PTRACE_CONT, sig);
}

unsigned tracer_drain(void)
{
	struct tracer *tracer = tracer_get();
	unsigned handled = 0;
	uint64_t deadline = 0;

	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);

		if (tid > 0) {
			/* A rename seen by inotify goes before the stops that came after it. */
			notify_poll();
			tracer_dispatch(tid, status);
			handled++;
			deadline = 0;
			continue;
		}
		if (tid < 0 || !tracer->traces || !tracer_config.poll_us)
			break;
		/*
		 * Nothing now. A traced program usually stops again within microseconds;
		 * sleeping in epoll and being woken by SIGCHLD costs far more (a halted vCPU
		 * must wake), so poll a little while before going back to the loop. bench/
		 * found 5 us catches 96-99% of stops and 20 us nearly all.
		 */
		uint64_t now = tracer_now_ns();
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

/* ---- the writers' eventfd ------------------------------------------------------------- */

/* A CLOSING trace's DB is closed (or removed, for a start that failed). */
static void trace_settled(struct trace *tr)
{
	struct tracer *tracer = tracer_get();

	trace_list_del(&tracer->waiting, tr);
	if (!tr->start_err) {
		trace_closed(tr);
		return;
	}
	/* A failed start: its DB is gone; now the client may hear why. */
	store_close_end(tr->store, NULL);
	tr->store = NULL;
	if (tr->started)
		tr->started(tr->start_err, 0,
			    tr->start_msg ? tr->start_msg : strerror(-tr->start_err), tr->ctx);
	trace_free(tr);
}

int tracer_store_fd(void)
{
	struct tracer *tracer = tracer_get();

	if (tracer->store_efd < 0) {
		tracer->store_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (tracer->store_efd < 0)
			log_error("eventfd: %m");
	}
	return tracer->store_efd;
}

void tracer_store_events(void)
{
	struct tracer *tracer = tracer_get();
	uint64_t n;

	/* Reset first: a writer that signals while we look is seen now or wakes us again. */
	if (read(tracer->store_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("eventfd: %m");
	for (struct trace *tr = tracer->waiting, *next; tr; tr = next) {
		next = tr->next;
		if (tr->state == TRACE_STARTING) {
			int r = store_ready(tr->store);
			if (r != -EINPROGRESS)
				trace_start(tr, r);
		} else if (store_closed(tr->store)) {
			trace_settled(tr);
		}
	}
}

/* ---- for the server ------------------------------------------------------------------- */

void tracer_forget_ctx(void *ctx)
{
	struct tracer *tracer = tracer_get();

	for (struct trace *tr = tracer->traces; tr; tr = tr->next)
		if (tr->ctx == ctx) {
			tr->ctx = NULL;
			tr->done = NULL;
		}
	for (struct trace *tr = tracer->waiting; tr; tr = tr->next)
		if (tr->ctx == ctx) {
			tr->ctx = NULL;
			tr->done = NULL;
			tr->started = NULL;
		}
}

unsigned tracer_busy(void)
{
	struct tracer *tracer = tracer_get();
	unsigned n = 0;

	for (struct trace *tr = tracer->traces; tr; tr = tr->next)
		n++;
	for (struct trace *tr = tracer->waiting; tr; tr = tr->next)
		n++;
	return n;
}

unsigned tracer_status(uid_t uid, struct proto_trace_info *out, unsigned max)
{
	struct tracer *tracer = tracer_get();
	unsigned n = 0;

	for (struct trace *tr = tracer->traces; tr && n < max; tr = tr->next) {
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
