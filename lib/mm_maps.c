// SPDX-License-Identifier: MIT
/*
 * The model and /proc/PID/maps text: parsing maps and smaps (seed, reconcile, compare),
 * printing exactly as fs/proc/task_mmu.c show_map_vma() does, comparing for --verify,
 * installing the kernel's truth over an uncertain range, and the child's copy at fork.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "mm_internal.h"

/* Parsing -------------------------------------------------------------------------------- */

static bool parse_hex(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end)
		return false;
	for (; s < end; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		if (v >> 60)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (s == *p)
		return false;
	*p = s;
	*ret = v;
	return true;
}

static bool parse_dec(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > UINT64_MAX / 10 ||
		    (v == UINT64_MAX / 10 && (uint64_t)(*s - '0') > UINT64_MAX % 10))
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s == *p)
		return false;
	*p = s;
	*ret = v;
	return true;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

int mm_parse_maps_line(const char *line, size_t len, struct vma_desc *ret)
{
	const char *p = line, *end = line + len;
	uint64_t major, minor;
	struct vma_desc d;

	memset(&d, 0, sizeof(d));
	if (len && end[-1] == '\n')
		end--;
	if (!parse_hex(&p, end, &d.start) || !expect(&p, end, '-') ||
	    !parse_hex(&p, end, &d.end) || !expect(&p, end, ' ') || end - p < 5)
		return -EINVAL;
	memcpy(d.perms, p, 4);
	p += 4;
	if (!expect(&p, end, ' ') || !parse_hex(&p, end, &d.offset) || !expect(&p, end, ' ') ||
	    !parse_hex(&p, end, &major) || !expect(&p, end, ':') ||
	    !parse_hex(&p, end, &minor) || !expect(&p, end, ' ') ||
	    !parse_dec(&p, end, &d.ino))
		return -EINVAL;
	if (d.start >= d.end || strspn(d.perms, "rwxsp-") != 4)
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	d.dev = makedev(major, minor);
	d.name = p;
	d.name_len = (size_t)(end - p);
	*ret = d;
	return 0;
}

static const struct {
	char name[3];
	uint64_t flag;
} vmflag_names[] = {
	{ "rd", VMA_READ }, { "wr", VMA_WRITE }, { "ex", VMA_EXEC }, { "sh", VMA_SHARED },
	{ "gu", VMA_MAYBE_GUARD }, { "mr", VMA_MAYREAD }, { "mw", VMA_MAYWRITE }, { "me", VMA_MAYEXEC },
	{ "ms", VMA_MAYSHARE }, { "gd", VMA_GROWSDOWN }, { "pf", VMA_PFNMAP },
	{ "lo", VMA_LOCKED }, { "io", VMA_IO }, { "sr", VMA_SEQ_READ }, { "rr", VMA_RAND_READ },
	{ "dc", VMA_DONTCOPY }, { "de", VMA_DONTEXPAND }, { "lf", VMA_LOCKONFAULT },
	{ "ac", VMA_ACCOUNT }, { "nr", VMA_NORESERVE }, { "ht", VMA_HUGETLB },
	{ "sf", VMA_SYNC }, { "ar", VMA_ARCH_1 }, { "wf", VMA_WIPEONFORK },
	{ "dd", VMA_DONTDUMP }, { "sd", VMA_SOFTDIRTY }, { "mm", VMA_MIXEDMAP },
	{ "hg", VMA_HUGEPAGE }, { "nh", VMA_NOHUGEPAGE }, { "mg", VMA_MERGEABLE },
	{ "um", VMA_UFFD_MISSING }, { "uw", VMA_UFFD_WP }, { "ui", VMA_UFFD_MINOR },
	{ "ss", VMA_SHADOW_STACK }, { "dp", VMA_DROPPABLE }, { "sl", VMA_SEALED },
};

static uint64_t parse_vmflags(const char *p, const char *end)
{
	uint64_t flags = 0;
	size_t i;

	while (p + 2 <= end) {
		if (*p == ' ') {
			p++;
			continue;
		}
		for (i = 0; i < sizeof(vmflag_names) / sizeof(vmflag_names[0]); i++)
			if (!memcmp(p, vmflag_names[i].name, 2))
				flags |= vmflag_names[i].flag;
		while (p < end && *p != ' ')
			p++;
	}
	return flags;
}

static bool has_prefix(const char *p, const char *end, const char *pfx)
{
	size_t n = strlen(pfx);

	return (size_t)(end - p) >= n && !memcmp(p, pfx, n);
}

/*
 * Parse maps or smaps text into a new array of descriptors (names point into @text).
 * Returns the count, or -EINVAL/-ENOMEM; *ret is freed by the caller.
 */
static ssize_t parse_text(const char *text, size_t len, struct vma_desc **ret)
{
	const char *p = text, *end = text + len;
	struct vma_desc *d = NULL;
	size_t n = 0, cap = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le > p && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			if (n == cap) {
				struct vma_desc *nd;

				cap = cap ? cap * 2 : 64;
				nd = realloc(d, cap * sizeof(*d));
				if (!nd) {
					free(d);
					return -ENOMEM;
				}
				d = nd;
			}
			if (mm_parse_maps_line(p, (size_t)(le - p), &d[n]) < 0 ||
			    (n && d[n].start < d[n - 1].end)) {
				free(d);
				return -EINVAL;
			}
			n++;
		} else if (n && has_prefix(p, le, "VmFlags:")) {
			d[n - 1].flags = parse_vmflags(p + 8, le);
			d[n - 1].flags_known = true;
		} else if (n && has_prefix(p, le, "Anonymous:")) {
			const char *q = p + 10;
			uint64_t kb = 0;

			while (q < le && *q == ' ')
				q++;
			parse_dec(&q, le, &kb);
			d[n - 1].anon_pages = kb > 0;
		}
		p = nl ? nl + 1 : end;
	}
	*ret = d;
	return (ssize_t)n;
}

/* Building VMAs from the kernel's descriptions -------------------------------------- */

static bool name_is(const struct vma_desc *d, const char *s)
{
	return d->name_len == strlen(s) && !memcmp(d->name, s, d->name_len);
}

static bool name_bracket(const struct vma_desc *d, const char *pfx, const char **in, size_t *n)
{
	size_t pl = strlen(pfx);

	if (d->name_len < pl + 1 || memcmp(d->name, pfx, pl) || d->name[d->name_len - 1] != ']')
		return false;
	*in = d->name + pl;
	*n = d->name_len - pl - 1;
	return true;
}

/*
 * vma_from_desc - a VMA for what the kernel says, its hidden state taken from smaps
 * VmFlags, else from @hint (the model's VMA there, may be NULL), else guessed.
 */
struct vma *vma_from_desc(struct mm *mm, const struct vma_desc *d, const struct vma *hint)
{
	struct vma *v = vma_alloc(mm);
	const char *in, *path = NULL;
	size_t n = 0, path_len = 0;
	bool shared = d->perms[3] == 's', w = d->perms[1] == 'w';
	uint64_t vis;

	if (!v)
		return NULL;
	v->start = d->start;
	v->end = d->end;
	v->dev = d->dev;
	v->ino = d->ino;
	v->pgoff = d->offset >> MM_PAGE_SHIFT;
	if (name_bracket(d, "[anon:", &in, &n)) {
		v->kind = VMA_ANON;
		v->anon_name = mm_str_new(mm, in, n);
	} else if (name_bracket(d, "[anon_shmem:", &in, &n)) {
		v->kind = VMA_SHMEM;
		v->anon_name = mm_str_new(mm, in, n);
		path = "/dev/zero (deleted)";
		path_len = strlen(path);
	} else if (!d->name_len || name_is(d, "[heap]") || name_is(d, "[stack]")) {
		v->kind = d->ino ? VMA_FILE : VMA_ANON;
	} else if (d->name[0] == '[') {
		v->kind = VMA_SPECIAL;
		path = d->name;
		path_len = d->name_len;
	} else {
		v->kind = VMA_FILE;
		if (shared && name_is(d, "/dev/zero (deleted)"))
			v->kind = VMA_SHMEM;
		else if (has_prefix(d->name, d->name + d->name_len, "/SYSV") && shared)
			v->kind = VMA_SYSV;
		path = d->name;
		path_len = d->name_len;
	}
	if (path)
		v->path = mm_str_new(mm, path, path_len);
	/* the model's VMA there says nothing about a different object */
	if (hint && (hint->kind != v->kind ||
		     (v->kind != VMA_ANON && (hint->dev != v->dev || hint->ino != v->ino))))
		hint = NULL;
	if (v->kind == VMA_ANON) {
		v->pgoff = d->start >> MM_PAGE_SHIFT;
		v->dev = v->ino = 0;
	} else if (v->kind == VMA_SPECIAL) {
		v->pgoff = 0;
	}

	vis = (d->perms[0] == 'r' ? VMA_READ : 0) | (w ? VMA_WRITE : 0) |
	      (d->perms[2] == 'x' ? VMA_EXEC : 0) | (shared ? VMA_MAYSHARE : 0);
	if (d->flags_known) {
		v->flags = d->flags;
	} else if (hint) {
		v->flags = vis | (hint->flags & ~(VMA_ACCESS_MASK | VMA_MAYSHARE));
		v->unknown = hint->unknown & ~VMA_ACCESS_MASK;
	} else {
		v->flags = vis | VMA_MAYREAD | VMA_MAYWRITE | VMA_MAYEXEC;
		if (shared && w)
			v->flags |= VMA_SHARED;
		else if (shared && v->kind != VMA_SHMEM)
			v->unknown |= VMA_SHARED | VMA_MAYWRITE;
		else if (shared)
			v->flags |= VMA_SHARED;
		if (!shared && w)
			v->flags |= VMA_ACCOUNT;
		else if (!shared && v->kind != VMA_SPECIAL)
			v->unknown |= VMA_ACCOUNT; /* read-only now, maybe charged before */
		if (name_is(d, "[stack]"))
			v->flags |= VMA_GROWSDOWN;
		if (v->kind == VMA_SPECIAL)
			v->flags |= VMA_DONTEXPAND;
	}
	if (hint) {
		v->file_id = hint->file_id;
		v->file_lin = hint->file_lin;
		v->shm_size = hint->shm_size;
		v->av = hint->av;
		v->av_id = hint->av_id;
		v->av_parent = hint->av_parent;
		v->av_fork = hint->av_fork;
		if (v->kind == VMA_ANON) {
			v->pgoff = hint->pgoff + ((int64_t)(d->start - hint->start) >> MM_PAGE_SHIFT);
			v->pgoff_known = hint->pgoff_known;
		}
	} else {
		v->av_id = mm_new_av_id(mm);
		if (shared || (v->flags & VMA_MAYSHARE))
			v->av = AV_NONE;
		else if (d->anon_pages)
			v->av = AV_SOME;
		else if (d->flags_known && !(v->flags & (VMA_WRITE | VMA_ACCOUNT | VMA_NORESERVE)))
			v->av = AV_NONE; /* never writable: charged otherwise */
		else
			v->av = AV_MAYBE;
		v->av_fork = (mm->new_flags & MM_NEW_EXEC) ? T_NO : T_MAYBE;
	}
	if (v->kind == VMA_SYSV && !v->file_id)
		v->file_id = (1ULL << 63) | mm_new_av_id(mm);
	if (mm->nomem) {
		vma_free(v);
		return NULL;
	}
	return v;
}

/*
 * Replace the model over [lo, hi) (widened to the descriptors) with @kv, keeping the
 * model's hidden state where the kernel does not tell it.
 */
static int install(struct mm *mm, uint64_t lo, uint64_t hi, const struct vma_desc *kv,
		   size_t n, bool *changed)
{
	struct vma **nv;
	struct vma *v;
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (kv[i].start >= kv[i].end || (kv[i].start | kv[i].end) & (MM_PAGE_SIZE - 1) ||
		    (i && kv[i].start < kv[i - 1].end))
			return -EINVAL;
	if (n && kv[0].start < lo)
		lo = kv[0].start;
	if (n && kv[n - 1].end > hi)
		hi = kv[n - 1].end;
	nv = calloc(n ? n : 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vma *hint = mm_find_next(mm, kv[i].start), *o;

		if (hint && hint->start >= kv[i].end)
			hint = NULL;
		nv[i] = vma_from_desc(mm, &kv[i], hint);
		if (!nv[i])
			goto nomem;
		/* a kernel VMA over several model VMAs: they merged, so what one knows holds */
		for (o = hint ? hint->next : NULL; o && o->start < kv[i].end; o = o->next) {
			uint64_t learn = nv[i]->unknown & ~o->unknown;

			if (kv[i].flags_known || o->kind != nv[i]->kind)
				continue;
			nv[i]->flags = (nv[i]->flags & ~learn) | (o->flags & learn);
			nv[i]->unknown &= o->unknown;
			if (!nv[i]->pgoff_known && o->pgoff_known && o->kind == VMA_ANON) {
				nv[i]->pgoff = o->pgoff - ((o->start - kv[i].start) >> MM_PAGE_SHIFT);
				nv[i]->pgoff_known = true;
			}
			if (o->av > nv[i]->av)
				nv[i]->av = o->av;
		}
	}
	/* pieces of one model VMA the kernel shows apart for reasons the model cannot see */
	for (i = 1; i < n; i++)
		vma_kept_apart(mm, nv[i - 1], nv[i]);
	/* did the kernel differ from the model? */
	for (v = mm_find_next(mm, lo); v && v->start < hi; v = v->next, k++)
		if (k >= n || !vma_same_version(v, nv[k]))
			*changed = true;
	if (k != n)
		*changed = true;
	mm_unmap_range(mm, lo, hi);
	for (i = 0; i < n; i++)
		mm_add(mm, nv[i]);
	free(nv);
	return 0;
nomem:
	while (i--)
		vma_free(nv[i]);
	free(nv);
	return -ENOMEM;
}

int mm_seed_from_maps(struct mm *mm, const char *text, size_t len)
{
	struct vma_desc *d = NULL;
	ssize_t n = parse_text(text, len, &d);
	bool changed = false;
	ssize_t i;
	int r;

	if (n < 0)
		return (int)n;
	mm_begin(mm);
	for (i = 0; i < n; i++) {
		/* start_brk/start_stack from mm_set_layout() (/proc/PID/stat) are exact */
		if (name_is(&d[i], "[heap]")) {
			if (!mm->layout_set)
				mm->start_brk = d[i].start;
			if (!mm->brk || mm->brk < d[i].start || mm->brk > d[i].end)
				mm->brk = d[i].end;
		}
		if (!mm->stack_set && name_is(&d[i], "[stack]"))
			mm->start_stack = d[i].end - 1;
	}
	/* no heap yet: the break is where it starts */
	if (mm->start_brk && !mm->brk)
		mm->brk = mm->start_brk;
	r = install(mm, 0, UINT64_MAX, d, (size_t)n, &changed);
	free(d);
	if (r < 0) {
		mm->nomem = r == -ENOMEM;
		mm_end(mm);
		return r;
	}
	r = mm_end(mm);
	return r < 0 ? r : 0;
}

int mm_reconcile(struct mm *mm, uint64_t lo, uint64_t hi, const struct vma_desc *kv, size_t n)
{
	bool changed = false;
	int r;

	mm->nomem = false;
	/* the gate VMA ([vsyscall]) is not in the kernel's tree: PROCMAP_QUERY never shows it */
	if (hi > MM_TASK_SIZE && (!n || kv[n - 1].end <= MM_TASK_SIZE))
		hi = MM_TASK_SIZE;
	r = install(mm, lo, hi, kv, n, &changed);
	if (r < 0)
		return r;
	mm->stats.reconciles++;
	if (changed)
		mm->stats.reconcile_changed++;
	mm->unc = false;
	mm_do_flush(mm);
	return 0;
}

/* Output -------------------------------------------------------------------------------- */

void vma_perms(const struct vma *v, char buf[5])
{
	buf[0] = v->flags & VMA_READ ? 'r' : '-';
	buf[1] = v->flags & VMA_WRITE ? 'w' : '-';
	buf[2] = v->flags & VMA_EXEC ? 'x' : '-';
	buf[3] = v->flags & VMA_MAYSHARE ? 's' : 'p';
	buf[4] = '\0';
}

/* get_vma_name(): file path first, then special names, then the initial heap and stack
 * (derived from brk and start_stack, not stored), then the anon name. */
const char *mm_vma_name(const struct mm *mm, const struct vma *v, char *buf, size_t size)
{
	buf[0] = '\0';
	if (v->kind == VMA_FILE || v->kind == VMA_SHMEM || v->kind == VMA_SYSV) {
		if (v->anon_name && v->kind == VMA_SHMEM)
			snprintf(buf, size, "[anon_shmem:%s]", v->anon_name);
		else
			snprintf(buf, size, "%s", v->path ? v->path : "");
	} else if (v->kind == VMA_SPECIAL) {
		snprintf(buf, size, "%s", v->path ? v->path : "");
	} else if (mm->start_brk && v->start < mm->brk && v->end > mm->start_brk) {
		/* vma_is_initial_heap(): strict at both ends, unlike the stack test below */
		snprintf(buf, size, "[heap]");
	} else if (mm->start_stack && v->start <= mm->start_stack &&
		   v->end >= mm->start_stack) {
		snprintf(buf, size, "[stack]");
	} else if (v->anon_name) {
		snprintf(buf, size, "[anon:%s]", v->anon_name);
	}
	return buf;
}

size_t mm_format_vma(const struct mm *mm, const struct vma *v, char *buf, size_t size)
{
	char perms[5], name[4200];
	uint64_t off = (v->kind == VMA_ANON || v->kind == VMA_SPECIAL) ? 0 :
		       v->pgoff << MM_PAGE_SHIFT;
	int n;

	vma_perms(v, perms);
	mm_vma_name(mm, v, name, sizeof(name));
	/* show_vma_header_prefix(), then seq_pad() to column 73 when a name follows */
	n = snprintf(buf, size, "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64
		     " ", v->start, v->end, perms, off, major(v->dev), minor(v->dev), v->ino);
	if (n < 0)
		return 0;
	if (name[0])
		n += snprintf(buf + ((size_t)n < size ? (size_t)n : size),
			      (size_t)n < size ? size - (size_t)n : 0, "%*s%s\n",
			      n < 72 ? 72 - n + 1 : 1, "", name);
	else
		n += snprintf(buf + ((size_t)n < size ? (size_t)n : size),
			      (size_t)n < size ? size - (size_t)n : 0, "\n");
	return (size_t)n;
}

int mm_format_maps(const struct mm *mm, FILE *f)
{
	char line[4400];
	struct vma *v;

	for (v = mm->head; v; v = v->next) {
		size_t n = mm_format_vma(mm, v, line, sizeof(line));

		if (fwrite(line, 1, n < sizeof(line) ? n : sizeof(line) - 1, f) != n)
			return -EIO;
	}
	return ferror(f) ? -EIO : 0;
}

/* Compare ------------------------------------------------------------------------------- */

/* the comparable part of a maps line (without '\n'), per the MM_CMP_* flags */
static void normalise(const char *s, size_t n, unsigned int flags, const char **rs, size_t *rn)
{
	static const char del[] = " (deleted)";
	const char *dash;

	if (n && s[n - 1] == '\n')
		n--;
	if ((flags & MM_CMP_IGNORE_DELETED) && n >= sizeof(del) - 1 &&
	    !memcmp(s + n - (sizeof(del) - 1), del, sizeof(del) - 1))
		n -= sizeof(del) - 1;
	if ((flags & MM_CMP_STACK_END) && n >= 7 && !memcmp(s + n - 7, "[stack]", 7) &&
	    (dash = memchr(s, '-', n))) {
		n -= (size_t)(dash - s);
		s = dash;
	}
	*rs = s;
	*rn = n;
}

int mm_compare_range(const struct mm *mm, const char *text, size_t len, uint64_t lo,
		     uint64_t hi, unsigned int flags, FILE *report)
{
	const char *p = text, *end = text + len, *kl = NULL;
	size_t kn = 0;
	struct vma_desc kd;
	struct vma *mv = mm_find_next(mm, lo);
	char ml[4400];
	int diff = 0;

	for (;;) {
		uint64_t kend = UINT64_MAX, mend = UINT64_MAX;
		const char *a, *b;
		size_t an, bn, mn = 0;

		while (!kl && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;

			if (le > p && mm_parse_maps_line(p, (size_t)(le - p), &kd) < 0 &&
			    ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return -EINVAL;
			if (le > p && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) &&
			    kd.end > lo && kd.start < hi) {
				kl = p;
				kn = (size_t)(le - p);
			}
			p = nl ? nl + 1 : end;
		}
		if (mv && mv->start >= hi)
			mv = NULL;
		if (!kl && !mv)
			break;
		if (kl)
			kend = kd.end;
		if (mv) {
			mend = mv->end;
			mn = mm_format_vma(mm, mv, ml, sizeof(ml));
			if (mn >= sizeof(ml))
				mn = sizeof(ml) - 1;
		}
		if (kend == mend) {
			normalise(kl, kn, flags, &a, &an);
			normalise(ml, mn, flags, &b, &bn);
			if (an == bn && !memcmp(a, b, an)) {
				kl = NULL;
				mv = mv->next;
				continue;
			}
		}
		if (!diff++ && report) {
			uint64_t at = kl ? kd.start : mv->start;

			/* Both sides' current lines, whichever ends first: the one that ends
			 * later is the other half of the divergence, not "(none)". */
			if (kl && mv && mv->start < at)
				at = mv->start;
			fprintf(report, "first divergence at 0x%" PRIx64 ":\n", at);
			fprintf(report, "  kernel: %.*s\n", kl ? (int)kn : 6, kl ? kl : "(none)");
			fprintf(report, "  model:  %.*s\n", mv ? (int)mn - 1 : 6,
				mv ? ml : "(none)");
		}
		if (kend <= mend)
			kl = NULL;
		if (mend <= kend)
			mv = mv->next;
	}
	return diff;
}

int mm_compare_maps(const struct mm *mm, const char *text, size_t len, unsigned int flags,
		    FILE *report)
{
	return mm_compare_range(mm, text, len, 0, UINT64_MAX, flags, report);
}

/* Fork ---------------------------------------------------------------------------------- */

struct mm *mm_clone_for_fork(struct mm *parent, const struct mm_ops *ops, void *ctx)
{
	struct mm *child;
	struct vma *v;

	if (parent->pending)
		mm_do_flush(parent);
	child = mm_new(0);
	if (!child)
		return NULL;
	mm_copy_layout(child, parent);
	/* new identities must not repeat the inherited file lineages */
	child->next_av_id = parent->next_av_id;
	mm_set_ops(child, ops, ctx);
	mm_begin(child);
	child->stats.transitions = 0;
	for (v = parent->head; v; v = v->next) {
		struct vma *c;

		if (v->flags & VMA_DONTCOPY)
			continue;
		c = vma_copy(child, v, v->start, v->end);
		if (!c)
			break;
		/* dup_mmap(): no mlock and no uffd in the child; a wiped VMA starts empty; each
		 * VMA that had an anon_vma gets its own, chained to the parent's */
		c->flags &= ~(VMA_LOCKED_MASK | VMA_UFFD_MISSING | VMA_UFFD_WP | VMA_UFFD_MINOR);
		c->av_id = mm_new_av_id(child);
		c->av_parent = 0;
		if (v->flags & VMA_WIPEONFORK) {
			c->av = AV_NONE;
			c->av_fork = T_NO;
		} else {
			c->av_fork = v->av == AV_SOME ? T_YES : T_MAYBE;
		}
		mm_add(child, c);
	}
	if (child->nomem) {
		mm_free(child);
		errno = ENOMEM;
		return NULL;
	}
	mm_end(child);
	return child;
}
