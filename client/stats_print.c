// SPDX-License-Identifier: MIT
/*
 * vmatrace stats, printed: a text report in aligned sections (trace, then each process,
 * then each address space), or one JSON object with the same content (stats.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "client.h"
#include "stats.h"
#include "stresc.h"
#include "sysent.h"

static const char *nr_name(int64_t nr, char buf[32])
{
	const char *n = nr == -3 ? "+rename" : nr == -2 ? "+signal" : nr < 0 ? "+exit" :
			sysent_name((int)nr);

	if (n)
		return n;
	snprintf(buf, 32, "syscall_%#" PRIx64, nr);
	return buf;
}

static const char *err_name(int e, char buf[32])
{
	const char *n = errno_name(e);

	if (n)
		return n;
	snprintf(buf, 32, "%d", e);
	return buf;
}

/* kb - @bytes in kB with thousands separators, as "2,480 kB". */
static const char *kb(uint64_t bytes, char buf[32])
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, bytes >> 10), o = 0;

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	strcpy(buf + o, " kB");
	return buf;
}

static void exit_text(int status, char buf[48])
{
	if (status < 0)
		snprintf(buf, 48, "alive at the end of the trace");
	else if (WIFEXITED(status))
		snprintf(buf, 48, "exited %d", WEXITSTATUS(status));
	else {
		const char *sig = signal_name(WTERMSIG(status));
		snprintf(buf, 48, "killed by %s%s", sig ? sig : "a signal",
			 WCOREDUMP(status) ? " (core dumped)" : "");
	}
}

static void mm_origin(const struct st_mm *m, char buf[96])
{
	if (!m->info.start_seq && !m->info.parent)
		snprintf(buf, 96, "there at the start (process %d)", m->info.owner);
	else if (m->info.parent)
		snprintf(buf, 96, "copied from mm %" PRIu64 " by fork at event %" PRIu64
			 " (process %d)", m->info.parent, m->info.start_seq, m->info.owner);
	else
		snprintf(buf, 96, "made by execve at event %" PRIu64 " (process %d)",
			 m->info.start_seq, m->info.owner);
}

static void print_proc_text(const struct st_proc *p, FILE *out)
{
	char b[48], b2[32];

	exit_text(p->info.exit_status, b);
	fprintf(out, "\nprocess %s  ", p->name);
	/* The program's path is the traced program's: escaped for the terminal. */
	stresc_print_name(out, p->exe ? p->exe : "(program unknown)");
	fputc('\n', out);
	if (p->info.end_seq)
		fprintf(out, "  %-16s events %" PRIu64 "..%" PRIu64 ", %s\n", "life",
			p->info.start_seq, p->info.end_seq, b);
	else
		fprintf(out, "  %-16s events %" PRIu64 ".., %s\n", "life", p->info.start_seq, b);
	fprintf(out, "  %-16s %" PRIu64, "events", p->events);
	if (p->events)
		fprintf(out, " (seq %" PRIu64 "..%" PRIu64 ")", p->first_seq, p->last_seq);
	fputc('\n', out);
	fprintf(out, "  %-16s", "address spaces");
	for (size_t i = 0; i < p->n_mms; i++)
		fprintf(out, " mm %" PRIu64 "%s", p->mms[i], i + 1 < p->n_mms ? "," : "");
	fprintf(out, "%s\n", p->n_mms ? "" : " none recorded");
	if (p->n_nr) {
		fprintf(out, "  %-16s %8s\n", "syscall", "count");
		for (size_t i = 0; i < p->n_nr; i++)
			fprintf(out, "    %-14s %8" PRIu64 "\n", nr_name(p->by_nr[i].key, b2),
				p->by_nr[i].count);
	}
	if (p->n_err) {
		fprintf(out, "  %-16s %8s  %s\n", "failed: errno", "count", "syscall");
		for (size_t i = 0; i < p->n_err; i++) {
			char b3[32];
			int64_t k = p->by_err[i].key;
			fprintf(out, "    %-14s %8" PRIu64 "  %s\n", err_name((int)(k >> 32), b2),
				p->by_err[i].count, nr_name((int32_t)(k & 0xffffffff), b3));
		}
	}
	if (p->n_tid) {
		fprintf(out, "  %-16s %8s\n", "busiest threads", "events");
		for (size_t i = 0; i < p->n_tid && i < ST_TOP; i++)
			fprintf(out, "    %-14" PRId64 " %8" PRIu64 "\n", p->by_tid[i].key,
				p->by_tid[i].count);
	}
}

static void print_mm_text(const struct st_mm *m, FILE *out)
{
	char b[96], k1[32], k2[32], line[8192];

	mm_origin(m, b);
	fprintf(out, "\nmm %" PRIu64 "  %s", m->id, b);
	if (m->info.end_seq)
		fprintf(out, ", ended at event %" PRIu64, m->info.end_seq);
	fputc('\n', out);
	fprintf(out, "  %-16s %" PRIu64 "\n", "events", m->events);
	fprintf(out, "  %-16s peak %" PRIu64 " after event %" PRIu64 ", final %" PRIu64 "\n",
		"VMAs", m->peak_vmas, m->peak_vmas_seq, m->final_vmas);
	fprintf(out, "  %-16s peak %s after event %" PRIu64 ", final %s\n", "virtual size",
		kb(m->peak_bytes, k1), m->peak_bytes_seq, kb(m->final_bytes, k2));
	fprintf(out, "  %-16s peak %d at event %" PRIu64 "\n", "mm_users", m->peak_users,
		m->peak_users_seq);
	if (m->n_top)
		fprintf(out, "  largest mappings (events born..ended)\n");
	for (size_t i = 0; i < m->n_top; i++) {
		const struct st_top *t = &m->top[i];
		vma_format_maps(&t->v, line, sizeof(line));
		char life[48];
		if (t->died_seq)
			snprintf(life, sizeof(life), "%" PRIu64 "..%" PRIu64, t->v.born_seq,
				 t->died_seq);
		else
			snprintf(life, sizeof(life), "%" PRIu64 "..", t->v.born_seq);
		fprintf(out, "    %12s  %-12s %s\n", kb(t->size, k1), life, line);
	}
}

void stats_print_text(const struct stats *s, FILE *out)
{
	const struct store_trace_info *t = &s->trace;

	fprintf(out, "%-18s ", "trace");
	stresc_print_name(out, t->cmdline ? t->cmdline : "?");
	if (t->mode) {
		fputs(", ", out);
		stresc_print_name(out, t->mode);
	}
	fputc('\n', out);
	fprintf(out, "%-18s %" PRIu64 " event%s, %" PRIu64 " process%s, %" PRIu64
		" thread%s, %" PRIu64 " address space%s\n", "recorded", s->summary.events,
		s->summary.events == 1 ? "" : "s", s->summary.processes,
		s->summary.processes == 1 ? "" : "es", s->summary.threads,
		s->summary.threads == 1 ? "" : "s", s->summary.mms, s->summary.mms == 1 ? "" : "s");
	if (t->end_mono_ns && t->end_mono_ns >= t->start_mono_ns)
		fprintf(out, "%-18s %.3f s\n", "duration",
			(double)(t->end_mono_ns - t->start_mono_ns) / 1e9);
	else
		fprintf(out, "%-18s (the trace was not closed: still being written?)\n",
			"duration");
	if (s->last_seq && s->first_ns >= t->start_mono_ns)
		fprintf(out, "%-18s +%.3f s .. +%.3f s (events 1..%" PRIu64 ")\n", "events at",
			(double)(s->first_ns - t->start_mono_ns) / 1e9,
			(double)(s->last_ns - t->start_mono_ns) / 1e9, s->last_seq);
	for (size_t i = 0; i < s->n_procs; i++)
		print_proc_text(&s->procs[i], out);
	for (size_t i = 0; i < s->n_mms; i++)
		print_mm_text(&s->mms[i], out);
}

/* JSON. ---------------------------------------------------------------------------------- */

static void json_str_or_null(FILE *out, const char *s)
{
	if (s)
		json_print_string(out, s);
	else
		fputs("null", out);
}

static void print_proc_json(const struct st_proc *p, FILE *out)
{
	char b[32];

	fprintf(out, "{\"process\":\"%s\",\"pid\":%d,\"ppid\":%d,\"start_seq\":%" PRIu64
		",\"end_seq\":", p->name, p->info.pid, p->info.ppid, p->info.start_seq);
	if (p->info.end_seq)
		fprintf(out, "%" PRIu64 ",\"exit_status\":%d", p->info.end_seq,
			p->info.exit_status);
	else
		fputs("null,\"exit_status\":null", out);
	fputs(",\"exe\":", out);
	json_str_or_null(out, p->exe);
	fprintf(out, ",\"events\":%" PRIu64 ",\"syscalls\":{", p->events);
	for (size_t i = 0; i < p->n_nr; i++) {
		fprintf(out, "%s", i ? "," : "");
		json_print_string(out, nr_name(p->by_nr[i].key, b));
		fprintf(out, ":%" PRIu64, p->by_nr[i].count);
	}
	fputs("},\"errors\":[", out);
	for (size_t i = 0; i < p->n_err; i++) {
		char b3[32];
		int64_t k = p->by_err[i].key;
		fprintf(out, "%s{\"errno\":", i ? "," : "");
		json_print_string(out, err_name((int)(k >> 32), b));
		fputs(",\"syscall\":", out);
		json_print_string(out, nr_name((int32_t)(k & 0xffffffff), b3));
		fprintf(out, ",\"count\":%" PRIu64 "}", p->by_err[i].count);
	}
	fputs("],\"threads\":[", out);
	for (size_t i = 0; i < p->n_tid && i < ST_TOP; i++)
		fprintf(out, "%s{\"tid\":%" PRId64 ",\"events\":%" PRIu64 "}", i ? "," : "",
			p->by_tid[i].key, p->by_tid[i].count);
	fputs("],\"mms\":[", out);
	for (size_t i = 0; i < p->n_mms; i++)
		fprintf(out, "%s%" PRIu64, i ? "," : "", p->mms[i]);
	fputs("]}", out);
}

static void print_mm_json(const struct st_mm *m, FILE *out)
{
	fprintf(out, "{\"mm\":%" PRIu64 ",\"start_seq\":%" PRIu64 ",\"end_seq\":", m->id,
		m->info.start_seq);
	if (m->info.end_seq)
		fprintf(out, "%" PRIu64, m->info.end_seq);
	else
		fputs("null", out);
	fprintf(out, ",\"parent\":%" PRIu64 ",\"owner\":%d,\"events\":%" PRIu64
		",\"peak_vsz\":%" PRIu64 ",\"peak_vsz_seq\":%" PRIu64 ",\"final_vsz\":%" PRIu64
		",\"peak_vmas\":%" PRIu64 ",\"peak_vmas_seq\":%" PRIu64 ",\"final_vmas\":%" PRIu64
		",\"peak_users\":%d,\"peak_users_seq\":%" PRIu64 ",\"largest\":[",
		m->info.parent, m->info.owner, m->events, m->peak_bytes, m->peak_bytes_seq,
		m->final_bytes, m->peak_vmas, m->peak_vmas_seq, m->final_vmas, m->peak_users,
		m->peak_users_seq);
	for (size_t i = 0; i < m->n_top; i++) {
		fprintf(out, "%s{\"size\":%" PRIu64 ",\"died_seq\":", i ? "," : "",
			m->top[i].size);
		if (m->top[i].died_seq)
			fprintf(out, "%" PRIu64, m->top[i].died_seq);
		else
			fputs("null", out);
		fputs(",\"vma\":", out);
		vma_print_json(&m->top[i].v, out);
		fputc('}', out);
	}
	fputs("]}", out);
}

void stats_print_json(const struct stats *s, FILE *out)
{
	const struct store_trace_info *t = &s->trace;

	fputs("{\"trace\":{\"cmdline\":", out);
	json_str_or_null(out, t->cmdline);
	fputs(",\"mode\":", out);
	json_str_or_null(out, t->mode);
	fprintf(out, ",\"start_mono_ns\":%" PRIu64 ",\"end_mono_ns\":", t->start_mono_ns);
	if (t->end_mono_ns)
		fprintf(out, "%" PRIu64 ",\"duration_ns\":%" PRIu64, t->end_mono_ns,
			t->end_mono_ns - t->start_mono_ns);
	else
		fputs("null,\"duration_ns\":null", out);
	fprintf(out, ",\"first_event_ns\":%" PRIu64 ",\"last_event_ns\":%" PRIu64
		",\"events\":%" PRIu64 ",\"processes\":%" PRIu64 ",\"threads\":%" PRIu64
		",\"mms\":%" PRIu64 "},\"processes\":[", s->first_ns, s->last_ns,
		s->summary.events, s->summary.processes, s->summary.threads, s->summary.mms);
	for (size_t i = 0; i < s->n_procs; i++) {
		fputs(i ? "," : "", out);
		print_proc_json(&s->procs[i], out);
	}
	fputs("],\"mms\":[", out);
	for (size_t i = 0; i < s->n_mms; i++) {
		fputs(i ? "," : "", out);
		print_mm_json(&s->mms[i], out);
	}
	fputs("]}\n", out);
}
