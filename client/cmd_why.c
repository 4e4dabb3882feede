// SPDX-License-Identifier: MIT
/*
 * vmatrace why: explain a fault signal (a +signal event): the signal and its address, the
 * VMA covering the address at that moment or the nearest ones on each side with the gap,
 * the address's history in that address space up to the signal (as `history` prints it,
 * with stacks), and a one-line verdict (why_verdict.c). By default the last fatal signal
 * of the trace (or of --pid P).
 *
 * Exit status: 0 when a signal was explained; 1 when there is none to explain (one line
 * on stdout says so, like grep finding nothing) or on an error (one line on stderr).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "sysent.h"
#include "why.h"
#include "xalloc.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace why [-d DB] [--pid P] [--no-stacks] [--json] [SEQ]\n"
		"\n"
		"Explain the fault signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) of\n"
		"event SEQ, by default the last one that killed a process (or the fault a crash\n"
		"handler took before it re-raised the signal): the signal and its\n"
		"address, the VMA that covered the address at that moment (or the nearest ones\n"
		"on each side, and the gap), the address's history up to the signal, and a\n"
		"one-line verdict naming the event that made the access fail.\n"
		"Exits 1 when the trace has no such signal to explain (one line says so).\n"
		"\n"
		"  -d, --db DB   read DB (default ./%s)\n"
		"  -p, --pid P   the last fatal signal of process P (PID or PID@N)\n"
		"      --no-stacks  leave the stacks out (recorded with run --stacks)\n"
		"      --json    one JSON object: signal, exe, mm, reraised_seq (when a handler\n"
		"                re-raised it), vma, below, above, history, verdict, verdict_seq\n"
		"  -h, --help    show this help\n",
		DB_DEFAULT);
}

/* ---- picking the signal ----------------------------------------------------------------- */

/*
 * Crash handlers (Python's faulthandler, crash reporters) take the fault, report, then
 * re-raise the signal with its default action: the fatal +signal is then a sent one
 * (SI_TKILL) without an address, right after the real fault of the same thread, which
 * the handler "handled". The real fault is the one to explain: last_fault tracks the last
 * fault the kernel raised, and origin is set when the last fatal signal re-raised it.
 */
struct pick {
	const struct store_proc_info *p; /* --pid: only this process's signals */
	struct event last_fatal, last_any;
	struct event last_fault, origin;
	bool has_origin;
	uint64_t fatal, handled, total;
};

static void copy_into(struct event *dst, const struct event *ev)
{
	event_release(dst);
	*dst = *ev;
	dst->path = ev->path ? xstrdup(ev->path) : NULL;
	dst->argv = NULL;
}

static int pick_row(const struct event *ev, void *data)
{
	struct pick *k = data;

	if (k->p && (ev->seq < k->p->start_seq || (k->p->end_seq && ev->seq > k->p->end_seq)))
		return 0;
	k->total++;
	copy_into(&k->last_any, ev);
	int sig = (int)ev->args[EVENT_SIG_SIGNO], code = (int)ev->args[EVENT_SIG_CODE];
	if (ev->ret == EVENT_SIG_FATAL) {
		k->fatal++;
		copy_into(&k->last_fatal, ev);
		k->has_origin = code <= 0 && k->last_fault.seq && k->last_fault.tid == ev->tid &&
				k->last_fault.args[EVENT_SIG_SIGNO] == (uint64_t)sig;
		if (k->has_origin)
			copy_into(&k->origin, &k->last_fault);
	} else if (ev->ret == EVENT_SIG_HANDLED) {
		k->handled++;
	}
	if (signal_code_has_addr(sig, code))
		copy_into(&k->last_fault, ev);
	return 0;
}

static int copy_event(const struct event *ev, void *data)
{
	copy_into(data, ev);
	return 0;
}

/* ---- the map and the history ------------------------------------------------------------ */

static void vma_copy(struct why_vma *dst, const struct store_vma *v, uint64_t died_seq)
{
	dst->v = *v;
	dst->name = xstrdup(v->name ? v->name : "");
	dst->v.name = dst->name;
	dst->died_seq = died_seq;
}

static int map_row(const struct store_vma *v, uint64_t id, void *data)
{
	struct why *w = data;

	(void)id;
	if (v->start <= w->addr && w->addr < v->end) {
		vma_copy(&w->at, v, 0);
		w->has_at = true;
	} else if (v->end <= w->addr) {
		if (w->has_below)
			free(w->below.name);
		vma_copy(&w->below, v, 0);
		w->has_below = true;
	} else if (!w->has_above) {
		vma_copy(&w->above, v, 0);
		w->has_above = true;
		return 1; /* address order: nothing nearer follows */
	}
	return 0;
}

static int history_row(const struct store_vma *v, uint64_t id, uint64_t died_seq, void *data)
{
	struct why *w = data;

	(void)id;
	if (v->born_seq > w->sig.seq)
		return 0;
	w->vs = xrealloc(w->vs, (w->n_vs + 1) * sizeof(*w->vs));
	vma_copy(&w->vs[w->n_vs++], v, died_seq);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- printing ---------------------------------------------------------------------------- */

struct out {
	const struct why *w;
	bool json, stacks;
	bool first;
};

static void print_maps_line(const char *prefix, const struct why_vma *v, const char *note)
{
	char line[4352];

	vma_format_maps(&v->v, line, sizeof(line));
	printf("%s%s%s%s\n", prefix, line, note ? "    " : "", note ? note : "");
}

/* The versions of the history that ended at @seq (@ended) or began there, as JSON array
 * items or as maps lines under @prefix. */
static void print_versions(const struct why *w, uint64_t seq, bool ended, bool json,
			   const char *prefix)
{
	bool first = true;

	for (size_t i = 0; i < w->n_vs; i++) {
		if (ended ? w->vs[i].died_seq != seq || !seq : w->vs[i].v.born_seq != seq)
			continue;
		if (json) {
			printf("%s", first ? "" : ",");
			vma_print_json(&w->vs[i].v, stdout);
			first = false;
		} else {
			print_maps_line(prefix, &w->vs[i], NULL);
		}
	}
}

/* The versions of the history that ended (-) or began (+) at @seq. */
static void print_changes(const struct why *w, uint64_t seq, bool json)
{
	if (json)
		printf(",\"ended\":[");
	print_versions(w, seq, true, json, "  - ");
	if (json)
		printf("],\"began\":[");
	print_versions(w, seq, false, json, "  + ");
	if (json)
		printf("]}");
}

static int print_json_event(const struct why *w, const struct event *ev, bool stacks)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err = 0;

	if (!f)
		die("out of memory");
	if (stacks && ev->stack_id)
		err = event_print_json_stack(w->r, ev, f);
	else
		event_print_json(ev, f);
	fclose(f);
	while (len && buf[len - 1] == '\n')
		len--;
	printf("%.*s", (int)len, buf);
	free(buf);
	return err;
}

static int history_event(const struct event *ev, void *data)
{
	struct out *o = data;
	int err = 0;

	if (o->json) {
		printf("%s{\"seq\":%" PRIu64 ",\"event\":", o->first ? "" : ",", ev->seq);
		err = print_json_event(o->w, ev, o->stacks);
		print_changes(o->w, ev->seq, true);
	} else {
		printf("%" PRIu64 " ", ev->seq);
		event_print(ev, stdout);
		if (o->stacks)
			err = stack_print_text(o->w->r, ev->stack_id, stdout);
		print_changes(o->w, ev->seq, false);
	}
	o->first = false;
	return err;
}

/* human - @bytes as "16 bytes", "64 kB", "8.5 MB", "41.2 TB" (units of 1024). */
static const char *human(uint64_t bytes, char buf[32])
{
	static const char *const units[] = { "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, 32, "%" PRIu64 " byte%s", bytes, bytes == 1 ? "" : "s");
		return buf;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); v /= 1024)
		u++;
	if (v == (double)(uint64_t)v)
		snprintf(buf, 32, "%" PRIu64 " %s", (uint64_t)v, units[u]);
	else
		snprintf(buf, 32, "%.1f %s", v, units[u]);
	return buf;
}

static void print_map_text(const struct why *w)
{
	char note[128], n1[32];

	printf("\nThe map of mm %" PRIu64 " at event %" PRIu64 ", around %#" PRIx64 ":\n",
	       w->sig.mm, w->sig.seq, w->addr);
	if (w->has_at) {
		snprintf(note, sizeof(note), "<- %#" PRIx64 " is at offset %#" PRIx64 ", since "
			 "event %" PRIu64, w->addr, w->addr - w->at.v.start, w->at.v.born_seq);
		print_maps_line("  ", &w->at, note);
		return;
	}
	if (w->has_below)
		print_maps_line("  ", &w->below, NULL);
	else
		printf("  (no VMA below)\n");
	uint64_t lo = w->has_below ? w->below.v.end : 0;
	uint64_t hi = w->has_above ? w->above.v.start : 0;
	if (w->has_below && w->has_above)
		printf("  %#" PRIx64 " is not mapped: a gap of %s, %08" PRIx64 "-%08" PRIx64
		       ", %s above the VMA below, %s below the VMA above\n",
		       w->addr, human(hi - lo, n1), lo, hi, human(w->addr - lo, note),
		       human(hi - w->addr, note + 64));
	else
		printf("  %#" PRIx64 " is not mapped\n", w->addr);
	if (w->has_above)
		print_maps_line("  ", &w->above, NULL);
	else
		printf("  (no VMA above)\n");
}

static void print_vma_json(const char *key, bool has, const struct why_vma *v)
{
	printf(",\"%s\":", key);
	if (has)
		vma_print_json(&v->v, stdout);
	else
		printf("null");
}

/* The process the signal hit, for the header: its program. */
struct exe_find {
	const struct event *ev;
	char *exe;
};

static int exe_row(const struct store_proc_info *p, void *data)
{
	struct exe_find *x = data;

	if (p->pid == x->ev->pid && p->start_seq <= x->ev->seq &&
	    (!p->end_seq || x->ev->seq <= p->end_seq)) {
		free(x->exe);
		x->exe = p->exe ? xstrdup(p->exe) : NULL;
	}
	return 0;
}

static void why_release(struct why *w)
{
	event_release(&w->sig);
	if (w->has_at)
		free(w->at.name);
	if (w->has_below)
		free(w->below.name);
	if (w->has_above)
		free(w->above.name);
	for (size_t i = 0; i < w->n_vs; i++)
		free(w->vs[i].name);
	free(w->vs);
}

/* Explain @w->sig: gather, print, and the verdict. 0 or -errno (error already said). */
static int explain(struct why *w, const char *db, bool json, bool stacks)
{
	const struct event *ev = &w->sig;
	int err;

	w->signo = (int)ev->args[EVENT_SIG_SIGNO];
	w->code = (int)ev->args[EVENT_SIG_CODE];
	w->addr = ev->args[EVENT_SIG_ADDR];
	w->pc = ev->args[EVENT_SIG_PC];
	w->sp = ev->args[EVENT_SIG_SP];
	bool has_addr = signal_code_has_addr(w->signo, w->code);

	err = has_addr ? store_query_vmas_at(w->r, ev->mm, ev->seq, map_row, w) : 0;
	if (err >= 0 && has_addr)
		err = store_query_vma_history(w->r, ev->mm, w->addr, history_row, w);
	if (err < 0) {
		log_error("why: cannot read '%s': %s", db, store_ro_errmsg(w->r));
		return err;
	}

	/* The events of the history: each version's birth and end, up to the signal. */
	uint64_t *seqs = xcalloc(2 * w->n_vs + 1, sizeof(*seqs));
	size_t n = 0;
	for (size_t i = 0; i < w->n_vs; i++) {
		if (w->vs[i].v.born_seq)
			seqs[n++] = w->vs[i].v.born_seq;
		if (w->vs[i].died_seq && w->vs[i].died_seq < ev->seq)
			seqs[n++] = w->vs[i].died_seq;
	}
	qsort(seqs, n, sizeof(*seqs), cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || seqs[u - 1] != seqs[i])
			seqs[u++] = seqs[i];
	seqs[u++] = ev->seq;

	uint64_t verdict_seq = 0;
	char *verdict = why_verdict(w, &verdict_seq);
	struct exe_find x = { .ev = ev };
	store_query_processes(w->r, exe_row, &x);
	struct out o = { .w = w, .json = json, .stacks = stacks, .first = true };
	const char *sig = signal_name(w->signo), *code = signal_code_name(w->signo, w->code);

	if (json) {
		printf("{\"signal\":");
		err = print_json_event(w, ev, stacks);
		printf(",\"exe\":");
		if (x.exe)
			json_print_string(stdout, x.exe);
		else
			printf("null");
		printf(",\"mm\":%" PRIu64, ev->mm);
		if (w->reraised_seq)
			printf(",\"reraised_seq\":%" PRIu64, w->reraised_seq);
		print_vma_json("vma", w->has_at, &w->at);
		print_vma_json("below", !w->has_at && w->has_below, &w->below);
		print_vma_json("above", !w->has_at && w->has_above, &w->above);
		printf(",\"history\":[");
		if (!err)
			err = store_query_events_at(w->r, seqs, u, history_event, &o);
		printf("],\"verdict\":");
		json_print_string(stdout, verdict);
		if (verdict_seq)
			printf(",\"verdict_seq\":%" PRIu64 "}\n", verdict_seq);
		else
			printf(",\"verdict_seq\":null}\n");
	} else {
		printf("event %" PRIu64 ": %s", ev->seq, sig ? sig : "signal");
		if (code)
			printf(" (%s)", code);
		else
			printf(" (si_code %d)", w->code);
		if (has_addr)
			printf(" at %#" PRIx64, w->addr);
		printf(" in pid %d", (int)ev->pid);
		if (ev->tid != ev->pid)
			printf(" thread %d", (int)ev->tid);
		if (w->reraised_seq)
			printf(" (%s), taken by a handler that re-raised it: the process died of "
			       "the %s of event %" PRIu64 "\n", x.exe ? x.exe : "?",
			       sig ? sig : "signal", w->reraised_seq);
		else
			printf(" (%s), %s\n", x.exe ? x.exe : "?",
			       ev->ret == EVENT_SIG_FATAL	  ? "fatal: the process died of it" :
			       ev->ret == EVENT_SIG_HANDLED ? "handled: the thread went on" :
							      "outcome unknown (the trace ended first)");
		printf("  pc %#" PRIx64, w->pc);
		if (ev->path)
			printf(" (%s+%#" PRIx64 ")", ev->path, ev->args[EVENT_SIG_MODOFF]);
		printf(", sp %#" PRIx64 "\n", w->sp);
		if (stacks)
			err = stack_print_text(w->r, ev->stack_id, stdout);
		if (has_addr) {
			print_map_text(w);
			printf("\nHistory of %#" PRIx64 " in mm %" PRIu64 ":\n", w->addr, ev->mm);
			if (!w->n_vs)
				printf("(no recorded mapping ever covered it)\n");
		} else {
			printf("\n");
		}
		if (!err && has_addr)
			err = store_query_events_at(w->r, seqs, u, history_event, &o);
		printf("\nverdict: %s\n", verdict);
	}
	if (err < 0)
		log_error("why: cannot read '%s': %s", db, store_ro_errmsg(w->r));
	free(x.exe);
	free(verdict);
	free(seqs);
	return err;
}

/* The root process and how it ended, for the line that says there is nothing to explain. */
struct root_find {
	bool found;
	pid_t pid;
	int status;
	char *exe;
};

static int root_row(const struct store_proc_info *p, void *data)
{
	struct root_find *x = data;

	if (x->found)
		return 1;
	x->found = true;
	x->pid = p->pid;
	x->status = p->end_seq ? p->exit_status : -1;
	x->exe = p->exe ? xstrdup(p->exe) : NULL;
	return 1;
}

/* The trace has nothing to explain: say so in one line (exit 1). */
static void nothing(struct store_ro *r, const char *db, const struct pick *k,
		    const struct proc_ref *pid)
{
	char name[PROC_REF_NAME_MAX], how[64] = "";
	const char *who = pid->pid ? proc_ref_name(pid, name) : NULL;
	struct root_find x = { 0 };

	if (k->total) {
		printf("no fatal signal in '%s'%s%s: %" PRIu64 " fault signal%s, none fatal (the "
		       "last: event %" PRIu64 ", 'vmatrace why %" PRIu64 "' explains it)\n", db,
		       who ? " for pid " : "", who ? who : "", k->total, k->total == 1 ? "" : "s",
		       k->last_any.seq, k->last_any.seq);
		return;
	}
	store_query_processes(r, root_row, &x);
	if (who)
		printf("no fault signal in '%s' for pid %s: nothing to explain\n", db, who);
	else if (x.found && x.status >= 0 && WIFEXITED(x.status))
		snprintf(how, sizeof(how), " exited with %d", WEXITSTATUS(x.status));
	else if (x.found && x.status >= 0 && WIFSIGNALED(x.status))
		snprintf(how, sizeof(how), " was killed by %s, not a fault signal",
			 signal_name(WTERMSIG(x.status)) ?: "a signal");
	if (!who && x.found && how[0])
		printf("no fault signal in '%s': nothing to explain (pid %d, %s,%s)\n", db,
		       (int)x.pid, x.exe ? x.exe : "?", how);
	else if (!who)
		printf("no fault signal in '%s': nothing to explain\n", db);
	free(x.exe);
}

static uint64_t arg_seq;        /* the fault's event, 0: find the fatal one */

static void check(struct cmd_args *a, int argc, char **argv)
{
	(void)a;
	if (argc > 1)
		die("why: expected at most one event number (see 'vmatrace why --help')");
	if (argc == 1)
		arg_seq = parse_seq(argv[0], "event number");
}

static int cmd_why(struct cmd_args *a)
{
	struct store_ro *r = a->r;
	const char *db = a->db;
	const struct proc_ref pid = a->pid;
	const struct store_proc_info p = a->proc;
	uint64_t seq = arg_seq;
	struct why w = { .r = r };
	struct pick k = { 0 };
	int err;

	if (pid.pid)
		k.p = &p;
	if (seq) {
		uint64_t last = 0;
		err = store_query_last_seq(r, &last);
		if (!err && seq > last) {
			log_error("why: no event %" PRIu64 " in '%s' (its events are 1..%" PRIu64 ")",
				  seq, db, last);
			return 1;
		}
		if (!err)
			err = store_query_events_at(r, &seq, 1, copy_event, &w.sig);
		if (!err && w.sig.kind != EVENT_SIGNAL) {
			char *call = why_event_call(&w.sig);
			log_error("why: event %" PRIu64 " is not a fault signal: %s (see 'vmatrace "
				  "events --json | grep +signal')", seq, call);
			free(call);
			event_release(&w.sig);
			return 1;
		}
		if (!err && pid.pid && w.sig.pid != p.pid) {
			char name[PROC_REF_NAME_MAX];
			log_error("why: event %" PRIu64 " is a signal of pid %d, not of %s", seq,
				  (int)w.sig.pid, proc_ref_name(&pid, name));
			event_release(&w.sig);
			return 1;
		}
	} else {
		struct store_event_filter f = { .pid = pid.pid ? p.pid : 0, .signals_only = true };
		err = store_query_events(r, &f, pick_row, &k);
		if (!err && !k.fatal) {
			nothing(r, db, &k, &pid);
			event_release(&k.last_any);
			event_release(&k.last_fault);
			return 1;
		}
		if (!err && k.has_origin) {
			w.sig = k.origin;
			w.reraised_seq = k.last_fatal.seq;
			k.origin.path = NULL;
		} else if (!err) {
			w.sig = k.last_fatal;
			k.last_fatal.path = NULL;
		}
	}
	event_release(&k.last_fatal);
	event_release(&k.last_any);
	event_release(&k.last_fault);
	event_release(&k.origin);
	if (err < 0) {
		log_error("why: cannot read '%s': %s", db, store_ro_errmsg(r));
		return 1;
	}
	err = explain(&w, db, a->json, !a->no_stacks);
	why_release(&w);
	return err < 0 ? 1 : 0;
}

QUERY_COMMAND(why, "d:p:h", NULL, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_JSON, ARG_OPT_NO_STACKS, ARG_OPT_HELP);
