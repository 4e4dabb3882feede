/* SPDX-License-Identifier: MIT */
/*
 * Remote unwinding of a stopped tracee's user stack with libunwind, fed by our own
 * accessors instead of libunwind-ptrace's (which read /proc/PID/maps for every unwind-table
 * lookup and the target's memory one PTRACE_PEEKDATA per word):
 *   - registers: one PTRACE_GETREGS per capture;
 *   - memory: a per-capture set of windows: read-only, non-RELRO file mappings are read
 *     from the daemon's own mapping of the file (elfcache.h: no syscall at all), anything
 *     else (the stack) with one process_vm_readv of up to 16 KiB per miss;
 *   - unwind tables: the VMA of an ip comes from our model of the mm (mm_find), or from
 *     PROCMAP_QUERY when the mm has no model; its file's .eh_frame_hdr from the ELF cache.
 * libunwind caches what it derived per ip (UNW_CACHE_GLOBAL) for each mm; the cache is
 * flushed when an executable mapping of the mm goes away (livemodel_exec_changed()).
 *
 * Ownership: a struct unwinder belongs to one traced mm (struct mmref) and is freed with
 * unwinder_free(). Everything runs on the tracer's thread.
 */
#ifndef VMATRACE_UNWIND_H
#define VMATRACE_UNWIND_H

#include <stdint.h>
#include <sys/types.h>

struct livemodel;
struct unwinder;

#define UNWIND_MAX_DEPTH 256

/* The address space of the captured thread, as the unwinder may ask about it. */
struct unwind_target {
	pid_t tid;              /* the stopped thread */
	pid_t pid;              /* its process */
	struct livemodel *model;    /* its mm's model, NULL if none */
	int maps_fd;            /* /proc/PID/maps for PROCMAP_QUERY, -1 if not open */
};

/* unwinder_new - a libunwind address space for one mm. NULL if libunwind refused. */
struct unwinder *unwinder_new(void);

/* unwinder_free - NULL-safe. */
void unwinder_free(struct unwinder *u);

/*
 * unwind_capture - the call stack of @t->tid, stopped: up to @max pcs into @pcs, the
 * innermost first (pcs[0] is the thread's ip; the others are return addresses). Returns
 * how many (0 if not even the registers could be read).
 */
int unwind_capture(struct unwinder *u, const struct unwind_target *t, uint64_t *pcs, int max);

/*
 * unwind_vma - the VMA containing @addr of @t, as the unwinder sees it (model, else
 * PROCMAP_QUERY). 0 or -ENOENT. @ret_path points into the model or into @t's scratch space
 * and is valid until the next call.
 */
struct unwind_vma {
	uint64_t start, end, offset; /* offset in bytes */
	uint64_t dev, ino;
	const char *path;       /* file path or "[vdso]"-like name, "" for anonymous */
	int writable;
};
int unwind_vma(const struct unwind_target *t, uint64_t addr, struct unwind_vma *ret);

#endif
