// SPDX-License-Identifier: MIT
/*
 * Tests of the event store on real SQLite files in a private temporary directory: a full
 * write/read round trip with every record type, event filters, a reader on a live trace,
 * -EEXIST and the read-only open's diagnosis of missing and foreign files, the VMA
 * queries against a brute-force answer on a random history, the sticky ENOSPC error, and
 * two timings printed as diagnostics (not asserted).
 *
 * VMATRACE_STORE_BENCH=N replaces the default 100,000 VMA versions of the vmas_at timing
 * with N (1000000 for the figure quoted in sql/README).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "../tap.h"

static char dir[] = "/tmp/test-store.XXXXXX";

static char *db_path(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *test_syscall_name(int nr)
{
	switch (nr) {
	case 9: return "mmap";
	case 10: return "mprotect";
	case 11: return "munmap";
	case 59: return "execve";
	default: return NULL;
	}
}

/* Round trip. ------------------------------------------------------------------------- */

#define N_EV 12

/* The events of the round trip, as the tracer would hand them over. */
static struct event expected[N_EV];

static void make_events(void)
{
	static const struct {
		pid_t pid, tid;
		uint64_t mm;
		int kind, nr;
		int64_t ret;
		const char *path, *argv;
		uint64_t dev, ino;
	} t[N_EV] = {
		{ 100, 100, 1, 0, 9, 0x7f0000000000, NULL, NULL, 0, 0 },
		{ 100, 100, 1, 0, 9, 0x7f0000010000, "/usr/lib/libc.so.6", NULL, 0x801, 42 },
		{ 100, 101, 1, 0, 10, 0, NULL, NULL, 0, 0 },
		{ 100, 101, 1, 0, 11, -22, NULL, NULL, 0, 0 },
		{ 100, 100, 1, 0, 56, 200, NULL, NULL, 0, 0 },                 /* clone */
		{ 200, 200, 2, 0, 9, 0x7f0000020000, "/usr/lib/libc.so.6", NULL, 0x801, 42 },
		{ 100, 100, 3, 0, 59, 0, "/bin/true", "[\"true\",\"-x \\\"q\\\"\"]", 0, 0 },
		{ 200, 200, 2, 1, -1, 0x100, NULL, NULL, 0, 0 },              /* exit(1) */
		{ 100, 100, 3, 0, 56, 200, NULL, NULL, 0, 0 },                /* pid reused */
		{ 200, 200, 4, 0, 9, 0xffffffffffffffff, "/data/x", NULL, 0x10302, 7 },
		{ 100, 100, 3, 0, 11, 0, NULL, NULL, 0, 0 },
		{ 100, 100, 3, 0, 12, 0x555555559000, NULL, NULL, 0, 0 },
	};

	for (int i = 0; i < N_EV; i++) {
		struct event *e = &expected[i];

		e->seq = (uint64_t)i + 1;
		e->time_ns = 1000000 + (uint64_t)i * 1000;
		e->pid = t[i].pid;
		e->tid = t[i].tid;
		e->mm = t[i].mm;
		e->kind = t[i].kind;
		e->nr = t[i].nr;
		for (int a = 0; a < 6; a++)
			e->args[a] = ((uint64_t)0x7f00 << 32) + (uint64_t)(i * 16 + a);
		e->args[4] = (uint64_t)-1; /* fd -1: two's complement round trip */
		e->ret = t[i].ret;
		e->dur_ns = (uint64_t)i * 7;
		e->path = (char *)t[i].path;
		e->argv = (char *)t[i].argv;
		e->dev = t[i].dev;
		e->ino = t[i].ino;
		e->stack_id = i == 3 ? 77 : 0;
	}
}

/* Collects the seqs an event query returns, and checks every field against expected[]. */
struct collect {
	uint64_t seqs[64];
	int n;
	int mismatches;
};

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int collect_event(const struct event *ev, void *data)
{
	struct collect *c = data;
	const struct event *x;

	if (c->n < 64)
		c->seqs[c->n] = ev->seq;
	c->n++;
	if (ev->seq < 1 || ev->seq > N_EV) {
		c->mismatches++;
		return 0;
	}
	x = &expected[ev->seq - 1];
	if (ev->time_ns != x->time_ns || ev->pid != x->pid || ev->tid != x->tid ||
	    ev->mm != x->mm || ev->kind != x->kind || ev->nr != x->nr || ev->ret != x->ret ||
	    ev->dur_ns != x->dur_ns || ev->dev != x->dev || ev->ino != x->ino ||
	    ev->stack_id != x->stack_id || memcmp(ev->args, x->args, sizeof(x->args)) ||
	    !same_str(ev->path, x->path) || !same_str(ev->argv, x->argv)) {
		diag("event %llu differs", (unsigned long long)ev->seq);
		c->mismatches++;
	}
	return 0;
}

static int stop_at_3(const struct event *ev, void *data)
{
	(*(int *)data)++;
	return ev->seq == 3 ? 42 : 0;
}

/* Run a filter; "1,2,3" is the expected seq list. */
static void check_filter(struct store_ro *r, const struct store_event_filter *f,
			 const char *want, const char *what)
{
	struct collect c = { 0 };
	char got[256] = "";
	size_t n = 0;
	int err;

	err = store_query_events(r, f, collect_event, &c);
	for (int i = 0; i < c.n && i < 64; i++)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%llu", i ? "," : "",
				      (unsigned long long)c.seqs[i]);
	ok(err == 0 && !c.mismatches && !strcmp(got, want), "events %s: %s", what, got);
	if (strcmp(got, want))
		diag("  expected %s", want);
}

struct vma_list {
	struct store_vma first;  /* all fields of the first one (name: NULL) */
	uint64_t ids[64];
	uint64_t died[64];
	char names[64][32];
	int n;
};

static int collect_vma(const struct store_vma *v, uint64_t id, void *data)
{
	struct vma_list *l = data;

	if (!l->n) {
		l->first = *v;
		l->first.name = NULL;
	}
	if (l->n < 64) {
		l->ids[l->n] = id;
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", v->name);
	}
	l->n++;
	return 0;
}

static int collect_vma_died(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct vma_list *l = data;

	if (l->n < 64)
		l->died[l->n] = died;
	return collect_vma(v, id, data);
}

static uint64_t add_vma(struct store *s, uint64_t mm, uint64_t start, uint64_t end,
			const char *perms, uint64_t born_seq, const char *name)
{
	struct store_vma v = { .mm = mm, .start = start, .end = end, .born_seq = born_seq,
			       .name = name };

	snprintf(v.perms, sizeof(v.perms), "%s", perms);
	return store_add_vma(s, &v);
}

static void add_mm(struct store *s, uint64_t id, uint64_t start_seq, uint64_t parent)
{
	store_add_mm(s, &(struct store_mm){ .id = id, .start_seq = start_seq, .parent = parent,
					    .owner = 100 });
}

static void test_round_trip(void)
{
	const char *path = db_path("trip.db");
	struct store *s = NULL;
	struct store_ro *r = NULL;
	struct store_trace_info ti;
	struct store_summary sum;
	struct vma_list vl;
	struct store_proc_info pi;
	uint64_t v1, v2, v3 = 0, v4 = 0, mm, seq, n;
	int err;

	make_events();
	check_int(store_create(path, &s), 0);
	if (!s)
		return;
	check_int(store_create(path, &(struct store *){ NULL }), -EEXIST);

	struct store_trace_meta meta = {
		.cmdline = "[\"/bin/true\",\"-x\"]", .cwd = "/home/u", .host = "box",
		.kernel = "6.18.0", .version = "0.1.0", .mode = "run",
		.start_realtime_ns = 1700000000123456789ull, .start_mono_ns = 999000,
		.page_size = 4096,
	};
	check_int(store_begin_trace(s, &meta), 0);
	check_int(store_add_syscall_names(s, test_syscall_name, 100), 0);

	add_mm(s, 1, 0, 0);
	store_add_process(s, &(struct store_process){ .pid = 100, .ppid = 0, .start_seq = 0,
						      .mm = 1, .exe = "/bin/sh" });
	store_add_thread(s, 100, 100, 0);
	store_mm_users(s, 1, 0, 1);
	store_add_file(s, &(struct store_file){ .dev = 0x801, .ino = 42,
						.path = "/usr/lib/libc.so.6",
						.build_id = "0123abcd" });
	v1 = store_add_vma(s, &(struct store_vma){ .mm = 1, .start = 0x400000, .end = 0x401000,
						   .perms = "r-xp", .offset = 0x3000, .dev = 0x801,
						   .ino = 5, .name = "/bin/sh",
						   .origin_unknown = true });
	v2 = add_vma(s, 1, 0xffffffffff600000, 0xffffffffff601000, "--xp", 0, "[vsyscall]");
	check_int(v2, v1 + 1);

	for (int i = 0; i < N_EV; i++) {
		struct event ev = expected[i];

		/* store_add_event takes the strings: hand it copies, check it clears them. */
		ev.path = ev.path ? strdup(ev.path) : NULL;
		ev.argv = ev.argv ? strdup(ev.argv) : NULL;
		switch (ev.seq) {
		case 1:
			v3 = add_vma(s, 1, 0x7f0000000000, 0x7f0000002000, "rw-p", 1, NULL);
			break;
		case 3:
			store_add_thread(s, 101, 100, 3);
			/* mprotect splits v3: the old version dies, a new one is born. */
			store_end_vma(s, v3, 3);
			v4 = add_vma(s, 1, 0x7f0000000000, 0x7f0000001000, "r--p", 3, NULL);
			break;
		case 5:
			add_mm(s, 2, 5, 1);
			store_add_process(s, &(struct store_process){ .pid = 200, .ppid = 100,
								      .start_seq = 5, .mm = 2 });
			store_add_thread(s, 200, 200, 5);
			break;
		case 7:
			add_mm(s, 3, 7, 0);
			store_end_vma(s, v1, 7);
			store_end_vma(s, v4, 7);
			store_add_process_exec(s, 100, 7, "/bin/true", "[\"true\"]", 3);
			store_end_thread(s, 101, 7, 9); /* killed by the exec */
			store_mm_users(s, 1, 7, 0);
			store_end_mm(s, 1, 7);
			break;
		case 8:
			store_end_thread(s, 200, 8, 0x100);
			store_end_process(s, 200, 8, 0x100);
			store_end_mm(s, 2, 8);
			break;
		case 9:
			add_mm(s, 4, 9, 3);
			store_add_process(s, &(struct store_process){ .pid = 200, .ppid = 100,
								      .start_seq = 9, .mm = 4 });
			break;
		}
		store_add_event(s, &ev);
		if (ev.path || ev.argv)
			ok(0, "store_add_event left strings in the event");
	}
	check_int(store_error(s), 0);
	check_int(store_close(s, "done"), 0);
	ok(access(db_path("trip.db-wal"), F_OK) < 0, "closed trace is one file (no -wal)");

	err = store_open_ro(path, &r);
	check_int(err, 0);
	if (err)
		return;

	check_int(store_query_trace(r, &ti), 0);
	check_str(ti.cmdline, meta.cmdline);
	check_str(ti.cwd, "/home/u");
	check_str(ti.mode, "run");
	check_int(ti.start_realtime_ns, meta.start_realtime_ns);
	check_int(ti.start_mono_ns, 999000);
	check_int(ti.page_size, 4096);
	check_str(ti.end_status, "done");
	ok(ti.end_mono_ns > 0, "end time recorded");
	store_trace_info_release(&ti);

	check_filter(r, NULL, "1,2,3,4,5,6,7,8,9,10,11,12", "all, every field");
	check_filter(r, &(struct store_event_filter){ .pid = 200 }, "6,8,10", "--pid 200");
	check_filter(r, &(struct store_event_filter){ .tid = 101 }, "3,4", "--tid 101");
	check_filter(r, &(struct store_event_filter){ .pid = 100, .tid = 100 },
		     "1,2,5,7,9,11,12", "--pid 100 --tid 100");
	check_filter(r, &(struct store_event_filter){ .mm = 2 }, "6,8", "--mm 2");
	check_filter(r, &(struct store_event_filter){ .nrs = (int[]){ 9, 11 }, .n_nrs = 2 },
		     "1,2,4,6,10,11", "--syscall mmap,munmap");
	check_filter(r, &(struct store_event_filter){ .min_seq = 3, .max_seq = 6 }, "3,4,5,6",
		     "seq 3..6");
	check_filter(r, &(struct store_event_filter){ .pid = 200, .syscalls_only = true },
		     "6,10", "--pid 200 syscalls only");
	check_filter(r, &(struct store_event_filter){ .pid = 100, .min_seq = 5,
						      .nrs = (int[]){ 56 }, .n_nrs = 1 },
		     "5,9", "pid + seq + nr");
	check_filter(r, &(struct store_event_filter){ .pid = 4242 }, "", "unknown pid");

	int calls = 0;
	check_int(store_query_events(r, NULL, stop_at_3, &calls), 42);
	check_int(calls, 3);

	check_int(store_query_summary(r, &sum), 0);
	check_int(sum.events, N_EV);
	check_int(sum.processes, 3);
	check_int(sum.threads, 3);
	check_int(sum.mms, 4);
	check_int(store_count_pid(r, 100, &n), 0);
	check_int(n, 1);
	check_int(store_count_pid(r, 200, &n), 0);
	check_int(n, 2);
	check_int(store_count_pid(r, 101, &n), 0);
	check_int(n, 0);
	check_int(store_query_last_seq(r, &seq), 0);
	check_int(seq, N_EV);

	/* Processes by pid: the most recent, or the nth (pid 200 is reused). */
	check_int(store_query_process_nth(r, 200, 0, &pi), 0);
	ok(pi.start_seq == 9 && pi.mm == 4 && !pi.end_seq, "200: the most recent");
	check_int(store_query_process_nth(r, 200, 1, &pi), 0);
	ok(pi.start_seq == 5 && pi.mm == 2 && pi.end_seq == 8 && pi.exit_status == 0x100,
	   "200@1: the first");
	check_int(store_query_process_nth(r, 200, 2, &pi), 0);
	check_int(pi.start_seq, 9);
	check_int(store_query_process_nth(r, 200, 3, &pi), -ENOENT);
	check_int(store_query_process_nth(r, 4242, 0, &pi), -ENOENT);

	/* mm of a process after an event: exec changes it. */
	check_int(store_query_process(r, 100, &pi), 0);
	mm = 99;
	check_int(store_query_mm_of_process(r, pi.id, 0, &mm), 0);
	check_int(mm, 1);
	check_int(store_query_mm_of_process(r, pi.id, 6, &mm), 0);
	check_int(mm, 1);
	check_int(store_query_mm_of_process(r, pi.id, 7, &mm), 0);
	check_int(mm, 3);
	check_int(store_query_process_nth(r, 200, 1, &pi), 0);
	check_int(store_query_mm_of_process(r, pi.id, 6, &mm), 0);
	check_int(mm, 2);
	mm = 99;
	check_int(store_query_mm_of_process(r, 4242, 4, &mm), -ENOENT);
	check_int(mm, 99);

	/* vmas_at: address order, [vsyscall] (>= 2^63) last, life boundaries half open. */
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vmas_at(r, 1, 0, collect_vma, &vl), 0);
	ok(vl.n == 2 && vl.ids[0] == v1 && vl.ids[1] == v2, "map at 0: /bin/sh, [vsyscall]");
	ok(vl.first.mm == 1 && vl.first.start == 0x400000 && vl.first.end == 0x401000 &&
		   !strcmp(vl.first.perms, "r-xp") && vl.first.offset == 0x3000 &&
		   vl.first.dev == 0x801 && vl.first.ino == 5 && vl.first.born_seq == 0 &&
		   vl.first.origin_unknown,
	   "every field of a VMA version comes back");
	check_str(vl.names[0], "/bin/sh");
	check_str(vl.names[1], "[vsyscall]");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vmas_at(r, 1, 2, collect_vma, &vl), 0);
	ok(vl.n == 3 && vl.ids[0] == v1 && vl.ids[1] == v3 && vl.ids[2] == v2, "map at 2");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vmas_at(r, 1, 3, collect_vma, &vl), 0);
	ok(vl.n == 3 && vl.ids[1] == v4, "map at 3: the split's new version");
	check_str(vl.names[0], "/bin/sh");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vmas_at(r, 1, 7, collect_vma, &vl), 0);
	ok(vl.n == 1 && vl.ids[0] == v2, "map at 7: only the never-ended [vsyscall]");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vmas_at(r, 2, 7, collect_vma, &vl), 0);
	check_int(vl.n, 0);

	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vma_history(r, 0, 0x7f0000000800, collect_vma_died, &vl), 0);
	ok(vl.n == 2 && vl.ids[0] == v3 && vl.died[0] == 3 && vl.ids[1] == v4 &&
		   vl.died[1] == 7,
	   "history of 0x7f0000000800: v3 [1,3), v4 [3,7)");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vma_history(r, 0, 0x7f0000001800, collect_vma_died, &vl), 0);
	ok(vl.n == 1 && vl.ids[0] == v3, "history of 0x7f0000001800: v3 only");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vma_history(r, 0, 0xffffffffff600010, collect_vma_died, &vl), 0);
	ok(vl.n == 1 && vl.ids[0] == v2 && vl.died[0] == 0, "history of [vsyscall]");
	memset(&vl, 0, sizeof(vl));
	check_int(store_query_vma_history(r, 2, 0x7f0000000800, collect_vma_died, &vl), 0);
	check_int(vl.n, 0);

	store_ro_close(r);
}

/*
 * count_fds - fds of this process open on files whose path starts with @prefix, and how
 * many of them lack FD_CLOEXEC (a traced program started by fork+exec must not inherit
 * the DB).
 */
static int count_fds(const char *prefix, int *ret_leaky)
{
	char link[64], target[512];
	int n = 0;

	*ret_leaky = 0;
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, prefix, strlen(prefix)))
			continue;
		n++;
		if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			(*ret_leaky)++;
	}
	return n;
}

/* A reader on a live trace. ---------------------------------------------------------- */

static void test_live_reader(void)
{
	const char *path = db_path("live.db");
	struct store_summary sum = { 0 };
	struct store *s = NULL;
	struct store_ro *r = NULL;
	double t0, t;

	check_int(store_create(path, &s), 0);
	if (!s)
		return;
	/* The schema is committed when store_create returns: a reader can open at once. */
	check_int(store_open_ro(path, &r), 0);
	t0 = now_s();
	for (int i = 1; i <= 10; i++) {
		struct event ev = { .seq = (uint64_t)i, .pid = 7, .tid = 7, .nr = 9 };

		store_add_event(s, &ev);
	}
	do {
		usleep(10000);
		t = now_s() - t0;
		if (r && store_query_summary(r, &sum) < 0)
			break;
	} while (sum.events < 10 && t < 2.0);
	check_int(sum.events, 10);
	ok(t < 1.0, "reader sees a live trace's events within 1 s (%.0f ms)", t * 1000);
	ok(store_pending(s) == 0, "nothing pending after the commit");

	int leaky, n_fds = count_fds(path, &leaky);
	ok(n_fds >= 3 && !leaky, "%d fds on the DB, -wal, -shm; %d without O_CLOEXEC", n_fds,
	   leaky);

	/* The writer closes under an open reader: fine, the trace just stays in WAL mode. */
	check_int(store_close(s, "detached"), 0);
	check_int(store_query_summary(r, &sum), 0);
	check_int(sum.events, 10);
	store_ro_close(r);
}

/* Missing and foreign files. ----------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = len ? write(fd, data, len) : 0;
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Copy @src to @dst, putting big-endian @value at byte @offset (an SQLite header field). */
static int patch_copy(const char *src, const char *dst, off_t offset, uint32_t value)
{
	unsigned char be[4] = { value >> 24, value >> 16, value >> 8, value };
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 100 || write_file(dst, buf, (size_t)n) < 0)
		return -1;
	fd = open(dst, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = pwrite(fd, be, 4, offset);
	close(fd);
	return n == 4 ? 0 : -1;
}

static void test_foreign(void)
{
	char good[256];
	struct store_ro *r = (struct store_ro *)&r; /* must stay untouched on failure */
	struct store_ro *const sentinel = r;
	static const char text[] = "SQLite format 3? No, just a text file.\n";

	snprintf(good, sizeof(good), "%s", db_path("trip.db"));

	check_int(store_open_ro(db_path("missing.db"), &r), -ENOENT);
	check_int(store_open_ro(dir, &r), -EISDIR);
	ok(write_file(db_path("text.db"), text, sizeof(text) - 1) == 0, "text file written");
	check_int(store_open_ro(db_path("text.db"), &r), -EMEDIUMTYPE);
	ok(write_file(db_path("empty.db"), "", 0) == 0, "empty file written");
	check_int(store_open_ro(db_path("empty.db"), &r), -EMEDIUMTYPE);
	/* SQLite header: user_version at byte 60, application_id at byte 68. */
	ok(patch_copy(good, db_path("other-app.db"), 68, 0x46726564) == 0, "foreign copy");
	check_int(store_open_ro(db_path("other-app.db"), &r), -EMEDIUMTYPE);
	ok(patch_copy(good, db_path("no-app.db"), 68, 0) == 0, "plain SQLite copy");
	check_int(store_open_ro(db_path("no-app.db"), &r), -EMEDIUMTYPE);
	ok(patch_copy(good, db_path("newer.db"), 60, STORE_SCHEMA_VERSION + 1) == 0,
	   "newer copy");
	check_int(store_open_ro(db_path("newer.db"), &r), -EPROTONOSUPPORT);
	ok(r == sentinel, "output untouched by failed opens");
	/* The unpatched file still opens: the patches are what the checks see. */
	check_int(store_open_ro(good, &r), 0);
	store_ro_close(r);
	/* store_create refuses an existing file of any kind, and leaves it alone. */
	check_int(store_create(db_path("text.db"), &(struct store *){ NULL }), -EEXIST);
	check_int(store_open_ro(db_path("text.db"), &r), -EMEDIUMTYPE);
	check_int(store_create("/nonexistent-dir/x.db", &(struct store *){ NULL }), -ENOENT);
}

/* VMA queries against brute force on a random history. -------------------------------- */

struct version {
	uint64_t id, start, end, born, died; /* died 0: never */
};

static uint64_t rng = 88172645463325252ull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp_death(const void *a, const void *b, void *data)
{
	const struct version *v = data;
	uint64_t x = v[*(const int *)a].died, y = v[*(const int *)b].died;

	return x < y ? -1 : x > y;
}

/*
 * generate - a history of @n_versions in mm 1: @n_long versions from seq 0 (libraries and
 * such; one in five never ends), then at every event one or two births (one in 50 ending
 * at once: died == born) and as many deaths as keep @n_long + @n_churn alive, mostly from
 * the churn, rarely a long-lived one. Lifetimes thus range from 0 events to the whole
 * trace. Writes it into @s and returns the array (caller frees).
 */
static struct version *generate(struct store *s, int n_versions, int n_long, int n_churn,
				uint64_t *ret_seq)
{
	struct version *v = calloc((size_t)n_versions, sizeof(*v));
	int *alive = calloc((size_t)n_versions, sizeof(int));
	int n_alive = 0, n = 0;
	uint64_t seq = 0;

	for (; n < n_long; n++) {
		v[n].start = 0x7f0000000000 + (uint64_t)n * 0x100000;
		v[n].end = v[n].start + 0x1000 * (1 + xorshift() % 200);
		alive[n_alive++] = n;
	}
	while (n < n_versions) {
		seq++;
		for (int b = 0; b < 1 + (int)(xorshift() % 2) && n < n_versions; b++, n++) {
			v[n].born = seq;
			v[n].start = 0x560000000000 + (xorshift() % 65536) * 0x1000;
			v[n].end = v[n].start + 0x1000 * (1 + xorshift() % 16);
			if (xorshift() % 50 == 0)
				v[n].died = seq;
			else
				alive[n_alive++] = n;
		}
		while (n_alive > n_long + n_churn) {
			int k = (int)(xorshift() % (uint64_t)n_alive);

			if (alive[k] < n_long && (alive[k] % 5 == 0 || xorshift() % 1000))
				continue;
			v[alive[k]].died = seq;
			alive[k] = alive[--n_alive];
		}
	}
	free(alive);

	/* Write in event order: births of seq N, then deaths at N (ids from the store). */
	int *by_death = calloc((size_t)n_versions, sizeof(int));
	int n_dead = 0, next_birth = 0;

	for (int i = 0; i < n_versions; i++)
		if (v[i].died)
			by_death[n_dead++] = i;
	qsort_r(by_death, (size_t)n_dead, sizeof(int), cmp_death, v);
	int d = 0;
	for (uint64_t q = 0; q <= seq; q++) {
		for (; next_birth < n_versions && v[next_birth].born == q; next_birth++) {
			struct version *x = &v[next_birth];

			x->id = add_vma(s, 1, x->start, x->end, "rw-p", x->born, NULL);
		}
		for (; d < n_dead && v[by_death[d]].died == q; d++)
			store_end_vma(s, v[by_death[d]].id, q);
	}
	free(by_death);
	*ret_seq = seq;
	return v;
}

struct id_list {
	uint64_t *ids;
	int n, cap;
	uint64_t last_start;
	bool unordered;
};

static int collect_ids(const struct store_vma *v, uint64_t id, void *data)
{
	struct id_list *l = data;

	if (l->n && v->start < l->last_start)
		l->unordered = true;
	l->last_start = v->start;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->ids = realloc(l->ids, (size_t)l->cap * sizeof(*l->ids));
	}
	l->ids[l->n++] = id;
	return 0;
}

static int collect_ids_died(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	(void)died;
	return collect_ids(v, id, data);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Compare @got with the brute-force set @want (both as sorted id sets). */
static bool same_set(struct id_list *got, uint64_t *want, int n_want)
{
	if (got->n)
		qsort(got->ids, (size_t)got->n, sizeof(uint64_t), cmp_u64);
	if (n_want)
		qsort(want, (size_t)n_want, sizeof(uint64_t), cmp_u64);
	return got->n == n_want && (!n_want || !memcmp(got->ids, want, (size_t)n_want * 8));
}

static void test_vma_queries(void)
{
	const char *path = db_path("vmas.db");
	const int n_versions = 30000, n_long = 300;
	struct store *s = NULL;
	struct store_ro *r = NULL;
	struct version *v;
	uint64_t last, *want = calloc((size_t)n_versions, sizeof(uint64_t));
	int bad_at = 0, bad_order = 0, bad_hist = 0, n_at = 0, n_hist = 0;

	check_int(store_create(path, &s), 0);
	if (!s)
		return;
	v = generate(s, n_versions, n_long, 500, &last);
	check_int(store_close(s, "done"), 0);
	check_int(store_open_ro(path, &r), 0);
	if (!r)
		goto out;

	for (int k = 0; k < 200; k++) {
		uint64_t at = k < 3 ? (uint64_t[]){ 0, 1, last }[k] : xorshift() % (last + 2);
		struct id_list got = { 0 };
		int n = 0;

		for (int i = 0; i < n_versions; i++)
			if (v[i].born <= at && (!v[i].died || v[i].died > at))
				want[n++] = v[i].id;
		if (store_query_vmas_at(r, 1, at, collect_ids, &got) < 0 ||
		    !same_set(&got, want, n))
			bad_at++;
		bad_order += got.unordered;
		n_at += n;
		free(got.ids);
	}
	ok(!bad_at, "vmas_at equals brute force at 200 seqs (%d versions seen)", n_at);
	ok(!bad_order, "vmas_at in address order");

	for (int k = 0; k < 200; k++) {
		uint64_t a = k & 1 ? 0x560000000000 + xorshift() % (65536ull * 0x1000)
				   : 0x7f0000000000 + xorshift() % (n_long * 0x100000ull);
		struct id_list got = { 0 };
		int n = 0;

		for (int i = 0; i < n_versions; i++)
			if (v[i].start <= a && a < v[i].end)
				want[n++] = v[i].id;
		if (store_query_vma_history(r, 1, a, collect_ids_died, &got) < 0 ||
		    !same_set(&got, want, n))
			bad_hist++;
		n_hist += n;
		free(got.ids);
	}
	ok(!bad_hist, "vma history equals brute force at 200 addresses (%d versions seen)",
	   n_hist);
	store_ro_close(r);
out:
	free(v);
	free(want);
}

/* The sticky error. ---------------------------------------------------------------------- */

static void test_enospc(void)
{
	const char *path = db_path("full.db");
	struct store_summary sum;
	struct store_trace_info ti;
	struct store *s = NULL;
	struct store_ro *r = NULL;
	char argv[200];
	int i, err = 0;
	double t0;

	check_int(store_create(path, &s), 0);
	if (!s)
		return;
	/* Below the current size: SQLite caps the file where it is, the next page fails. */
	store_test_set_max_pages(s, 1);
	memset(argv, 'x', sizeof(argv) - 1);
	argv[sizeof(argv) - 1] = '\0';
	t0 = now_s();
	for (i = 1; i <= 20000 && !err; i++) {
		struct event ev = { .seq = (uint64_t)i, .pid = 7, .tid = 7, .nr = 59 };

		ev.argv = strdup(argv);
		store_add_event(s, &ev);
		if (i % 1000 == 0)
			usleep(20000), err = store_error(s);
	}
	while (!err && now_s() - t0 < 3)
		usleep(10000), err = store_error(s);
	check_int(err, -ENOSPC);
	/* Later records are dropped (and freed: run under ASan/valgrind to see). */
	for (int j = 0; j < 100; j++) {
		struct event ev = { .seq = (uint64_t)(i + j), .pid = 7, .tid = 7, .nr = 9 };

		ev.path = strdup("/dropped");
		store_add_event(s, &ev);
	}
	check_int(store_error(s), -ENOSPC);
	check_int(store_close(s, "done"), -ENOSPC);

	check_int(store_open_ro(path, &r), 0);
	if (!r)
		return;
	check_int(store_query_summary(r, &sum), 0);
	ok(sum.events < 20000, "the failed transaction's events are not in the DB (%llu are)",
	   (unsigned long long)sum.events);
	check_int(store_query_trace(r, &ti), 0);
	ok(ti.end_status && !strncmp(ti.end_status, "error: ", 7),
	   "trace.end_status records the error: '%s'", ti.end_status ? ti.end_status : "");
	store_trace_info_release(&ti);
	store_ro_close(r);
}

/* Timings (diagnostics only). ------------------------------------------------------------- */

static void bench_events(void)
{
	const char *path = db_path("bench-events.db");
	const int n = 200000;
	struct store *s = NULL;
	double t0, t1, t2;

	if (store_create(path, &s) < 0)
		return;
	t0 = now_s();
	for (int i = 1; i <= n; i++) {
		struct event ev = {
			.seq = (uint64_t)i, .time_ns = (uint64_t)i * 20000, .pid = 1000 + i % 4,
			.tid = 1000 + i % 4 + (i % 3) * 10, .mm = 1 + i % 4, .nr = 9 + i % 3,
			.args = { 0, 8192, 3, 34, (uint64_t)-1, 0 }, .ret = 0x7f0000000000 + i,
			.dur_ns = 1500,
		};

		/* Every 8th a file mapping, like a program loading libraries. */
		if (i % 8 == 0) {
			ev.path = strdup(i % 16 ? "/usr/lib/libc.so.6" : "/usr/lib/libm.so.6");
			ev.dev = 0x801;
			ev.ino = i % 16 ? 42 : 43;
		}
		store_add_event(s, &ev);
	}
	t1 = now_s();
	int err = store_close(s, "done");
	t2 = now_s();
	ok(err == 0, "bench: 200k events stored");
	diag("insert: %d events in %.2f s = %.0f rows/s (store_add_event %.0f ns/call)", n,
	     t2 - t0, n / (t2 - t0), (t1 - t0) / n * 1e9);
}

static int count_cb(const struct store_vma *v, uint64_t id, void *data)
{
	(void)v;
	(void)id;
	(*(int *)data)++;
	return 0;
}

static void bench_vmas_at(void)
{
	const char *env = getenv("VMATRACE_STORE_BENCH");
	int n_versions = env ? atoi(env) : 100000;
	const char *path = db_path("bench-vmas.db");
	struct store *s = NULL;
	struct store_ro *r = NULL;
	struct version *v;
	uint64_t last;
	double t0, worst = 0, sum = 0;
	int n = 0, rounds = 50;

	if (n_versions < 1000 || store_create(path, &s) < 0)
		return;
	t0 = now_s();
	v = generate(s, n_versions, 1000, 500, &last);
	if (store_close(s, "done") < 0 || store_open_ro(path, &r) < 0) {
		free(v);
		return;
	}
	diag("vma versions: %d in %.2f s (%.0f /s with their ends)", n_versions, now_s() - t0,
	     n_versions / (now_s() - t0));
	for (int k = 0; k < rounds; k++) {
		double t = now_s(), d;

		n = 0;
		store_query_vmas_at(r, 1, xorshift() % (last + 1), count_cb, &n);
		d = now_s() - t;
		sum += d;
		worst = d > worst ? d : worst;
	}
	ok(n > 0, "bench: vmas_at returns maps");
	diag("vmas_at over %d versions: mean %.2f ms, worst %.2f ms (~%d VMAs per map)", n_versions,
	     sum / rounds * 1e3, worst * 1e3, n);
	store_ro_close(r);
	free(v);
}

static void cleanup(void)
{
	char cmd[300];

	if (getenv("VMATRACE_KEEP_TMP")) {
		diag("kept %s", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
}

static int copy_signal(const struct event *ev, void *data)
{
	struct event *out = data;

	if (out->seq)
		out->seq = UINT64_MAX; /* more than one */
	else
		*out = (struct event){ .seq = ev->seq, .kind = ev->kind, .nr = ev->nr,
				       .ret = ev->ret, .stack_id = ev->stack_id };
	memcpy(out->args, ev->args, sizeof(out->args));
	return 0;
}

/*
 * +signal events (schema 3): stored with the generic columns, their outcome set later by
 * store_set_event_ret (queued after the insert, so applied after it), found alone by
 * signals_only and left out by syscalls_only.
 */
static void test_signal_events(void)
{
	const char *path = db_path("signals.db");
	struct store *s = NULL;
	struct store_ro *r = NULL;
	struct event got = { 0 };

	check_int(store_create(path, &s), 0);
	if (!s)
		return;
	store_begin_trace(s, &(struct store_trace_meta){ .mode = "run" });
	struct event sc = { .seq = 1, .pid = 7, .tid = 7, .mm = 1, .kind = EVENT_SYSCALL,
			    .nr = 11, .args = { 0x7f0000000000, 4096 } };
	struct event sig = { .seq = 2, .pid = 7, .tid = 8, .mm = 1, .kind = EVENT_SIGNAL,
			     .nr = -1, .ret = EVENT_SIG_UNKNOWN, .stack_id = 5,
			     .args = { 11, 1, 0x7f0000000010, 0x401000, 0x7ffd0000, 0x1000 } };
	struct event ex = { .seq = 3, .pid = 7, .tid = 8, .mm = 1, .kind = EVENT_TASK_EXIT,
			    .nr = -1, .ret = 11 };
	store_add_event(s, &sc);
	store_add_event(s, &sig);
	store_set_event_ret(s, 2, EVENT_SIG_FATAL);
	store_add_event(s, &ex);
	check_int(store_close(s, "done"), 0);

	check_int(store_open_ro(path, &r), 0);
	if (!r)
		return;
	check_int(store_ro_version(r), STORE_SCHEMA_VERSION);
	check_int(STORE_SCHEMA_VERSION, 3);
	check_int(store_query_events(r, &(struct store_event_filter){ .signals_only = true },
				     copy_signal, &got), 0);
	ok(got.seq == 2 && got.kind == EVENT_SIGNAL && got.nr == -1 && got.stack_id == 5,
	   "signals_only: the one +signal (seq %llu)", (unsigned long long)got.seq);
	ok(got.args[0] == 11 && got.args[1] == 1 && got.args[2] == 0x7f0000000010 &&
	   got.args[3] == 0x401000 && got.args[4] == 0x7ffd0000 && got.args[5] == 0x1000,
	   "its signo, si_code, si_addr, pc, sp and module offset read back");
	check_int(got.ret, EVENT_SIG_FATAL);
	memset(&got, 0, sizeof(got));
	check_int(store_query_events(r, &(struct store_event_filter){ .syscalls_only = true },
				     copy_signal, &got), 0);
	ok(got.seq == 1, "syscalls_only leaves it out");
	store_ro_close(r);
}

int main(void)
{
	plan_lazy();
	if (!mkdtemp(dir)) {
		char why[128];

		snprintf(why, sizeof(why), "mkdtemp: %s", strerror(errno));
		skip_all_env(why);
	}
	test_round_trip();
	test_live_reader();
	test_foreign();
	test_vma_queries();
	test_signal_events();
	test_enospc();
	bench_events();
	bench_vmas_at();
	cleanup();
	return done();
}
