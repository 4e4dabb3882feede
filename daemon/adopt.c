// SPDX-License-Identifier: MIT
/*
 * Children no event claims. A task killed inside clone/fork/vfork/clone3 before its
 * PTRACE_EVENT stop (exit_group, SIGKILL, a sibling's exec), or out of that stop before
 * PTRACE_GETEVENTMSG, never says which child it made, yet the child may exist:
 * auto-attached, stopped before its first instruction, an orphan (struct orphan) that no
 * event will claim, stopped for ever if nobody does. So the lost clone is remembered, and
 * an orphan that fits it is adopted into its trace as the event would have done: a thread
 * of the creator's process, or a process whose parent is the creator's process or, the
 * creator's process being gone, one we do not trace (it was reparented). Its mm is its
 * process's, or that of a task of the trace that shares it (kcmp), or a new one read from
 * the kernel. The clone event itself stays unfinished: which tid it returned nobody saw.
 *
 * Threading: the event-loop thread only, like the rest of the tracer.
 */
#include <linux/kcmp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "procinfo.h"
#include "store.h"
#include "sysent.h"
#include "tracer_int.h"
#include "xalloc.h"

/* A task of @tr in process @pid (any trace when @tr is NULL), or NULL. */
static struct task *task_of_process(const struct trace *tr, pid_t pid)
{
	struct tracer *tracer = tracer_get();

	for (unsigned h = 0; h < TASK_HASH_SIZE; h++)
		for (struct task *u = tracer->tasks[h]; u; u = u->hnext)
			if (u->proc->pid == pid && (!tr || u->trace == tr))
				return u;
	return NULL;
}

/* The lost clone orphan @tid fits, and @tid's thread group into @ret_tgid; NULL: none. */
static struct lost_clone **lost_clone_for(pid_t tid, pid_t *ret_tgid)
{
	struct tracer *tracer = tracer_get();
	pid_t tgid, ppid;

	if (procinfo_ids(tid, &tgid, &ppid) < 0)
		return NULL;
	*ret_tgid = tgid;
	for (struct lost_clone **lp = &tracer->lost_clones; *lp; lp = &(*lp)->next) {
		struct lost_clone *lc = *lp;
		if (tgid != tid ? (lc->flags & CLONE_THREAD) && tgid == lc->pid :
				  !(lc->flags & CLONE_THREAD) &&
				  (ppid == lc->pid || !task_of_process(NULL, ppid)))
			return lp;
	}
	return NULL;
}

static void adopt(struct lost_clone *lc, pid_t child, pid_t tgid, int status)
{
	struct trace *tr = lc->trace;
	struct task *sibling = NULL, *same_process = NULL;

	if (tgid != child && !(same_process = task_of_process(tr, tgid))) {
		/* a thread of a process whose traced threads are all gone: it dies with them */
		ptrace(PTRACE_DETACH, child, 0, 0);
		return;
	}
	struct tracer *tracer = tracer_get();
	sibling = same_process; /* a thread shares its process's mm */
	for (unsigned h = 0; h < TASK_HASH_SIZE && !sibling; h++)
		for (struct task *u = tracer->tasks[h]; u && !sibling; u = u->hnext)
			if (u->trace == tr && syscall(SYS_kcmp, u->tid, child, KCMP_VM, 0, 0) == 0)
				sibling = u;
	uint64_t seq = trace_take_seq(tr);
	struct mmref *mm;
	if (sibling) {
		mm = sibling->mm;
		mmref_get(tr, mm, seq);
	} else {
		mm = mmref_new(tr, seq, NULL, child); /* read from the kernel: it has not run */
	}
	struct proc *p = same_process ? same_process->proc : proc_new(tr, child);
	if (!same_process)
		store_add_process(tr->store, &(struct store_process){
			.pid = child, .ppid = lc->pid, .start_seq = seq, .mm = mm->id });
	struct task *c = task_new(tr, child, p, mm);
	c->startup = true;
	store_add_thread(tr->store, child, p->pid, seq);
	log_info("trace %u: pid %d adopted: its creator in process %d died before its clone "
		 "returned", tr->id, child, lc->pid);
	tracer_dispatch(child, status);
}

void adopt_orphans(void)
{
	struct tracer *tracer = tracer_get();
	struct orphan **op = &tracer->orphans;

	while (*op && tracer->lost_clones) {
		struct orphan *o = *op;
		pid_t tgid;
		struct lost_clone **lp = lost_clone_for(o->tid, &tgid);
		if (!lp) {
			op = &o->next;
			continue;
		}
		struct lost_clone *lc = *lp;
		*lp = lc->next;
		*op = o->next;
		adopt(lc, o->tid, tgid, o->status);
		free(lc);
		free(o);
		op = &tracer->orphans; /* the list may have changed */
	}
}

static void lost_add(struct trace *tr, pid_t pid, uint64_t flags)
{
	struct tracer *tracer = tracer_get();
	struct lost_clone *lc = xmalloc(sizeof(*lc));

	*lc = (struct lost_clone){ .trace = tr, .pid = pid, .flags = flags,
				   .next = tracer->lost_clones };
	tracer->lost_clones = lc;
	adopt_orphans();
}

void clone_lost(struct task *t)
{
	if (t->in_syscall && !t->seq_taken && (sysent_flags(t->ev.nr) & SF_CLONE))
		lost_add(t->trace, t->proc->pid, t->clone_flags);
}

void clone_adopted_early(struct task *t)
{
	/* The lost clone it was taken for is another thread's of the same process (only that
	 * one matches while this process lives): that one's child is still to be found. */
	lost_add(t->trace, t->proc->pid, t->clone_flags);
}

void clone_lost_forget(struct trace *tr)
{
	struct tracer *tracer = tracer_get();

	for (struct lost_clone **lp = &tracer->lost_clones; *lp;) {
		struct lost_clone *lc = *lp;
		if (lc->trace == tr) {
			*lp = lc->next;
			free(lc);
		} else {
			lp = &lc->next;
		}
	}
}

