// SPDX-License-Identifier: MIT
/*
 * Stack deduplication and symbolization for one trace (see stacks.h). Two open-addressing
 * hash tables: frames by (module, rel_pc) and stacks by their frame ids. The per-event
 * cost is one VMA lookup and one frame lookup per pc plus one stack lookup; symbols are
 * looked up only for a frame never seen before.
 */
#include <stdlib.h>
#include <string.h>

#include "elfcache.h"
#include "stacks.h"
#include "store.h"
#include "unwind.h"
#include "xalloc.h"

struct frame_ent {
	uint64_t dev, ino, name_hash, rel_pc;
	uint64_t id;            /* 0: empty slot */
};

struct stack_ent {
	uint64_t hash;
	uint64_t *frames;
	unsigned n;
	uint64_t id;            /* 0: empty slot */
};

struct stack_table {
	struct store *store;
	struct frame_ent *frames;
	size_t frame_cap, n_frames;
	struct stack_ent *stacks;
	size_t stack_cap, n_stacks;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

struct stack_table *stacks_new(struct store *store)
{
	struct stack_table *st = xcalloc(1, sizeof(*st));

	st->store = store;
	st->frame_cap = st->stack_cap = 256;
	st->frames = xcalloc(st->frame_cap, sizeof(*st->frames));
	st->stacks = xcalloc(st->stack_cap, sizeof(*st->stacks));
	return st;
}

void stacks_free(struct stack_table *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->stack_cap; i++)
		free(st->stacks[i].frames);
	free(st->stacks);
	free(st->frames);
	free(st);
}

/* A pc's module and rel_pc, as the frame table keys it. */
struct frame_key {
	uint64_t dev, ino, name_hash, rel_pc;
	const char *path;
	struct elf_file *elf;
	bool caller;            /* a return address: name the call, at rel_pc - 1 */
};

static uint64_t frame_hash(const struct frame_key *k)
{
	return mix(mix(mix(k->dev, k->ino), k->name_hash), k->rel_pc);
}

static void resolve(const struct unwind_target *t, uint64_t pc, struct frame_key *k)
{
	struct unwind_vma v;

	memset(k, 0, sizeof(*k));
	if (unwind_vma(t, pc, &v) < 0) {
		k->path = "[unknown]";
		k->name_hash = str_hash(k->path);
		k->rel_pc = pc;
		return;
	}
	k->dev = v.dev;
	k->ino = v.ino;
	k->path = v.path[0] ? v.path : "[anon]";
	k->name_hash = v.ino ? 0 : str_hash(k->path);
	k->rel_pc = pc - v.start + v.offset; /* the file offset, if nothing better */
	k->elf = v.ino ? elfcache_get(v.dev, v.ino, v.path, t->pid, v.start, v.end) : NULL;
	if (k->elf)
		elf_offset_to_vaddr(k->elf, k->rel_pc, &k->rel_pc);
}

static void grow_frames(struct stack_table *st)
{
	struct frame_ent *old = st->frames;
	size_t old_cap = st->frame_cap;

	st->frame_cap *= 2;
	st->frames = xcalloc(st->frame_cap, sizeof(*st->frames));
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].id)
			continue;
		struct frame_key k = { .dev = old[i].dev, .ino = old[i].ino,
				       .name_hash = old[i].name_hash, .rel_pc = old[i].rel_pc };
		size_t j = frame_hash(&k) & (st->frame_cap - 1);
		while (st->frames[j].id)
			j = (j + 1) & (st->frame_cap - 1);
		st->frames[j] = old[i];
	}
	free(old);
}

/* The frame's id; a new frame is named and queued to the store. */
static uint64_t frame_id(struct stack_table *st, const struct frame_key *k)
{
	size_t mask = st->frame_cap - 1, i = frame_hash(k) & mask;

	for (; st->frames[i].id; i = (i + 1) & mask) {
		const struct frame_ent *e = &st->frames[i];
		if (e->rel_pc == k->rel_pc && e->ino == k->ino && e->dev == k->dev &&
		    e->name_hash == k->name_hash)
			return e->id;
	}
	uint64_t id = ++st->n_frames;
	st->frames[i] = (struct frame_ent){ .dev = k->dev, .ino = k->ino,
					    .name_hash = k->name_hash, .rel_pc = k->rel_pc,
					    .id = id };

	struct store_frame f = { .id = id, .dev = k->dev, .ino = k->ino, .path = k->path,
				 .rel_pc = k->rel_pc };
	if (k->elf) {
		/* A return address may be one past its function's end (a call to a noreturn
		 * function): look up the call instruction instead. */
		const struct elf_sym *s = elf_symbol(k->elf, k->rel_pc - (k->caller && k->rel_pc));
		if (s) {
			f.function = s->name;
			f.func_off = k->rel_pc - s->addr;
		}
		f.build_id = k->elf->build_id;
	}
	store_add_frame(st->store, &f);
	if (2 * st->n_frames > st->frame_cap)
		grow_frames(st);
	return id;
}

static void grow_stacks(struct stack_table *st)
{
	struct stack_ent *old = st->stacks;
	size_t old_cap = st->stack_cap;

	st->stack_cap *= 2;
	st->stacks = xcalloc(st->stack_cap, sizeof(*st->stacks));
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].id)
			continue;
		size_t j = old[i].hash & (st->stack_cap - 1);
		while (st->stacks[j].id)
			j = (j + 1) & (st->stack_cap - 1);
		st->stacks[j] = old[i];
	}
	free(old);
}

int64_t stacks_record(struct stack_table *st, const struct unwind_target *t, const uint64_t *pcs,
		      int n)
{
	uint64_t ids[UNWIND_MAX_DEPTH];
	uint64_t h = (uint64_t)n;

	if (n <= 0)
		return 0;
	if (n > UNWIND_MAX_DEPTH)
		n = UNWIND_MAX_DEPTH;
	for (int i = 0; i < n; i++) {
		struct frame_key k;
		resolve(t, pcs[i], &k);
		k.caller = i > 0;
		ids[i] = frame_id(st, &k);
		h = mix(h, ids[i]);
	}
	size_t mask = st->stack_cap - 1, i = h & mask;
	for (; st->stacks[i].id; i = (i + 1) & mask) {
		const struct stack_ent *e = &st->stacks[i];
		if (e->hash == h && e->n == (unsigned)n &&
		    !memcmp(e->frames, ids, (size_t)n * sizeof(*ids)))
			return (int64_t)e->id;
	}
	uint64_t id = ++st->n_stacks;
	struct stack_ent *e = &st->stacks[i];
	e->hash = h;
	e->n = (unsigned)n;
	e->frames = xmalloc((size_t)n * sizeof(*ids));
	memcpy(e->frames, ids, (size_t)n * sizeof(*ids));
	e->id = id;
	store_add_stack(st->store, id, ids, (unsigned)n);
	if (2 * st->n_stacks > st->stack_cap)
		grow_stacks(st);
	return (int64_t)id;
}
