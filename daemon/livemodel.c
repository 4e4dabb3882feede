// SPDX-License-Identifier: MIT
/*
 * The live model: the pure model (lib/mm.c) driven from live tracees: seeding, applying,
 * asking the kernel where the model cannot know, VMA versions to the store, and --verify.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "log.h"
#include "mm.h"
#include "livemodel.h"
#include "procmap.h"
#include "sysent.h"
#include "store.h"
#include "xalloc.h"

/* A few address ranges, merged when they overlap or touch; past its size: everything. */
#define RANGES_MAX 16
struct ranges {
	uint64_t r[RANGES_MAX][2];
	unsigned n;
	bool all;
};

struct livemodel {
	struct mm *mm;
	struct store *store;
	uint64_t mm_id;
	uint64_t seq;           /* the event whose changes are being reported */
	bool seeding_unknown;   /* births now are VMAs found at attach */
	bool exec_changed;      /* an executable VMA died since livemodel_exec_changed() */
	struct ranges event;    /* what the event being applied touched (its VMAs, its range) */
	/* Ranges touched while other syscalls of the mm were in flight or held: their merges
	 * depended on an order and on page faults no tracer sees, and the kernel was already
	 * ahead, so they are asked at the next quiet point (livemodel_settle). */
	struct ranges suspect;
	struct ranges unverified; /* --verify: touched since the last check */
	uint64_t full_at_ns;    /* --verify: when the last whole-map compare ended */
	uint64_t full_cost_ns;  /* ... and what it cost */
};

static void ranges_add(struct ranges *s, uint64_t lo, uint64_t hi)
{
	if (s->all || lo >= hi)
		return;
	for (unsigned i = 0; i < s->n; i++)
		if (lo <= s->r[i][1] && hi >= s->r[i][0]) {
			if (lo < s->r[i][0])
				s->r[i][0] = lo;
			if (hi > s->r[i][1])
				s->r[i][1] = hi;
			return;
		}
	if (s->n == RANGES_MAX) {
		s->all = true;
		return;
	}
	s->r[s->n][0] = lo;
	s->r[s->n][1] = hi;
	s->n++;
}

/* Add @from to @to, each range widened by a page on both sides: merges reach neighbours. */
static void ranges_merge(struct ranges *to, const struct ranges *from)
{
	if (from->all)
		to->all = true;
	for (unsigned i = 0; i < from->n; i++)
		ranges_add(to, from->r[i][0] > MM_PAGE_SIZE ? from->r[i][0] - MM_PAGE_SIZE : 0,
			   from->r[i][1] + MM_PAGE_SIZE < from->r[i][1] ? UINT64_MAX :
			   from->r[i][1] + MM_PAGE_SIZE);
}

static void ranges_clear(struct ranges *s)
{
	s->n = 0;
	s->all = false;
}

/* ---- versions to the store ---------------------------------------------------------- */

static void on_born(void *ctx, struct mm *mm, struct vma *v)
{
	struct livemodel *m = ctx;
	char name[4200];
	struct store_vma sv = {
		.mm = m->mm_id, .start = v->start, .end = v->end, .dev = v->dev, .ino = v->ino,
		.born_seq = m->seq, .origin_unknown = m->seeding_unknown,
	};

	ranges_add(&m->event, v->start, v->end);
	vma_perms(v, sv.perms);
	/* /proc shows the file offset only for VMAs with a file (shmem and SysV have one). */
	if (v->kind == VMA_FILE || v->kind == VMA_SHMEM || v->kind == VMA_SYSV)
		sv.offset = v->pgoff << MM_PAGE_SHIFT;
	sv.name = mm_vma_name(mm, v, name, sizeof(name));
	v->id = store_add_vma(m->store, &sv);
}

static void on_died(void *ctx, struct mm *mm, struct vma *v)
{
	struct livemodel *m = ctx;

	(void)mm;
	ranges_add(&m->event, v->start, v->end);
	if (v->id)
		store_end_vma(m->store, v->id, m->seq);
	if (v->flags & VMA_EXEC)
		m->exec_changed = true;
}

static const struct mm_ops livemodel_ops = { .vma_born = on_born, .vma_died = on_died };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- asking the kernel --------------------------------------------------------------- */

/* start_brk and start_stack from /proc/PID/stat: which anon VMAs are [heap] and [stack]. */
static void set_layout(struct livemodel *m, pid_t pid)
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

static void kernel_range_free(struct vma_desc *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)d[i].name);
	free(d);
}

/*
 * The kernel's VMAs overlapping [lo, hi), for mm_reconcile: PROCMAP_QUERY walks them in
 * well under a microsecond each. Each name is a copy, NUL-terminated, that
 * kernel_range_free() frees with the array.
 */
static int kernel_range(pid_t pid, uint64_t lo, uint64_t hi, struct vma_desc **ret,
			size_t *ret_n)
{
	size_t n = 0, cap = 8;
	struct vma_desc *d = xcalloc(cap, sizeof(*d));
	char name[PROCMAP_NAME_SIZE];
	uint64_t addr = lo;
	int fd = procmap_open(pid);

	if (fd < 0) {
		free(d);
		return fd;
	}
	while (addr < hi) {
		struct vma_desc v;
		int r = procmap_query_next(fd, pid, addr, &v, name, sizeof(name));
		if (r == -ENOENT || (r == 0 && v.start >= hi))
			break;
		if (r < 0) {
			close(fd);
			kernel_range_free(d, n);
			return r;
		}
		if (n == cap) {
			cap *= 2;
			d = xrealloc(d, cap * sizeof(*d));
		}
		v.name = xstrdup(name);
		d[n++] = v;
		addr = v.end;
	}
	close(fd);
	*ret = d;
	*ret_n = n;
	return 0;
}

static int reconcile(struct livemodel *m, pid_t pid, struct livemodel_counts *c)
{
	uint64_t lo, hi;
	struct vma_desc *d;
	size_t n;

	if (!mm_uncertain(m->mm, &lo, &hi))
		return 0;
	int r = kernel_range(pid, lo, hi, &d, &n);
	if (r < 0) {
		/* The task died before we could ask: keep the model's guess. */
		mm_flush(m->mm);
		return r == -ESRCH || r == -ENOENT ? 0 : r;
	}
	r = mm_reconcile(m->mm, lo, hi, d, n);
	if (r < 0)
		mm_flush(m->mm);
	c->reconciled++;
	kernel_range_free(d, n);
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

static struct livemodel *livemodel_seed(struct store *store, uint64_t mm_id, pid_t pid,
					uint64_t seq, bool attach)
{
	struct livemodel *m = xcalloc(1, sizeof(*m));
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
	mm_set_ops(m->mm, &livemodel_ops, m);
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

struct livemodel *livemodel_new_exec(struct store *store, uint64_t mm_id, pid_t pid, uint64_t seq)
{
	return livemodel_seed(store, mm_id, pid, seq, false);
}

struct livemodel *livemodel_new_attach(struct store *store, uint64_t mm_id, pid_t pid)
{
	return livemodel_seed(store, mm_id, pid, 0, true);
}

struct livemodel *livemodel_new_fork(struct livemodel *parent, uint64_t mm_id, uint64_t seq)
{
	struct livemodel *m = xcalloc(1, sizeof(*m));

	m->store = parent->store;
	m->mm_id = mm_id;
	m->seq = seq;
	parent->seq = seq;
	m->mm = mm_clone_for_fork(parent->mm, &livemodel_ops, m);
	if (!m->mm) {
		free(m);
		return NULL;
	}
	return m;
}

void livemodel_free(struct livemodel *m, uint64_t seq)
{
	if (!m)
		return;
	m->seq = seq;
	mm_flush(m->mm);
	mm_unmap_all(m->mm);
	mm_free(m->mm);
	free(m);
}

const struct vma *livemodel_find(const struct livemodel *m, uint64_t addr)
{
	return mm_find(m->mm, addr);
}

bool livemodel_exec_changed(struct livemodel *m)
{
	bool changed = m->exec_changed;

	m->exec_changed = false;
	return changed;
}

void livemodel_drop(struct livemodel *m)
{
	if (!m)
		return;
	mm_set_ops(m->mm, NULL, NULL);
	mm_free(m->mm);
	free(m);
}

unsigned long livemodel_vma_count(const struct livemodel *m)
{
	return (unsigned long)mm_vma_count(m->mm);
}

/* ---- events -------------------------------------------------------------------------- */

void livemodel_facts_read(const struct event *ev, pid_t pid, struct livemodel_facts *ret)
{
	struct sysent_effects e;

	memset(ret, 0, sizeof(*ret));
	/* Facts of a new mapping whose file the tracer found (note_mapping). */
	if (!ev->path && !ev->ino)
		return;
	sysent_effects(ev, 0, &e);
	if (e.shared_fd >= 0)
		ret->file_flags = fd_mode(pid, e.shared_fd);
	if (e.result_size) {
		/* shmdt needs the segment size: the kernel mapped it whole at ret. */
		struct vma_desc kv;
		char name[PROCMAP_NAME_SIZE];
		if (procmap_query(-1, pid, (uint64_t)ev->ret, &kv, name, sizeof(name), NULL) == 0)
			ret->shm_size = kv.end - kv.start;
	}
}

/* The addresses @ev names, whatever the model made of it (a check must look there too). */
static void event_range(struct livemodel *m, const struct event *ev, uint64_t shm_size)
{
	struct sysent_effects e;

	sysent_effects(ev, shm_size, &e);
	for (unsigned i = 0; i < sizeof(e.touched) / sizeof(e.touched[0]); i++)
		ranges_add(&m->event, e.touched[i].lo, e.touched[i].hi);
}

static int reconcile_ranges(struct livemodel *m, pid_t pid, const struct ranges *rs,
			    struct livemodel_counts *c);

void livemodel_unfinished(struct livemodel *m, const struct event *ev)
{
	struct sysent_effects e;

	sysent_effects(ev, 0, &e);
	if (e.unfinished_all)
		m->suspect.all = true;
	else
		ranges_add(&m->suspect, e.unfinished.lo, e.unfinished.hi);
}

int livemodel_settle(struct livemodel *m, pid_t pid, struct livemodel_counts *c)
{
	if (!m->suspect.n && !m->suspect.all)
		return 0;
	int r = reconcile_ranges(m, pid, &m->suspect, c);
	ranges_clear(&m->suspect);
	return r == -ESRCH || r == -ENOENT ? 0 : r;
}

int livemodel_apply(struct livemodel *m, const struct event *ev, pid_t pid,
		    const struct livemodel_facts *facts, bool quiet, struct livemodel_counts *c)
{
	struct mm_file file = { 0 }, *fp = NULL;
	const char *name = NULL;

	if (ev->kind != EVENT_SYSCALL || ev->ret == EVENT_RET_UNFINISHED)
		return 0;
	m->seq = ev->seq;
	unsigned flags = sysent_flags(ev->nr);
	if ((flags & SF_FILE_ID) && (ev->path || ev->ino)) {
		/* The tracer asked the kernel what the new mapping is (PROCMAP_QUERY). */
		file.dev = ev->dev;
		file.ino = ev->ino;
		file.path = ev->path;
		file.flags = facts->file_flags;
		file.size = facts->shm_size;
		fp = &file;
	}
	if (flags & SF_VMA_NAME)
		name = ev->path;
	ranges_clear(&m->event);
	event_range(m, ev, facts->shm_size);
	int r = mm_apply(m->mm, ev->nr, ev->args, ev->ret, fp, name);
	if (!quiet) {
		/* The kernel has already applied later changes of other threads: asked now, it
		 * would answer for a later moment than this event's. Keep the guess until the
		 * mm is quiet; what the event touched is then asked too (see struct livemodel). */
		mm_flush(m->mm);
		ranges_merge(&m->suspect, &m->event);
		r = r == MM_UNCERTAIN ? 0 : r;
	} else if (r == MM_UNCERTAIN) {
		r = reconcile(m, pid, c);
	}
	ranges_merge(&m->unverified, &m->event);
	return r < 0 ? r : 0;
}

/* Install the kernel's VMAs for each range of @rs at the model's current seq. */
static int reconcile_ranges(struct livemodel *m, pid_t pid, const struct ranges *rs,
			    struct livemodel_counts *c)
{
	int r = 0;

	if (rs->all)
		return livemodel_resync(m, pid, c);
	for (unsigned i = 0; i < rs->n && r >= 0; i++) {
		struct vma_desc *d;
			size_t n;
		uint64_t lo = rs->r[i][0], hi = rs->r[i][1];

		r = kernel_range(pid, lo, hi, &d, &n);
		if (r < 0)
			break;
		r = mm_reconcile(m->mm, lo, hi, d, n);
		c->reconciled++;
		kernel_range_free(d, n);
	}
	return r;
}

int livemodel_names_recheck(struct livemodel *m, pid_t pid, uint64_t seq,
			    const uint64_t (*ids)[2], unsigned n, bool all, char *ret_name,
			    size_t name_size, struct livemodel_counts *c)
{
	int count = 0;
	struct ranges changed = { .n = 0 };
	struct vma_desc kv;
	char name[PROCMAP_NAME_SIZE];
	int fd = procmap_open(pid);

	if (fd < 0)
		return fd;
	for (const struct vma *v = mm_first(m->mm); v; v = v->next) {
		bool match = all;
		if (v->kind != VMA_FILE || !v->path)
			continue;
		for (unsigned i = 0; i < n && !match; i++)
			match = ids[i][0] == v->dev && ids[i][1] == v->ino;
		if (match && procmap_query(fd, pid, v->start, &kv, name, sizeof(name), NULL) == 0 &&
		    strcmp(name, v->path) != 0) {
			if (!count++ && ret_name)
				snprintf(ret_name, name_size, "%s", name);
			ranges_add(&changed, v->start, v->end);
		}
	}
	close(fd);
	if (!count || !seq)
		return count;
	mm_flush(m->mm);
	m->seq = seq;
	int r = reconcile_ranges(m, pid, &changed, c);
	return r == -ESRCH || r == -ENOENT ? 0 : r < 0 ? r : count;
}

bool livemodel_range_mapped(const struct livemodel *m, uint64_t lo, uint64_t hi)
{
	const struct vma *v = mm_find_next(m->mm, lo);

	return v && v->start < hi;
}

int livemodel_resync(struct livemodel *m, pid_t pid, struct livemodel_counts *c)
{
	struct vma_desc *d;
	size_t n;

	int r = kernel_range(pid, 0, UINT64_MAX, &d, &n);
	if (r < 0)
		return r;
	r = mm_reconcile(m->mm, 0, UINT64_MAX, d, n);
	c->reconciled++;
	kernel_range_free(d, n);
	return r;
}

/* One kernel VMA in /proc/PID/maps form, for a report. */
static void print_kernel_vma(FILE *f, const struct vma_desc *v)
{
	fprintf(f, "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " %s\n",
		v->start, v->end, v->perms, v->offset, major(v->dev), minor(v->dev), v->ino,
		v->name);
}

/*
 * Compare the model with the kernel's VMAs (PROCMAP_QUERY) that overlap [lo, hi), field by
 * field. Returns the number of differing VMAs, reporting the first one to @report; -errno
 * if the kernel could not be asked.
 */
static int compare_range(struct livemodel *m, pid_t pid, uint64_t lo, uint64_t hi, FILE *report)
{
	struct vma_desc *d;
	size_t n, k = 0;
	int diff = 0;
	char name[4200], perms[5], line[4400];

	int r = kernel_range(pid, lo, hi, &d, &n);
	if (r < 0)
		return r;
	const struct vma *v = mm_find_next(m->mm, lo);
	while ((v && v->start < hi) || k < n) {
		const struct vma_desc *kv = k < n ? &d[k] : NULL;
		bool same = false;

		if (v && v->start >= hi)
			v = NULL;
		if (v && kv) {
			bool stack = !strcmp(kv->name, "[stack]");
			bool file = v->kind == VMA_FILE || v->kind == VMA_SHMEM ||
				    v->kind == VMA_SYSV;
			vma_perms(v, perms);
			mm_vma_name(m->mm, v, name, sizeof(name));
			same = (v->start == kv->start || stack) && v->end == kv->end &&
			       !strcmp(perms, kv->perms) && v->dev == kv->dev && v->ino == kv->ino &&
			       (file ? v->pgoff << MM_PAGE_SHIFT : 0) == kv->offset &&
			       !strcmp(name, kv->name);
		}
		if (!same) {
			if (!diff++ && report) {
				fprintf(report, "first divergence at 0x%" PRIx64 ":\n  kernel: ",
					v && (!kv || v->start < kv->start) ? v->start : kv->start);
				if (kv)
					print_kernel_vma(report, kv);
				else
					fputs("(none)\n", report);
				fputs("  model:  ", report);
				if (v)
					fwrite(line, 1, mm_format_vma(m->mm, v, line, sizeof(line)), report);
				else
					fputs("(none)\n", report);
			}
		}
		/* step past whichever starts first, both when they start together */
		uint64_t vs = v ? v->start : UINT64_MAX, ks = kv ? kv->start : UINT64_MAX;
		if (same || vs == ks || (kv && !strcmp(kv->name, "[stack]") && v && v->end == kv->end)) {
			v = v ? v->next : NULL;
			k++;
		} else if (vs < ks) {
			v = v->next;
		} else {
			k++;
		}
	}
	kernel_range_free(d, n);
	return diff;
}

/* The whole map against /proc/PID/maps. */
static int compare_full(struct livemodel *m, pid_t pid, FILE *report)
{
	char *text;
	size_t len;

	int r = proc_read(pid, "maps", &text, &len);
	if (r < 0)
		return r;
	if (!len) {
		/* A live task always maps something: this one has left its mm already (a
		 * thread killed by exit_group after its exit stop was queued). */
		free(text);
		return -ESRCH;
	}
	/* Normalised: [stack] grows on page faults. (A file renamed or unlinked after it was
	 * mapped is followed: names.c, notify.c.) */
	r = mm_compare_maps(m->mm, text, len, MM_CMP_STACK_END, report);
	free(text);
	return r;
}

bool livemodel_verify(struct livemodel *m, pid_t pid, uint64_t seq, bool quiet_mm,
		      struct livemodel_counts *c)
{
	char *report = NULL;
	size_t rlen;
	int diff = 0;

	if (!quiet_mm)
		return true; /* what was touched waits in m->unverified */
	FILE *rf = open_memstream(&report, &rlen);
	uint64_t t0 = now_ns();
	/*
	 * What the events since the last check touched (with their neighbours), asked with
	 * PROCMAP_QUERY: a microsecond per VMA, whatever the map's size. The whole map, read
	 * from /proc/PID/maps, when the touched ranges are too many, and otherwise whenever
	 * the last whole compare is ten of its own durations old: at most a tenth of the
	 * time goes there, and a difference the ranges miss is found soon after.
	 */
	bool full = m->unverified.all || t0 - m->full_at_ns >= 10 * m->full_cost_ns;
	if (full) {
		diff = compare_full(m, pid, rf);
		m->full_cost_ns = now_ns() - t0;
		m->full_at_ns = now_ns();
	} else {
		for (unsigned i = 0; i < m->unverified.n && diff >= 0; i++) {
			int d = compare_range(m, pid, m->unverified.r[i][0], m->unverified.r[i][1],
					      diff ? NULL : rf);
			diff = d < 0 ? d : diff + d;
		}
	}
	ranges_clear(&m->unverified);
	fclose(rf);
	if (diff < 0) {
		free(report);
		return true; /* the task is gone: nothing to compare with */
	}
	c->verified++;
	if (diff > 0) {
		c->diverged++;
		store_add_divergence(m->store, seq, m->mm_id, report);
		if (!c->first_divergence)
			c->first_divergence = xasprintf("mm %" PRIu64 " diverged after event %" PRIu64
							": %s", m->mm_id, seq, report);
		log_debug("verify: mm %" PRIu64 " after event %" PRIu64 ": %s", m->mm_id, seq,
			  report);
	}
	free(report);
	return diff == 0;
}
