// SPDX-License-Identifier: MIT
/*
 * vmatrace export: the trace in other tools' formats. One format so far:
 *
 * --perfetto: the Chrome JSON trace-event format ({"traceEvents":[...]}), which
 * ui.perfetto.dev and chrome://tracing open as it is. Perfetto's own protobuf format
 * would be smaller and faster to load, but needs a protobuf writer and its schema in the
 * build; the JSON one is a few fprintf calls, can be checked with any JSON parser, and is
 * what Perfetto documents for tools that write traces themselves. What goes in:
 *
 * - process_name and thread_name metadata ("ph":"M"): the program's base name;
 * - each event as a complete slice ("ph":"X") on its thread, from its entry for its
 *   duration (dur_ns: to the exit stop), named by its syscall, with args seq, syscall,
 *   args (decoded as `vmatrace events` prints them), result. An instant ("ph":"i") cannot
 *   carry a flow in Perfetto's importer, and a slice also shows how long the call took;
 *   a task's end (+exit) is a slice of length 0, and so is a fault signal (+signal,
 *   named after the signal: "SIGSEGV", with code, addr, pc and outcome in its args);
 * - a flow from each clone/fork/vfork to the first event of the task it made (bind_id
 *   with flow_out on the parent's slice, flow_in on the child's);
 * - per mm, under the process that used it: a counter event ("ph":"C", name "mm N") at
 *   each event that changed the mm, with virtual_bytes, anon_bytes, file_bytes,
 *   prot_none_bytes and vmas (Perfetto shows one track per key: "mm N virtual_bytes"...),
 *   and each VMA version as an async slice ("ph":"b"/"e", cat "mm N", id: the version's
 *   id) from the event that made it to the event that ended it, so that overlapping
 *   lives do not have to nest.
 * Timestamps ("ts") are µs since the trace's start with ns precision. Events that come
 * from one of our events also carry "seq", which viewers ignore and scripts can use.
 * Counters and VMA slices use event times made monotone in seq (store_timeline.h).
 *
 * Adding a format: a row in formats[] with its writer.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "store.h"
#include "store_timeline.h"
#include "sysent.h"
#include "xalloc.h"

struct export {
	struct store_ro *r;
	const char *db;
	FILE *out;
	bool have_pid;
	struct store_proc_info proc; /* with --pid: the process */
	struct store_event_times times; /* store_query_event_times */
	uint64_t end_ns;            /* the trace's end, since its start */
	uint64_t base_ns;           /* trace.start_mono_ns: event.time_ns - base_ns = ts */
	bool first;                 /* no traceEvents element written yet */
};

/* The formats. Adding one: its writer, a row here, a line in usage(). */
static int write_perfetto(struct export *x);
static int write_folded(struct export *x);

static const struct format {
	const char *name;
	int (*write)(struct export *x);
	const char *why_not;        /* a format we know but cannot write (yet) */
} formats[] = {
	{ "perfetto", write_perfetto, NULL },
	{ "folded", write_folded, NULL },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmatrace export [-d DB] [--pid P] --perfetto|--folded -o FILE\n"
		"\n"
		"Write the trace in another tool's format.\n"
		"\n"
		"  --perfetto         Chrome JSON trace events, for ui.perfetto.dev (Open trace\n"
		"                     file) or chrome://tracing: each event as a slice on its\n"
		"                     thread, flows from fork/clone to the child, and per address\n"
		"                     space counters (virtual, anonymous, file-backed, PROT_NONE\n"
		"                     bytes, VMA count) and the VMA versions as async slices\n"
		"  --folded           folded stacks for flame graphs (flamegraph.pl, speedscope,\n"
		"                     inferno): one line per stack, 'program;outer;...;inner\n"
		"                     BYTES', the bytes its events added to their address space\n"
		"                     (a trace recorded with run --stacks)\n"
		"  -d, --db DB        read DB (default ./%s)\n"
		"  -p, --pid P        only process P (PID or PID@N): its events, threads and\n"
		"                     address spaces\n"
		"  -o, --output FILE  write FILE ('-': standard output)\n"
		"  -h, --help         show this help\n",
		DB_DEFAULT);
}

/* --folded. ----------------------------------------------------------------------------- */

/* A folded line being built: its frames, root first, and its count. */
struct folded_line {
	char *key;
	uint64_t bytes;
};

struct folded {
	struct export *x;
	char **prog;                /* by mm id: the program's basename */
	uint64_t nprog;
	struct folded_line *lines;
	size_t n, cap;
	char **frames;              /* one stack's frames, innermost first */
	size_t nframes, capframes;
};

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s && s[1] ? s + 1 : path;
}

/* An mm's program: its exec's, else (a fork's copy) its parent's. mms come in id order. */
static int folded_mm(const struct store_mm_info *m, void *data)
{
	struct folded *f = data;
	const char *name = m->exe ? base_name(m->exe) : NULL;

	if (m->id >= f->nprog) {
		uint64_t n = m->id + 1 > 2 * f->nprog ? m->id + 1 : 2 * f->nprog;
		f->prog = xrealloc(f->prog, n * sizeof(*f->prog));
		memset(f->prog + f->nprog, 0, (n - f->nprog) * sizeof(*f->prog));
		f->nprog = n;
	}
	if (!name && m->parent < m->id && f->prog[m->parent])
		name = f->prog[m->parent];
	f->prog[m->id] = xstrdup(name ? name : "?");
	return 0;
}

static int folded_frame(const struct store_frame_info *fr, void *data)
{
	struct folded *f = data;
	char *s;

	if (fr->function)
		s = xstrdup(fr->function);
	else
		s = xasprintf("%s+0x%" PRIx64, *fr->module ? base_name(fr->module) : "[unknown]",
			      fr->rel_pc);
	/* ';' separates frames and a newline ends the line: neither may appear in a name. */
	for (char *p = s; *p; p++)
		if (*p == ';' || *p == '\n')
			*p = ':';
	if (f->nframes == f->capframes) {
		f->capframes = f->capframes ? 2 * f->capframes : 32;
		f->frames = xrealloc(f->frames, f->capframes * sizeof(*f->frames));
	}
	f->frames[f->nframes++] = s;
	return 0;
}

static int folded_stack(int64_t stack_id, uint64_t mm, uint64_t bytes, void *data)
{
	struct folded *f = data;
	char *key = NULL;
	size_t len = 0;
	FILE *mem;
	int err;

	f->nframes = 0;
	err = store_query_stack(f->x->r, stack_id, folded_frame, f);
	mem = open_memstream(&key, &len);
	if (!mem)
		err = err ? err : -ENOMEM;
	else {
		fputs(mm < f->nprog && f->prog[mm] ? f->prog[mm] : "?", mem);
		for (size_t i = f->nframes; i-- > 0;)
			fprintf(mem, ";%s", f->frames[i]);
		if (fclose(mem) != 0)
			err = err ? err : -ENOMEM;
	}
	for (size_t i = 0; i < f->nframes; i++)
		free(f->frames[i]);
	if (err) {
		free(key);
		return err;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->lines = xrealloc(f->lines, f->cap * sizeof(*f->lines));
	}
	f->lines[f->n++] = (struct folded_line){ key, bytes };
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->key, ((const struct folded_line *)b)->key);
}

/*
 * Folded stacks, as flamegraph.pl reads them: "prog;outermost;...;innermost BYTES", one
 * line per distinct stack (of the program whose address space it grew), sorted; equal
 * lines from several address spaces of one program are summed.
 */
static int write_folded(struct export *x)
{
	struct folded f = { .x = x };
	int err = store_query_mms(x->r, folded_mm, &f);

	if (!err)
		err = store_query_mapped_by_stack(x->r, x->have_pid ? x->proc.pid : 0,
						  x->proc.start_seq, x->proc.end_seq,
						  folded_stack, &f);
	if (!err && f.n)
		qsort(f.lines, f.n, sizeof(*f.lines), cmp_line);
	for (size_t i = 0; i < f.n; i++) {
		uint64_t bytes = f.lines[i].bytes;

		while (i + 1 < f.n && !strcmp(f.lines[i].key, f.lines[i + 1].key))
			bytes += f.lines[++i].bytes;
		if (!err)
			fprintf(x->out, "%s %" PRIu64 "\n", f.lines[i].key, bytes);
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.lines[i].key);
	for (uint64_t i = 0; i < f.nprog; i++)
		free(f.prog[i]);
	free(f.lines);
	free(f.frames);
	free(f.prog);
	return err;
}

/* Output helpers. ----------------------------------------------------------------------- */

/* begin - start one element of traceEvents. */
static void begin(struct export *x, const char *ph)
{
	fprintf(x->out, "%s{\"ph\":\"%s\"", x->first ? "" : ",\n", ph);
	x->first = false;
}

static void put_ts(struct export *x, const char *key, uint64_t ns)
{
	fprintf(x->out, ",\"%s\":%" PRIu64 ".%03u", key, ns / 1000, (unsigned)(ns % 1000));
}

static void put_str(struct export *x, const char *key, const char *s)
{
	fprintf(x->out, ",\"%s\":", key);
	json_print_string(x->out, s);
}

static uint64_t seq_time(const struct export *x, uint64_t seq)
{
	return store_event_time_at(&x->times, seq);
}

/* Names. -------------------------------------------------------------------------------- */

/* Process names by pid, so that a fork's child (no execve of its own) takes its parent's. */
struct names {
	struct export *x;
	pid_t *pid;
	char **name;
	size_t n;
};

static const char *name_of(const struct names *k, pid_t pid)
{
	for (size_t i = k->n; i-- > 0;)
		if (k->pid[i] == pid)
			return k->name[i];
	return NULL;
}

static int put_process(const struct store_proc_info *p, void *data)
{
	struct names *k = data;
	struct export *x = k->x;
	const char *exe = p->exe ? base_name(p->exe) : name_of(k, p->ppid);
	char buf[32];

	snprintf(buf, sizeof(buf), "pid %d", p->pid);
	k->pid = xrealloc(k->pid, (k->n + 1) * sizeof(*k->pid));
	k->name = xrealloc(k->name, (k->n + 1) * sizeof(*k->name));
	k->pid[k->n] = p->pid;
	k->name[k->n++] = exe ? xstrdup(exe) : NULL;
	if (x->have_pid && p->id != x->proc.id)
		return 0;
	for (int i = 0; i < 2; i++) {
		/* The leader's thread is named like the process, as top and ps show it. */
		begin(x, "M");
		fprintf(x->out, ",\"name\":\"%s\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
			i ? "thread_name" : "process_name", p->pid, p->pid);
		json_print_string(x->out, exe ? exe : buf);
		fputs("}}", x->out);
	}
	return 0;
}

static int put_processes(struct export *x)
{
	struct names k = { .x = x };
	int err = store_query_processes(x->r, put_process, &k);

	for (size_t i = 0; i < k.n; i++)
		free(k.name[i]);
	free(k.name);
	free(k.pid);
	return err;
}

static int put_thread(const struct store_thread_info *t, void *data)
{
	struct export *x = data;

	if (t->tid == t->pid)
		return 0;
	if (x->have_pid && (t->pid != x->proc.pid || t->start_seq < x->proc.start_seq ||
			    (x->proc.end_seq && t->start_seq > x->proc.end_seq)))
		return 0;
	begin(x, "M");
	fprintf(x->out, ",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":"
		"\"thread %d\"}}", t->pid, t->tid, t->tid);
	return 0;
}

/* Events. ------------------------------------------------------------------------------- */

/* Children that made no event yet: the clone/fork event that made each, for its flow. */
struct pending {
	pid_t tid;
	uint64_t seq;
};

struct event_walk {
	struct export *x;
	struct pending *p;
	size_t n, cap;
	char *buf;                  /* event_print's line */
	size_t len;
};

static bool makes_task(int nr)
{
	static const char *const names[] = { "clone", "clone3", "fork", "vfork" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (nr == sysent_lookup(names[i]))
			return true;
	return false;
}

/*
 * split_line - cut event_print's "[1234] mmap(NULL, 4096, ...) = 0x7f3b2c000000" into
 * its arguments and its result, in place. The last ") = " ends the arguments: a result
 * never holds one, quoted strings in the arguments may. "+++ exited with 0 +++" has no
 * arguments, and its result is the middle.
 */
static void split_line(char *line, const char **ret_args, const char **ret_result)
{
	char *s = line, *open, *close = NULL, *p;
	size_t n = strlen(s);

	if (n && s[n - 1] == '\n')
		s[--n] = '\0';
	if (*s == '[' && (p = strstr(s, "] ")))
		s = p + 2;
	if (!strncmp(s, "+++ ", 4)) {
		n = strlen(s);
		if (n >= 8 && !strcmp(s + n - 4, " +++"))
			s[n - 4] = '\0';
		*ret_args = "";
		*ret_result = s + 4;
		return;
	}
	for (p = s; (p = strstr(p, ") = ")); p++)
		close = p;
	open = strchr(s, '(');
	if (!open || !close || close < open) {
		*ret_args = s;
		*ret_result = "";
		return;
	}
	*close = '\0';
	*ret_args = open + 1;
	*ret_result = close + 4;
}

/* The flow id of a clone/fork: its seq, in hex as Perfetto's examples write ids. */
static void put_flow(struct export *x, uint64_t seq, bool out)
{
	fprintf(x->out, ",\"bind_id\":\"0x%" PRIx64 "\",\"%s\":true", seq,
		out ? "flow_out" : "flow_in");
}

/* flow_in_of - the clone/fork that made @tid, if this is its first event; 0 otherwise. */
static uint64_t flow_in_of(struct event_walk *w, pid_t tid)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->p[i].tid == tid) {
			uint64_t seq = w->p[i].seq;
			w->p[i] = w->p[--w->n];
			return seq;
		}
	}
	return 0;
}

static int put_event(const struct event *ev, void *data)
{
	struct event_walk *w = data;
	struct export *x = w->x;
	const char *name = ev->kind == EVENT_TASK_EXIT ? "+exit"
			   : ev->kind == EVENT_SIGNAL	 ? signal_name((int)ev->args[EVENT_SIG_SIGNO])
			   : ev->kind == EVENT_RENAME	 ? "+rename"
							 : sysent_name(ev->nr);
	const char *args, *result;
	uint64_t from = flow_in_of(w, ev->tid);
	char nbuf[32];
	FILE *f;

	if (!name) {
		snprintf(nbuf, sizeof(nbuf), "syscall_%#x", (unsigned)ev->nr);
		name = nbuf;
	}
	free(w->buf);
	w->buf = NULL;
	f = open_memstream(&w->buf, &w->len);
	if (!f)
		return -ENOMEM;
	event_print(ev, f);
	if (fclose(f) != 0)
		return -ENOMEM;
	split_line(w->buf, &args, &result);

	begin(x, "X");
	fprintf(x->out, ",\"cat\":\"event\",\"pid\":%d,\"tid\":%d,\"seq\":%" PRIu64, ev->pid,
		ev->tid, ev->seq);
	put_str(x, "name", name);
	put_ts(x, "ts", ev->time_ns > x->base_ns ? ev->time_ns - x->base_ns : 0);
	put_ts(x, "dur", ev->kind == EVENT_SYSCALL ? ev->dur_ns : 0);
	if (from)
		put_flow(x, from, false);
	/* A new task: its first event closes this flow. */
	if (ev->kind == EVENT_SYSCALL && makes_task(ev->nr) && ev->ret > 0 &&
	    ev->ret <= 4194304) {
		if (w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 16;
			w->p = xrealloc(w->p, w->cap * sizeof(*w->p));
		}
		w->p[w->n++] = (struct pending){ .tid = (pid_t)ev->ret, .seq = ev->seq };
		put_flow(x, ev->seq, true);
	}
	fprintf(x->out, ",\"args\":{\"seq\":%" PRIu64 ",\"mm\":%" PRIu64, ev->seq, ev->mm);
	put_str(x, "syscall", ev->kind == EVENT_SIGNAL ? "+signal" : name);
	put_str(x, "args", args);
	put_str(x, "result", result);
	if (ev->kind == EVENT_SIGNAL) {
		/* A fault: what a viewer's search and a script need without parsing args. */
		int sig = (int)ev->args[EVENT_SIG_SIGNO], code = (int)ev->args[EVENT_SIG_CODE];
		const char *cname = signal_code_name(sig, code);
		char hex[32];

		put_str(x, "code", cname ? cname : "?");
		snprintf(hex, sizeof(hex), "%#" PRIx64, ev->args[EVENT_SIG_ADDR]);
		put_str(x, "addr", hex);
		snprintf(hex, sizeof(hex), "%#" PRIx64, ev->args[EVENT_SIG_PC]);
		put_str(x, "pc", hex);
		put_str(x, "outcome", signal_outcome_name(ev->ret));
	}
	fputs("}}", x->out);
	return ferror(x->out) ? -EIO : 0;
}

static int put_events(struct export *x)
{
	struct store_event_filter f = { 0 };
	struct event_walk w = { .x = x };
	int err;

	if (x->have_pid) {
		f.pid = x->proc.pid;
		f.min_seq = x->proc.start_seq;
		f.max_seq = x->proc.end_seq;
	}
	err = store_query_events(x->r, &f, put_event, &w);
	free(w.buf);
	free(w.p);
	return err;
}

/* Address spaces. ----------------------------------------------------------------------- */

/* A change of an mm's totals at one event: a version born (+) or ended (-). */
struct delta {
	uint64_t seq;
	int64_t bytes[3];           /* anon, file, prot_none */
	int count;
};

struct mm_walk {
	struct export *x;
	const struct store_mm_info *m;
	struct delta *d;
	size_t n, cap;
};

enum { D_ANON, D_FILE, D_NONE };

static int vma_class(const struct store_vma *v)
{
	if (!strncmp(v->perms, "---", 3))
		return D_NONE;
	return v->ino || v->name[0] == '/' ? D_FILE : D_ANON;
}

static void add_delta(struct mm_walk *w, uint64_t seq, int cls, int64_t bytes, int count)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->d = xrealloc(w->d, w->cap * sizeof(*w->d));
	}
	w->d[w->n] = (struct delta){ .seq = seq, .count = count };
	w->d[w->n++].bytes[cls] = bytes;
}

static void put_vma_slice(struct export *x, const struct store_mm_info *m,
			  const struct store_vma *v, uint64_t id, uint64_t died)
{
	const char *label = !*v->name ? "[anon]" : base_name(v->name);
	char line[8192];

	vma_format_maps(v, line, sizeof(line));
	begin(x, "b");
	fprintf(x->out, ",\"cat\":\"mm %" PRIu64 "\",\"id\":\"0x%" PRIx64 "\",\"pid\":%d,"
		"\"tid\":%d,\"seq\":%" PRIu64, m->id, id, m->pid, m->pid, v->born_seq);
	put_str(x, "name", label);
	put_ts(x, "ts", seq_time(x, v->born_seq));
	fprintf(x->out, ",\"args\":{\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\","
		"\"bytes\":%" PRIu64 ",\"born_seq\":%" PRIu64, v->start, v->end, v->end - v->start,
		v->born_seq);
	if (died)
		fprintf(x->out, ",\"died_seq\":%" PRIu64, died);
	put_str(x, "perms", v->perms);
	put_str(x, "maps", line);
	fputs("}}", x->out);
	begin(x, "e");
	fprintf(x->out, ",\"cat\":\"mm %" PRIu64 "\",\"id\":\"0x%" PRIx64 "\",\"pid\":%d,"
		"\"tid\":%d", m->id, id, m->pid, m->pid);
	if (died)
		fprintf(x->out, ",\"seq\":%" PRIu64, died);
	put_str(x, "name", label);
	put_ts(x, "ts", died ? seq_time(x, died) : x->end_ns);
	fputs("}", x->out);
}

static int put_version(const struct store_vma *v, uint64_t id, uint64_t died, void *data)
{
	struct mm_walk *w = data;
	int cls = vma_class(v);
	int64_t size = (int64_t)(v->end - v->start);

	put_vma_slice(w->x, w->m, v, id, died);
	add_delta(w, v->born_seq, cls, size, 1);
	if (died)
		add_delta(w, died, cls, -size, -1);
	return ferror(w->x->out) ? -EIO : 0;
}

static int cmp_delta(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* put_counters - one counter sample per event that changed the mm's totals. */
static void put_counters(struct export *x, const struct store_mm_info *m, struct delta *d,
			 size_t n)
{
	int64_t tot[3] = { 0 }, count = 0;

	qsort(d, n, sizeof(*d), cmp_delta);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 3; k++)
			tot[k] += d[i].bytes[k];
		count += d[i].count;
		if (i + 1 < n && d[i + 1].seq == d[i].seq)
			continue;
		begin(x, "C");
		fprintf(x->out, ",\"name\":\"mm %" PRIu64 "\",\"pid\":%d,\"tid\":%d,\"seq\":%" PRIu64,
			m->id, m->pid, m->pid, d[i].seq);
		put_ts(x, "ts", seq_time(x, d[i].seq));
		fprintf(x->out, ",\"args\":{\"virtual_bytes\":%" PRId64 ",\"anon_bytes\":%" PRId64
			",\"file_bytes\":%" PRId64 ",\"prot_none_bytes\":%" PRId64 ",\"vmas\":%" PRId64
			"}}", tot[D_ANON] + tot[D_FILE] + tot[D_NONE], tot[D_ANON], tot[D_FILE],
			tot[D_NONE], count);
	}
}

struct mm_pick {
	struct export *x;
	uint64_t only[64];          /* with --pid: the process's mms */
	size_t nonly;
	int err;
};

static int put_mm(const struct store_mm_info *m, void *data)
{
	struct mm_pick *k = data;
	struct mm_walk w = { .x = k->x, .m = m };
	bool want = !k->x->have_pid;

	for (size_t i = 0; !want && i < k->nonly; i++)
		want = k->only[i] == m->id;
	if (!want)
		return 0;
	/* A nested walk would need a second statement on the same connection while this
	 * one steps; SQLite allows it (both read). */
	k->err = store_query_mm_versions(k->x->r, m->id, put_version, &w);
	if (!k->err)
		put_counters(k->x, m, w.d, w.n);
	free(w.d);
	return k->err;
}

static int add_mm(uint64_t seq, uint64_t mm, const char *exe, void *data)
{
	struct mm_pick *k = data;

	(void)seq;
	(void)exe;
	if (mm && k->nonly < sizeof(k->only) / sizeof(k->only[0]))
		k->only[k->nonly++] = mm;
	return 0;
}

static int write_perfetto(struct export *x)
{
	struct mm_pick k = { .x = x };
	struct store_trace_info info;
	int err;

	err = store_query_event_times(x->r, &x->times);
	if (err < 0)
		return err;
	store_event_times_last(&x->times, &x->end_ns);
	if (store_query_trace(x->r, &info) == 0) {
		x->base_ns = info.start_mono_ns;
		if (info.end_mono_ns > info.start_mono_ns &&
		    info.end_mono_ns - info.start_mono_ns > x->end_ns)
			x->end_ns = info.end_mono_ns - info.start_mono_ns;
		store_trace_info_release(&info);
	}
	if (x->have_pid) {
		err = store_query_process_mms(x->r, x->proc.id, add_mm, &k);
		if (err < 0)
			return err;
	}
	fprintf(x->out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"vmatrace %s\","
		"\"db\":", VMATRACE_VERSION);
	json_print_string(x->out, x->db);
	fputs("},\n\"traceEvents\":[\n", x->out);
	x->first = true;
	err = put_processes(x);
	if (!err)
		err = store_query_threads(x->r, put_thread, x);
	if (!err)
		err = put_events(x);
	if (!err)
		err = store_query_mms(x->r, put_mm, &k);
	if (err)
		return err;
	fputs("\n]}\n", x->out);
	return ferror(x->out) ? -EIO : 0;
}

/* The command. -------------------------------------------------------------------------- */

/* write_to - run @fmt's writer into @path (out_file_open: a regular file through a
 * temporary one, a device or FIFO in place, "-" standard output). Prints why on failure. */
static int write_to(struct export *x, const struct format *fmt, const char *path)
{
	struct out_file o;
	int err = out_file_open(&o, path);

	if (err < 0) {
		log_error("export: cannot write '%s': %s", path, strerror(-err));
		return -1;
	}
	x->out = o.f;
	err = fmt->write(x);
	/* A writer's -EIO is the output's (ferror): out_file_close says which error. */
	if (err == -EIO && ferror(x->out))
		err = 0;
	err = out_file_close(&o, err);
	x->out = NULL;
	if (err == -EIO || err == -ENOSPC || err == -EDQUOT || err == -EACCES || err == -EROFS ||
	    err == -EFBIG || err == -EPIPE)
		log_error("export: cannot write '%s': %s", path, strerror(-err));
	else if (err)
		db_read_error("export", x->db, x->r, err);
	return err || output_failed() ? -1 : 0;
}

static const struct format *arg_format;
static const char *arg_output;

static void parse_opt(int c, const char *arg)
{
	switch (c) {
	case 'o':
		arg_output = arg;
		break;
	case 'P':
	case 'F':
		if (arg_format)
			die("export: one format at a time");
		arg_format = &formats[c == 'P' ? 0 : 1];
		break;
	}
}

static void check(struct cmd_args *a, int argc, char **argv)
{
	const struct format *fmt = arg_format;

	args_no_operands(a, argc, argv);
	if (!fmt)
		die("export: say which format: --perfetto or --folded (see 'vmatrace export --help')");
	if (!fmt->write)
		die("export --%s: %s", fmt->name, fmt->why_not);
	if (!arg_output)
		die("export: -o FILE is required ('-' for standard output)");
}

static int cmd_export(struct cmd_args *a)
{
	struct export x = { .r = a->r, .db = a->db, .proc = a->proc, .have_pid = a->pid.pid };
	const struct format *fmt = arg_format;
	struct store_stack_summary ss;
	int err;

	if (fmt->write == write_folded &&
	    (store_query_stack_summary(x.r, &ss) < 0 || !ss.stacks)) {
		log_error("export --folded: '%s' has no stacks (record with 'vmatrace run --stacks')",
			  x.db);
		return 1;
	}
	err = write_to(&x, fmt, arg_output);
	store_event_times_release(&x.times);
	return err < 0 ? 1 : 0;
}

QUERY_COMMAND(export, "d:p:o:h", parse_opt, check,
	      ARG_OPT_DB, ARG_OPT_PID, ARG_OPT_OUTPUT, ARG_OPT_HELP,
	      { "perfetto", no_argument, NULL, 'P' },
	      { "folded", no_argument, NULL, 'F' });
