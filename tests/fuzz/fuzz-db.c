// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the store's readers: any file must open as a trace DB or be
 * refused, and every query the client's commands run on an opened one must end with rows
 * or an error (-EUCLEAN for damage), never a crash, an overread, a leak, a hang or a huge
 * allocation. Build and run with run-fuzz.sh (target "db").
 *
 * Each input is written as the DB file and opened with store_open_ro(); then the readers
 * of events, maps, history, diff, replay, stats, ps, timeline, export and sql run on it,
 * with the pids, mms, seqs, addresses and stacks the first walks found, and the events
 * and VMA versions are printed (to /dev/null) as the commands print them.
 *
 * Built with -DFUZZ_DB_GENERATE instead, this file writes the seed corpus: a small trace
 * made through the store's writer (two processes, a fork, an execve, threads, VMA
 * versions, stacks), then rewritten with 512-byte pages and a rollback journal, so that
 * the inputs are small and an input opens without WAL side files.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "event.h"
#include "store.h"
#include "store_changes.h"
#include "store_timeline.h"
#include "stresc.h"
#include "sysent.h"

#ifndef FUZZ_DB_GENERATE

#define MAX_KEYS 8 /* pids, mms, seqs... kept from the walks for the point queries */

struct keys {
	pid_t pid[MAX_KEYS], tid[MAX_KEYS];
	uint64_t mm[MAX_KEYS], seq[MAX_KEYS], addr[MAX_KEYS], proc[MAX_KEYS];
	int64_t stack[MAX_KEYS];
	size_t npid, ntid, nmm, nseq, naddr, nproc, nstack;
};

static FILE *devnull;
static char db_path[4096];

#define KEEP(arr, n, v)                                                                  \
	do {                                                                             \
		if ((n) < MAX_KEYS)                                                      \
			(arr)[(n)++] = (v);                                              \
	} while (0)

static int on_event(const struct event *ev, void *data)
{
	struct keys *k = data;

	event_print(ev, devnull);
	event_print_json(ev, devnull);
	if (ev->argv)
		stresc_print_argv_words(ev->argv, devnull);
	KEEP(k->pid, k->npid, ev->pid);
	KEEP(k->tid, k->ntid, ev->tid);
	KEEP(k->seq, k->nseq, ev->seq);
	if (ev->stack_id)
		KEEP(k->stack, k->nstack, ev->stack_id);
	return 0;
}

static int on_event_quiet(const struct event *ev, void *data)
{
	(void)ev;
	(void)data;
	return 0;
}

static void print_vma(const struct store_vma *v)
{
	char line[512];
	size_t at;

	vma_format_maps_name(v, line, sizeof(line), &at);
	fprintf(devnull, "%s|%s\n", line, line + at);
	vma_print_json(v, devnull);
}

static int on_version(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct keys *k = data;

	(void)id;
	(void)died;
	print_vma(v);
	KEEP(k->addr, k->naddr, v->start);
	KEEP(k->mm, k->nmm, v->mm);
	return 0;
}

static int on_vma_at(const struct store_vma *v, uint64_t id, void *data)
{
	(void)id;
	(void)data;
	print_vma(v);
	return 0;
}

static int on_version_quiet(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	(void)id;
	(void)died;
	(void)data;
	print_vma(v);
	return 0;
}

static int on_proc(const struct store_proc_info *p, void *data)
{
	struct keys *k = data;

	if (p->exe)
		stresc_print_name(devnull, p->exe);
	if (p->argv && stresc_print_argv_words(p->argv, devnull) == 0)
		stresc_print_argv(p->argv, devnull);
	KEEP(k->proc, k->nproc, p->id);
	KEEP(k->pid, k->npid, p->pid);
	return 0;
}

static int on_mm(const struct store_mm_info *m, void *data)
{
	struct keys *k = data;

	if (m->exe)
		stresc_print_name(devnull, m->exe);
	KEEP(k->mm, k->nmm, m->id);
	return 0;
}

static int on_thread(const struct store_thread_info *t, void *data)
{
	(void)t;
	(void)data;
	return 0;
}

static int on_frame(const struct store_frame_info *f, void *data)
{
	(void)data;
	fprintf(devnull, "%s %s %s\n", f->module ? f->module : "", f->build_id ? f->build_id : "",
		f->function ? f->function : "");
	return 0;
}

static int on_mapped(int64_t stack, uint64_t mm, uint64_t bytes, void *data)
{
	(void)stack;
	(void)mm;
	(void)bytes;
	(void)data;
	return 0;
}

static int on_pair(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	(void)seq;
	(void)mm;
	(void)data;
	if (exe)
		stresc_print_name(devnull, exe);
	return 0;
}

static int on_users(uint64_t seq, int users, void *data)
{
	(void)seq;
	(void)users;
	(void)data;
	return 0;
}

static int on_count(const struct store_event_count *c, void *data)
{
	(void)c;
	(void)data;
	return 0;
}

static int on_row(const struct store_sql_row *row, void *data)
{
	(void)data;
	for (int i = 0; i < row->n_cols; i++)
		if (row->texts[i])
			fwrite(row->texts[i], 1, (size_t)row->lens[i], devnull);
	return 0;
}

/* read_all - every reader the query commands use, on @r. Errors are fine; crashes not. */
static void read_all(struct store_ro *r)
{
	struct keys k = { 0 };
	struct store_summary sum;
	struct store_trace_info t;
	struct store_stack_summary ss;
	struct store_event_times times = { 0 };
	struct store_proc_info p;
	struct store_mm_info m;
	uint64_t v, last = 0;

	store_query_summary(r, &sum);
	if (store_query_trace(r, &t) == 0) {
		if (t.cmdline)
			stresc_print_argv_words(t.cmdline, devnull);
		store_trace_info_release(&t);
	}
	store_query_last_seq(r, &last);
	store_query_events(r, NULL, on_event, &k);
	store_query_processes(r, on_proc, &k);
	store_query_mms(r, on_mm, &k);
	store_query_threads(r, on_thread, NULL);
	store_query_mm_versions(r, 0, on_version, &k);
	store_query_stack_summary(r, &ss);
	store_query_mapped_by_stack(r, 0, 0, 0, on_mapped, NULL);
	if (store_query_event_times(r, &times) == 0) {
		for (size_t i = 0; i < k.nseq; i++)
			store_event_time_at(&times, k.seq[i]);
		store_event_times_last(&times, &v);
		store_event_times_release(&times);
	}
	store_query_events_at(r, k.seq, k.nseq, on_event_quiet, NULL);
	for (size_t i = 0; i < k.nstack; i++)
		store_query_stack(r, k.stack[i], on_frame, NULL);
	for (size_t i = 0; i < k.npid; i++) {
		struct store_event_filter f = { .pid = k.pid[i], .min_seq = 1, .max_seq = last };

		store_query_events(r, &f, on_event_quiet, NULL);
		store_query_process(r, k.pid[i], &p);
		store_query_process_nth(r, k.pid[i], 1, &p);
		store_count_pid(r, k.pid[i], &v);
		store_query_event_counts(r, k.pid[i], 0, last, on_count, NULL);
		store_query_mapped_by_stack(r, k.pid[i], 0, last, on_mapped, NULL);
	}
	for (size_t i = 0; i < k.ntid; i++) {
		struct store_event_filter f = { .tid = k.tid[i], .syscalls_only = true };

		store_has_tid(r, k.tid[i]);
		store_query_events(r, &f, on_event_quiet, NULL);
	}
	for (size_t i = 0; i < k.nproc; i++) {
		store_query_process_mms(r, k.proc[i], on_pair, NULL);
		store_query_mm_of_process(r, k.proc[i], last, &v);
	}
	for (size_t i = 0; i < k.nmm; i++) {
		struct store_event_filter f = { .mm = k.mm[i] };

		store_has_mm(r, k.mm[i]);
		store_query_mm(r, k.mm[i], &m);
		store_query_mm_users(r, k.mm[i], on_users, NULL);
		store_query_mm_versions(r, k.mm[i], on_version_quiet, NULL);
		store_query_events(r, &f, on_event_quiet, NULL);
		for (size_t j = 0; j < k.nseq; j++) {
			store_query_vmas_at(r, k.mm[i], k.seq[j], on_vma_at, NULL);
			store_query_vma_changes(r, k.mm[i], k.seq[j] ? k.seq[j] - 1 : 0, k.seq[j],
						on_version_quiet, NULL);
		}
		store_query_vmas_at(r, k.mm[i], last, on_vma_at, NULL);
	}
	for (size_t i = 0; i < k.naddr; i++)
		store_query_vma_history(r, 0, k.addr[i], on_version_quiet, NULL);
	for (size_t i = 0; i < k.nseq; i++)
		store_query_event_time(r, k.seq[i], &v);
	store_sql_exec(r, "SELECT * FROM main.vma ORDER BY id LIMIT 64", on_row, NULL);
	fprintf(devnull, "%s\n", store_ro_errmsg(r));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const side[] = { "-wal", "-shm", "-journal" };
	struct store_ro *r;
	char buf[4200], why[160];
	FILE *f;

	if (!devnull) {
		devnull = fopen("/dev/null", "we");
		/* run-fuzz.sh gives its temporary directory, removed at the end. */
		const char *dir = getenv("FUZZ_DB_DIR");
		snprintf(db_path, sizeof(db_path), "%s/input-%d.db", dir ? dir : "/tmp",
			 (int)getpid());
		if (!devnull)
			abort();
	}
	/* A fresh file each time, without the side files the last input may have left. */
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", db_path, side[i]);
		unlink(buf);
	}
	f = fopen(db_path, "we");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if (store_open_ro_why(db_path, &r, why, sizeof(why)) == 0) {
		read_all(r);
		store_ro_close(r);
	}
	return 0;
}

#else /* FUZZ_DB_GENERATE */

#include <sqlite3.h>

static void add_event(struct store *s, uint64_t seq, pid_t pid, pid_t tid, uint64_t mm,
		      const char *name, int64_t ret, const char *path, const char *argv,
		      int64_t stack)
{
	struct event ev = {
		.seq = seq, .time_ns = 1000 + seq * 10, .pid = pid, .tid = tid, .mm = mm,
		.kind = name ? EVENT_SYSCALL : EVENT_TASK_EXIT,
		.nr = name ? sysent_lookup(name) : -1,
		.args = { 0x7f0000000000, 8192, 3, 0x22, (uint64_t)-1, 0 }, .ret = ret,
		.dur_ns = 5, .stack_id = stack,
	};

	ev.path = path ? strdup(path) : NULL;
	ev.argv = argv ? strdup(argv) : NULL;
	if (path)
		ev.dev = 0x801, ev.ino = 42;
	store_add_event(s, &ev);
}

static uint64_t add_vma(struct store *s, uint64_t mm, uint64_t start, uint64_t end,
			const char *perms, const char *name, uint64_t born)
{
	struct store_vma v = { .mm = mm, .start = start, .end = end, .name = name,
			       .born_seq = born, .ino = name[0] == '/' ? 42 : 0,
			       .dev = name[0] == '/' ? 0x801 : 0 };

	memcpy(v.perms, perms, 4);
	return store_add_vma(s, &v);
}

/* generate - the seed trace at @path, through the writer as the daemon writes one. */
static int generate(const char *path)
{
	static const uint64_t frames[] = { 1, 2 };
	struct store_trace_meta meta = {
		.cmdline = "[\"prog\",\"-x\"]", .cwd = "/tmp", .host = "h", .kernel = "6.1",
		.version = "0.1.0", .mode = "run", .start_realtime_ns = 1, .start_mono_ns = 1000,
		.page_size = 4096,
	};
	struct store_frame fr = { .id = 1, .dev = 0x801, .ino = 42, .path = "/usr/lib/libc.so.6",
				  .build_id = "abcd", .rel_pc = 0x1019b3, .function = "__mmap",
				  .func_off = 0x13 };
	struct store *s;
	uint64_t a, b, c;
	int err = store_create(path, &s);

	if (err < 0)
		return err;
	store_begin_trace(s, &meta);
	store_add_syscall_names(s, sysent_name, 335);
	store_add_mm(s, &(struct store_mm){ .id = 1, .owner = 100 });
	store_add_process(s, &(struct store_process){ .pid = 100, .mm = 1, .exe = "/bin/prog" });
	store_add_thread(s, 100, 100, 0);
	store_add_file(s, &(struct store_file){ .dev = 0x801, .ino = 42, .path = "/bin/prog",
						.build_id = "abcd" });
	store_add_frame(s, &fr);
	fr.id = 2, fr.rel_pc = 0x2000, fr.function = NULL;
	store_add_frame(s, &fr);
	store_add_stack(s, 1, frames, 2);
	store_mm_users(s, 1, 0, 1);
	a = add_vma(s, 1, 0x400000, 0x401000, "r-xp", "/bin/prog", 0);
	add_vma(s, 1, 0x7ffd0000, 0x7ffd1000, "rw-p", "[stack]", 0);
	add_event(s, 1, 100, 100, 1, "mmap", 0x7f0000000000, NULL, NULL, 1);
	b = add_vma(s, 1, 0x7f0000000000, 0x7f0000002000, "rw-p", "", 1);
	add_event(s, 2, 100, 100, 1, "mprotect", 0, NULL, NULL, 1);
	store_end_vma(s, b, 2);
	add_vma(s, 1, 0x7f0000000000, 0x7f0000001000, "r--p", "", 2);
	add_vma(s, 1, 0x7f0000001000, 0x7f0000002000, "rw-p", "", 2);
	add_event(s, 3, 100, 100, 1, "clone", 101, NULL, NULL, 0);
	store_add_thread(s, 101, 100, 3);
	store_mm_users(s, 1, 3, 2);
	add_event(s, 4, 100, 100, 1, "fork", 102, NULL, NULL, 0);
	store_add_mm(s, &(struct store_mm){ .id = 2, .start_seq = 4, .parent = 1, .owner = 100 });
	store_add_process(s, &(struct store_process){ .pid = 102, .ppid = 100, .start_seq = 4,
						      .mm = 2 });
	store_add_thread(s, 102, 102, 4);
	c = add_vma(s, 2, 0x400000, 0x401000, "r-xp", "/bin/prog", 4);
	add_event(s, 5, 102, 102, 2, "execve", 0, "/bin/other", "[\"other\",\"\\u001b\"]", 0);
	store_end_vma(s, c, 5);
	store_end_mm(s, 2, 5);
	store_add_mm(s, &(struct store_mm){ .id = 3, .start_seq = 5, .owner = 102 });
	store_add_process_exec(s, 102, 5, "/bin/other", "[\"other\",\"\\u001b\"]", 3);
	add_vma(s, 3, 0x500000, 0x502000, "r-xp", "/bin/other", 5);
	add_event(s, 6, 100, 101, 1, "munmap", -22, NULL, NULL, 1);
	add_event(s, 7, 100, 101, 1, NULL, 0, NULL, NULL, 0);
	store_end_thread(s, 101, 7, 0);
	store_mm_users(s, 1, 7, 1);
	add_event(s, 8, 102, 102, 3, "exit_group", 0, NULL, NULL, 0);
	store_end_process(s, 102, 8, 0);
	store_end_mm(s, 3, 8);
	add_event(s, 9, 100, 100, 1, "exit_group", 0, NULL, NULL, 0);
	store_end_vma(s, a, 9);
	store_end_process(s, 100, 9, 0);
	store_end_mm(s, 1, 9);
	return store_close(s, "done");
}

/* shrink - 512-byte pages and a rollback journal: small inputs, no WAL side files. */
static int shrink(const char *path)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512;"
				  " VACUUM", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	char *path;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	path = malloc(strlen(argv[1]) + 16);
	if (!path)
		return 1;
	sprintf(path, "%s/seed-trace.db", argv[1]);
	unlink(path);
	err = generate(path);
	if (!err)
		err = shrink(path);
	if (err) {
		fprintf(stderr, "%s: cannot write '%s': %s\n", argv[0], path, strerror(-err));
		free(path);
		return 1;
	}
	free(path);
	return 0;
}

#endif
