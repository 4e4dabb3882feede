// SPDX-License-Identifier: MIT
/*
 * vmatrace ps: the traced process tree (pid, parent, life in events, exit status, program,
 * address spaces), then each address space with its mm_users over time.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "stresc.h"
#include "sysent.h"
#include "xalloc.h"

#define USERS_SHOWN 12 /* mm_users changes shown per mm before eliding */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace ps [-d DB] [--json]\n"
		"\n"
		"The traced processes as a tree: pid, parent, the events that started and ended\n"
		"each, its exit status, its address spaces (mm ids; a new one per execve) and its\n"
		"program; then every address space with its mm_users over time (users@seq).\n"
		"A pid that several processes had in the trace shows as PID@N, the Nth of them\n"
		"(from 1), which is how --pid names it in the other commands.\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"      --json    JSON Lines, one object per process: id, pid, ref (PID or PID@N),\n"
		"                ppid, start_seq, end_seq, status (wait status), exit, exe, argv,\n"
		"                mms, mm_users (per mm: every change, as seq and users)\n"
		"  -h, --help    show this help\n",
		DB_DEFAULT);
}

struct exec_at {
	uint64_t seq;
	char *exe;
};

struct proc {
	struct store_proc_info info;
	char *exe, *argv, *mms;
	struct exec_at *execs;  /* its execve's, in order */
	size_t n_execs;
	size_t parent;          /* index + 1 of the parent in procs, 0 for a root */
	unsigned nth, of;       /* the nth of the @of processes with this pid (PID@N) */
	bool printed;
};

struct ps {
	struct store_ro *r;
	struct proc *procs;
	size_t n, cap;
	size_t cur;             /* the process add_mm() is filling */
	char *buf;              /* accumulates one string (mms, users) */
	size_t len;
	unsigned shown, total;
};

static int add_proc(const struct store_proc_info *p, void *data)
{
	struct ps *ps = data;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 64;
		ps->procs = xrealloc(ps->procs, ps->cap * sizeof(*ps->procs));
	}
	struct proc *q = &ps->procs[ps->n++];
	memset(q, 0, sizeof(*q));
	q->info = *p;
	q->exe = p->exe ? xstrdup(p->exe) : NULL;
	q->argv = p->argv ? xstrdup(p->argv) : NULL;
	return 0;
}

static void append(struct ps *ps, const char *s)
{
	size_t n = strlen(s);

	ps->buf = xrealloc(ps->buf, ps->len + n + 1);
	memcpy(ps->buf + ps->len, s, n + 1);
	ps->len += n;
}

static int add_mm(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct ps *ps = data;
	struct proc *q = &ps->procs[ps->cur];
	char s[32];

	if (exe) {
		q->execs = xrealloc(q->execs, (q->n_execs + 1) * sizeof(*q->execs));
		q->execs[q->n_execs++] = (struct exec_at){ .seq = seq, .exe = xstrdup(exe) };
	}
	if (!mm)
		return 0; /* the client's image before the first execve */
	snprintf(s, sizeof(s), "%s%" PRIu64, ps->len ? "," : "", mm);
	append(ps, s);
	return 0;
}

static int add_users(uint64_t seq, int users, void *data)
{
	struct ps *ps = data;
	char s[48];

	ps->total++;
	if (ps->shown >= USERS_SHOWN)
		return 0;
	ps->shown++;
	snprintf(s, sizeof(s), "%s%d@%" PRIu64, ps->len ? " " : "", users, seq);
	append(ps, s);
	return 0;
}

static void status_text(int status, char *buf, size_t size)
{
	if (status < 0)
		snprintf(buf, size, "running");
	else if (WIFEXITED(status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "%s%s", signal_name(WTERMSIG(status)) ?: "signal",
			 WCOREDUMP(status) ? " (core)" : "");
	else
		snprintf(buf, size, "0x%x", status);
}

/*
 * The program column: argv as words (decoded from its JSON), else the exe path. Both
 * come from the traced program: escaped for the terminal (stresc_print_name).
 */
static void print_program(const struct proc *q)
{
	if (q->argv && strcmp(q->argv, "[]") && stresc_print_argv_words(q->argv, stdout) == 0)
		return;
	stresc_print_name(stdout, q->exe ? q->exe : "?");
}

/* proc_name - "PID", or "PID@N" when other processes of the trace had the same pid. */
static const char *proc_name(const struct proc *q, char buf[PROC_REF_NAME_MAX])
{
	struct proc_ref ref = { .pid = q->info.pid, .nth = q->of > 1 ? q->nth : 0 };

	return proc_ref_name(&ref, buf);
}

static int json_users(uint64_t seq, int users, void *data)
{
	bool *first = data;

	printf("%s{\"seq\":%" PRIu64 ",\"users\":%d}", *first ? "" : ",", seq, users);
	*first = false;
	return 0;
}

/* print_json - process @q as one JSON object (a line). */
static int print_json(struct ps *ps, const struct proc *q)
{
	char st[48], name[PROC_REF_NAME_MAX];
	const char *m;
	int err = 0;

	printf("{\"id\":%" PRIu64 ",\"pid\":%d,\"ref\":\"%s\",\"ppid\":%d,\"start_seq\":%" PRIu64,
	       q->info.id, q->info.pid, proc_name(q, name), q->info.ppid, q->info.start_seq);
	if (q->info.end_seq)
		printf(",\"end_seq\":%" PRIu64, q->info.end_seq);
	else
		printf(",\"end_seq\":null");
	status_text(q->info.exit_status, st, sizeof(st));
	if (q->info.exit_status >= 0)
		printf(",\"status\":%d", q->info.exit_status);
	else
		printf(",\"status\":null");
	printf(",\"exit\":\"%s\",\"exe\":", st);
	if (q->exe)
		json_print_string(stdout, q->exe);
	else
		printf("null");
	/* argv is stored as a JSON array (sysent.h's json_print_string). */
	/* The stored JSON array as it is, if it is one: a damaged DB's text is not JSON. */
	bool argv_ok = q->argv && stresc_json_ok(q->argv) && stresc_print_argv(q->argv, NULL) == 0;
	printf(",\"argv\":%s,\"mms\":[%s],\"mm_users\":[", argv_ok ? q->argv : "null",
	       q->mms ? q->mms : "");
	for (m = q->mms; !err && m && *m;) {
		char *next;
		uint64_t mm = strtoull(m, &next, 10);
		bool first = true;

		if (next == m)
			break;
		printf("%s{\"mm\":%" PRIu64 ",\"changes\":[", m == q->mms ? "" : ",", mm);
		err = store_query_mm_users(ps->r, mm, json_users, &first);
		printf("]}");
		m = *next == ',' ? next + 1 : next;
	}
	printf("]}\n");
	return err;
}

static void print_tree(struct ps *ps, size_t i, int depth)
{
	struct proc *q = &ps->procs[i];
	char st[48], end[24], pid[PROC_REF_NAME_MAX];

	q->printed = true;
	status_text(q->info.exit_status, st, sizeof(st));
	if (q->info.end_seq)
		snprintf(end, sizeof(end), "%" PRIu64, q->info.end_seq);
	else
		snprintf(end, sizeof(end), "-");
	proc_name(q, pid);
	printf("%7s %7d %7" PRIu64 " %7s %-12s %-10s %*s%s", pid, q->info.ppid,
	       q->info.start_seq, end, st, q->mms ? q->mms : "-", 2 * depth, "",
	       depth ? "\\_ " : "");
	print_program(q);
	putchar('\n');
	for (size_t j = 0; j < ps->n; j++)
		if (ps->procs[j].parent == i + 1 && !ps->procs[j].printed)
			print_tree(ps, j, depth + 1);
}

static int cmd_ps(struct cmd_args *a)
{
	const char *db = a->db;
	struct ps ps = { .r = a->r };
	bool json = a->json;
	int err;

	err = store_query_processes(ps.r, add_proc, &ps);
	for (size_t i = 0; !err && i < ps.n; i++) {
		struct proc *q = &ps.procs[i];
		ps.len = 0;
		free(ps.buf);
		ps.buf = NULL;
		ps.cur = i;
		err = store_query_process_mms(ps.r, q->info.id, add_mm, &ps);
		q->mms = ps.buf;
		ps.buf = NULL;
		/* PID@N: the processes that had this pid before it, and after. */
		for (size_t j = 0; j < ps.n; j++) {
			if (ps.procs[j].info.pid != q->info.pid)
				continue;
			q->of++;
			q->nth += j <= i;
		}
		/* The parent: the latest process with ppid's pid that appeared before it. */
		for (size_t j = i; q->info.ppid && j-- > 0;)
			if (ps.procs[j].info.pid == q->info.ppid) {
				q->parent = j + 1;
				break;
			}
		/* A fork child that never exec'ed runs the program its parent ran then. */
		if (!q->exe && !q->argv && q->parent) {
			const struct proc *pp = &ps.procs[q->parent - 1];
			const char *exe = pp->exe;
			for (size_t k = 0; k < pp->n_execs; k++)
				if (pp->execs[k].seq <= q->info.start_seq)
					exe = pp->execs[k].exe;
			bool same = exe == pp->exe;
			q->exe = exe ? xstrdup(exe) : NULL;
			q->argv = same && pp->argv ? xstrdup(pp->argv) : NULL;
		}
	}
	for (size_t i = 0; !err && json && i < ps.n; i++)
		err = print_json(&ps, &ps.procs[i]);
	if (!err && !json) {
		printf("%7s %7s %7s %7s %-12s %-10s %s\n", "PID", "PPID", "START", "END", "STATUS",
		       "MM", "PROGRAM");
		for (size_t i = 0; i < ps.n; i++)
			if (!ps.procs[i].parent)
				print_tree(&ps, i, 0);
		printf("\n%4s  %s\n", "MM", "MM_USERS (users@seq)");
		for (uint64_t mm = 1;; mm++) {
			ps.len = ps.shown = ps.total = 0;
			free(ps.buf);
			ps.buf = NULL;
			err = store_query_mm_users(ps.r, mm, add_users, &ps);
			if (err || !ps.total)
				break;
			printf("%4" PRIu64 "  %s%s\n", mm, ps.buf,
			       ps.total > ps.shown ? " ..." : "");
		}
	}
	if (err < 0)
		db_read_error("ps", db, ps.r, err);
	for (size_t i = 0; i < ps.n; i++) {
		free(ps.procs[i].exe);
		free(ps.procs[i].argv);
		free(ps.procs[i].mms);
		for (size_t k = 0; k < ps.procs[i].n_execs; k++)
			free(ps.procs[i].execs[k].exe);
		free(ps.procs[i].execs);
	}
	free(ps.procs);
	free(ps.buf);
	return err < 0 ? 1 : 0;
}

QUERY_COMMAND(ps, "d:h", NULL, NULL,
	      ARG_OPT_DB, ARG_OPT_JSON, ARG_OPT_HELP);
