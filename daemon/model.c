// SPDX-License-Identifier: MIT
/*
 * Driving the pure model (lib/mm.c) from live tracees: seeding, applying, asking the
 * kernel where the model cannot know, VMA versions to the store, and --verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "log.h"
#include "mm.h"
#include "model.h"
#include "procmap.h"
#include "store.h"
#include "xalloc.h"

struct model {
	struct mm *mm;
	struct store *store;
	uint64_t mm_id;
	uint64_t seq;           /* the event whose changes are being reported */
	bool verify_owed;       /* a check was deferred while other syscalls were in flight */
	bool seeding_unknown;   /* births now are VMAs found at attach */
	bool exec_changed;      /* an executable VMA died since model_exec_changed() */
};

/* ---- versions to the store ---------------------------------------------------------- */

static void on_born(void *ctx, struct mm *mm, struct vma *v)
{
	struct model *m = ctx;
	char name[4200];
	struct store_vma sv = {
		.mm = m->mm_id, .start = v->start, .end = v->end, .dev = v->dev, .ino = v->ino,
		.born_seq = m->seq, .origin_unknown = m->seeding_unknown,
	};

	vma_perms(v, sv.perms);
	/* /proc shows the file offset only for VMAs with a file (shmem and SysV have one). */
	if (v->kind == VMA_FILE || v->kind == VMA_SHMEM || v->kind == VMA_SYSV)
		sv.offset = v->pgoff << MM_PAGE_SHIFT;
	sv.name = mm_vma_name(mm, v, name, sizeof(name));
	v->id = store_add_vma(m->store, &sv);
}

static void on_died(void *ctx, struct mm *mm, struct vma *v)
{
	struct model *m = ctx;

	(void)mm;
	if (v->id)
		store_end_vma(m->store, v->id, m->seq);
	if (v->flags & VMA_EXEC)
		m->exec_changed = true;
}

static const struct mm_ops model_ops = { .vma_born = on_born, .vma_died = on_died };

/* ---- asking the kernel --------------------------------------------------------------- */

/* start_brk and start_stack from /proc/PID/stat: which anon VMAs are [heap] and [stack]. */
static void set_layout(struct model *m, pid_t pid)
{
	char *text;
	size_t len;
	unsigned long long v[52] = { 0 };

	if (proc_read(pid, "stat", &text, &len) < 0)
		return;
	char *p = strrchr(text, ')');
	int field = 2;
	/* after comm: field 3 (state) on; start_stack is 28, start_brk 47 (proc_pid_stat(5)) */
	for (char *tok = p ? strtok(p + 1, " ") : NULL; tok && field < 51; tok = strtok(NULL, " "))
		v[++field] = strtoull(tok, NULL, 10);
	free(text);
	mm_set_layout(m->mm, v[47], 0, v[28]);
}

/*
 * The kernel's VMAs overlapping [lo, hi), for mm_reconcile: PROCMAP_QUERY walks them in
 * well under a microsecond each. Names are copied into @names (one buffer per VMA).
 */
static int kernel_range(pid_t pid, uint64_t lo, uint64_t hi, struct vma_desc **ret,
			struct procmap_vma **ret_raw, size_t *ret_n)
{
	size_t n = 0, cap = 8;
	struct vma_desc *d = xcalloc(cap, sizeof(*d));
	struct procmap_vma *raw = xcalloc(cap, sizeof(*raw));
	uint64_t addr = lo;
	int fd = procmap_open(pid);

	if (fd < 0) {
		free(d);
		free(raw);
		return fd;
	}
	while (addr < hi) {
		struct procmap_vma v;
		int r = procmap_query_next(fd, pid, addr, &v);
		if (r == -ENOENT || (r == 0 && v.start >= hi))
			break;
		if (r < 0) {
			close(fd);
			free(d);
			free(raw);
			return r;
		}
		if (n == cap) {
			cap *= 2;
			d = xrealloc(d, cap * sizeof(*d));
			raw = xrealloc(raw, cap * sizeof(*raw));
		}
		raw[n] = v;
		n++;
		addr = v.end;
	}
	close(fd);
	for (size_t i = 0; i < n; i++) {
		d[i] = (struct vma_desc){
			.start = raw[i].start, .end = raw[i].end, .offset = raw[i].offset,
			.dev = raw[i].dev, .ino = raw[i].ino, .name = raw[i].name,
			.name_len = strlen(raw[i].name),
		};
		memcpy(d[i].perms, raw[i].perms, sizeof(d[i].perms));
	}
	*ret = d;
	*ret_raw = raw;
	*ret_n = n;
	return 0;
}

static int reconcile(struct model *m, pid_t pid, struct model_counts *c)
{
	uint64_t lo, hi;
	struct vma_desc *d;
	struct procmap_vma *raw;
	size_t n;

	if (!mm_uncertain(m->mm, &lo, &hi))
		return 0;
	int r = kernel_range(pid, lo, hi, &d, &raw, &n);
	if (r < 0) {
		/* The task died before we could ask: keep the model's guess. */
		mm_flush(m->mm);
		return r == -ESRCH || r == -ENOENT ? 0 : r;
	}
	r = mm_reconcile(m->mm, lo, hi, d, n);
	if (r < 0)
		mm_flush(m->mm);
	c->reconciled++;
	free(d);
	free(raw);
	return r;
}

/*
 * How fd @fd of @pid is open (MM_FILE_*): a MAP_SHARED mapping of a file opened read-only
 * never gets VM_SHARED/VM_MAYWRITE, which decides later mprotect results and merges.
 * Read at the mmap's exit stop, while the fd is still the one it mapped.
 */
static unsigned int fd_mode(pid_t pid, int fd)
{
	char path[64], *text;
	size_t len;
	unsigned int mode = 0;

	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	if (fd < 0 || proc_read(pid, path, &text, &len) < 0)
		return 0;
	const char *flags = strstr(text, "flags:");
	if (flags) {
		unsigned long f = strtoul(flags + 6, NULL, 8);
		mode = MM_FILE_MODE_KNOWN | ((f & O_ACCMODE) != O_RDONLY ? MM_FILE_WRITABLE : 0);
	}
	free(text);
	return mode;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static struct model *model_seed(struct store *store, uint64_t mm_id, pid_t pid, uint64_t seq,
				bool attach)
{
	struct model *m = xcalloc(1, sizeof(*m));
	char *text;
	size_t len;

	m->store = store;
	m->mm_id = mm_id;
	m->seq = seq;
	m->seeding_unknown = attach;
	/* After exec no VMA has a fork history; a process we attach to may have one. */
	m->mm = mm_new(attach ? 0 : MM_NEW_EXEC);
	if (!m->mm)
		goto error_free;
	mm_set_ops(m->mm, &model_ops, m);
	set_layout(m, pid);
	/* smaps gives the hidden flags (VmFlags) that decide later merges; maps the rest. */
	int r = proc_read(pid, "smaps", &text, &len);
	if (r < 0)
		r = proc_read(pid, "maps", &text, &len);
	if (r < 0) {
		log_warn("mm %" PRIu64 ": cannot read the initial map of pid %d: %s", mm_id, pid,
			 strerror(-r));
		goto error_free;
	}
	r = mm_seed_from_maps(m->mm, text, len);
	free(text);
	if (r < 0) {
		log_warn("mm %" PRIu64 ": cannot seed the model: %s", mm_id, strerror(-r));
		goto error_free;
	}
	m->seeding_unknown = false;
	return m;

error_free:
	mm_free(m->mm);
	free(m);
	return NULL;
}

struct model *model_new_exec(struct store *store, uint64_t mm_id, pid_t pid, uint64_t seq)
{
	return model_seed(store, mm_id, pid, seq, false);
}

struct model *model_new_attach(struct store *store, uint64_t mm_id, pid_t pid)
{
	return model_seed(store, mm_id, pid, 0, true);
}

struct model *model_new_fork(struct model *parent, uint64_t mm_id, uint64_t seq)
{
	struct model *m = xcalloc(1, sizeof(*m));

	m->store = parent->store;
	m->mm_id = mm_id;
	m->seq = seq;
	parent->seq = seq;
	m->mm = mm_clone_for_fork(parent->mm, &model_ops, m);
	if (!m->mm) {
		free(m);
		return NULL;
	}
	return m;
}

void model_free(struct model *m, uint64_t seq)
{
	if (!m)
		return;
	m->seq = seq;
	mm_flush(m->mm);
	mm_unmap_all(m->mm);
	mm_free(m->mm);
	free(m);
}

const struct vma *model_find(const struct model *m, uint64_t addr)
{
	return mm_find(m->mm, addr);
}

bool model_exec_changed(struct model *m)
{
	bool changed = m->exec_changed;

	m->exec_changed = false;
	return changed;
}

void model_drop(struct model *m)
{
	if (!m)
		return;
	mm_set_ops(m->mm, NULL, NULL);
	mm_free(m->mm);
	free(m);
}

unsigned long model_vma_count(const struct model *m)
{
	return (unsigned long)mm_vma_count(m->mm);
}

/* ---- events -------------------------------------------------------------------------- */

void model_facts_read(const struct event *ev, pid_t pid, struct model_facts *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (event_is_error(ev) || ev->ret == EVENT_RET_UNFINISHED)
		return;
	if (ev->nr == SYS_mmap && (ev->path || ev->ino) && !(ev->args[3] & MAP_ANONYMOUS) &&
	    (ev->args[3] & MAP_TYPE) != MAP_PRIVATE)
		ret->file_flags = fd_mode(pid, (int)ev->args[4]);
	if (ev->nr == SYS_shmat && (ev->path || ev->ino)) {
		/* shmdt needs the segment size: the kernel mapped it whole at ret. */
		struct procmap_vma pv;
		if (procmap_query(-1, pid, (uint64_t)ev->ret, 0, &pv) == 0)
			ret->shm_size = pv.end - pv.start;
	}
}

int model_apply(struct model *m, const struct event *ev, pid_t pid,
		const struct model_facts *facts, struct model_counts *c)
{
	struct mm_file file = { 0 }, *fp = NULL;
	const char *name = NULL;

	if (ev->kind != EVENT_SYSCALL || ev->ret == EVENT_RET_UNFINISHED)
		return 0;
	m->seq = ev->seq;
	switch (ev->nr) {
	case SYS_mmap:
	case SYS_shmat:
		/* The tracer asked the kernel what the new mapping is (PROCMAP_QUERY). */
		if (ev->path || ev->ino) {
			file.dev = ev->dev;
			file.ino = ev->ino;
			file.path = ev->path;
			file.flags = facts->file_flags;
			file.size = facts->shm_size;
			fp = &file;
		}
		break;
	case SYS_prctl:
		name = ev->path;
		break;
	}
	int r = mm_apply(m->mm, ev->nr, ev->args, ev->ret, fp, name);
	if (r == MM_UNCERTAIN)
		r = reconcile(m, pid, c);
	return r < 0 ? r : 0;
}

bool model_range_mapped(const struct model *m, uint64_t lo, uint64_t hi)
{
	const struct vma *v = mm_find_next(m->mm, lo);

	return v && v->start < hi;
}

int model_resync(struct model *m, pid_t pid, struct model_counts *c)
{
	struct vma_desc *d;
	struct procmap_vma *raw;
	size_t n;

	int r = kernel_range(pid, 0, UINT64_MAX, &d, &raw, &n);
	if (r < 0)
		return r;
	r = mm_reconcile(m->mm, 0, UINT64_MAX, d, n);
	c->reconciled++;
	free(d);
	free(raw);
	return r;
}

bool model_verify(struct model *m, pid_t pid, uint64_t seq, bool quiet_mm,
		  struct model_counts *c)
{
	char *text, *report = NULL;
	size_t len, rlen;

	if (!quiet_mm) {
		m->verify_owed = true;
		return true;
	}
	m->verify_owed = false;
	if (proc_read(pid, "maps", &text, &len) < 0)
		return true; /* the task is gone: nothing to compare with */
	FILE *rf = open_memstream(&report, &rlen);
	/* Normalised: [stack] grows on page faults, and a file unlinked after it was mapped
	 * gains " (deleted)" at the unlink, which is not a memory syscall. */
	int diff = mm_compare_maps(m->mm, text, len, MM_CMP_STACK_END | MM_CMP_IGNORE_DELETED, rf);
	fclose(rf);
	free(text);
	c->verified++;
	if (diff > 0) {
		c->diverged++;
		if (!c->first_divergence)
			c->first_divergence = xasprintf("mm %" PRIu64 " diverged after event %" PRIu64
							": %s", m->mm_id, seq, report);
		log_debug("verify: mm %" PRIu64 " after event %" PRIu64 ": %s", m->mm_id, seq,
			  report);
	}
	free(report);
	return diff <= 0;
}
