// SPDX-License-Identifier: MIT
/*
 * Fault signals as events (EVENT_SIGNAL, "+signal"): which signals the tracer records, the
 * names of their si_code values, and the event's text and JSON forms, which event_print()
 * and event_print_json() (sysent.c) hand over to here. The layout of the record is in
 * event.h (EVENT_SIG_*).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "event.h"
#include "sysent.h"

bool signal_is_fault(int sig)
{
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGTRAP:
	case SIGSYS:
		return true;
	default:
		return false;
	}
}

#define CODE(x) { x, #x }
struct code_name {
	int code;
	const char *name;
};

/* clang-format off */
/* Codes any signal may carry: who sent it (<= 0) or the kernel (SI_KERNEL). */
static const struct code_name any_codes[] = {
	CODE(SI_USER), CODE(SI_KERNEL), CODE(SI_QUEUE), CODE(SI_TIMER), CODE(SI_MESGQ),
	CODE(SI_ASYNCIO), CODE(SI_SIGIO), CODE(SI_TKILL),
};
static const struct code_name segv_codes[] = {
	{ 1, "SEGV_MAPERR" }, { 2, "SEGV_ACCERR" }, { 3, "SEGV_BNDERR" }, { 4, "SEGV_PKUERR" },
	{ 5, "SEGV_ACCADI" }, { 6, "SEGV_ADIDERR" }, { 7, "SEGV_ADIPERR" }, { 8, "SEGV_MTEAERR" },
	{ 9, "SEGV_MTESERR" }, { 10, "SEGV_CPERR" },
};
static const struct code_name bus_codes[] = {
	{ 1, "BUS_ADRALN" }, { 2, "BUS_ADRERR" }, { 3, "BUS_OBJERR" }, { 4, "BUS_MCEERR_AR" },
	{ 5, "BUS_MCEERR_AO" },
};
static const struct code_name ill_codes[] = {
	{ 1, "ILL_ILLOPC" }, { 2, "ILL_ILLOPN" }, { 3, "ILL_ILLADR" }, { 4, "ILL_ILLTRP" },
	{ 5, "ILL_PRVOPC" }, { 6, "ILL_PRVREG" }, { 7, "ILL_COPROC" }, { 8, "ILL_BADSTK" },
	{ 9, "ILL_BADIADDR" },
};
static const struct code_name fpe_codes[] = {
	{ 1, "FPE_INTDIV" }, { 2, "FPE_INTOVF" }, { 3, "FPE_FLTDIV" }, { 4, "FPE_FLTOVF" },
	{ 5, "FPE_FLTUND" }, { 6, "FPE_FLTRES" }, { 7, "FPE_FLTINV" }, { 8, "FPE_FLTSUB" },
	{ 14, "FPE_FLTUNK" }, { 15, "FPE_CONDTRAP" },
};
static const struct code_name trap_codes[] = {
	{ 1, "TRAP_BRKPT" }, { 2, "TRAP_TRACE" }, { 3, "TRAP_BRANCH" }, { 4, "TRAP_HWBKPT" },
	{ 5, "TRAP_UNK" }, { 6, "TRAP_PERF" },
};
static const struct code_name sys_codes[] = {
	{ 1, "SYS_SECCOMP" }, { 2, "SYS_USER_DISPATCH" },
};
/* clang-format on */

static const char *find_code(const struct code_name *t, size_t n, int code)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].name;
	return NULL;
}

#define FIND(t, code) find_code(t, sizeof(t) / sizeof(t[0]), code)

const char *signal_code_name(int sig, int code)
{
	if (code <= 0 || code == SI_KERNEL)
		return FIND(any_codes, code);
	switch (sig) {
	case SIGSEGV:
		return FIND(segv_codes, code);
	case SIGBUS:
		return FIND(bus_codes, code);
	case SIGILL:
		return FIND(ill_codes, code);
	case SIGFPE:
		return FIND(fpe_codes, code);
	case SIGTRAP:
		return FIND(trap_codes, code);
	case SIGSYS:
		return FIND(sys_codes, code);
	default:
		return NULL;
	}
}

bool signal_code_has_addr(int sig, int code)
{
	/* si_addr is filled for the kernel's own faults; a sent signal has si_pid there. */
	return code > 0 && code != SI_KERNEL && sig != SIGTRAP && sig != SIGSYS;
}

const char *signal_outcome_name(int64_t outcome)
{
	switch (outcome) {
	case EVENT_SIG_HANDLED:
		return "handled";
	case EVENT_SIG_FATAL:
		return "fatal";
	default:
		return "unknown";
	}
}

static void print_name(FILE *out, const char *name, int value)
{
	if (name)
		fputs(name, out);
	else
		fprintf(out, "%d", value);
}

void signal_event_print(const struct event *ev, FILE *out)
{
	int sig = (int)ev->args[EVENT_SIG_SIGNO], code = (int)ev->args[EVENT_SIG_CODE];

	fputs("--- ", out);
	print_name(out, signal_name(sig), sig);
	fputs(" {si_signo=", out);
	print_name(out, signal_name(sig), sig);
	fputs(", si_code=", out);
	print_name(out, signal_code_name(sig, code), code);
	if (signal_code_has_addr(sig, code))
		fprintf(out, ", si_addr=%#" PRIx64, ev->args[EVENT_SIG_ADDR]);
	fprintf(out, "} pc=%#" PRIx64, ev->args[EVENT_SIG_PC]);
	if (ev->path)
		fprintf(out, " (%s+%#" PRIx64 ")", ev->path, ev->args[EVENT_SIG_MODOFF]);
	switch (ev->ret) {
	case EVENT_SIG_HANDLED:
		fputs(" handled ---\n", out);
		break;
	case EVENT_SIG_FATAL:
		fputs(" fatal ---\n", out);
		break;
	default:
		fputs(" ---\n", out);
		break;
	}
}

void signal_event_print_json(const struct event *ev, FILE *out)
{
	int sig = (int)ev->args[EVENT_SIG_SIGNO], code = (int)ev->args[EVENT_SIG_CODE];
	const char *name = signal_name(sig), *cname = signal_code_name(sig, code);

	fputs(",\"syscall\":\"+signal\",\"signal\":", out);
	if (name)
		fprintf(out, "\"%s\"", name);
	else
		fprintf(out, "%d", sig);
	fprintf(out, ",\"signo\":%d,\"si_code\":%d", sig, code);
	if (cname)
		fprintf(out, ",\"code\":\"%s\"", cname);
	fprintf(out,
		",\"addr\":%" PRIu64 ",\"pc\":%" PRIu64 ",\"sp\":%" PRIu64
		",\"module_offset\":%" PRIu64 ",\"outcome\":\"%s\"",
		ev->args[EVENT_SIG_ADDR], ev->args[EVENT_SIG_PC], ev->args[EVENT_SIG_SP],
		ev->args[EVENT_SIG_MODOFF], signal_outcome_name(ev->ret));
}
