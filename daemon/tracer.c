// SPDX-License-Identifier: MIT
/*
 * The tracer engine's bookkeeping: each traced thread is a struct task in a hash by tid;
 * each thread group a struct proc; each address space a struct mmref shared by the tasks
 * that use it; each trace (run or attach) its store. Here: their lives, starting, attaching
 * and detaching, and draining waitpid. What each stop means is in stops.c.
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
#include <sys/eventfd.h>
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
#include "livemodel.h"
#include "peek.h"
#include "procinfo.h"
#include "procmap.h"
#include "elfcache.h"
#include "stacks.h"
#include "store.h"
#include "sysent.h"
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

/*
 * The image that runs before the first execve of a `run` is our own client's: it gets mm 0,
 * which is never stored, so that a trace counts the program's address spaces only.
 */
static struct mmref *mm_new_pre_exec(void)
{
	struct mmref *m = xcalloc(1, sizeof(*m));

	m->users = 1;
	m->held_tail = &m->held_head;
	return m;
}

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

static void list_del(struct trace **head, struct trace *tr)
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
	list_del(&tracer->traces, tr);
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

/* ---- starting a trace ----------------------------------------------------------------- */

static char *cmdline_json(const struct proto_run *req)
{
	return json_string_array((const char *const *)req->argv, req->argc);
}

/*
 * A trace accepted into @store (whose writer is setting the DB up): on `waiting` until
 * trace_start(). @cmd: the command line as JSON (taken).
 */
static struct trace *trace_alloc(struct store *store, pid_t pid, const struct proto_run *req,
				 char *cmd, const char *program, uid_t uid, gid_t gid,
				 trace_started_fn started, trace_done_fn done, void *ctx)
{
	struct tracer *tracer = tracer_get();
	struct trace *tr = xcalloc(1, sizeof(*tr));

	tr->id = tracer->next_trace_id++;
	tr->state = TRACE_STARTING;
	tr->store = store;
	tr->db_path = xstrdup(req->db_path);
	tr->program = xstrdup(program);
	tr->cmd = cmd;
	tr->cwd = req->cwd ? xstrdup(req->cwd) : NULL;
	tr->root_pid = pid;
	tr->root_status = -1;
	tr->flags = req->flags;
	tr->uid = uid;
	tr->gid = gid;
	tr->next_seq = 1;
	tr->next_mm = 1;
	tr->started = started;
	tr->done = done;
	tr->ctx = ctx;
	tr->next = tracer->waiting;
	tracer->waiting = tr;
	return tr;
}

/* @tr's DB is ready and its root seized: make it live, its metadata written. */
static void trace_begin(struct trace *tr, const char *mode)
{
	struct tracer *tracer = tracer_get();
	struct utsname uts;
	struct timespec rt;

	list_del(&tracer->waiting, tr);
	tr->state = TRACE_LIVE;
	tr->next = tracer->traces;
	tracer->traces = tr;
	if (tr->flags & PROTO_F_STACKS)
		tr->stacks = stacks_new(tr->store);
	tr->start_mono_ns = tracer_now_ns();
	uname(&uts);
	clock_gettime(CLOCK_REALTIME, &rt);
	store_begin_trace(tr->store, &(struct store_trace_meta){
		.cmdline = tr->cmd, .cwd = tr->cwd, .host = uts.nodename, .kernel = uts.release,
		.version = VMATRACE_VERSION, .mode = mode,
		.start_realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec,
		.start_mono_ns = tr->start_mono_ns, .page_size = sysconf(_SC_PAGESIZE) });
	store_add_syscall_names(tr->store, sysent_name, 511);
	free(tr->cmd);
	tr->cmd = NULL;
	free(tr->cwd);
	tr->cwd = NULL;
}
/*
 * PTRACE_SEIZE of @pid with @opts, with the client's ids when the daemon is root and the
 * client is not (system mode). The kernel remembers the tracer's credentials at the attach
 * (ptracer_cred, inherited by the children that are auto-attached) and lets a traced
 * set-uid, set-gid or file-capability exec keep its privilege only if those credentials
 * have CAP_SYS_PTRACE; seized as the user, without effective capabilities, every such
 * exec of the trace runs unprivileged, as it would under the user's own tracer. The
 * kernel's ptrace_may_access() then judges the seize for the user as well. Real and
 * effective ids change (the seize checks the real ones), the saved ones stay root's, so
 * we can come back; raw syscalls, because these are per thread, and only this one (the
 * tracer thread) changes. Returns ptrace()'s result, with errno.
 */
static long seize_as(pid_t pid, unsigned long opts, uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!tracer_config.system || uid == 0 || geteuid() != 0)
		return ptrace(PTRACE_SEIZE, pid, 0, opts);
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	if (syscall(SYS_setresgid, gid, gid, (gid_t)-1) < 0)
		return -1;
	if (syscall(SYS_setresuid, uid, uid, (uid_t)-1) < 0) {
		int e = errno;
		syscall(SYS_setresgid, rg, eg, sg);
		errno = e;
		return -1;
	}
	long r = ptrace(PTRACE_SEIZE, pid, 0, opts);
	int e = errno;
	if (syscall(SYS_setresuid, ru, eu, su) < 0 || syscall(SYS_setresgid, rg, eg, sg) < 0)
		die("cannot take back the daemon's ids after a seize: %m");
	errno = e;
	return r;
}

/*
 * RUN may hold a process only if no exec can raise it above the client. A tracer with
 * CAP_SYS_PTRACE (the system daemon) keeps a set-uid, set-gid or file-capability exec
 * privileged, so a client that skipped the seccomp step (which sets no_new_privs) could
 * exec a set-uid program and read root's memory through its trace. no_new_privs, not a
 * check at the exec event: the kernel then refuses every privilege gain, for every exec
 * of every descendant (they inherit it, and it cannot be cleared), set-uid bits added
 * later and file capabilities included, while a check at PTRACE_EVENT_EXEC comes after
 * the kernel granted it, with the new image already running as root. Root needs none.
 */
static int run_privs_check(pid_t pid, uid_t uid, char **ret_msg)
{
	if (uid == 0)
		return 0;
	int r = procinfo_no_new_privs(pid);
	if (r == 1)
		return 0;
	*ret_msg = xasprintf("pid %d may gain privileges (no_new_privs is not set): 'vmatrace "
			     "run' traces only programs that cannot (prctl PR_SET_NO_NEW_PRIVS "
			     "before asking)", pid);
	return r < 0 ? r : -EPERM;
}

/*
 * The one line a failed PTRACE_SEIZE of @pid (-*@err) gets, and who already traces it;
 * *@err becomes -EBUSY then (no advice about permissions applies).
 */
static char *seize_error(pid_t pid, int *err)
{
	pid_t tracer = *err == -EPERM ? procinfo_tracer(pid) : 0;

	/* `vmatrace run` inside `vmatrace run`: the child is ours already (TRACEFORK). */
	if (tracer > 0) {
		*err = -EBUSY;
		return procinfo_traced_by(pid, tracer);
	}
	return xasprintf("cannot trace pid %d: %s", pid, strerror(-*err));
}

/*
 * The trace's DB: in system mode, created with the client's filesystem ids. Only the file
 * is made here; the writer thread sets the DB up and says when through store_efd.
 */
static int db_create(const char *path, uid_t uid, gid_t gid, struct store **ret)
{
	if (!tracer_config.system) {
		uid = (uid_t)-1; /* our own ids */
		gid = (gid_t)-1;
	}
	return store_create_async(path, uid, gid, tracer_store_fd(), ret);
}

int tracer_run(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid,
	       trace_started_fn started, trace_done_fn done, void *ctx, char **ret_msg)
{
	struct store *store;
	int r;

	*ret_msg = NULL;
	r = run_privs_check(pid, uid, ret_msg);
	if (r < 0)
		return r;
	r = db_create(req->db_path, uid, gid, &store);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create '%s': %s", req->db_path, strerror(-r));
		return r;
	}
	trace_alloc(store, pid, req, cmdline_json(req), req->argc ? req->argv[0] : "?", uid, gid,
		    started, done, ctx);
	return 0;
}

/*
 * A start failed (@err, @msg taken): the writer removes the DB, and the client hears why
 * once it is gone (trace_closed_start), so that the path is free when it does.
 */
static void start_fail(struct trace *tr, int err, char *msg)
{
	tr->start_err = err;
	tr->start_msg = msg;
	tr->state = TRACE_CLOSING;
	store_discard_begin(tr->store);
}

/* The rest of tracer_run(), once the DB is ready: seize the child, record its start. */
static void run_start(struct trace *tr)
{
	pid_t pid = tr->root_pid;
	char *msg = NULL;
	int r;

	if (seize_as(pid, SEIZE_OPTIONS, tr->uid, tr->gid) < 0) {
		r = -errno;
		msg = seize_error(pid, &r);
		start_fail(tr, r, msg);
		return;
	}
	/*
	 * Again, now that the pid is ours and cannot name another process: if it was reused
	 * since the check, the process we hold is not one we may trace, and a seized process
	 * cannot be let go before it stops: end it (it is the client's own child).
	 */
	if (run_privs_check(pid, tr->uid, &msg) < 0) {
		kill(pid, SIGKILL);
		start_fail(tr, -EPERM, msg);
		return;
	}
	trace_begin(tr, "run");

	/* The child is still our client's image, waiting for its go, until it execs. */
	struct proc *p = proc_new(tr, pid);
	struct mmref *mm = mm_new_pre_exec();
	store_add_process(tr->store, &(struct store_process){
		.pid = pid, .ppid = 0, .start_seq = 0, .mm = mm->id, .exe = tr->program });
	store_add_thread(tr->store, pid, pid, 0);
	task_new(tr, pid, p, mm);
	log_info("trace %u: pid %d (%s) -> %s", tr->id, pid, tr->program, tr->db_path);
	trace_started_fn started = tr->started;
	tr->started = NULL;
	started(0, tr->id, NULL, tr->ctx);
}

/* ---- attach and detach ---------------------------------------------------------------- */

/* Seize one thread of an attached process and stop it, so it can be resumed syscall by
 * syscall. */
static int seize_thread(struct trace *tr, struct proc *p, struct mmref *mm, pid_t tid)
{
	if (seize_as(tid, ATTACH_OPTIONS, tr->uid, tr->gid) < 0)
		return -errno;
	/* Running since the seize: interrupt it, and resume it from that stop. */
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	struct task *t = task_new(tr, tid, p, mm);
	t->startup = true;
	store_add_thread(tr->store, tid, p->pid, 0);
	return 0;
}

/* The mm of an already attached process of @tr that shares @pid's address space. */
static struct mmref *shared_mm(struct trace *tr, pid_t pid)
{
	for (struct proc *q = tr->procs; q; q = q->next) {
		struct task *t = q->pid != pid ? task_find(q->pid) : NULL;
		if (t && syscall(SYS_kcmp, q->pid, pid, KCMP_VM, 0, 0) == 0)
			return t->mm;
	}
	return NULL;
}

/*
 * Take process @pid (its leader already seized and interrupted) into @tr: its own address
 * space, or the one it shares with a process attached before it (CLONE_VM without
 * CLONE_THREAD, a vfork child: kcmp says), and every thread.
 */
static void attach_process(struct trace *tr, pid_t pid)
{
	char path[64], exe[4096];
	struct mmref *mm = shared_mm(tr, pid);

	if (mm)
		mmref_get(tr, mm, 0);
	else
		mm = mmref_new(tr, 0, NULL, pid);
	struct proc *p = proc_new(tr, pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	store_add_process(tr->store, &(struct store_process){
		.pid = pid, .ppid = 0, .start_seq = 0, .mm = mm->id, .exe = n > 0 ? exe : NULL });
	struct task *leader = task_new(tr, pid, p, mm);
	leader->startup = true;
	store_add_thread(tr->store, pid, pid, 0);

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
				mmref_get(tr, mm, 0);
				added++;
			}
		}
		if (d)
			closedir(d);
		if (!added)
			break;
	}
	log_info("trace %u: attached to pid %d (%d threads, mm %" PRIu64 ")", tr->id, pid,
		 p->threads, mm->id);
}

static void trace_detach(struct trace *tr);

static int seize_leader(pid_t pid, uid_t uid, gid_t gid, char **ret_msg)
{
	if (seize_as(pid, ATTACH_OPTIONS, uid, gid) < 0) {
		int r = -errno;
		pid_t tracer = r == -EPERM ? procinfo_tracer(pid) : 0;
		*ret_msg = tracer > 0 ? procinfo_traced_by(pid, tracer) :
					xasprintf("cannot attach to pid %d: %s", pid, strerror(-r));
		return tracer > 0 ? -EBUSY : r;
	}
	ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	return 0;
}

int tracer_attach(pid_t pid, const struct proto_run *req, uid_t uid, gid_t gid,
		  trace_started_fn started, trace_done_fn done, void *ctx, char **ret_msg)
{
	pid_t more[PROTO_MAX_STRV];
	struct store *store;
	char *program;
	int r;

	/* req->argv: further pids, into the same trace. All are checked before any seize. */
	*ret_msg = NULL;
	r = procinfo_attach_check(pid, uid, gid, ret_msg);
	for (uint32_t i = 0; r == 0 && i < req->argc; i++) {
		char *end;
		long v = strtol(req->argv[i], &end, 10);
		if (v <= 0 || *end || v == pid) {
			*ret_msg = xasprintf("invalid pid '%s'", req->argv[i]);
			return -EINVAL;
		}
		more[i] = (pid_t)v;
		r = procinfo_attach_check(more[i], uid, gid, ret_msg);
	}
	if (r < 0)
		return r;
	r = db_create(req->db_path, uid, gid, &store);
	if (r < 0) {
		*ret_msg = xasprintf("cannot create '%s': %s", req->db_path, strerror(-r));
		return r;
	}
	char *cmd = procinfo_cmdline_json(pid, &program);
	struct trace *tr = trace_alloc(store, pid, req, cmd, program, uid, gid, started, done, ctx);
	free(program);
	tr->attach = true;
	tr->end_status = "done";
	memcpy(tr->more, more, req->argc * sizeof(more[0]));
	tr->n_more = req->argc;
	return 0;
}

/* The rest of tracer_attach(), once the DB is ready: seize every process. */
static void attach_start(struct trace *tr)
{
	pid_t pid = tr->root_pid;
	char *msg = NULL;
	int r;

	/* The first process's leader first: if it cannot be seized, nothing is. */
	r = seize_leader(pid, tr->uid, tr->gid, &msg);
	if (r < 0) {
		start_fail(tr, r, msg);
		return;
	}
	trace_begin(tr, "attach");
	attach_process(tr, pid);
	trace_started_fn started = tr->started;
	tr->started = NULL;
	/*
	 * Again now that it is ours: an exec of a set-uid program between the check and the
	 * seize would have kept its privilege (we have CAP_SYS_PTRACE in system mode). Let it
	 * go at its first stop; the client is told why, and the trace ends unreported.
	 */
	if (procinfo_creds_check(pid, tr->uid, tr->gid, &msg) < 0) {
		void *ctx = tr->ctx;
		tr->done = NULL;
		tr->ctx = NULL;
		trace_detach(tr);
		started(-EPERM, 0, msg, ctx);
		free(msg);
		return;
	}
	for (uint32_t i = 0; i < tr->n_more; i++) {
		msg = NULL;
		if (seize_leader(tr->more[i], tr->uid, tr->gid, &msg) == 0)
			attach_process(tr, tr->more[i]);
		else
			log_warn("trace %u: %s (it exited since the check?)", tr->id, msg);
		free(msg);
	}
	log_info("trace %u: %s -> %s", tr->id, tr->program, tr->db_path);
	started(0, tr->id, NULL, tr->ctx);
}

/* The writer has set up the DB of STARTING @tr (@setup: store_ready()'s 0 or -errno). */
static void trace_start(struct trace *tr, int setup)
{
	struct tracer *tracer = tracer_get();

	if (setup < 0)
		start_fail(tr, setup, xasprintf("cannot create '%s': %s", tr->db_path,
						 strerror(-setup)));
	else if (!tr->started)
		start_fail(tr, -ECANCELED, NULL); /* the client left meanwhile */
	else if (tracer->stopping)
		start_fail(tr, -ESHUTDOWN, xstrdup("the daemon is stopping"));
	else if (tr->attach)
		attach_start(tr);
	else
		run_start(tr);
}

/* A CLOSING trace's DB is closed (or removed, for a start that failed). */
static void trace_settled(struct trace *tr)
{
	struct tracer *tracer = tracer_get();

	list_del(&tracer->waiting, tr);
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

/* Let every task of @tr go at its next stop. */
static void trace_detach(struct trace *tr)
{
	struct tracer *tracer = tracer_get();

	tr->end_status = "detached";
	for (unsigned h = 0; h < TASK_HASH_SIZE; h++)
		for (struct task *t = tracer->tasks[h]; t; t = t->hnext)
			if (t->trace == tr && !t->detaching) {
				t->detaching = true;
				/* stops it wherever it is; the stop's handler then detaches */
				ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
			}
}

int tracer_detach(pid_t pid, uid_t uid, char **ret_msg)
{
	struct tracer *tracer = tracer_get();

	for (struct trace *tr = tracer->traces; tr; tr = tr->next) {
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
	struct tracer *tracer = tracer_get();
	unsigned n = 0;

	tracer->stopping = true; /* STARTING traces fail when their DB is ready */
	for (struct trace *tr = tracer->traces; tr; tr = tr->next)
		if (tr->attach) {
			trace_detach(tr);
			n++;
		}
	return n;
}

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
