/* SPDX-License-Identifier: MIT */
/*
 * The stacks of one trace (run --stacks): each captured pc sequence becomes a stack id.
 * A pc is resolved to its module and ELF virtual address (rel_pc) through the VMA that
 * holds it, so frames and stacks are deduplicated across processes whatever their load
 * addresses; a frame is named from the module's symbols (elfcache.h) the first time it is
 * seen, and new frames and stacks are queued to the store once, with ids chosen here.
 *
 * Ownership: a struct stack_table belongs to its trace; stacks_free() ends it.
 */
#ifndef VMATRACE_STACKS_H
#define VMATRACE_STACKS_H

#include <stdint.h>

struct store;
struct stack_table;
struct unwind_target;

struct stack_table *stacks_new(struct store *store);
void stacks_free(struct stack_table *st);

/*
 * stacks_record - the id of the stack @pcs[0..@n) (innermost first) of target @t, whose
 * VMAs are as the unwind saw them. 0 if @n is 0.
 */
int64_t stacks_record(struct stack_table *st, const struct unwind_target *t, const uint64_t *pcs,
		      int n);

#endif
