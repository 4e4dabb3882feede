// SPDX-License-Identifier: MIT
/*
 * The order of map-changing events of one address space, when several threads (or
 * CLONE_VM processes) of it are inside map-changing syscalls at once.
 *
 * The problem. The kernel serialises the syscalls that change one mm (mmap_lock taken for
 * writing), so there is one true order in which their effects happened. The tracer sees
 * each syscall as an interval: its entry stop, then its exit stop. The effect happened
 * somewhere inside; the exit stops of two overlapping syscalls can be reported in either
 * order. Taking a seq at the exit stop, as a single-threaded program allows, goes wrong:
 * thread A's munmap(X) completes in the kernel, thread B's mmap(NULL) reuses X, and B's exit
 * stop is reported before A's; applied in that order the model maps B over a live VMA and
 * then A's late munmap punches a hole in B's new mapping. Replays then differ from the
 * kernel for ever after.
 *
 * The rule. Each map-changing syscall of a traced mm gets a stamp at its entry stop and one
 * at its exit stop (one trace-wide counter: the order in which the daemon saw the stops).
 * Event E is "definitely before" F when E's exit stamp is below F's entry stamp: E's
 * effect was done before F entered the kernel. Two syscalls whose intervals overlap are
 * concurrent: either order is possible a priori. So:
 *
 *  1. A completed event is held (not given a seq, not applied to the model) while some
 *     syscall of its mm that entered before its exit is still in flight: that one may have
 *     to go first. When none is left, it is released. Events are released in exit order,
 *     which is right unless the results say otherwise:
 *  2. An mmap/mremap/shmat whose result lands on addresses the model still has mapped
 *     cannot have happened before the syscall that freed them. Among the held events
 *     concurrent with it (entered before its exit), one that unmaps that range (munmap,
 *     mremap's old range, shmdt) is released first. Such a candidate has no earlier held
 *     event of its own thread (those exited before it entered, hence before our event's
 *     exit, and are already released), so moving it forward keeps every thread's program
 *     order and every "definitely before" relation.
 *  3. What the results cannot decide keeps exit order: two concurrent syscalls on
 *     overlapping ranges whose both orders are legal, and merges, which depend on the
 *     order and on page faults of running threads (a new VMA next to one that another
 *     thread has just written may not merge with it). The model cannot ask the kernel
 *     then (it has already applied later changes), so what such events touched is
 *     re-read with PROCMAP_QUERY at the next quiet point of the mm, when no syscall of it
 *     is in flight or held (livemodel_settle), and installed at that point's seq.
 *
 * So the stored order of one mm's map changes is one the kernel could have applied them
 * in, and seq order is replay order. Threads are never delayed by a held map event: the
 * thread runs on, only its record waits. What cannot wait is a stop that is ordered
 * against the map by its own seq (a clone, fork or exec event, exit or exit_group, a
 * signal, a thread's end): while its thread has held events, that stop is parked, the
 * thread left stopped, and handled when they are released (within microseconds: they
 * wait only for other threads to leave the kernel). A fault signal waits for every held
 * event of its mm that completed before it, any thread's: another thread's munmap may be
 * why it faulted, and `vmatrace why` reads the map at the signal's seq. A fork copies the
 * parent's model; if
 * other threads of the parent were inside map-changing syscalls during the fork, the
 * child's copy is reconciled with the kernel's view of the child, which has not run yet.
 */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "livemodel.h"
#include "store.h"
#include "sysent.h"
#include "tracer_int.h"
#include "xalloc.h"

/* ---- the in-flight list --------------------------------------------------------------- */

void order_flight_begin(struct task *t)
{
	struct mmref *mm = t->mm;

	t->entry_stamp = t->trace->next_stamp++;
	t->counted = true;
	t->fl_next = NULL;
	t->fl_prev = mm->flight_tail;
	if (mm->flight_tail)
		mm->flight_tail->fl_next = t;
	else
		mm->flight_head = t;
	mm->flight_tail = t;
}

void order_flight_end(struct task *t)
{
	struct mmref *mm = t->mm;

	if (!t->counted)
		return;
	if (t->fl_prev)
		t->fl_prev->fl_next = t->fl_next;
	else
		mm->flight_head = t->fl_next;
	if (t->fl_next)
		t->fl_next->fl_prev = t->fl_prev;
	else
		mm->flight_tail = t->fl_prev;
	t->fl_prev = t->fl_next = NULL;
	t->counted = false;
}

/* ---- what results say about order ------------------------------------------------------ */

/* The range a successful @h must have found unmapped, if its result says where it went. */
static bool needs_free(const struct held *h, uint64_t *lo, uint64_t *hi)
{
	struct sysent_effects e;

	sysent_effects(&h->ev, h->facts.shm_size, &e);
	if (!e.has_needs_free)
		return false;
	*lo = e.needs_free.lo;
	*hi = e.needs_free.hi;
	return true;
}

/* Does the successful @h unmap part of [lo, hi)? */
static bool frees(const struct held *h, uint64_t lo, uint64_t hi)
{
	struct sysent_effects e;

	sysent_effects(&h->ev, h->facts.shm_size, &e);
	return e.has_frees && e.frees.lo < hi && e.frees.hi > lo;
}

/* Could @h take its place now: is no syscall in flight that entered before it exited? */
static bool settled(const struct mmref *mm, const struct held *h)
{
	return !mm->flight_head || mm->flight_head->entry_stamp > h->exit_stamp;
}

/*
 * Which held event goes next (NULL: none yet): the first in exit order, unless its result
 * lands on memory the model has mapped and a concurrent held event unmaps it (rule 2). That
 * one goes first, under the same rules: it must itself be settled (a call still in flight
 * may have to precede it), what certainly came before it goes before it, and if its own
 * result lands on mapped memory, the event that freed that goes before it in turn.
 */
static struct held **pick_for(struct trace *tr, struct mmref *mm, struct held **hp, int depth)
{
	struct held *h = *hp;
	uint64_t lo, hi;

	if (depth > 8)
		return NULL; /* a knot the rules do not untie: wait, or exit order when forced */
	/* an event certainly before this one (it exited before this entered) goes first */
	if (h != mm->held_head && mm->held_head->exit_stamp < h->entry_stamp)
		return pick_for(tr, mm, &mm->held_head, depth + 1);
	if (!settled(mm, h))
		return NULL;
	if (!mm->model || !needs_free(h, &lo, &hi) ||
	    !livemodel_range_mapped(mm->model, lo, hi))
		return hp;
	for (struct held **fp = &mm->held_head; *fp; fp = &(*fp)->next) {
		struct held *f = *fp;
		if (f != h && f->entry_stamp < h->exit_stamp && f->task != h->task &&
		    frees(f, lo, hi)) {
			tr->reordered++;
			return pick_for(tr, mm, fp, depth + 1);
		}
	}
	return hp;
}

static struct held **pick(struct trace *tr, struct mmref *mm, bool force)
{
	struct held **hp = pick_for(tr, mm, &mm->held_head, 0);

	/* Forced (nothing more will exit): whatever the rules leave, in exit order. */
	return hp || !force ? hp : &mm->held_head;
}

/* ---- giving events their place ---------------------------------------------------------- */

/*
 * @ev (of @t's thread, in @mm) takes the next seq, changes the model, is checked by
 * --verify, and goes to the store (which takes its strings).
 */
static void commit(struct trace *tr, struct mmref *mm, struct event *ev,
		   const struct livemodel_facts *facts, pid_t pid)
{
	/*
	 * Quiet: the kernel is at this event for this mm. Not while a rename or unlink of
	 * any traced task is between its stops: the kernel may already show its new names
	 * (names.c), which the model gets at its exit stop.
	 */
	bool quiet = !mm->flight_head && !mm->held_head && names_quiet();

	ev->seq = trace_take_seq(tr);
	if (mm->model) {
		int r = livemodel_apply(mm->model, ev, pid, facts, quiet, &tr->counts);
		if (r >= 0 && quiet)
			r = livemodel_settle(mm->model, pid, &tr->counts);
		if (r < 0)
			log_warn("trace %u: the model of mm %" PRIu64 " could not follow event %" PRIu64
				 ": %s", tr->id, mm->id, ev->seq, strerror(-r));
		if (tr->flags & PROTO_F_VERIFY)
			livemodel_verify(mm->model, pid, ev->seq, quiet, &tr->counts);
	}
	tr->events++;
	store_add_event(tr->store, ev);
}

/* Release what rule 1 allows (all of it with @force), in the order of rule 2. Never
 * handles a stop: the mm stays valid throughout. */
static void release_mm(struct trace *tr, struct mmref *mm, bool force)
{
	while (mm->held_head) {
		struct held **hp = pick(tr, mm, force);
		if (!hp)
			break;
		struct held *h = *hp;
		*hp = h->next;
		if (!h->next)
			mm->held_tail = hp;
		/* the held task is alive (its end waits for this) and answers kernel questions:
		 * through its own tid, which has the mm while the leader may have left it
		 * (exit_group tears threads down one by one) */
		commit(tr, mm, &h->ev, &h->facts, h->task->tid);
		h->task->n_held--;
		free(h);
	}
}

static void unpark_ready(void);

void order_release(struct trace *tr, struct mmref *mm, bool force)
{
	struct tracer *tracer = tracer_get();

	release_mm(tr, mm, force);
	if (!tracer->parked)
		return;
	if (tracer->unparking) {
		/* called from a stop being unparked below: the outer loop looks again */
		tracer->unpark_owed = true;
		return;
	}
	tracer->unparking = true;
	do {
		tracer->unpark_owed = false;
		unpark_ready();
	} while (tracer->unpark_owed);
	tracer->unparking = false;
}

void order_complete(struct task *t, const struct livemodel_facts *facts)
{
	struct trace *tr = t->trace;
	struct mmref *mm = t->mm;
	uint64_t exit_stamp = tr->next_stamp++;

	order_flight_end(t);
	if (!mm->held_head && (!mm->flight_head || mm->flight_head->entry_stamp > exit_stamp)) {
		/* Nothing in flight could have gone first: the common, single-threaded case. */
		commit(tr, mm, &t->ev, facts, t->tid);
	} else {
		struct held *h = xcalloc(1, sizeof(*h));
		event_move(&h->ev, &t->ev);
		h->facts = *facts;
		h->task = t;
		h->entry_stamp = t->entry_stamp;
		h->exit_stamp = exit_stamp;
		*mm->held_tail = h;
		mm->held_tail = &h->next;
		t->n_held++;
		tr->held++;
	}
	memset(&t->ev, 0, sizeof(t->ev));
	t->seq_taken = false;
	t->in_syscall = false;
	order_release(tr, mm, false);
}

bool order_concurrent(const struct mmref *mm)
{
	return mm->flight_head || mm->held_head;
}

/* ---- parked stops ---------------------------------------------------------------------- */

/*
 * A signal-delivery stop (a fault, for `vmatrace why`) waits for every held event of its
 * mm that completed before it, whoever made it: another thread's munmap that was done in
 * the kernel may be why this thread faulted.
 */
static bool is_signal_stop(int status)
{
	return WIFSTOPPED(status) && WSTOPSIG(status) != (SIGTRAP | 0x80) &&
	       !((unsigned)status >> 16);
}

static bool park_ready(const struct task *t)
{
	const struct held *h = t->mm->held_head;

	if (t->n_held)
		return false;
	return !is_signal_stop(t->park_status) || !h || h->exit_stamp > t->park_stamp;
}

bool order_stop_waits(const struct task *t, int status)
{
	if (is_signal_stop(status))
		return t->n_held || t->mm->held_head;
	if (!t->n_held)
		return false;
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return true;
	if (!WIFSTOPPED(status) || WSTOPSIG(status) == (SIGTRAP | 0x80))
		return false; /* syscall stops: the map syscall path orders itself */
	switch ((unsigned)status >> 16) {
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_EXEC:
		return true;
	default:
		return false; /* seccomp stops say for themselves (exit, exit_group) */
	}
}

void order_park(struct task *t, int status)
{
	struct tracer *tracer = tracer_get();

	t->park_status = status;
	t->park_stamp = t->trace->next_stamp;
	t->parked = true;
	t->park_next = tracer->parked;
	tracer->parked = t;
	/* A dead task is in no syscall any more: it must not hold back others. */
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		bool was = t->counted;
		order_flight_end(t);
		if (was)
			order_release(t->trace, t->mm, false);
	}
}

static void unpark_ready(void)
{
	struct tracer *tracer = tracer_get();
	bool progress = true;

	while (progress) {
		progress = false;
		for (struct task **tp = &tracer->parked; *tp; tp = &(*tp)->park_next) {
			struct task *t = *tp;
			if (!park_ready(t))
				continue;
			*tp = t->park_next;
			t->parked = false;
			pid_t tid = t->tid;
			bool later = t->later;
			int later_status = t->later_status;
			t->later = false;
			stop_redispatch(t, t->park_status);
			/* then what waitpid said of it meanwhile, if it is still ours (the stop's
			 * handler may have let it go); parked again, it waits again */
			if (later && task_find(tid))
				tracer_dispatch(tid, later_status);
			progress = true;
			break; /* the list may have changed */
		}
	}
}

void order_forget(struct task *t)
{
	struct tracer *tracer = tracer_get();

	for (struct task **tp = &tracer->parked; *tp; tp = &(*tp)->park_next)
		if (*tp == t) {
			*tp = t->park_next;
			break;
		}
	t->parked = false;
}
