// SPDX-License-Identifier: MIT
/*
 * How a trace takes hold of its processes, and how an attached one lets them go. A start
 * has two halves: tracer_run() or tracer_attach() checks the request, creates the DB file
 * and leaves the trace STARTING on `waiting`; once the writer thread has set the DB up,
 * trace_start() seizes the run's child (as the client: seize_as), or every process and
 * thread to attach, makes the trace LIVE and writes its metadata, or fails the start, the
 * DB removed before the client hears why. Detaching interrupts every task of an attached
 * trace; task_resume() lets each go at that stop. The bookkeeping of traces, tasks and
 * address spaces these use, and a trace's end, are in tracer.c.
 *
 * Threading: the event-loop thread only, like the rest of the tracer; it is the thread
 * that seizes, so the only one whose later ptrace calls the kernel accepts.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "procinfo.h"
#include "stacks.h"
#include "store.h"
#include "sysent.h"
#include "tracer.h"
#include "tracer_int.h"
#include "xalloc.h"

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

	trace_list_del(&tracer->waiting, tr);
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
 * once it is gone (trace_settled), so that the path is free when it does.
 */
static void start_fail(struct trace *tr, int err, char *msg)
{
	tr->start_err = err;
	tr->start_msg = msg;
	tr->state = TRACE_CLOSING;
	store_discard_begin(tr->store);
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

/* ---- attaching ------------------------------------------------------------------------ */

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
void trace_start(struct trace *tr, int setup)
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

/* ---- detaching ------------------------------------------------------------------------ */

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
