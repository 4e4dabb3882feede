// SPDX-License-Identifier: MIT
/*
 * Tests of the address-space model (lib/mm.h).
 *
 * Synthetic: seed a maps text, apply transitions, compare with the expected text and the
 * versions reported. Real: this process seeds a model from its own /proc/self/smaps, makes
 * real memory syscalls on itself, feeds each call and its result to the model and compares
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

	snprintf(r, 1024, "%s%s", a, b);
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
static uint64_t R;
static int n_uncertain;
static FILE *rep;

#define A(pg) (R + (uint64_t)(pg) * P)

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
	struct vma_desc d;
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

/* One step: the real syscall, the model told about it, the comparison. */
#define STEP(what, call, model)                                                            \
	do {                                                                               \
		int64_t ret = sc((long)(call));                                            \
		if ((model) == MM_UNCERTAIN)                                               \
			settle_step(what);                                                 \
		check_real(what, ret);                                                     \
	} while (0)

#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define NOREPL (MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
#define MMAP(a, n, prot, fl, fd, off) syscall(SYS_mmap, a, (n) * P, prot, fl, fd, (off) * P)
#define M_MMAP(a, n, prot, fl, off, f) mm_mmap(real, a, (n) * P, prot, fl, (off) * P, ret, f)

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

static void test_real(void)
{
	char path[] = "/tmp/test-mm.XXXXXX", rpath[4096];
	struct mm_file f1, f2, fr, id;
	struct stat st;
	struct mm_stats ms;
	uint64_t b0, moved, du;
	int fd1, fd2, fdr, shmid;

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
		ok(1, "real tests # SKIP no temporary file");
		return;
	}
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	fdr = open(path, O_RDONLY | O_CLOEXEC);
	f1 = (struct mm_file){ st.st_dev, st.st_ino, rpath, 1,
			       MM_FILE_WRITABLE | MM_FILE_MODE_KNOWN, 0, 0 };
	f2 = f1;
	f2.file_id = 2;
	fr = f1;
	fr.file_id = 3;
	fr.flags = MM_FILE_MODE_KNOWN;

	real = mm_new(MM_NEW_EXEC);
	mm_set_ops(real, &rec_ops, &real_rec);
	read_proc("/proc/self/smaps");
	check_int(mm_seed_from_maps(real, kbuf, klen), 0);
	check_real("seed from smaps", 0);

	STEP("reserve", R = (uint64_t)syscall(SYS_mmap, 0, 2048 * P, PROT_NONE,
					       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
	     mm_mmap(real, 0, 2048 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0,
		     ret, NULL));
	STEP("anon MAP_FIXED", MMAP(A(16), 8, RW, PA, -1, 0), M_MMAP(A(16), 8, RW, PA, 0, NULL));
	STEP("adjacent merges", MMAP(A(24), 8, RW, PA, -1, 0), M_MMAP(A(24), 8, RW, PA, 0, NULL));
	STEP("mprotect splits", mprotect((void *)A(20), 4 * P, PROT_READ),
	     mm_mprotect(real, A(20), 4 * P, PROT_READ, -1, ret));
	STEP("mprotect back merges", mprotect((void *)A(20), 4 * P, RW),
	     mm_mprotect(real, A(20), 4 * P, RW, -1, ret));
	STEP("populated", MMAP(A(40), 8, RW, PA | MAP_POPULATE, -1, 0),
	     M_MMAP(A(40), 8, RW, PA | MAP_POPULATE, 0, NULL));
	STEP("populated split", mprotect((void *)A(42), 2 * P, PROT_READ),
	     mm_mprotect(real, A(42), 2 * P, PROT_READ, -1, ret));
	STEP("populated merge back", mprotect((void *)A(42), 2 * P, RW),
	     mm_mprotect(real, A(42), 2 * P, RW, -1, ret));
	memset((void *)A(16), 1, 16 * P);
	STEP("written, read-only: keeps VM_ACCOUNT", mprotect((void *)A(28), 4 * P, PROT_READ),
	     mm_mprotect(real, A(28), 4 * P, PROT_READ, -1, ret));
	STEP("fresh read-only next to it", MMAP(A(32), 4, PROT_READ, PA, -1, 0),
	     M_MMAP(A(32), 4, PROT_READ, PA, 0, NULL));
	STEP("untouched", MMAP(A(60), 4, RW, PA, -1, 0), M_MMAP(A(60), 4, RW, PA, 0, NULL));
	STEP("untouched read-only: drops VM_ACCOUNT", mprotect((void *)A(62), 2 * P, PROT_READ),
	     mm_mprotect(real, A(62), 2 * P, PROT_READ, -1, ret));
	STEP("fresh read-only merges", MMAP(A(64), 2, PROT_READ, PA, -1, 0),
	     M_MMAP(A(64), 2, PROT_READ, PA, 0, NULL));
	STEP("munmap across VMAs, partial ends", munmap((void *)A(18), 20 * P),
	     mm_munmap(real, A(18), 20 * P, ret));
	STEP("mprotect across a hole: ENOMEM, first part changed",
	     mprotect((void *)A(16), 4 * P, PROT_READ),
	     mm_mprotect(real, A(16), 4 * P, PROT_READ, -1, ret));

	STEP("file private", MMAP(A(100), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd1, 0),
	     M_MMAP(A(100), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, 0, &f1));
	STEP("file next offset merges", MMAP(A(102), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd1, 2),
	     M_MMAP(A(102), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, 2, &f1));
	STEP("other open file: no merge", MMAP(A(104), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd2, 4),
	     M_MMAP(A(104), 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, 4, &f2));
	STEP("anon MAP_FIXED over a file", MMAP(A(101), 1, RW, PA, -1, 0),
	     M_MMAP(A(101), 1, RW, PA, 0, NULL));
	STEP("file shared", MMAP(A(110), 4, RW, MAP_SHARED | MAP_FIXED, fd1, 0),
	     M_MMAP(A(110), 4, RW, MAP_SHARED | MAP_FIXED, 0, &f1));
	STEP("file shared, offset gap", MMAP(A(114), 4, RW, MAP_SHARED | MAP_FIXED, fd1, 8),
	     M_MMAP(A(114), 4, RW, MAP_SHARED | MAP_FIXED, 8, &f1));
	STEP("file private writable", MMAP(A(120), 4, RW, MAP_PRIVATE | MAP_FIXED, fd1, 0),
	     M_MMAP(A(120), 4, RW, MAP_PRIVATE | MAP_FIXED, 0, &f1));
	{
		int64_t ret = sc(MMAP(A(130), 4, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));

		id = ident_at(A(130));
		id.path = NULL;
		if (M_MMAP(A(130), 4, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, 0, &id) ==
		    MM_UNCERTAIN)
			settle_step("shared anonymous");
		check_real("shared anonymous (/dev/zero)", ret);
	}

	STEP("mremap shrink", syscall(SYS_mremap, A(40), 8 * P, 4 * P, 0, 0),
	     mm_mremap(real, A(40), 8 * P, 4 * P, 0, 0, ret));
	STEP("mremap grow in place", syscall(SYS_mremap, A(40), 4 * P, 6 * P, 0, 0),
	     mm_mremap(real, A(40), 4 * P, 6 * P, 0, 0, ret));
	STEP("mremap MAYMOVE", moved = (uint64_t)syscall(SYS_mremap, A(40), 6 * P, 64 * P,
							  MREMAP_MAYMOVE, 0),
	     mm_mremap(real, A(40), 6 * P, 64 * P, MREMAP_MAYMOVE, 0, ret));
	STEP("mremap FIXED", syscall(SYS_mremap, moved, 64 * P, 64 * P,
				     MREMAP_MAYMOVE | MREMAP_FIXED, A(300)),
	     mm_mremap(real, moved, 64 * P, 64 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A(300), ret));
	STEP("mremap DONTUNMAP", du = (uint64_t)syscall(SYS_mremap, A(300), 8 * P, 8 * P,
						     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
	     mm_mremap(real, A(300), 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, ret));
	STEP("munmap DONTUNMAP target", munmap((void *)du, 8 * P), mm_munmap(real, du, 8 * P, ret));
	STEP("untouched target", MMAP(A(400), 2, RW, PA, -1, 0), M_MMAP(A(400), 2, RW, PA, 0, NULL));
	STEP("untouched source", MMAP(A(410), 2, RW, PA, -1, 0), M_MMAP(A(410), 2, RW, PA, 0, NULL));
	STEP("mremap next to a compatible VMA", syscall(SYS_mremap, A(410), 2 * P, 2 * P,
							MREMAP_MAYMOVE | MREMAP_FIXED, A(402)),
	     mm_mremap(real, A(410), 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A(402), ret));
	STEP("mremap of a multi-VMA range", syscall(SYS_mremap, A(100), 8 * P, 8 * P,
						    MREMAP_MAYMOVE | MREMAP_FIXED, A(440)),
	     mm_mremap(real, A(100), 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A(440), ret));

	STEP("gap source 1", MMAP(A(1100), 2, RW, PA | MAP_POPULATE, -1, 0),
	     M_MMAP(A(1100), 2, RW, PA | MAP_POPULATE, 0, NULL));
	STEP("gap source 2", MMAP(A(1104), 2, PROT_READ, PA, -1, 0),
	     M_MMAP(A(1104), 2, PROT_READ, PA, 0, NULL));
	STEP("the gap", munmap((void *)A(1102), 2 * P), mm_munmap(real, A(1102), 2 * P, ret));
	STEP("mremap of VMAs with a gap: the gap's target stays",
	     syscall(SYS_mremap, A(1100), 6 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A(1200)),
	     mm_mremap(real, A(1100), 6 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A(1200), ret));
	STEP("MADV_DONTFORK splits", madvise((void *)A(61), 2 * P, MADV_DONTFORK),
	     mm_madvise(real, A(61), 2 * P, MADV_DONTFORK, ret));
	STEP("MADV_DOFORK merges", madvise((void *)A(61), 2 * P, MADV_DOFORK),
	     mm_madvise(real, A(61), 2 * P, MADV_DOFORK, ret));
	STEP("MADV_WIPEONFORK", madvise((void *)A(60), P, MADV_WIPEONFORK),
	     mm_madvise(real, A(60), P, MADV_WIPEONFORK, ret));
	STEP("MADV_WIPEONFORK on a file: EINVAL", madvise((void *)A(120), P, MADV_WIPEONFORK),
	     mm_madvise(real, A(120), P, MADV_WIPEONFORK, ret));
	STEP("MADV_DONTDUMP across holes", madvise((void *)A(16), 30 * P, MADV_DONTDUMP),
	     mm_madvise(real, A(16), 30 * P, MADV_DONTDUMP, ret));
	STEP("MADV_DODUMP", madvise((void *)A(16), 30 * P, MADV_DODUMP),
	     mm_madvise(real, A(16), 30 * P, MADV_DODUMP, ret));
	STEP("MADV_DONTNEED", madvise((void *)A(60), P, MADV_DONTNEED),
	     mm_madvise(real, A(60), P, MADV_DONTNEED, ret));
	STEP("MADV_GUARD_INSTALL", madvise((void *)A(402), P, 102),
	     mm_madvise(real, A(402), P, 102, ret));
	STEP("mlock splits", mlock((void *)A(121), 2 * P), mm_mlock(real, A(121), 2 * P, 0, ret));
	STEP("munlock merges", munlock((void *)A(121), 2 * P), mm_munlock(real, A(121), 2 * P, ret));
	STEP("mlock2 ONFAULT", syscall(SYS_mlock2, A(122), P, MLOCK_ONFAULT),
	     mm_mlock(real, A(122), P, MLOCK_ONFAULT, ret));
	STEP("mlock across a hole", mlock((void *)A(16), 4 * P), mm_mlock(real, A(16), 4 * P, 0, ret));

	STEP("MADV_HUGEPAGE", madvise((void *)A(60), 2 * P, MADV_HUGEPAGE),
	     mm_madvise(real, A(60), 2 * P, MADV_HUGEPAGE, ret));
	STEP("MADV_NOHUGEPAGE", madvise((void *)A(60), P, MADV_NOHUGEPAGE),
	     mm_madvise(real, A(60), P, MADV_NOHUGEPAGE, ret));
	STEP("MADV_MERGEABLE", madvise((void *)A(400), 4 * P, MADV_MERGEABLE),
	     mm_madvise(real, A(400), 4 * P, MADV_MERGEABLE, ret));
	STEP("MADV_RANDOM", madvise((void *)A(110), 8 * P, MADV_RANDOM),
	     mm_madvise(real, A(110), 8 * P, MADV_RANDOM, ret));
	STEP("file shared, read-only open", MMAP(A(140), 2, PROT_READ, MAP_SHARED | MAP_FIXED, fdr, 0),
	     M_MMAP(A(140), 2, PROT_READ, MAP_SHARED | MAP_FIXED, 0, &fr));
	STEP("mprotect: EACCES after the first part", mprotect((void *)A(138), 4 * P, RW),
	     mm_mprotect(real, A(138), 4 * P, RW, -1, ret));
	STEP("file grows in place into the next offset", syscall(SYS_mremap, A(110), 4 * P, 8 * P, 0, 0),
	     mm_mremap(real, A(110), 4 * P, 8 * P, 0, 0, ret));
	STEP("mremap shrink across VMAs", syscall(SYS_mremap, A(120), 4 * P, P, 0, 0),
	     mm_mremap(real, A(120), 4 * P, P, 0, 0, ret));
	STEP("DONTUNMAP of part of a VMA", du = (uint64_t)syscall(SYS_mremap, A(301), 2 * P, 2 * P,
						     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
	     mm_mremap(real, A(301), 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, ret));
	STEP("pkey_mprotect", syscall(SYS_pkey_mprotect, A(301), P, PROT_READ, 0),
	     mm_mprotect(real, A(301), P, PROT_READ, 0, ret));
	STEP("mlockall ONFAULT", mlockall(MCL_CURRENT | MCL_ONFAULT),
	     mm_mlockall(real, MCL_CURRENT | MCL_ONFAULT, ret));
	STEP("munlockall", munlockall(), mm_munlockall(real, ret));
	STEP("brk(0)", b0 = (uint64_t)syscall(SYS_brk, 0), mm_brk(real, 0, ret));
	STEP("brk grows", syscall(SYS_brk, b0 + 3 * P + 123), mm_brk(real, b0 + 3 * P + 123, ret));
	STEP("brk shrinks", syscall(SYS_brk, b0), mm_brk(real, b0, ret));
	STEP("brk refused", syscall(SYS_brk, 4096), mm_brk(real, 4096, ret));
	STEP("mlockall", mlockall(MCL_CURRENT | MCL_FUTURE), mm_mlockall(real, MCL_CURRENT | MCL_FUTURE, ret));
	STEP("locked by MCL_FUTURE", MMAP(A(500), 2, RW, PA, -1, 0), M_MMAP(A(500), 2, RW, PA, 0, NULL));
	STEP("munlockall", munlockall(), mm_munlockall(real, ret));

	STEP("PROT_NONE to lock", MMAP(A(1400), 4, PROT_NONE, PA, -1, 0),
	     M_MMAP(A(1400), 4, PROT_NONE, PA, 0, NULL));
	STEP("mlock of PROT_NONE: split, then ENOMEM", mlock((void *)A(1401), P),
	     mm_mlock(real, A(1401), P, 0, ret));
	STEP("munlock of it merges back", munlock((void *)A(1401), P),
	     mm_munlock(real, A(1401), P, ret));
	STEP("pair: first", MMAP(A(1501), 3, RW, PA, -1, 0), M_MMAP(A(1501), 3, RW, PA, 0, NULL));
	STEP("pair: second", MMAP(A(1505), 3, RW, PA, -1, 0), M_MMAP(A(1505), 3, RW, PA, 0, NULL));
	*(volatile char *)A(1501) = 1; /* two anon_vmas */
	*(volatile char *)A(1505) = 1;
	STEP("pair: the gap filled joins one side", MMAP(A(1504), 1, RW, PA, -1, 0),
	     M_MMAP(A(1504), 1, RW, PA, 0, NULL));
	STEP("pair: read-only over both", mprotect((void *)A(1501), 7 * P, PROT_READ),
	     mm_mprotect(real, A(1501), 7 * P, PROT_READ, -1, ret));
	STEP("pair: writable again, still two", mprotect((void *)A(1501), 7 * P, RW),
	     mm_mprotect(real, A(1501), 7 * P, RW, -1, ret));
	STEP("pair: MADV_DONTFORK and back, still two", madvise((void *)A(1501), 7 * P,
								 MADV_DONTFORK),
	     mm_madvise(real, A(1501), 7 * P, MADV_DONTFORK, ret));
	STEP("pair: MADV_DOFORK", madvise((void *)A(1501), 7 * P, MADV_DOFORK),
	     mm_madvise(real, A(1501), 7 * P, MADV_DOFORK, ret));
	STEP("pair: mlock and munlock over both", mlock((void *)A(1501), 7 * P),
	     mm_mlock(real, A(1501), 7 * P, 0, ret));
	STEP("pair: munlock", munlock((void *)A(1501), 7 * P),
	     mm_munlock(real, A(1501), 7 * P, ret));

	STEP("MAP_GROWSDOWN", MMAP(A(600), 4, RW, PA | MAP_GROWSDOWN, -1, 0),
	     M_MMAP(A(600), 4, RW, PA | MAP_GROWSDOWN, 0, NULL));
	STEP("mprotect PROT_GROWSDOWN", mprotect((void *)A(602), P, PROT_READ | PROT_GROWSDOWN),
	     mm_mprotect(real, A(602), P, PROT_READ | PROT_GROWSDOWN, -1, ret));
	STEP("mprotect PROT_GROWSDOWN, not growsdown: EINVAL",
	     mprotect((void *)A(612), P, PROT_READ | PROT_GROWSDOWN),
	     mm_mprotect(real, A(612), P, PROT_READ | PROT_GROWSDOWN, -1, ret));
	STEP("MAP_STACK", MMAP(A(610), 4, RW, PA | MAP_STACK, -1, 0),
	     M_MMAP(A(610), 4, RW, PA | MAP_STACK, 0, NULL));
	STEP("plain next to MAP_STACK", MMAP(A(614), 4, RW, PA, -1, 0),
	     M_MMAP(A(614), 4, RW, PA, 0, NULL));
	STEP("hole", munmap((void *)A(620), 4 * P), mm_munmap(real, A(620), 4 * P, ret));
	STEP("MAP_FIXED_NOREPLACE", MMAP(A(620), 2, RW, NOREPL, -1, 0),
	     M_MMAP(A(620), 2, RW, NOREPL, 0, NULL));
	STEP("MAP_FIXED_NOREPLACE: EEXIST", MMAP(A(620), 2, RW, NOREPL, -1, 0),
	     M_MMAP(A(620), 2, RW, NOREPL, 0, NULL));

	shmid = shmget(IPC_PRIVATE, 3 * P, IPC_CREAT | 0600);
	if (shmid >= 0) {
		int64_t r = sc((long)shmat(shmid, (void *)A(700), SHM_REMAP));

		id = ident_at(A(700));
		id.size = 3 * P;
		if (mm_shmat(real, shmid, A(700), SHM_REMAP, r, &id) == MM_UNCERTAIN)
			settle_step("shmat");
		check_real("shmat", r);
		r = sc((long)shmat(shmid, (void *)A(710), SHM_REMAP | SHM_RDONLY));
		id = ident_at(A(710));
		id.size = 3 * P;
		if (mm_shmat(real, shmid, A(710), SHM_REMAP | SHM_RDONLY, r, &id) == MM_UNCERTAIN)
			settle_step("shmat SHM_RDONLY");
		check_real("shmat SHM_RDONLY", r);
		STEP("shm: mprotect splits", mprotect((void *)A(711), P, PROT_NONE),
		     mm_mprotect(real, A(711), P, PROT_NONE, -1, ret));
		STEP("shm: no merge back (->close)", mprotect((void *)A(711), P, PROT_READ),
		     mm_mprotect(real, A(711), P, PROT_READ, -1, ret));
		STEP("shm: munmap a fragment", munmap((void *)A(712), P),
		     mm_munmap(real, A(712), P, ret));
		STEP("shmdt", shmdt((void *)A(700)), mm_shmdt(real, A(700), ret));
		STEP("shmdt of a split attach", shmdt((void *)A(710)), mm_shmdt(real, A(710), ret));
		/* the attach address itself unmapped: shmdt still finds the rest from there */
		r = sc((long)shmat(shmid, (void *)A(720), SHM_REMAP));
		id = ident_at(A(720));
		id.size = 3 * P;
		if (mm_shmat(real, shmid, A(720), SHM_REMAP, r, &id) == MM_UNCERTAIN)
			settle_step("shmat again");
		check_real("shmat again", r);
		STEP("shm: munmap the first page", munmap((void *)A(720), P),
		     mm_munmap(real, A(720), P, ret));
		STEP("shmdt of the attach address, first page gone", shmdt((void *)A(720)),
		     mm_shmdt(real, A(720), ret));
		shmctl(shmid, IPC_RMID, NULL);
	}
	STEP("PR_SET_VMA_ANON_NAME", prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, A(60), P, "x"),
	     mm_set_anon_name(real, A(60), P, "x", ret));
	if (!mm_find(real, A(60)) || !mm_find(real, A(60))->anon_name)
		ok(1, "real: anon names # SKIP kernel without CONFIG_ANON_VMA_NAME");
	STEP("MAP_DROPPABLE", MMAP(A(800), 2, RW, MAP_ANONYMOUS | MAP_FIXED | 0x08, -1, 0),
	     M_MMAP(A(800), 2, RW, MAP_ANONYMOUS | MAP_FIXED | 0x08, 0, NULL));
	STEP("populated, before fork", MMAP(A(1000), 2, RW, PA | MAP_POPULATE, -1, 0),
	     M_MMAP(A(1000), 2, RW, PA | MAP_POPULATE, 0, NULL));
	real_fork_check();
	STEP("after fork the parent still merges", MMAP(A(1002), 2, RW, PA, -1, 0),
	     M_MMAP(A(1002), 2, RW, PA, 0, NULL));
	STEP("to seal", MMAP(A(900), 4, RW, PA, -1, 0), M_MMAP(A(900), 4, RW, PA, 0, NULL));
	STEP("mseal", syscall(462, A(902), 2 * P, 0), mm_mseal(real, A(902), 2 * P, 0, ret));
	STEP("mprotect over a sealed VMA: EPERM, first part changed",
	     mprotect((void *)A(900), 4 * P, PROT_READ),
	     mm_mprotect(real, A(900), 4 * P, PROT_READ, -1, ret));
	STEP("munmap from an unsealed VMA into a sealed one: split, then EPERM",
	     munmap((void *)A(901), 2 * P), mm_munmap(real, A(901), 2 * P, ret));
	STEP("munmap of a sealed VMA: EPERM", munmap((void *)A(900), 4 * P),
	     mm_munmap(real, A(900), 4 * P, ret));
	mm_get_stats(real, &ms);
	diag("real: %llu transitions, %llu uncertain (%d settled), %llu contradictions, "
	     "%llu reconciles changed the model, %llu born, %llu died",
	     (unsigned long long)ms.transitions, (unsigned long long)ms.uncertain, n_uncertain,
	     (unsigned long long)ms.contradictions, (unsigned long long)ms.reconcile_changed,
	     (unsigned long long)ms.born, (unsigned long long)ms.died);
	close(fd1);
	close(fd2);
	close(fdr);
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
