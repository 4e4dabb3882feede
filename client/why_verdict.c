// SPDX-License-Identifier: MIT
/*
 * vmatrace why's verdict: from a fault signal, the map at that moment and the history of
 * the faulting address, one line in plain words naming the event that made the access
 * fail ("use after munmap: 0x... was unmapped at event 16 by munmap(...) in release() <-
 * main()"). The rules, in order:
 *
 * - a signal a process sent (si_code <= 0: kill, tgkill, raise) is not a fault at an
 *   address: say who sent it, as far as the code tells;
 * - SIGILL, SIGFPE, SIGTRAP, SIGSYS: the instruction at the pc, not memory;
 * - no VMA covers the address: near the stack pointer, a stack overflow (the stack may not
 *   grow into the gap kept below it, or past ulimit -s); else the last event that removed
 *   a mapping there (munmap, an mremap that moved or shrank it, brk, shmdt); else the
 *   address was never mapped (a NULL or wild pointer);
 * - a VMA covers it: PROT_NONE (a guard page: a thread's stack overflow when near sp),
 *   read-only (a write; execution if the pc is the address), a file mapping past its
 *   file's end (SIGBUS), a protection key; each names the event that made the VMA so.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "sysent.h"
#include "why.h"
#include "xalloc.h"

/* How close to the stack pointer a fault counts as the stack's own (a frame's reach). */
#define NEAR_SP (256u << 10)

char *why_event_call(const struct event *ev)
{
	char *buf = event_line(ev);

	if (!buf)
		die("out of memory");
	char *s = strchr(buf, ']');
	s = s ? s + 2 : buf;
	char *eq = strstr(s, ") = ");
	if (eq)
		eq[1] = '\0';
	else
		s[strcspn(s, "\n")] = '\0';
	char *ret = xstrdup(s);
	free(buf);
	return ret;
}

struct callers {
	char buf[256];
	size_t n;
	unsigned shown;
	bool started;           /* past the libc/loader frames at the top */
};

static bool is_runtime(const char *module)
{
	const char *base = strrchr(module, '/');

	base = base ? base + 1 : module;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "ld-linux", 8) ||
	       !strncmp(base, "libpthread", 10);
}

static int caller_frame(const struct store_frame_info *f, void *data)
{
	struct callers *c = data;

	if (!c->started && is_runtime(f->module))
		return 0;
	c->started = true;
	if (!f->function || c->shown == 3)
		return c->shown == 3;
	/* main's callers (__libc_start_call_main) say nothing; gcc's clones of a function
	 * (release.constprop.0, .isra.0, .part.0) are that function to a reader. */
	int n = snprintf(c->buf + c->n, sizeof(c->buf) - c->n, "%s%.*s()",
			 c->shown ? " <- " : " in ", (int)strcspn(f->function, "."), f->function);
	if (n > 0 && (size_t)n < sizeof(c->buf) - c->n)
		c->n += (size_t)n;
	c->shown++;
	return !strcmp(f->function, "main");
}

char *why_callers(struct store_ro *r, int64_t stack_id)
{
	struct callers c = { .n = 0 };

	if (stack_id && store_query_stack(r, stack_id, caller_frame, &c) < 0)
		c.n = 0;
	c.buf[c.n] = '\0';
	return xstrdup(c.buf);
}

static int copy_event(const struct event *ev, void *data)
{
	struct event *dst = data;

	*dst = *ev;
	dst->path = ev->path ? xstrdup(ev->path) : NULL;
	dst->argv = NULL;
	return 1;
}

/* "at event 16 by munmap(0x7f..., 65536) in release() <- main()", or "" for seq 0. */
static char *by_event(const struct why *w, uint64_t seq, struct event *ret_ev)
{
	struct event ev = { 0 };

	memset(ret_ev, 0, sizeof(*ret_ev));
	if (!seq)
		return xstrdup("before the trace began");
	if (store_query_events_at(w->r, &seq, 1, copy_event, &ev) != 1)
		return xasprintf("at event %" PRIu64, seq);
	char *call = why_event_call(&ev), *who = why_callers(w->r, ev.stack_id);
	char other[48] = "";
	if (ev.tid != w->sig.tid)
		snprintf(other, sizeof(other), " (thread %d)", (int)ev.tid);
	char *s = xasprintf("at event %" PRIu64 " by %s%s%s", seq, call, other, who);
	free(call);
	free(who);
	*ret_ev = ev;
	return s;
}

/* The version that covered the address and ended last, at or before the signal. */
static const struct why_vma *last_ended(const struct why *w)
{
	const struct why_vma *best = NULL;

	for (size_t i = 0; i < w->n_vs; i++) {
		const struct why_vma *v = &w->vs[i];
		if (v->died_seq && v->died_seq <= w->sig.seq && (!best || v->died_seq > best->died_seq))
			best = v;
	}
	return best;
}

static bool near_sp(const struct why *w)
{
	return w->addr + NEAR_SP >= w->sp && w->addr <= w->sp + NEAR_SP;
}

static const char *sig_name(int sig)
{
	const char *n = signal_name(sig);

	return n ? n : "signal";
}

/* The address is not mapped at the signal. */
static char *unmapped(const struct why *w, uint64_t *ret_seq)
{
	const struct why_vma *gone = last_ended(w);
	struct event ev;
	char *by, *s;

	if (near_sp(w) && w->has_above && !strcmp(w->above.name, "[stack]")) {
		*ret_seq = w->above.v.born_seq;
		by = by_event(w, w->above.v.born_seq, &ev);
		s = xasprintf("stack overflow: %#" PRIx64 " is %" PRIu64 " kB below [stack] %#" PRIx64
			      "-%#" PRIx64 " (mapped %s) and at the stack pointer %#" PRIx64
			      ": the stack could not grow further (ulimit -s, or the gap kept below "
			      "the stack): unbounded recursion or a large local variable",
			      w->addr, (w->above.v.start - w->addr) >> 10, w->above.v.start,
			      w->above.v.end, by, w->sp);
		free(by);
		event_release(&ev);
		return s;
	}
	if (gone) {
		*ret_seq = gone->died_seq;
		by = by_event(w, gone->died_seq, &ev);
		if (ev.kind == EVENT_SYSCALL && ev.nr == SYS_mremap) {
			uint64_t old = ev.args[0], old_len = ev.args[1], moved = (uint64_t)ev.ret;
			if (!event_is_error(&ev) && moved != old && w->addr >= old &&
			    w->addr < old + old_len)
				s = xasprintf("use after mremap: %#" PRIx64 " was moved to %#" PRIx64
					      " %s; a pointer kept the old address", w->addr,
					      moved + (w->addr - old), by);
			else
				s = xasprintf("use after mremap: %#" PRIx64 " was cut off the mapping %s",
					      w->addr, by);
		} else if (ev.kind == EVENT_SYSCALL && ev.nr == SYS_brk) {
			s = xasprintf("use after the heap shrank: %#" PRIx64 " was released %s",
				      w->addr, by);
		} else if (ev.kind == EVENT_SYSCALL && ev.nr == SYS_munmap) {
			s = xasprintf("use after munmap: %#" PRIx64 " was unmapped %s", w->addr, by);
		} else {
			const char *name = ev.kind == EVENT_SYSCALL ? sysent_name(ev.nr) : NULL;
			s = xasprintf("use after %s: %#" PRIx64 " was unmapped %s",
				      name ? name : "unmap", w->addr, by);
		}
		free(by);
		event_release(&ev);
		return s;
	}
	*ret_seq = 0;
	if (w->addr < 65536)
		return xasprintf("NULL pointer dereference: %#" PRIx64 " is in the first 64 kB, "
				 "which is never mapped", w->addr);
	return xasprintf("wild pointer: no recorded mapping of this address space ever covered "
			 "%#" PRIx64, w->addr);
}

/*
 * The event that gave the address the perms it had at the signal: the birth of the first
 * of the versions covering it that followed each other with those perms. A later split
 * (an mprotect of the neighbouring pages, as pthread_create makes a stack and leaves its
 * guard page) makes a new version without changing what this address was.
 */
static uint64_t perms_since(const struct why *w)
{
	uint64_t born = w->at.v.born_seq;

	for (bool again = true; again;) {
		again = false;
		for (size_t i = 0; i < w->n_vs; i++) {
			const struct why_vma *v = &w->vs[i];
			if (v->died_seq == born && born && !strcmp(v->v.perms, w->at.v.perms) &&
			    v->v.ino == w->at.v.ino) {
				born = v->v.born_seq;
				again = true;
				break;
			}
		}
	}
	return born;
}

/* A VMA covers the address at the signal: why did the access fail there? */
static char *mapped(const struct why *w, uint64_t *ret_seq)
{
	const struct why_vma *at = &w->at;
	uint64_t since = perms_since(w);
	struct event ev;
	char *by = by_event(w, since, &ev), *s;
	const char *what = ev.kind == EVENT_SYSCALL && ev.nr == SYS_mprotect
				   ? "was made"
				   : "lies in a mapping made";

	*ret_seq = since;
	if (w->signo == SIGBUS && at->v.ino && w->code == 2 /* BUS_ADRERR */) {
		s = xasprintf("access past the end of a file: %#" PRIx64 " is at offset %#" PRIx64
			      " of %s, mapped %s; the file is shorter than that now (truncated "
			      "after it was mapped?)", w->addr, w->addr - at->v.start + at->v.offset,
			      at->name[0] ? at->name : "its file", by);
	} else if (w->signo == SIGBUS) {
		s = xasprintf("SIGBUS (%s) at %#" PRIx64 " in %s %s, mapped %s",
			      signal_code_name(w->signo, w->code) ?: "?", w->addr, at->v.perms,
			      at->name[0] ? at->name : "anonymous memory", by);
	} else if (w->code == 4 /* SEGV_PKUERR */) {
		s = xasprintf("protection key: the thread's PKRU denies access to %#" PRIx64
			      " (its VMA %s)", w->addr, by);
	} else if (!strncmp(at->v.perms, "---", 3) && near_sp(w)) {
		s = xasprintf("stack overflow: %#" PRIx64 " is in the guard page below a stack "
			      "(stack pointer %#" PRIx64 "), made PROT_NONE %s", w->addr, w->sp,
			      by);
	} else if (!strncmp(at->v.perms, "---", 3)) {
		s = xasprintf("access to PROT_NONE memory: %#" PRIx64 " %s PROT_NONE %s", w->addr,
			      what, by);
	} else if (w->pc >= at->v.start && w->pc < at->v.end && at->v.perms[2] != 'x') {
		s = xasprintf("execution of non-executable memory: %#" PRIx64 " %s %.3s %s",
			      w->addr, what, at->v.perms, by);
	} else if (at->v.perms[1] != 'w') {
		s = xasprintf("write to read-only memory: %#" PRIx64 " %s %.3s %s", w->addr, what,
			      at->v.perms, by);
	} else {
		s = xasprintf("%s (%s) at %#" PRIx64 " in a %.4s mapping made %s",
			      sig_name(w->signo), signal_code_name(w->signo, w->code) ?: "?",
			      w->addr, at->v.perms, by);
	}
	free(by);
	event_release(&ev);
	return s;
}

char *why_verdict(const struct why *w, uint64_t *ret_seq)
{
	const char *code = signal_code_name(w->signo, w->code);

	*ret_seq = 0;
	if (w->code <= 0 || w->code == SI_KERNEL)
		return xasprintf("not a fault: %s was sent (%s%s), not raised by an access",
				 sig_name(w->signo), code ? code : "si_code ?",
				 w->code == SI_USER    ? ": kill()" :
				 w->code == SI_TKILL ? ": tgkill() or raise()" : "");
	if (!signal_code_has_addr(w->signo, w->code) || w->signo == SIGILL ||
	    w->signo == SIGFPE) {
		char *where = w->sig.path ? xasprintf("%s+%#" PRIx64, w->sig.path,
						      w->sig.args[EVENT_SIG_MODOFF])
					  : xasprintf("%#" PRIx64, w->pc);
		char *who = why_callers(w->r, w->sig.stack_id);
		char *s = xasprintf("not a memory fault: %s (%s) by the instruction at %#" PRIx64
				    " (%s)%s", sig_name(w->signo), code ? code : "?", w->pc, where,
				    who);
		free(where);
		free(who);
		return s;
	}
	return w->has_at ? mapped(w, ret_seq) : unmapped(w, ret_seq);
}
