// SPDX-License-Identifier: MIT
/*
 * What each ptrace stop means, and what the tracer does about it: the seccomp stop (run)
 * or syscall-entry stop (attach) that starts a recorded syscall, its exit stop, the
 * PTRACE_EVENT stops of clone/fork/vfork/exec, group-stops and signal-delivery stops. The
 * bookkeeping of traces, tasks and address spaces these use is in tracer.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "livemodel.h"
#include "peek.h"
#include "procmap.h"
#include "stacks.h"
#include "store.h"
#include "sysent.h"
#include "tracer_int.h"
#include "unwind.h"
#include "xalloc.h"

/* The flags @t's clone, clone3, fork or vfork (t->ev, at its entry) creates its task with. */
static uint64_t clone_flags_of(struct task *t)
{
	struct sysent_effects e;
	uint64_t flags = 0;

	sysent_effects(&t->ev, 0, &e);
	if (!e.clone_args)
		return e.clone_flags;
	if (peek(t->tid, e.clone_args, &flags, sizeof(flags)) != sizeof(flags))
		flags = 0;
	return flags;
}

/*
 * --stacks: the thread's user stack, at the entry stop: before the syscall changes the map
 * that the unwinder reads through (a munmap of the caller's own library, say).
 */
static int64_t capture_stack(struct task *t)
{
	uint64_t pcs[UNWIND_MAX_DEPTH];
	struct mmref *mm = t->mm;

	if (!t->trace->stacks || !mm->id)
		return 0; /* not asked, or our client's image before its exec */
	if (!mm->unw && !(mm->unw = unwinder_new()))
		return 0;
	struct unwind_target target = {
		.tid = t->tid, .pid = t->proc->pid, .model = mm->model,
		.maps_fd = mm->model ? -1 : proc_maps_fd(t->proc),
	};
	unsigned max = tracer_config.stack_depth;
	if (max > UNWIND_MAX_DEPTH)
		max = UNWIND_MAX_DEPTH;
	uint64_t t0 = tracer_now_ns();
	int n = unwind_capture(mm->unw, &target, pcs, (int)max);
	int64_t id = stacks_record(t->trace->stacks, &target, pcs, n);
	t->trace->stack_captures++;
	t->trace->stack_ns += tracer_now_ns() - t0;
	return id;
}

/*
 * A recorded syscall starts (@nr, raw @args): the seccomp stop, or an entry stop. What it
 * needs here its row's flags and effects say (lib/syscallent.h).
 */
static void begin_syscall(struct task *t, int nr, const uint64_t *args)
{
	struct proc *p = t->proc;
	unsigned flags = sysent_flags(nr);

	if ((flags & SF_EXIT) && t->n_held) {
		/* its seq must follow the thread's own map changes, still held */
		order_park(t, t->park_status);
		return;
	}
	task_emit_unfinished(t); /* should not happen: a new entry while one is in flight */
	memset(&t->ev, 0, sizeof(t->ev));
	t->ev.kind = EVENT_SYSCALL;
	t->ev.nr = nr;
	t->ev.time_ns = tracer_now_ns();
	t->ev.pid = p->pid;
	t->ev.tid = t->tid;
	t->ev.mm = t->mm->id;
	for (int i = 0; i < 6; i++)
		t->ev.args[i] = args[i];
	t->seq_taken = false;
	t->ev.stack_id = capture_stack(t);

	if (flags & SF_EXIT) {
		/* No exit stop follows: the event is complete now. */
		t->ev.ret = 0;
		t->in_syscall = true;
		task_emit(t);
		task_resume_next(t, 0);
		return;
	}
	if (flags & SF_EXEC) {
		/* execve(path, argv, envp), execveat(dirfd, path, argv, envp, flags) */
		unsigned k = flags & SF_DIRFD ? 1 : 0;
		t->ev.path = peek_string(t->tid, t->ev.args[k], 4096);
		t->ev.argv = peek_argv(t->tid, t->ev.args[k + 1]);
	}
	if (flags & SF_CLONE)
		t->clone_flags = clone_flags_of(t);
	if (flags & SF_NAMES)
		names_begin(t);
	/* prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): keep the name (the
	 * kernel limits it to 80 bytes); NULL clears it. */
	if ((flags & SF_VMA_NAME) && t->ev.args[4])
		t->ev.path = peek_string(t->tid, t->ev.args[4], 256);
	t->in_syscall = true;
	/* The others change no map of this mm (exec makes a new one; names.c). */
	if (flags & SF_ORDERED)
		order_flight_begin(t);
	task_resume(t, PTRACE_SYSCALL, 0);
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
		task_resume_next(t, 0);
		return;
	}
	begin_syscall(t, (int)si.seccomp.nr, si.seccomp.args);
}

/* The result of an mmap/shmat that created a mapping: the file it maps, if any. */
static void note_mapping(struct task *t)
{
	struct vma_desc v;
	char name[PROCMAP_NAME_SIZE], build_id[PROCMAP_BUILD_ID_SIZE];
	struct sysent_effects e;

	sysent_effects(&t->ev, 0, &e);
	if (!e.result_file)
		return;
	if (procmap_query(proc_maps_fd(t->proc), t->proc->pid, (uint64_t)t->ev.ret, &v, name,
			  sizeof(name), build_id) < 0)
		return;
	t->ev.path = xstrdup(name);
	t->ev.dev = v.dev;
	t->ev.ino = v.ino;
	if (!e.result_anon)
		trace_note_file(t->trace, t->proc, &v, build_id);
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
		t->skipping = !sysent_records((int)si.entry.nr, si.entry.args);
		if (t->skipping)
			task_resume(t, PTRACE_SYSCALL, 0);
		else
			begin_syscall(t, (int)si.entry.nr, si.entry.args);
		return;
	}
	t->skipping = false;
	if (!t->in_syscall) {
		task_resume_next(t, 0);
		return;
	}
	if (si.op == PTRACE_SYSCALL_INFO_EXIT)
		t->ev.ret = si.exit.rval;
	t->ev.dur_ns = tracer_now_ns() - t->ev.time_ns;
	if (t->counted) {
		/* A map change: its place in the mm's order is order.c's to give. */
		struct livemodel_facts facts;
		note_mapping(t);
		livemodel_facts_read(&t->ev, t->tid, &facts);
		order_complete(t, &facts);
	} else if (names_syscall(t->ev.nr)) {
		/* A name changes now: mapped files of it show the new one from this event on. */
		struct trace *tr = t->trace;
		uint64_t seq = trace_take_seq(tr), ids[2][2];
		unsigned n = t->n_names;
		bool all = t->names_all, done = t->ev.ret == 0;
		memcpy(ids, t->names, sizeof(ids));
		t->ev.seq = seq;
		t->seq_taken = true;
		if (done && (n || all))
			names_recheck(tr, seq, (const uint64_t (*)[2])ids, n, all);
		task_emit(t);
	} else {
		task_emit(t); /* clone, exec: their seq was taken at their event stop */
	}
	task_resume_next(t, 0);
}

/* PTRACE_EVENT_CLONE/FORK/VFORK: the child exists and is attached; it may not have run. */
static void on_clone_event(struct task *t, int event)
{
	struct tracer *tracer = tracer_get();
	struct trace *tr = t->trace;
	unsigned long msg = 0;

	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) < 0 || !msg) {
		/* Killed out of the event stop: its end finds the child (clone_lost). */
		task_resume(t, PTRACE_SYSCALL, 0);
		return;
	}
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
		t->ev.time_ns = tracer_now_ns();
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
	uint64_t seq = trace_take_seq(tr);
	t->ev.seq = seq;
	t->seq_taken = true;
	/* The result the parent will see: kept even if its exit stop never comes (a thread
	 * of it execs first, and the kernel kills it). */
	t->ev.ret = child;
	if (task_find(child)) {
		/* taken for the child of a lost clone of the same process (adopt.c): ours */
		clone_adopted_early(t);
		task_resume(t, PTRACE_SYSCALL, 0);
		return;
	}

	struct proc *p;
	struct mmref *mm;
	if (flags & CLONE_VM) {
		mm = t->mm;
		mmref_get(tr, mm, seq);
	} else {
		mm = mmref_new(tr, seq, t->mm, t->proc->pid);
		/*
		 * Other threads of the parent changed its map while it forked: which of their
		 * changes the copy got, the child (stopped before its first instruction) says.
		 */
		if (mm->model && order_concurrent(t->mm)) {
			int r = livemodel_resync(mm->model, child, &tr->counts);
			if (r < 0)
				log_warn("trace %u: cannot read the map of the new pid %d: %s", tr->id,
					 child, strerror(-r));
		}
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
	for (struct orphan **op = &tracer->orphans; *op; op = &(*op)->next) {
		if ((*op)->tid == child) {
			struct orphan *o = *op;
			*op = o->next;
			tracer_dispatch(o->tid, o->status);
			free(o);
			break;
		}
	}
	task_resume(t, PTRACE_SYSCALL, 0);
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
	/* The other threads are dead: what they held is released now, in the order known. */
	order_release(tr, execer->mm, true);
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

	uint64_t seq = trace_take_seq(tr);
	if (!t->in_syscall) {
		memset(&t->ev, 0, sizeof(t->ev));
		t->ev.kind = EVENT_SYSCALL;
		t->ev.nr = SYS_execve;
		t->ev.time_ns = tracer_now_ns();
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
	mmref_put(tr, t->mm, seq);
	t->mm = mmref_new(tr, seq, NULL, p->pid);
	t->ev.mm = t->mm->id;
	store_add_process_exec(tr->store, p->pid, seq, t->ev.path, t->ev.argv, t->mm->id);
	trace_note_image_files(tr, p);
	task_resume(t, PTRACE_SYSCALL, 0);
}

/*
 * A fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) is about to be
 * delivered to @t: record it as a +signal event (event.h: EVENT_SIGNAL) with its siginfo,
 * the pc and sp, the module the pc lies in (asked to the kernel: the fault may be in code
 * the model has no file for) and, with --stacks, the stack at the fault. Programs that do
 * not fault never come here. What came of it is known at the thread's next stop or end:
 * fault_outcome() updates the row then. The event takes its seq now, apart from task_emit()
 * and @t->ev (a signal-delivery stop comes between syscalls, but even so nothing of the
 * syscall machinery is touched).
 */
static void on_fault_signal(struct task *t, int sig)
{
	struct trace *tr = t->trace;
	struct user_regs_struct regs;
	struct vma_desc v;
	char name[PROCMAP_NAME_SIZE];
	siginfo_t si;

	if (!t->mm->id)
		return; /* our client's image before its exec: not recorded */
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0 ||
	    ptrace(PTRACE_GETREGS, t->tid, 0, &regs) < 0) {
		if (errno != ESRCH)
			log_warn("trace %u: signal %d of %d: %m", tr->id, sig, t->tid);
		return;
	}
	struct event ev = {
		.kind = EVENT_SIGNAL, .nr = -1, .time_ns = tracer_now_ns(), .pid = t->proc->pid,
		.tid = t->tid, .mm = t->mm->id, .ret = EVENT_SIG_UNKNOWN,
	};
	ev.args[EVENT_SIG_SIGNO] = (uint64_t)sig;
	ev.args[EVENT_SIG_CODE] = (uint64_t)(int64_t)si.si_code;
	ev.args[EVENT_SIG_ADDR] = (uint64_t)(uintptr_t)si.si_addr;
	ev.args[EVENT_SIG_PC] = regs.rip;
	ev.args[EVENT_SIG_SP] = regs.rsp;
	if (procmap_query(proc_maps_fd(t->proc), t->proc->pid, regs.rip, &v, name, sizeof(name),
			  NULL) == 0) {
		ev.args[EVENT_SIG_MODOFF] = regs.rip - v.start + v.offset;
		if (name[0])
			ev.path = xstrdup(name);
		ev.dev = v.dev;
		ev.ino = v.ino;
		trace_note_file(tr, t->proc, &v, NULL);
	}
	ev.stack_id = capture_stack(t);
	ev.seq = trace_take_seq(tr);
	tr->events++;
	t->fault_seq = ev.seq;
	t->fault_sig = sig;
	store_add_event(tr->store, &ev);
}

/*
 * What came of @t's last +signal, told by its next wait status @status: the thread died
 * of that signal (fatal), or it stopped again for anything else (a syscall, another
 * signal) or ended otherwise (exit, another signal): it went on (handled). The
 * PTRACE_EVENT_EXIT stop says neither: the exit status that follows does. A task that is
 * detached before it stops again leaves the outcome unknown.
 */
static void fault_outcome(struct task *t, int status)
{
	int outcome;

	if (!t->fault_seq)
		return;
	if (WIFSTOPPED(status)) {
		if ((unsigned)status >> 16 == PTRACE_EVENT_EXIT)
			return;
		outcome = EVENT_SIG_HANDLED;
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == t->fault_sig) {
		outcome = EVENT_SIG_FATAL;
	} else {
		outcome = EVENT_SIG_HANDLED;
	}
	store_set_event_ret(t->trace->store, t->fault_seq, outcome);
	t->fault_seq = 0;
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
		task_resume_next(t, 0);
		return;
	case PTRACE_EVENT_STOP:
		if (t->startup) {
			/* The initial stop of an auto-attached child, or of PTRACE_INTERRUPT
			 * right after an attach's seize. */
			t->startup = false;
			task_resume_next(t, 0);
		} else if (is_stop_signal(sig)) {
			/* A group-stop (Ctrl-Z, SIGSTOP): stay stopped, as untraced. */
			task_resume(t, PTRACE_LISTEN, 0);
		} else {
			task_resume_next(t, 0);
		}
		return;
	default:
		task_resume_next(t, 0);
		return;
	}
	/* A signal-delivery stop: deliver the signal, as untraced (a fault recorded first). */
	if (signal_is_fault(sig))
		on_fault_signal(t, sig);
	task_resume_next(t, sig);
}

void tracer_dispatch(pid_t tid, int status)
{
	struct tracer *tracer = tracer_get();

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
			o->next = tracer->orphans;
			tracer->orphans = o;
			adopt_orphans(); /* its creator may have died in the clone already */
		}
		return;
	}
	if (t->parked) {
		/* Killed out of a parked stop: its death follows that stop (order_unpark). */
		t->later = true;
		t->later_status = status;
		return;
	}
	fault_outcome(t, status); /* what this status says of the thread's last fault */
	t->park_status = status;
	if (order_stop_waits(t, status)) {
		order_park(t, status);
		return;
	}
	stop_redispatch(t, status);
}

void stop_redispatch(struct task *t, int status)
{
	t->park_status = status;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		task_end(t, status);
		return;
	}
	if (WIFSTOPPED(status))
		on_stop(t, status);
}
