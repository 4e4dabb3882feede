/* SPDX-License-Identifier: MIT */
/*
 * vmatrace why, shared between cmd_why.c (picking the signal, gathering the map and the
 * address's history, printing) and why_verdict.c (the one-line verdict from them).
 *
 * Ownership: a struct why and everything it points to belong to cmd_why.c, which fills
 * it from the DB and frees it; the verdict code only reads it and the DB.
 */
#ifndef VMATRACE_WHY_H
#define VMATRACE_WHY_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "store.h"

/* A VMA version with its own copy of the name, and its end (0: alive at the end). */
struct why_vma {
	struct store_vma v;
	char *name;
	uint64_t died_seq;
};

struct why {
	struct store_ro *r;
	struct event sig;              /* the +signal explained (path owned) */
	uint64_t reraised_seq;         /* the fatal +signal a crash handler re-raised it as */
	uint64_t addr, pc, sp;         /* its si_addr, pc and stack pointer */
	int signo, code;
	/* The map of the signal's mm at the signal: the VMA covering addr, or the nearest
	 * below and above it (has_*: found). */
	bool has_at, has_below, has_above;
	struct why_vma at, below, above;
	/* Every version of that mm that covered addr and was born at or before the signal. */
	struct why_vma *vs;
	size_t n_vs;
};

/*
 * why_verdict - the verdict line for @w (no "verdict: " prefix, no newline), and the event
 * it names in @ret_seq (0 if none: a NULL pointer, a signal sent by a process). The
 * caller frees the string. Reads the named event and its stack from @w->r.
 */
char *why_verdict(const struct why *w, uint64_t *ret_seq);

/* why_event_call - event @ev as "munmap(0x7f3b2c000000, 65536)": its decoded call without
 * the [pid] prefix and result. The caller frees it. */
char *why_event_call(const struct event *ev);

/* why_callers - " in release() <- main()": the functions of stack @stack_id outside
 * libc and the dynamic loader, innermost first, at most 3; "" without a stack. Caller
 * frees. */
char *why_callers(struct store_ro *r, int64_t stack_id);

#endif
