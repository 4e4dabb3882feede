// SPDX-License-Identifier: MIT
/*
 * Tests of the address-space model (lib/mm.h).
 *
 * Synthetic: seed a maps text, apply transitions, compare with the expected text and the
 * versions reported. Real: this process seeds a model from its own /proc/self/smaps, makes
 * real memory syscalls on itself (the table real_steps[]: per row the kernel call and the
 * model call), feeds each call and its result to the model and compares
 * mm_format_maps() with /proc/self/maps line for line (and the hidden flags with smaps
 * VmFlags) after every step; uncertain steps are reconciled with PROCMAP_QUERY as the
 * daemon does. The experiments run inside a reserved PROT_NONE region; malloc is told to
 * neither mmap nor move the break, so that the only map changes are the ones we make.
 * Performance: 65,530 VMAs in a model alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"
#include "mm.h"

#define P 4096UL
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* PROCMAP_QUERY (linux/fs.h, 6.11+), spelled out for older headers */
struct procmap_query {
	uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size;
	uint64_t vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PQ_COVERING_OR_NEXT 0x10

/* Version recorder ------------------------------------------------------------------- */

struct rec {
	int born, died;
	uint64_t next_id;
};

static void rec_born(void *ctx, struct mm *mm, struct vma *v)
{
	struct rec *r = ctx;

	(void)mm;
	r->born++;
	v->id = ++r->next_id;
}

static void rec_died(void *ctx, struct mm *mm, struct vma *v)
{
	struct rec *r = ctx;

	(void)mm;
	(void)v;
	r->died++;
}

static const struct mm_ops rec_ops = { rec_born, rec_died };

/* Synthetic tests ------------------------------------------------------------------- */

static char *fmt(const struct mm *mm)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	mm_format_maps(mm, f);
	fclose(f);
	return s;
}

#define check_maps(mm, expected)                                                           \
	do {                                                                               \
		char *_s = fmt(mm);                                                        \
		check_str(_s, expected);                                                   \
		free(_s);                                                                  \
	} while (0)

#define RW_ (PROT_READ | PROT_WRITE)
#define ANON(range, perms) range " " perms " 00000000 00:00 0 \n"

/* an expected maps line with a name: the name starts in column 73 */
static const char *named(const char *prefix, const char *name)
{
	static char buf[8][256];
	static int i;
	char *b = buf[i++ % 8];

	snprintf(b, 256, "%-72s %s\n", prefix, name);
	return b;
}

static char *cat(const char *a, const char *b)
{
	static char buf[4][1024];
	static int i;
	char *r = buf[i++ % 4];
	size_t la = strnlen(a, 1023), lb = strnlen(b, 1023 - la);

	/* memmove: GCC -O3 cannot tell that @a and @b are never @r (snprintf -Wrestrict) */
	memmove(r, a, la);
	memmove(r + la, b, lb);
	r[la + lb] = '\0';
	return r;
}

static const char sample[] =
	"555555554000-555555556000 r--p 00000000 fe:00 247134                     /usr/bin/cat\n"
	"555555556000-55555555b000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n"
	"55555555b000-55555557c000 rw-p 00000000 00:00 0                          [heap]\n"
	"7ffff7d00000-7ffff7d10000 rw-s 00000000 00:01 3075                       /dev/zero (deleted)\n"
	"7ffff7d10000-7ffff7d20000 r--p 00001000 fe:00 12                         /tmp/a file with spaces (deleted)\n"
	"7ffff7d20000-7ffff7d30000 rw-p 00000000 00:00 0 \n"
	"7ffff7d30000-7ffff7d31000 r--p 00000000 fe:00 18446744073709551615       /big/inode\n"
	"7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n"
	"fffffffffff00000-fffffffffff01000 r--p 00000000 fe:00 18446744073709551615  /no/pad\n";

static struct mm *seeded(const char *text, struct rec *r)
{
	struct mm *mm = mm_new(MM_NEW_EXEC);

	if (r) {
		memset(r, 0, sizeof(*r));
		mm_set_ops(mm, &rec_ops, r);
	}
	if (mm_seed_from_maps(mm, text, strlen(text)))
		diag("seed failed");
	return mm;
}

static void test_format(void)
{
	struct rec r;
	struct mm *mm = seeded(sample, &r);
	struct vma *v;
	char *s;

	check_maps(mm, sample);
	check_int(mm_vma_count(mm), 11);
	check_int(r.born, 12);
	v = mm_find(mm, 0x55555555c000);
	ok(v && v->start == 0x55555555b000, "mm_find in [heap]");
	ok(!mm_find(mm, 0x55555557c000), "mm_find in a hole");
	v = mm_find_next(mm, 0x55555557c000);
	ok(v && v->start == 0x7ffff7d00000, "mm_find_next after a hole");
	/* reseeding the same text changes nothing */
	check_int(mm_seed_from_maps(mm, sample, strlen(sample)), 0);
	check_int(r.born + r.died, 12);
	check_int(mm_compare_maps(mm, sample, strlen(sample), 0, NULL), 0);
	s = strdup(sample);
	s[strstr(s, "7ffffffde000") - s + 4] = 'e'; /* the stack grew down by faults */
	check_int(mm_compare_maps(mm, s, strlen(s), 0, NULL), 1);
	check_int(mm_compare_maps(mm, s, strlen(s), MM_CMP_STACK_END, NULL), 0);
	free(s);
	mm_free(mm);
}

#define ANON_RW(a, n) mm_mmap(mm, a, (n) * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | \
			      MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE, 0, a, NULL)

static void test_seed_hidden_flags(void)
{
	/* smaps says the read-only VMA was charged: a fresh read-only neighbour cannot merge */
	static const char smaps[] =
		"10000000-10002000 r--p 00000000 00:00 0 \n"
		"Size:                  8 kB\n"
		"Anonymous:             8 kB\n"
		"VmFlags: rd mr mw me ac \n";
	static const char maps[] = "10000000-10002000 r--p 00000000 00:00 0 \n";
	struct mm *mm = seeded(smaps, NULL);
	struct vma *v = mm_find(mm, 0x10000000);

	ok(v && (v->flags & VMA_ACCOUNT) && !v->unknown, "smaps VmFlags seed the hidden flags");
	check_int(mm_mmap(mm, 0x10002000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  0, 0x10002000, NULL), 0);
	check_int(mm_vma_count(mm), 2);
	mm_free(mm);
	/* from plain maps the charge is unknown: so is the merge */
	mm = seeded(maps, NULL);
	check_int(mm_mmap(mm, 0x10002000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  0, 0x10002000, NULL), MM_UNCERTAIN);
	check_int(mm_compare_range(mm, maps, strlen(maps), 0x10000000, 0x10002000, 0, NULL), 0);
	mm_free(mm);
}

static void test_split_merge(void)
{
	struct rec r;
	struct mm *mm = seeded("", &r);
	const uint64_t a = 0x10000000;

	/* populated, so one anon_vma: merges are certain */
	check_int(ANON_RW(a, 4), 0);
	check_int(ANON_RW(a + 4 * P, 4), 0);
	check_maps(mm, ANON("10000000-10008000", "rw-p"));
	check_int(mm_mprotect(mm, a + 2 * P, 2 * P, PROT_READ, -1, 0), 0);
	check_maps(mm, ANON("10000000-10002000", "rw-p") ANON("10002000-10004000", "r--p")
		       ANON("10004000-10008000", "rw-p"));
	r.born = r.died = 0;
	check_int(mm_mprotect(mm, a + 2 * P, 2 * P, PROT_READ | PROT_WRITE, -1, 0), 0);
	check_maps(mm, ANON("10000000-10008000", "rw-p"));
	check_int(r.died, 3);
	check_int(r.born, 1);
	/* a no-op reports nothing */
	r.born = r.died = 0;
	check_int(mm_mprotect(mm, a, 8 * P, PROT_READ | PROT_WRITE, -1, 0), 0);
	check_int(r.born + r.died, 0);
	/* across a hole: the part before it changes, ENOMEM */
	check_int(mm_munmap(mm, a + 4 * P, P, 0), 0);
	check_int(mm_mprotect(mm, a + 2 * P, 4 * P, PROT_READ, -1, -ENOMEM), 0);
	check_maps(mm, ANON("10000000-10002000", "rw-p") ANON("10002000-10004000", "r--p")
		       ANON("10005000-10008000", "rw-p"));
	/* madvise over the hole: every mapped part, then ENOMEM */
	r.born = r.died = 0;
	check_int(mm_madvise(mm, a + P, 5 * P, MADV_DONTFORK, -ENOMEM), 0);
	check_int(r.born, 5);
	check_int(r.died, 3);
	for (struct vma *v = mm_first(mm); v; v = vma_next(v))
		ok(!!(v->flags & VMA_DONTCOPY) == (v->start >= a + P && v->start < a + 6 * P),
		   "DONTFORK on %llx", (unsigned long long)v->start);
	check_int(mm_madvise(mm, a, 8 * P, MADV_DOFORK, -ENOMEM), 0);
	check_int(mm_vma_count(mm), 3);
	/* the model predicted ENOMEM: a success means it was stale */
	check_int(mm_mprotect(mm, a, 8 * P, PROT_READ, -1, 0), MM_UNCERTAIN);
	mm_flush(mm);
	mm_free(mm);
}

static void test_files_and_remap(void)
{
	struct mm *mm = seeded("", NULL);
	struct mm_file f = { makedev(254, 0), 77, "/data/f", 1, MM_FILE_MODE_KNOWN, 0, 0 };
	struct mm_file g = f;
	const uint64_t a = 0x20000000;

	g.file_id = 2;
	check_int(mm_mmap(mm, a, 2 * P, PROT_READ, MAP_PRIVATE, 0, a, &f), 0);
	check_int(mm_mmap(mm, a + 2 * P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 2 * P,
			  a + 2 * P, &f), 0);
	/* the same file through another open file description does not merge */
	check_int(mm_mmap(mm, a + 4 * P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 4 * P,
			  a + 4 * P, &g), 0);
	check_maps(mm, cat(named("20000000-20004000 r--p 00000000 fe:00 77 ", "/data/f"),
			   named("20004000-20006000 r--p 00004000 fe:00 77 ", "/data/f")));
	/* anonymous MAP_FIXED over the middle */
	check_int(mm_mmap(mm, a + P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_FIXED, 0, a + P, NULL), 0);
	check_int(mm_vma_count(mm), 4);
	/* munmap across several VMAs with partial ends */
	check_int(mm_munmap(mm, a + P / 2 * 1 + P / 2, 4 * P, 0), 0);
	check_maps(mm, cat(named("20000000-20001000 r--p 00000000 fe:00 77 ", "/data/f"),
			   named("20005000-20006000 r--p 00005000 fe:00 77 ", "/data/f")));
	/* mremap: grow in place up to a VMA of the other open file: no merge */
	check_int(mm_mremap(mm, a, P, 5 * P, 0, 0, a), 0);
	check_maps(mm, cat(named("20000000-20005000 r--p 00000000 fe:00 77 ", "/data/f"),
			   named("20005000-20006000 r--p 00005000 fe:00 77 ", "/data/f")));
	/* shrink, then move (file offsets known: certain) */
	check_int(mm_mremap(mm, a, 6 * P, 3 * P, 0, 0, a), 0);
	check_int(mm_mremap(mm, a, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 16 * P,
			  a + 16 * P), 0);
	check_maps(mm, named("20010000-20013000 r--p 00000000 fe:00 77 ", "/data/f"));
	/* a faulted anonymous VMA moved next to a compatible one: only the kernel knows */
	check_int(ANON_RW(a, 2), 0);
	check_int(ANON_RW(a + 8 * P, 2), 0);
	check_int(mm_mremap(mm, a + 8 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * P,
			  a + 2 * P), 0);
	check_int(mm_vma_count(mm), 3);
	mm_free(mm);
}

static void test_uncertain_reconcile(void)
{
	struct rec r;
	struct mm *mm = seeded("", &r);
	const uint64_t a = 0x30000000;
	uint64_t lo = 0, hi = 0;
	struct vma_desc kd;
	static const char kline[] = "30000000-30004000 rw-p 00000000 00:00 0 ";
	struct mm_stats st;

	/* not populated: the moved VMA may or may not have been written */
	mm_mmap(mm, a, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0,
		a, NULL);
	mm_mmap(mm, a + 8 * P, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		MAP_FIXED, 0, a + 8 * P, NULL);
	r.born = r.died = 0;
	check_int(mm_mremap(mm, a + 8 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * P,
			    a + 2 * P), MM_UNCERTAIN);
	ok(mm_uncertain(mm, &lo, &hi) && lo <= a && hi >= a + 4 * P, "uncertain range %llx-%llx",
	   (unsigned long long)lo, (unsigned long long)hi);
	check_int(r.born + r.died, 0); /* held back */
	/* the kernel says it merged */
	check_int(mm_parse_maps_line(kline, strlen(kline), &kd), 0);
	check_int(mm_reconcile(mm, lo, hi, &kd, 1), 0);
	check_maps(mm, ANON("30000000-30004000", "rw-p"));
	check_int(r.died, 2);
	check_int(r.born, 1);
	ok(!mm_uncertain(mm, NULL, NULL), "settled");
	mm_get_stats(mm, &st);
	check_int(st.uncertain, 1);
	check_int(st.reconcile_changed, 1);
	mm_free(mm);
}

/*
 * An mremap whose new pages the model still has mapped: another thread's munmap of them
 * came before it in the kernel but is not applied yet (a forced order at a detach, a knot
 * order.c could not untie). The kernel found them free; the model must not overlap.
 */
static void test_mremap_over_mapped(void)
{
	struct mm *mm = seeded("", NULL);
	const uint64_t a = 0x40000000;
	char why[256] = "";
	uint64_t lo = 0, hi = 0;
	struct mm_stats st;

	check_int(ANON_RW(a, 16), 0);
	check_int(mm_mmap(mm, a + 16 * P, 16 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_FIXED, 0, a + 16 * P, NULL), 0);
	mm_flush(mm);
	check_int(mm_vma_count(mm), 2);
	/* grown in place from 16 to 32 pages, over the second VMA */
	mm_mremap(mm, a, 16 * P, 32 * P, MREMAP_MAYMOVE, 0, a);
	check_int(mm_check(mm, why, sizeof(why)), 0);
	ok(!why[0], "grown in place over a mapped tail: %s", why[0] ? why : "no overlap");
	ok(mm_uncertain(mm, &lo, &hi) && lo <= a + 16 * P && hi >= a + 32 * P,
	   "the tail is asked to the kernel (%llx-%llx)", (unsigned long long)lo,
	   (unsigned long long)hi);
	mm_flush(mm);
	/* moved to where the model has a VMA */
	check_int(ANON_RW(a + 64 * P, 8), 0);
	check_int(ANON_RW(a + 96 * P, 4), 0);
	mm_flush(mm);
	mm_mremap(mm, a + 96 * P, 4 * P, 8 * P, MREMAP_MAYMOVE, 0, a + 64 * P);
	why[0] = 0;
	check_int(mm_check(mm, why, sizeof(why)), 0);
	ok(!why[0], "moved onto a mapped range: %s", why[0] ? why : "no overlap");
	ok(mm_find(mm, a + 96 * P) == NULL, "the old range is gone");
	check_maps(mm, cat(ANON("40000000-40020000", "rw-p"), ANON("40040000-40048000", "rw-p")));
	mm_get_stats(mm, &st);
	check_int(st.contradictions, 2);
	mm_free(mm);
}

static void test_brk_names_fork_shm(void)
{
	struct rec r;
	struct mm *mm = seeded("55555555b000-55555557c000 rw-p 00000000 00:00 0                          [heap]\n",
			       &r);
	struct mm_file shm = { makedev(0, 1), 5, NULL, 0, 0, 3 * P, 0x1234 };
	struct mm *child;
	const uint64_t a = 0x40000000;

	check_int(mm_brk(mm, 0, 0x55555557c000), 0);
	check_int(mm_brk(mm, 0x55555557e123, 0x55555557e123), 0);
	check_maps(mm, named("55555555b000-55555557f000 rw-p 00000000 00:00 0 ", "[heap]"));
	check_int(mm_brk(mm, 0x55555557d000, 0x55555557d000), 0);
	check_maps(mm, named("55555555b000-55555557d000 rw-p 00000000 00:00 0 ", "[heap]"));
	check_int(mm_brk(mm, 0x1000, 0x55555557d000), 0); /* refused */
	check_int(mm_vma_count(mm), 1);
	/* anon names: split, merge back, EBADF on a file, ENOMEM over a hole */
	ANON_RW(a, 4);
	check_int(mm_set_anon_name(mm, a + P, P, "buf", 0), 0);
	check_maps(mm, cat(cat(ANON("40000000-40001000", "rw-p"),
			       named("40001000-40002000 rw-p 00000000 00:00 0 ", "[anon:buf]")),
			   cat(ANON("40002000-40004000", "rw-p"),
			       named("55555555b000-55555557d000 rw-p 00000000 00:00 0 ", "[heap]"))));
	check_int(mm_set_anon_name(mm, a, 6 * P, "buf", -ENOMEM), 0);
	check_int(mm_vma_count(mm), 2);
	check_int(mm_set_anon_name(mm, a, 4 * P, NULL, 0), 0);
	check_int(mm_vma_count(mm), 2);
	/* SysV shm: attach twice, detach one */
	check_int(mm_shmat(mm, 5, 0, 0, a + 16 * P, &shm), 0);
	check_int(mm_shmat(mm, 5, 0, SHM_RDONLY, a + 19 * P, &shm), 0);
	check_int(mm_vma_count(mm), 4);
	check_int(mm_shmdt(mm, a + 16 * P, 0), 0);
	check_int(mm_vma_count(mm), 3);
	ok(mm_find(mm, a + 19 * P) && !strcmp(mm_find(mm, a + 19 * P)->path,
					       "/SYSV00001234 (deleted)"), "shm path");
	/* fork: DONTFORK gone, WIPEONFORK kept, mlock not inherited */
	mm_madvise(mm, a, P, MADV_DONTFORK, 0);
	mm_madvise(mm, a + 2 * P, P, MADV_WIPEONFORK, 0);
	mm_mlock(mm, a + 3 * P, P, 0, 0);
	child = mm_clone_for_fork(mm, &rec_ops, &r);
	ok(child && !mm_find(child, a) && mm_find(child, a + 2 * P) &&
	   !(mm_find(child, a + 3 * P)->flags & VMA_LOCKED), "fork copy");
	check_int(mm_vma_count(child), mm_vma_count(mm) - 1);
	mm_free(child);
	/* mlockall(MCL_FUTURE) locks later mappings */
	check_int(mm_mlockall(mm, MCL_FUTURE, 0), 0);
	ANON_RW(a + 32 * P, 1);
	ok(mm_find(mm, a + 32 * P)->flags & VMA_LOCKED, "MCL_FUTURE");
	check_int(mm_munlockall(mm, 0), 0);
	ok(!(mm_find(mm, a + 32 * P)->flags & VMA_LOCKED), "munlockall");
	mm_unmap_all(mm);
	check_int(mm_vma_count(mm), 0);
	mm_free(mm);
}

/* [heap] is vma_is_initial_heap(): start < brk && end > start_brk, strict at both ends */
static void test_heap_name_at_brk(void)
{
	struct mm *mm = seeded(named("55555555b000-55555557c000 rw-p 00000000 00:00 0 ", "[heap]"),
			       NULL);

	check_int(mm_mmap(mm, 0x55555557c000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_FIXED_NOREPLACE, 0, 0x55555557c000, NULL), 0);
	check_maps(mm, cat(named("55555555b000-55555557c000 rw-p 00000000 00:00 0 ", "[heap]"),
			   ANON("55555557c000-55555557d000", "r--p")));
	/* an empty heap (brk == start_brk) names nothing that merely touches it */
	mm_free(mm);
	mm = seeded("", NULL);
	mm_set_layout(mm, 0x55555555b000, 0x55555555b000, 0);
	check_int(mm_mmap(mm, 0x55555555a000, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			  MAP_FIXED, 0, 0x55555555a000, NULL), 0);
	check_maps(mm, ANON("55555555a000-55555555b000", "r--p"));
	mm_free(mm);
}

/* the first divergence shows both sides, whichever ends first */
static void test_compare_report(void)
{
	static const char k[] = "10000000-10004000 rw-p 00000000 00:00 0 \n";
	struct mm *mm = seeded("10000000-10002000 rw-p 00000000 00:00 0 \n", NULL);
	char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	check_int(mm_compare_maps(mm, k, strlen(k), 0, f), 2);
	fclose(f);
	ok(strstr(buf, "  kernel: 10000000-10004000 rw-p") != NULL, "kernel side shown");
	ok(strstr(buf, "  model:  10000000-10002000 rw-p") != NULL, "model side shown");
	mm_free(mm);
	mm = seeded("10000000-10006000 rw-p 00000000 00:00 0 \n", NULL);
	f = fmemopen(buf, sizeof(buf), "w");
	check_int(mm_compare_maps(mm, k, strlen(k), 0, f), 2);
	fclose(f);
	ok(strstr(buf, "  kernel: 10000000-10004000 rw-p") != NULL, "kernel side shown");
	ok(strstr(buf, "  model:  10000000-10006000 rw-p") != NULL, "model side shown");
	mm_free(mm);
}

/* munmap into a sealed VMA: the first VMA is split at the start, then EPERM */
static void test_munmap_sealed(void)
{
	struct mm *mm = seeded("", NULL);
	const uint64_t a = 0x50000000;

	check_int(ANON_RW(a, 4), 0);
	check_int(mm_mseal(mm, a + 2 * P, P, 0, 0), 0);
	check_int(mm_munmap(mm, a + P, 2 * P, -EPERM), 0);
	check_maps(mm, ANON("50000000-50001000", "rw-p") ANON("50001000-50002000", "rw-p")
		       ANON("50002000-50003000", "rw-p") ANON("50003000-50004000", "rw-p"));
	/* starting inside the sealed VMA: refused before any split */
	check_int(mm_munmap(mm, a + 2 * P + P / 2, P, -EPERM), 0);
	check_int(mm_vma_count(mm), 4);
	/* MAP_FIXED over it splits the same way */
	check_int(mm_mmap(mm, a + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0,
			  -EPERM, NULL), 0);
	check_int(mm_vma_count(mm), 4);
	/* EPERM with nothing sealed: the model was stale */
	check_int(mm_munmap(mm, a, P, -EPERM), MM_UNCERTAIN);
	mm_flush(mm);
	mm_free(mm);
}

/* mlock on PROT_NONE: populate fails (ENOMEM) after the lock split; munlock merges back */
static void test_mlock_prot_none(void)
{
	struct mm *mm = seeded("", NULL);
	const uint64_t a = 0x60000000;

	check_int(mm_mmap(mm, a, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, a,
			  NULL), 0);
	/* or RLIMIT_MEMLOCK refused it all: the kernel tells */
	check_int(mm_mlock(mm, a + P, P, 0, -ENOMEM), MM_UNCERTAIN);
	mm_flush(mm);
	check_int(mm_vma_count(mm), 3);
	check_int(mm_munlock(mm, a + P, P, 0), 0);
	check_maps(mm, ANON("60000000-60004000", "---p"));
	mm_free(mm);
}

/* two open()s of one file do not merge; one fd (ld.so) or one mapping's pieces do */
static void test_same_file(void)
{
	struct mm *mm = seeded("", NULL);
	struct mm_file f = { makedev(254, 0), 77, "/data/f", 0, MM_FILE_MODE_KNOWN, 0, 0 };
	const uint64_t a = 0x70000000;
	uint64_t args[6] = { a, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 3, 0 };
	uint64_t lo, hi;

	check_int(mm_apply(mm, SYS_mmap, args, a, &f, NULL), 0);
	args[0] = a + P;
	args[5] = P;
	check_int(mm_apply(mm, SYS_mmap, args, a + P, &f, NULL), 0); /* fd 3 again */
	check_maps(mm, named("70000000-70002000 r--p 00000000 fe:00 77 ", "/data/f"));
	args[0] = a + 2 * P;
	args[4] = 4; /* another fd: maybe another open file */
	args[5] = 2 * P;
	check_int(mm_apply(mm, SYS_mmap, args, a + 2 * P, &f, NULL), MM_UNCERTAIN);
	ok(mm_uncertain(mm, &lo, &hi) && lo == a && hi == a + 3 * P, "range: both mappings");
	mm_flush(mm);
	/* direct mm_mmap() calls: one lineage per call */
	check_int(mm_mmap(mm, a + 4 * P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 4 * P, a + 4 * P,
			  &f), 0);
	check_int(mm_mmap(mm, a + 5 * P, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 5 * P, a + 5 * P,
			  &f), MM_UNCERTAIN);
	mm_flush(mm);
	/* but pieces of one mapping are one file: mprotect and back merges surely */
	check_int(mm_mmap(mm, a + 8 * P, 4 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, 0, a + 8 * P,
			  &f), 0);
	check_int(mm_mprotect(mm, a + 9 * P, P, PROT_NONE, -1, 0), 0);
	check_int(mm_mprotect(mm, a + 9 * P, P, PROT_READ, -1, 0), 0);
	ok(mm_find(mm, a + 8 * P)->end == a + 12 * P, "pieces merge back");
	mm_free(mm);
}

/* a reconcile that splits a model VMA into equal-looking pieces: they are not one anon_vma */
static void test_reconcile_kept_apart(void)
{
	struct mm *mm = seeded("", NULL);
	const uint64_t a = 0x80000000;
	static const char k1[] = "80000000-80004000 rw-p 00000000 00:00 0 ";
	static const char k2[] = "80004000-80007000 rw-p 00000000 00:00 0 ";
	struct vma_desc kv[2];
	uint64_t lo, hi;

	mm_mmap(mm, a, 3 * P, RW_, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, a, NULL);
	mm_mmap(mm, a + 4 * P, 3 * P, RW_, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, a + 4 * P,
		NULL);
	/* written separately in truth: the filler joins one side only */
	check_int(mm_mmap(mm, a + 3 * P, P, RW_, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0,
			  a + 3 * P, NULL), MM_UNCERTAIN);
	mm_uncertain(mm, &lo, &hi);
	mm_parse_maps_line(k1, strlen(k1), &kv[0]);
	mm_parse_maps_line(k2, strlen(k2), &kv[1]);
	check_int(mm_reconcile(mm, lo, hi, kv, 2), 0);
	ok(mm_find(mm, a)->av_id != mm_find(mm, a + 4 * P)->av_id, "distinct anon identities");
	/* so joining them again is a guess, never a certainty */
	check_int(mm_mprotect(mm, a, 7 * P, PROT_READ, -1, 0), MM_UNCERTAIN);
	mm_flush(mm);
	check_int(mm_vma_count(mm), 2);
	check_int(mm_mprotect(mm, a, 7 * P, RW_, -1, 0), MM_UNCERTAIN);
	mm_free(mm);
}

/* mm_check() finds each kind of broken invariant; debug builds run it after a transition */
static void test_check(void)
{
	struct mm *mm = seeded(sample, NULL);
	struct vma *v = mm_find(mm, 0x55555555b000), *n = v->next, *t;
	const char *path = v->path;
	char why[256] = "";
	uint64_t save;
	uint32_t prio;

	check_int(mm_check(mm, why, sizeof(why)), 0);
	save = v->end;
	v->end += 1;
	check_int(mm_check(mm, why, sizeof(why)), -EUCLEAN);
	ok(strstr(why, "not page aligned") != NULL, "mm_check: %s", why);
	v->end = save;
	save = n->start;
	n->start = v->end - P;
	check_int(mm_check(mm, why, sizeof(why)), -EUCLEAN);
	ok(strstr(why, "overlaps") != NULL, "mm_check: %s", why);
	n->start = save;
	v->path = "/x";
	check_int(mm_check(mm, why, sizeof(why)), -EUCLEAN);
	ok(strstr(why, "anonymous with a path") != NULL, "mm_check: %s", why);
	v->path = path;
	v->flags &= ~VMA_MAYWRITE;
	check_int(mm_check(mm, why, sizeof(why)), -EUCLEAN);
	ok(strstr(why, "never sets") != NULL, "mm_check: %s", why);
	v->flags |= VMA_MAYWRITE;
	mm_for_each_vma(mm, t)
		if (t->left || t->right)
			break;
	prio = t->prio;
	t->prio = 0;
	check_int(mm_check(mm, why, sizeof(why)), -EUCLEAN);
	ok(strstr(why, "higher priority") != NULL, "mm_check: %s", why);
#ifndef NDEBUG
	{
		int status = 0;
		pid_t pid = fork();

		if (pid == 0) {
			/* a small model is walked whole after each transition */
			if (!freopen("/dev/null", "w", stderr))
				_exit(2);
			mm_mprotect(mm, 0x7ffff7d20000, P, PROT_READ, -1, 0);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		   "debug build: a transition on a broken model aborts (status %#x)", status);
	}
#endif
	t->prio = prio;
	check_int(mm_check(mm, why, sizeof(why)), 0);
	mm_free(mm);
}

static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_perf(void)
{
	enum { N = 65530, OPS = 100000 };
	struct mm *mm = mm_new(0);
	struct mm_file f = { makedev(254, 0), 99, "/data/big", 1,
			     MM_FILE_MODE_KNOWN | MM_FILE_WRITABLE, 0, 0 };
	const uint64_t base = 0x100000000;
	double t0, t1, t2, t3;
	int i, found = 0, bad = 0;

	t0 = now();
	for (i = 0; i < N; i++)
		bad += mm_mmap(mm, base + i * P, P, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED, (uint64_t)i * P, base + i * P, &f) != 0;
	t1 = now();
	check_int(mm_vma_count(mm), N);
	check_int(bad, 0);
	for (i = 0; i < OPS; i++) {
		uint64_t addr = base + (rnd() % N) * P + rnd() % P;
		struct vma *v = mm_find(mm, addr);

		found += v && v->start <= addr && addr < v->end;
	}
	t2 = now();
	check_int(found, OPS);
	/* toggling a read-only page merges 3 VMAs into 1, toggling it back splits again */
	for (i = 0; i < OPS; i++) {
		uint64_t pg = (rnd() % (N / 2)) * 2 + 1;

		bad += mm_mprotect(mm, base + pg * P, P, PROT_READ | PROT_WRITE, -1, 0) != 0;
		bad += mm_mprotect(mm, base + pg * P, P, PROT_READ, -1, 0) != 0;
	}
	t3 = now();
	check_int(bad, 0);
	check_int(mm_vma_count(mm), N);
	diag("%d VMAs: built in %.3f s, %d lookups in %.3f s (%.2f us), %d mprotect pairs in "
	     "%.3f s (%.2f us each)", N, t1 - t0, OPS, t2 - t1, (t2 - t1) * 1e6 / OPS, OPS,
	     t3 - t2, (t3 - t2) * 1e6 / (2 * OPS));
	ok(t3 - t0 < 20.0, "65,530 VMAs stay fast (generous bound: 20 s, took %.2f s)", t3 - t0);
	mm_free(mm);
}

/* Real: this process ---------------------------------------------------------------- */

static char kbuf[1 << 21], rbuf[1 << 14];
static size_t klen;
static struct mm *real;
static struct rec real_rec;
enum { V_NONE, V_R, V_MOVED, V_DU, V_B0, V_SHMID, V_MAX }; /* results kept by real steps */
static uint64_t var[V_MAX]; /* var[V_R]: the reserved region the experiments run in */
static int n_uncertain;
static FILE *rep;

#define A(pg) (var[V_R] + (uint64_t)(pg) * P)

static int read_proc(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	klen = 0;
	if (fd < 0)
		return -errno;
	while ((n = read(fd, kbuf + klen, sizeof(kbuf) - 1 - klen)) > 0)
		klen += (size_t)n;
	close(fd);
	kbuf[klen] = '\0';
	return 0;
}

static int64_t sc(long r)
{
	return r == -1 ? -errno : r;
}

/* Ask the kernel about one address, as the daemon does (PROCMAP_QUERY). */
static int query(int fd, uint64_t addr, struct vma_desc *d, char *name, size_t size)
{
	struct procmap_query q = { .size = sizeof(q), .query_flags = PQ_COVERING_OR_NEXT,
				   .query_addr = addr, .vma_name_addr = (uintptr_t)name,
				   .vma_name_size = (uint32_t)size };

	if (ioctl(fd, PROCMAP_QUERY, &q) < 0)
		return -errno;
	memset(d, 0, sizeof(*d));
	d->start = q.vma_start;
	d->end = q.vma_end;
	d->perms[0] = q.vma_flags & 1 ? 'r' : '-';
	d->perms[1] = q.vma_flags & 2 ? 'w' : '-';
	d->perms[2] = q.vma_flags & 4 ? 'x' : '-';
	d->perms[3] = q.vma_flags & 8 ? 's' : 'p';
	d->offset = q.vma_offset;
	d->dev = makedev(q.dev_major, q.dev_minor);
	d->ino = q.inode;
	d->name = name;
	d->name_len = q.vma_name_size ? q.vma_name_size - 1 : 0;
	return 0;
}

/* Settle an uncertain transition with the kernel's truth. */
static void settle(void)
{
	static char names[64][512];
	static struct vma_desc kv[64];
	uint64_t lo, hi, addr;
	size_t n = 0;
	int fd;

	if (!mm_uncertain(real, &lo, &hi))
		return;
	n_uncertain++;
	if (hi > 0x800000000000)
		hi = 0x800000000000;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	for (addr = lo; addr < hi && n < 64; addr = kv[n++].end)
		if (query(fd, addr, &kv[n], names[n], sizeof(names[n])) < 0 || kv[n].start >= hi)
			break;
	close(fd);
	if (mm_reconcile(real, lo, hi, kv, n))
		diag("reconcile failed");
}

static void settle_step(const char *what)
{
	uint64_t lo, hi;
	struct mm_stats st0, st1;

	mm_uncertain(real, &lo, &hi);
	mm_get_stats(real, &st0);
	settle();
	mm_get_stats(real, &st1);
	diag("uncertain: %s: %llx-%llx, the guess was %s", what, (unsigned long long)lo,
	     (unsigned long long)hi, st1.reconcile_changed > st0.reconcile_changed ? "wrong" :
	     "right");
}

static struct mm_file ident_at(uint64_t addr)
{
	static char name[512];
	struct mm_file f = { 0 };
	struct vma_desc d = { 0 };
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (query(fd, addr, &d, name, sizeof(name)) == 0) {
		f.dev = d.dev;
		f.ino = d.ino;
		f.path = name;
	}
	close(fd);
	return f;
}

static void print_report(void)
{
	char *line, *save = NULL;

	fflush(rep);
	rbuf[ftell(rep) < (long)sizeof(rbuf) ? ftell(rep) : (long)sizeof(rbuf) - 1] = '\0';
	for (line = strtok_r(rbuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		diag("  %s", line);
}

/* Compare the model with /proc/self/maps, and its known hidden flags with smaps. */
static void check_real(const char *what, int64_t ret)
{
	struct mm *k;
	struct vma *kv, *mv;
	int d;

	read_proc("/proc/self/maps");
	rewind(rep);
	d = mm_compare_maps(real, kbuf, klen, MM_CMP_STACK_END, rep);
	if (!ok(d == 0, "real: %s (= %lld): maps equal", what, (long long)ret))
		print_report();
	read_proc("/proc/self/smaps");
	k = mm_new(0);
	mm_seed_from_maps(k, kbuf, klen);
	for (kv = mm_first(k); kv; kv = vma_next(kv)) {
		mv = mm_find(real, kv->start);
		if (!mv || mv->start != kv->start || mv->end != kv->end)
			continue;
		if ((mv->flags ^ kv->flags) & ~mv->unknown & ~VMA_SOFTDIRTY) {
			d = -1;
			diag("  %llx-%llx flags: model %llx (unknown %llx), kernel %llx",
			     (unsigned long long)kv->start, (unsigned long long)kv->end,
			     (unsigned long long)mv->flags, (unsigned long long)mv->unknown,
			     (unsigned long long)kv->flags);
			break;
		}
	}
	ok(d >= 0, "real: %s: hidden flags agree with smaps", what);
	if (d) /* resynchronise, so that one divergence does not hide the next */
		mm_seed_from_maps(real, kbuf, klen);
	mm_free(k);
}

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define NOREPL (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
#define MMAP(a, n, prot, fl, fd, off) syscall(SYS_mmap, a, (n) * P, prot, fl, fd, (off) * P)
#define SHM_PAGES 3
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

static void real_fork_check(void)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		struct mm *c = mm_clone_for_fork(real, NULL, NULL);
		int d;

		int64_t r;
		int u;

		read_proc("/proc/self/maps");
		d = c ? mm_compare_maps(c, kbuf, klen, MM_CMP_STACK_END, stderr) : -1;
		if (d)
			_exit(1);
		/* its faulted copy has a fork-chained anon_vma: no merge with a new neighbour */
		r = sc(MMAP(A(1002), 2, RW, PA, -1, 0));
		u = mm_mmap(c, A(1002), 2 * P, RW, PA, 0, r, NULL);
		read_proc("/proc/self/maps");
		d = mm_compare_maps(c, kbuf, klen, MM_CMP_STACK_END, stderr);
		_exit(d ? 2 : u ? 3 : 0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "real: fork child's map equals mm_clone_for_fork(), and no merge there (exit %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void real_anon_name_check(void)
{
	if (!mm_find(real, A(60)) || !mm_find(real, A(60))->anon_name)
		ok(1, "real: anon names # SKIP kernel without CONFIG_ANON_VMA_NAME");
}

/*
 * The real-kernel steps, as a table: each row is one step, the kernel call (a raw syscall,
 * the number and its six arguments) and the model call told about it (a function given
 * the same arguments and the result), after which test_real() compares the model with
 * /proc/self/maps and smaps. Most addresses are known at run time only, so an argument is
 * a value with a kind: PG(n) is page n of the reserved region (A(n)), NP(n) n pages,
 * VAR(x, off) what an earlier step saved (.save) plus off, FD(k) open file k, STR the
 * row's .str. A row can write pages first (.touch: give them an anon_vma), need the SysV
 * segment (.shm), or be a check of its own (.run).
 */
enum { K_VAL, K_PAGE, K_VAR, K_FD, K_STR };

struct real_arg {
	uint8_t kind; /* K_* */
	uint8_t var;  /* K_VAR: V_* */
	int64_t v;    /* the value, page number, offset or file number */
};

struct real_step {
	const char *what;
	long nr;                  /* kernel call: syscall(nr, a[0..5]) */
	struct real_arg a[6];
	/* model call, told the same arguments and the result */
	int (*model)(const struct real_step *st, const uint64_t a[6], int64_t ret);
	int save;                 /* V_*: keep the result for later rows */
	struct {
		int pg, n;
	} touch[2];               /* pages to write before the call (n 0: none) */
	bool shm;                 /* needs the SysV segment (var[V_SHMID] >= 0) */
	const char *str;          /* K_STR argument */
	void (*run)(void);        /* instead of a call: a check that reports itself */
};

#define V(x) { K_VAL, 0, (int64_t)(x) }
#define PG(n) { K_PAGE, 0, (n) }
#define NP(n) { K_VAL, 0, (int64_t)((n) * P) }
#define VAR(x, off) { K_VAR, (x), (int64_t)(off) }
#define FD(k) { K_FD, 0, (k) }
#define STR { K_STR, 0, 0 }

static int real_fd[4] = { -1, -1, -1, -1 };    /* FD(1..3): fd1, fd2, fdr */
static struct mm_file real_file[4];              /* ... and their identities */

static const struct mm_file *file_of(const struct real_arg *a)
{
	return a->kind == K_FD ? &real_file[a->v] : NULL;
}

static int m_mmap(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mmap(real, a[0], a[1], (int)a[2], (int)a[3], a[5], ret, file_of(&st->a[4]));
}

/* MAP_SHARED|MAP_ANONYMOUS: the shmem inode, as the daemon learns it, from the kernel */
static int m_mmap_shmem(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	struct mm_file id = ident_at(a[0]);

	id.path = NULL;
	return mm_mmap(real, a[0], a[1], (int)a[2], (int)a[3], a[5], ret, &id);
}

static int m_munmap(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_munmap(real, a[0], a[1], ret);
}

static int m_mremap(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mremap(real, a[0], a[1], a[2], (int)a[3], a[4], ret);
}

static int m_mprotect(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mprotect(real, a[0], a[1], (int)a[2], -1, ret);
}

static int m_pkey_mprotect(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mprotect(real, a[0], a[1], (int)a[2], (int)a[3], ret);
}

static int m_madvise(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_madvise(real, a[0], a[1], (int)a[2], ret);
}

static int m_mlock(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mlock(real, a[0], a[1], st->nr == SYS_mlock2 ? (int)a[2] : 0, ret);
}

static int m_munlock(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_munlock(real, a[0], a[1], ret);
}

static int m_mlockall(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mlockall(real, (int)a[0], ret);
}

static int m_munlockall(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_munlockall(real, ret);
}

static int m_brk(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_brk(real, a[0], ret);
}

static int m_mseal(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_mseal(real, a[0], a[1], a[2], ret);
}

/* shmat: the segment's identity from the kernel, its size from shmget */
static int m_shmat(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	struct mm_file id = ident_at(a[1]);

	id.size = SHM_PAGES * P;
	return mm_shmat(real, (int)a[0], a[1], (int)a[2], ret, &id);
}

static int m_shmdt(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_shmdt(real, a[0], ret);
}

static int m_anon_name(const struct real_step *st, const uint64_t a[6], int64_t ret)
{
	return mm_set_anon_name(real, a[2], a[3], (const char *)(uintptr_t)a[4], ret);
}

static const struct real_step real_steps[] = {
	{ "reserve", SYS_mmap, { V(0), NP(2048), V(PROT_NONE),
				 V(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE), V(-1), V(0) },
	  m_mmap, .save = V_R },
	{ "anon MAP_FIXED", SYS_mmap, { PG(16), NP(8), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "adjacent merges", SYS_mmap, { PG(24), NP(8), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "mprotect splits", SYS_mprotect, { PG(20), NP(4), V(PROT_READ) }, m_mprotect },
	{ "mprotect back merges", SYS_mprotect, { PG(20), NP(4), V(RW) }, m_mprotect },
	{ "populated", SYS_mmap, { PG(40), NP(8), V(RW), V(PA | MAP_POPULATE), V(-1), V(0) },
	  m_mmap },
	{ "populated split", SYS_mprotect, { PG(42), NP(2), V(PROT_READ) }, m_mprotect },
	{ "populated merge back", SYS_mprotect, { PG(42), NP(2), V(RW) }, m_mprotect },
	{ "written, read-only: keeps VM_ACCOUNT", SYS_mprotect, { PG(28), NP(4), V(PROT_READ) },
	  m_mprotect, .touch = { { 16, 16 } } },
	{ "fresh read-only next to it", SYS_mmap,
	  { PG(32), NP(4), V(PROT_READ), V(PA), V(-1), V(0) }, m_mmap },
	{ "untouched", SYS_mmap, { PG(60), NP(4), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "untouched read-only: drops VM_ACCOUNT", SYS_mprotect,
	  { PG(62), NP(2), V(PROT_READ) }, m_mprotect },
	{ "fresh read-only merges", SYS_mmap,
	  { PG(64), NP(2), V(PROT_READ), V(PA), V(-1), V(0) }, m_mmap },
	{ "munmap across VMAs, partial ends", SYS_munmap, { PG(18), NP(20) }, m_munmap },
	{ "mprotect across a hole: ENOMEM, first part changed", SYS_mprotect,
	  { PG(16), NP(4), V(PROT_READ) }, m_mprotect },

	{ "file private", SYS_mmap,
	  { PG(100), NP(2), V(PROT_READ), V(MAP_PRIVATE | MAP_FIXED), FD(1), NP(0) }, m_mmap },
	{ "file next offset merges", SYS_mmap,
	  { PG(102), NP(2), V(PROT_READ), V(MAP_PRIVATE | MAP_FIXED), FD(1), NP(2) }, m_mmap },
	{ "other open file: no merge", SYS_mmap,
	  { PG(104), NP(2), V(PROT_READ), V(MAP_PRIVATE | MAP_FIXED), FD(2), NP(4) }, m_mmap },
	{ "anon MAP_FIXED over a file", SYS_mmap, { PG(101), NP(1), V(RW), V(PA), V(-1), V(0) },
	  m_mmap },
	{ "file shared", SYS_mmap,
	  { PG(110), NP(4), V(RW), V(MAP_SHARED | MAP_FIXED), FD(1), NP(0) }, m_mmap },
	{ "file shared, offset gap", SYS_mmap,
	  { PG(114), NP(4), V(RW), V(MAP_SHARED | MAP_FIXED), FD(1), NP(8) }, m_mmap },
	{ "file private writable", SYS_mmap,
	  { PG(120), NP(4), V(RW), V(MAP_PRIVATE | MAP_FIXED), FD(1), NP(0) }, m_mmap },
	{ "shared anonymous (/dev/zero)", SYS_mmap,
	  { PG(130), NP(4), V(RW), V(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED), V(-1), V(0) },
	  m_mmap_shmem },

	{ "mremap shrink", SYS_mremap, { PG(40), NP(8), NP(4), V(0), V(0) }, m_mremap },
	{ "mremap grow in place", SYS_mremap, { PG(40), NP(4), NP(6), V(0), V(0) }, m_mremap },
	{ "mremap MAYMOVE", SYS_mremap, { PG(40), NP(6), NP(64), V(MREMAP_MAYMOVE), V(0) },
	  m_mremap, .save = V_MOVED },
	{ "mremap FIXED", SYS_mremap,
	  { VAR(V_MOVED, 0), NP(64), NP(64), V(MREMAP_MAYMOVE | MREMAP_FIXED), PG(300) },
	  m_mremap },
	{ "mremap DONTUNMAP", SYS_mremap,
	  { PG(300), NP(8), NP(8), V(MREMAP_MAYMOVE | MREMAP_DONTUNMAP), V(0) }, m_mremap,
	  .save = V_DU },
	{ "munmap DONTUNMAP target", SYS_munmap, { VAR(V_DU, 0), NP(8) }, m_munmap },
	{ "untouched target", SYS_mmap, { PG(400), NP(2), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "untouched source", SYS_mmap, { PG(410), NP(2), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "mremap next to a compatible VMA", SYS_mremap,
	  { PG(410), NP(2), NP(2), V(MREMAP_MAYMOVE | MREMAP_FIXED), PG(402) }, m_mremap },
	{ "mremap of a multi-VMA range", SYS_mremap,
	  { PG(100), NP(8), NP(8), V(MREMAP_MAYMOVE | MREMAP_FIXED), PG(440) }, m_mremap },

	{ "gap source 1", SYS_mmap, { PG(1100), NP(2), V(RW), V(PA | MAP_POPULATE), V(-1), V(0) },
	  m_mmap },
	{ "gap source 2", SYS_mmap, { PG(1104), NP(2), V(PROT_READ), V(PA), V(-1), V(0) },
	  m_mmap },
	{ "the gap", SYS_munmap, { PG(1102), NP(2) }, m_munmap },
	{ "mremap of VMAs with a gap: the gap's target stays", SYS_mremap,
	  { PG(1100), NP(6), NP(6), V(MREMAP_MAYMOVE | MREMAP_FIXED), PG(1200) }, m_mremap },
	{ "MADV_DONTFORK splits", SYS_madvise, { PG(61), NP(2), V(MADV_DONTFORK) }, m_madvise },
	{ "MADV_DOFORK merges", SYS_madvise, { PG(61), NP(2), V(MADV_DOFORK) }, m_madvise },
	{ "MADV_WIPEONFORK", SYS_madvise, { PG(60), NP(1), V(MADV_WIPEONFORK) }, m_madvise },
	{ "MADV_WIPEONFORK on a file: EINVAL", SYS_madvise,
	  { PG(120), NP(1), V(MADV_WIPEONFORK) }, m_madvise },
	{ "MADV_DONTDUMP across holes", SYS_madvise, { PG(16), NP(30), V(MADV_DONTDUMP) },
	  m_madvise },
	{ "MADV_DODUMP", SYS_madvise, { PG(16), NP(30), V(MADV_DODUMP) }, m_madvise },
	{ "MADV_DONTNEED", SYS_madvise, { PG(60), NP(1), V(MADV_DONTNEED) }, m_madvise },
	{ "MADV_GUARD_INSTALL", SYS_madvise, { PG(402), NP(1), V(102) }, m_madvise },
	{ "mlock splits", SYS_mlock, { PG(121), NP(2) }, m_mlock },
	{ "munlock merges", SYS_munlock, { PG(121), NP(2) }, m_munlock },
	{ "mlock2 ONFAULT", SYS_mlock2, { PG(122), NP(1), V(MLOCK_ONFAULT) }, m_mlock },
	{ "mlock across a hole", SYS_mlock, { PG(16), NP(4) }, m_mlock },

	{ "MADV_HUGEPAGE", SYS_madvise, { PG(60), NP(2), V(MADV_HUGEPAGE) }, m_madvise },
	{ "MADV_NOHUGEPAGE", SYS_madvise, { PG(60), NP(1), V(MADV_NOHUGEPAGE) }, m_madvise },
	{ "MADV_MERGEABLE", SYS_madvise, { PG(400), NP(4), V(MADV_MERGEABLE) }, m_madvise },
	{ "MADV_RANDOM", SYS_madvise, { PG(110), NP(8), V(MADV_RANDOM) }, m_madvise },
	{ "file shared, read-only open", SYS_mmap,
	  { PG(140), NP(2), V(PROT_READ), V(MAP_SHARED | MAP_FIXED), FD(3), NP(0) }, m_mmap },
	{ "mprotect: EACCES after the first part", SYS_mprotect, { PG(138), NP(4), V(RW) },
	  m_mprotect },
	{ "file grows in place into the next offset", SYS_mremap,
	  { PG(110), NP(4), NP(8), V(0), V(0) }, m_mremap },
	{ "mremap shrink across VMAs", SYS_mremap, { PG(120), NP(4), NP(1), V(0), V(0) },
	  m_mremap },
	{ "DONTUNMAP of part of a VMA", SYS_mremap,
	  { PG(301), NP(2), NP(2), V(MREMAP_MAYMOVE | MREMAP_DONTUNMAP), V(0) }, m_mremap,
	  .save = V_DU },
	{ "pkey_mprotect", SYS_pkey_mprotect, { PG(301), NP(1), V(PROT_READ), V(0) },
	  m_pkey_mprotect },
	{ "mlockall ONFAULT", SYS_mlockall, { V(MCL_CURRENT | MCL_ONFAULT) }, m_mlockall },
	{ "munlockall", SYS_munlockall, { V(0) }, m_munlockall },
	{ "brk(0)", SYS_brk, { V(0) }, m_brk, .save = V_B0 },
	{ "brk grows", SYS_brk, { VAR(V_B0, 3 * P + 123) }, m_brk },
	{ "brk shrinks", SYS_brk, { VAR(V_B0, 0) }, m_brk },
	{ "brk refused", SYS_brk, { V(4096) }, m_brk },
	{ "mlockall", SYS_mlockall, { V(MCL_CURRENT | MCL_FUTURE) }, m_mlockall },
	{ "locked by MCL_FUTURE", SYS_mmap, { PG(500), NP(2), V(RW), V(PA), V(-1), V(0) },
	  m_mmap },
	{ "munlockall", SYS_munlockall, { V(0) }, m_munlockall },

	{ "PROT_NONE to lock", SYS_mmap, { PG(1400), NP(4), V(PROT_NONE), V(PA), V(-1), V(0) },
	  m_mmap },
	{ "mlock of PROT_NONE: split, then ENOMEM", SYS_mlock, { PG(1401), NP(1) }, m_mlock },
	{ "munlock of it merges back", SYS_munlock, { PG(1401), NP(1) }, m_munlock },
	{ "pair: first", SYS_mmap, { PG(1501), NP(3), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "pair: second", SYS_mmap, { PG(1505), NP(3), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	/* both written first: two anon_vmas */
	{ "pair: the gap filled joins one side", SYS_mmap,
	  { PG(1504), NP(1), V(RW), V(PA), V(-1), V(0) }, m_mmap,
	  .touch = { { 1501, 1 }, { 1505, 1 } } },
	{ "pair: read-only over both", SYS_mprotect, { PG(1501), NP(7), V(PROT_READ) },
	  m_mprotect },
	{ "pair: writable again, still two", SYS_mprotect, { PG(1501), NP(7), V(RW) },
	  m_mprotect },
	{ "pair: MADV_DONTFORK and back, still two", SYS_madvise,
	  { PG(1501), NP(7), V(MADV_DONTFORK) }, m_madvise },
	{ "pair: MADV_DOFORK", SYS_madvise, { PG(1501), NP(7), V(MADV_DOFORK) }, m_madvise },
	{ "pair: mlock and munlock over both", SYS_mlock, { PG(1501), NP(7) }, m_mlock },
	{ "pair: munlock", SYS_munlock, { PG(1501), NP(7) }, m_munlock },

	{ "MAP_GROWSDOWN", SYS_mmap, { PG(600), NP(4), V(RW), V(PA | MAP_GROWSDOWN), V(-1), V(0) },
	  m_mmap },
	{ "mprotect PROT_GROWSDOWN", SYS_mprotect,
	  { PG(602), NP(1), V(PROT_READ | PROT_GROWSDOWN) }, m_mprotect },
	{ "mprotect PROT_GROWSDOWN, not growsdown: EINVAL", SYS_mprotect,
	  { PG(612), NP(1), V(PROT_READ | PROT_GROWSDOWN) }, m_mprotect },
	{ "MAP_STACK", SYS_mmap, { PG(610), NP(4), V(RW), V(PA | MAP_STACK), V(-1), V(0) },
	  m_mmap },
	{ "plain next to MAP_STACK", SYS_mmap, { PG(614), NP(4), V(RW), V(PA), V(-1), V(0) },
	  m_mmap },
	{ "hole", SYS_munmap, { PG(620), NP(4) }, m_munmap },
	{ "MAP_FIXED_NOREPLACE", SYS_mmap, { PG(620), NP(2), V(RW), V(NOREPL), V(-1), V(0) },
	  m_mmap },
	{ "MAP_FIXED_NOREPLACE: EEXIST", SYS_mmap,
	  { PG(620), NP(2), V(RW), V(NOREPL), V(-1), V(0) }, m_mmap },

	{ "shmat", SYS_shmat, { VAR(V_SHMID, 0), PG(700), V(SHM_REMAP) }, m_shmat, .shm = true },
	{ "shmat SHM_RDONLY", SYS_shmat, { VAR(V_SHMID, 0), PG(710), V(SHM_REMAP | SHM_RDONLY) },
	  m_shmat, .shm = true },
	{ "shm: mprotect splits", SYS_mprotect, { PG(711), NP(1), V(PROT_NONE) }, m_mprotect,
	  .shm = true },
	{ "shm: no merge back (->close)", SYS_mprotect, { PG(711), NP(1), V(PROT_READ) },
	  m_mprotect, .shm = true },
	{ "shm: munmap a fragment", SYS_munmap, { PG(712), NP(1) }, m_munmap, .shm = true },
	{ "shmdt", SYS_shmdt, { PG(700) }, m_shmdt, .shm = true },
	{ "shmdt of a split attach", SYS_shmdt, { PG(710) }, m_shmdt, .shm = true },
	/* the attach address itself unmapped: shmdt still finds the rest from there */
	{ "shmat again", SYS_shmat, { VAR(V_SHMID, 0), PG(720), V(SHM_REMAP) }, m_shmat,
	  .shm = true },
	{ "shm: munmap the first page", SYS_munmap, { PG(720), NP(1) }, m_munmap, .shm = true },
	{ "shmdt of the attach address, first page gone", SYS_shmdt, { PG(720) }, m_shmdt,
	  .shm = true },

	{ "PR_SET_VMA_ANON_NAME", SYS_prctl,
	  { V(PR_SET_VMA), V(PR_SET_VMA_ANON_NAME), PG(60), NP(1), STR }, m_anon_name,
	  .str = "x" },
	{ "anon names supported", .run = real_anon_name_check },
	{ "MAP_DROPPABLE", SYS_mmap,
	  { PG(800), NP(2), V(RW), V(MAP_ANONYMOUS | MAP_FIXED | 0x08), V(-1), V(0) }, m_mmap },
	{ "populated, before fork", SYS_mmap,
	  { PG(1000), NP(2), V(RW), V(PA | MAP_POPULATE), V(-1), V(0) }, m_mmap },
	{ "fork", .run = real_fork_check },
	{ "after fork the parent still merges", SYS_mmap,
	  { PG(1002), NP(2), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "to seal", SYS_mmap, { PG(900), NP(4), V(RW), V(PA), V(-1), V(0) }, m_mmap },
	{ "mseal", SYS_mseal, { PG(902), NP(2), V(0) }, m_mseal },
	{ "mprotect over a sealed VMA: EPERM, first part changed", SYS_mprotect,
	  { PG(900), NP(4), V(PROT_READ) }, m_mprotect },
	{ "munmap from an unsealed VMA into a sealed one: split, then EPERM", SYS_munmap,
	  { PG(901), NP(2) }, m_munmap },
	{ "munmap of a sealed VMA: EPERM", SYS_munmap, { PG(900), NP(4) }, m_munmap },
};

static uint64_t arg_value(const struct real_step *st, const struct real_arg *a)
{
	switch (a->kind) {
	case K_PAGE:
		return A(a->v);
	case K_VAR:
		return var[a->var] + (uint64_t)a->v;
	case K_FD:
		return (uint64_t)(int64_t)real_fd[a->v];
	case K_STR:
		return (uintptr_t)st->str;
	default:
		return (uint64_t)a->v;
	}
}

/* One row: its pages written, the kernel call, the model told, the comparison. */
static void real_step(const struct real_step *st)
{
	uint64_t a[6];
	int64_t ret;
	size_t i;

	if (st->run) {
		st->run();
		return;
	}
	if (st->shm && (int64_t)var[V_SHMID] < 0) {
		ok(1, "real: %s # SKIP no SysV shared memory", st->what);
		return;
	}
	for (i = 0; i < 2; i++)
		if (st->touch[i].n)
			memset((void *)A(st->touch[i].pg), 1, (size_t)st->touch[i].n * P);
	for (i = 0; i < 6; i++)
		a[i] = arg_value(st, &st->a[i]);
	ret = sc(syscall(st->nr, a[0], a[1], a[2], a[3], a[4], a[5]));
	if (st->save)
		var[st->save] = (uint64_t)ret;
	if (st->model(st, a, ret) == MM_UNCERTAIN)
		settle_step(st->what);
	check_real(st->what, ret);
}

static void test_real(void)
{
	char path[] = "/tmp/test-mm.XXXXXX", rpath[4096];
	struct stat st;
	struct mm_stats ms;
	size_t i;
	int fd1;

#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator maps memory at will: the map cannot be compared */
	ok(1, "real tests # SKIP under AddressSanitizer");
	return;
#endif
	/* malloc must not change the map behind the model's back */
	mallopt(M_MMAP_MAX, 0);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 16 << 20);
	free(malloc(1));
	rep = fmemopen(rbuf, sizeof(rbuf), "w");
	fd1 = mkstemp(path);
	if (fd1 < 0 || ftruncate(fd1, 64 * P) || fstat(fd1, &st) || !realpath(path, rpath)) {
		if (tap_in_ci())
			ok(0, "real tests: no temporary file (CI=true: a CI runner must have one)");
		else
			ok(1, "real tests # SKIP no temporary file");
		return;
	}
	/* three open file descriptions of one file: fd1, fd2 (both writable), fdr */
	real_fd[1] = fd1;
	real_fd[2] = open(path, O_RDWR | O_CLOEXEC);
	real_fd[3] = open(path, O_RDONLY | O_CLOEXEC);
	for (i = 1; i <= 3; i++)
		real_file[i] = (struct mm_file){ st.st_dev, st.st_ino, rpath, i,
						 MM_FILE_WRITABLE | MM_FILE_MODE_KNOWN, 0, 0 };
	real_file[3].flags = MM_FILE_MODE_KNOWN;
	var[V_SHMID] = (uint64_t)(int64_t)shmget(IPC_PRIVATE, SHM_PAGES * P, IPC_CREAT | 0600);

	real = mm_new(MM_NEW_EXEC);
	mm_set_ops(real, &rec_ops, &real_rec);
	read_proc("/proc/self/smaps");
	check_int(mm_seed_from_maps(real, kbuf, klen), 0);
	check_real("seed from smaps", 0);
	for (i = 0; i < sizeof(real_steps) / sizeof(real_steps[0]); i++)
		real_step(&real_steps[i]);
	mm_get_stats(real, &ms);
	diag("real: %llu transitions, %llu uncertain (%d settled), %llu contradictions, "
	     "%llu reconciles changed the model, %llu born, %llu died",
	     (unsigned long long)ms.transitions, (unsigned long long)ms.uncertain, n_uncertain,
	     (unsigned long long)ms.contradictions, (unsigned long long)ms.reconcile_changed,
	     (unsigned long long)ms.born, (unsigned long long)ms.died);
	if ((int64_t)var[V_SHMID] >= 0)
		shmctl((int)var[V_SHMID], IPC_RMID, NULL);
	for (i = 1; i <= 3; i++)
		close(real_fd[i]);
	unlink(path);
	fclose(rep);
	mm_free(real);
}

int main(void)
{
	plan_lazy();
	test_format();
	test_seed_hidden_flags();
	test_split_merge();
	test_files_and_remap();
	test_uncertain_reconcile();
	test_mremap_over_mapped();
	test_brk_names_fork_shm();
	test_heap_name_at_brk();
	test_compare_report();
	test_munmap_sealed();
	test_mlock_prot_none();
	test_same_file();
	test_reconcile_kept_apart();
	test_check();
	test_real();
	test_perf();
	return done();
}
