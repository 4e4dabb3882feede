// SPDX-License-Identifier: MIT
/*
 * libunwind's remote unwinder on our own accessors (see unwind.h for why). A capture costs
 * one PTRACE_GETREGS, usually one or two process_vm_readv of the stack, and the steps; the
 * unwind tables are read from the daemon's own mapping of each file, found through the
 * model's VMAs.
 */
#include <errno.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include "elfcache.h"
#include "log.h"
#include "mm.h"
#include "livemodel.h"
#include "peek.h"
#include "procmap.h"
#include "unwind.h"
#include "xalloc.h"

/* libunwind exports its table search but declares it only internally (perf does this too). */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define N_WINDOWS 32
#define ARENA_SIZE (128 * 1024)
#define READ_CHUNK (16 * 1024)  /* a miss on the stack reads this much at once */

struct unwinder {
	unw_addr_space_t as;
};

/* A range of target memory we have a local copy (or the file's mapping) of. */
struct window {
	uint64_t start, end;
	const uint8_t *data;
};

/* One capture's state: libunwind's opaque `arg`. */
struct capture {
	const struct unwind_target *t;
	struct user_regs_struct regs;
	struct window win[N_WINDOWS];
	unsigned n_win, next_win;
	size_t arena_used;
	uint64_t miss_addr;     /* last address nothing could be read at */
};

static uint8_t arena[ARENA_SIZE];       /* captures run on the tracer thread only */
/* Per thread: only the capturing thread (the tracer) may skip masking; a store writer or
 * any other thread calling sigprocmask meanwhile gets the real thing. */
static __thread bool in_capture;        /* see sigprocmask() below */

/*
 * libunwind, configured with --enable-block-signals as Debian's is, blocks every signal
 * around each lock of its caches and memory pools: two rt_sigprocmask syscalls each time,
 * about 30 per capture, which on this kind of VM cost as much as the whole rest of the
 * unwind (perf: 28% of the daemon's time on a stack-heavy loop). The masking protects
 * unwinding from signal handlers that unwind too; the daemon has none (its signals arrive
 * through a signalfd), so while a capture runs on the tracer's thread the calls are skipped:
 * every lock is taken and released within the capture, and the mask never changes. The
 * executable exports this symbol (meson.build: --export-dynamic-symbol) so that
 * libunwind's calls bind here; any other call goes to the real thing.
 */
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (in_capture) {
		if (old)
			sigemptyset(old);
		return 0;
	}
	int r = pthread_sigmask(how, set, old);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}
/* The name of the last PROCMAP_QUERY answer (no model): ret->path points at it. */
static char scratch_name[PROCMAP_NAME_SIZE];

int unwind_vma(const struct unwind_target *t, uint64_t addr, struct unwind_vma *ret)
{
	if (t->model) {
		const struct vma *v = livemodel_find(t->model, addr);
		if (!v)
			return -ENOENT;
		*ret = (struct unwind_vma){
			.start = v->start, .end = v->end, .offset = v->pgoff << MM_PAGE_SHIFT,
			.dev = v->dev, .ino = v->ino, .writable = !!(v->flags & VMA_WRITE),
			.path = v->path ? v->path : "" };
		if (v->kind == VMA_ANON)
			ret->offset = 0;
		return 0;
	}
	struct vma_desc kv;
	int r = procmap_query(t->maps_fd, t->pid, addr, &kv, scratch_name, sizeof(scratch_name),
			      NULL);
	if (r < 0)
		return r;
	*ret = (struct unwind_vma){
		.start = kv.start, .end = kv.end, .offset = kv.offset, .dev = kv.dev, .ino = kv.ino,
		.writable = kv.perms[1] == 'w',
		.path = scratch_name };
	return 0;
}

static struct elf_file *vma_elf(const struct unwind_target *t, const struct unwind_vma *v)
{
	if (!v->ino)
		return NULL;
	return elfcache_get(v->dev, v->ino, v->path, t->pid, v->start, v->end);
}

static struct window *add_window(struct capture *c, uint64_t start, uint64_t end,
				 const uint8_t *data)
{
	struct window *w = &c->win[c->next_win];

	c->next_win = (c->next_win + 1) % N_WINDOWS;
	if (c->n_win < N_WINDOWS)
		c->n_win++;
	*w = (struct window){ .start = start, .end = end, .data = data };
	return w;
}

/*
 * A window over @addr: the file's own bytes for a read-only file mapping outside RELRO (the
 * dynamic linker rewrites RELRO before making it read-only), else a copy read from the
 * target.
 */
static struct window *fill(struct capture *c, uint64_t addr)
{
	struct unwind_vma v;

	if (addr == c->miss_addr || unwind_vma(c->t, addr, &v) < 0)
		return NULL;
	struct elf_file *f = v.writable ? NULL : vma_elf(c->t, &v);
	if (f) {
		uint64_t lo = v.offset, hi = v.offset + (v.end - v.start);
		if (hi > f->size)
			hi = f->size;
		bool relro = f->relro_hi > f->relro_lo && lo < f->relro_hi && f->relro_lo < hi;
		if (!relro && lo < hi && addr - v.start < hi - lo)
			return add_window(c, v.start, v.start + (hi - lo), f->map + lo);
	}
	uint64_t start = addr & ~4095ull, len = READ_CHUNK;
	if (len > v.end - start)
		len = v.end - start;
	if (c->arena_used + len > ARENA_SIZE) {
		/* Full: start over (a deep stack of a big program); the windows go with it. */
		c->arena_used = 0;
		c->n_win = c->next_win = 0;
	}
	ssize_t n = peek(c->t->tid, start, arena + c->arena_used, len);
	if (n < (ssize_t)(addr - start + sizeof(unw_word_t))) {
		c->miss_addr = addr;
		return NULL;
	}
	struct window *w = add_window(c, start, start + (uint64_t)n, arena + c->arena_used);
	c->arena_used += (size_t)n;
	return w;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	struct capture *c = arg;

	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	for (unsigned i = 0; i < c->n_win; i++) {
		const struct window *w = &c->win[i];
		if (addr >= w->start && addr - w->start + sizeof(*val) <= w->end - w->start) {
			memcpy(val, w->data + (addr - w->start), sizeof(*val));
			return 0;
		}
	}
	const struct window *w = fill(c, addr);
	if (!w)
		return -UNW_EINVAL;
	memcpy(val, w->data + (addr - w->start), sizeof(*val));
	return 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
		      void *arg)
{
	const struct user_regs_struct *r = &((struct capture *)arg)->regs;

	(void)as;
	if (write)
		return -UNW_EREADONLYREG;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default:
		return -UNW_EBADREG;
	}
	return 0;
}

/* The .eh_frame_hdr of the file mapped at @ip, handed to libunwind's binary search. */
static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct capture *c = arg;
	struct unwind_vma v;
	uint64_t vaddr;

	if (unwind_vma(c->t, ip, &v) < 0)
		return -UNW_ENOINFO;
	struct elf_file *f = vma_elf(c->t, &v);
	if (!f || !f->eh_fde_count || !elf_offset_to_vaddr(f, ip - v.start + v.offset, &vaddr))
		return -UNW_ENOINFO;
	uint64_t bias = ip - vaddr;
	const struct elf_seg *seg = elf_seg_of(f, vaddr);
	unw_dyn_info_t di = {
		.format = UNW_INFO_FORMAT_REMOTE_TABLE,
		.start_ip = bias + seg->vaddr,
		.end_ip = bias + seg->vaddr + seg->memsz,
	};
	di.u.rti.segbase = bias + f->eh_hdr_vaddr;
	di.u.rti.table_data = bias + f->eh_hdr_vaddr + f->eh_table_off;
	/* in words; an entry is two 4-byte offsets */
	di.u.rti.table_len = f->eh_fde_count * 8 / sizeof(unw_word_t);
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* libunwind frees what dwarf_search_unwind_table allocated itself. */
	(void)as;
	(void)pi;
	(void)arg;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int resume_target(unw_addr_space_t as, unw_cursor_t *cursor, void *arg)
{
	(void)as;
	(void)cursor;
	(void)arg;
	return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *off, void *arg)
{
	/* Names come from elfcache.c when the frame is stored, once per distinct frame. */
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)off;
	(void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume_target,
	.get_proc_name = get_proc_name,
};

struct unwinder *unwinder_new(void)
{
	unw_addr_space_t as = unw_create_addr_space(&accessors, 0);

	if (!as)
		return NULL;
	/* Per-ip unwind state, kept across captures: most stops repeat the same call paths. */
	unw_set_caching_policy(as, UNW_CACHE_GLOBAL);
	struct unwinder *u = xcalloc(1, sizeof(*u));
	u->as = as;
	return u;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	free(u);
}

int unwind_capture(struct unwinder *u, const struct unwind_target *t, uint64_t *pcs, int max)
{
	static struct capture c;
	unw_cursor_t cursor;
	unw_word_t ip;
	int n = 0;

	if (max <= 0)
		return 0;
	if (t->model && livemodel_exec_changed(t->model))
		unw_flush_cache(u->as, 0, 0); /* code went away: what was derived from it too */
	c = (struct capture){ .t = t, .miss_addr = 1 };
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &c.regs) < 0)
		return 0;
	pcs[n++] = c.regs.rip;
	in_capture = true;
	if (unw_init_remote(&cursor, u->as, &c) == 0) {
		while (n < max && unw_step(&cursor) > 0) {
			if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || !ip)
				break;
			pcs[n++] = ip;
		}
	}
	in_capture = false;
	return n;
}
